package store

import (
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
)

// plainOnLoopback returns dsn with sslmode=allow when it chooses no
// sslmode itself (nor does PGSSLMODE) and every host it names is a
// loopback address or localhost: Herald then connects without TLS first,
// and with TLS only if the server refuses that (a pg_hba.conf with
// hostssl lines only). PostgreSQL's drivers default to the other order
// (sslmode=prefer), which on loopback protects nothing: the default
// checks no certificate, and what crosses the loopback interface never
// leaves the machine. It costs CPU on both ends of every statement
// (about 5 % of Herald's and PostgreSQL's per user created, measured in
// docs/benchmarks.md). Any other dsn is returned as it is.
func plainOnLoopback(dsn string) string {
	if os.Getenv("PGSSLMODE") != "" {
		return dsn
	}
	isURL := strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
	if isURL {
		u, err := url.Parse(dsn)
		if err != nil || u.Query().Has("sslmode") {
			return dsn
		}
	} else if sslmodeKey.MatchString(dsn) {
		return dsn
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil || !isLoopbackHost(cfg.Host) {
		return dsn
	}
	for _, f := range cfg.Fallbacks {
		if !isLoopbackHost(f.Host) {
			return dsn
		}
	}
	switch {
	case !isURL:
		return dsn + " sslmode=allow"
	case strings.Contains(dsn, "?"):
		return dsn + "&sslmode=allow"
	default:
		return dsn + "?sslmode=allow"
	}
}

// sslmodeKey finds sslmode in a keyword/value connection string.
var sslmodeKey = regexp.MustCompile(`(^|\s)sslmode\s*=`)

// isLoopbackHost reports whether host is localhost or a loopback
// address. A Unix socket's directory is not: no TLS goes over one anyway.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
