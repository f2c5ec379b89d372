package store

import (
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
)

// plainOnLoopback returns dsn with sslmode=allow when nothing chooses an
// sslmode (the URL, PGSSLMODE, or a service file, which dsn or PGSERVICE
// may name) and every host it names is a loopback address or localhost:
// Herald then connects without TLS first, and with TLS only if the server
// refuses that (a pg_hba.conf with hostssl lines only). PostgreSQL's
// drivers default to the other order (sslmode=prefer), which on loopback
// protects nothing: the default checks no certificate, and what crosses
// the loopback interface never leaves the machine. It costs CPU on both
// ends of every statement (about 4 % of Herald's and PostgreSQL's per
// user created: docs/benchmarks.md). Any other dsn is returned as it is.
func plainOnLoopback(dsn string) string {
	if os.Getenv("PGSSLMODE") != "" || os.Getenv("PGSERVICE") != "" {
		return dsn
	}
	var u *url.URL
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		var err error
		if u, err = url.Parse(dsn); err != nil {
			return dsn
		}
		if q := u.Query(); q.Has("sslmode") || q.Has("service") {
			return dsn
		}
	} else if chosenKey.MatchString(dsn) || strings.HasSuffix(dsn, `\`) {
		// A trailing backslash would escape the space before the
		// keyword added.
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
	if u == nil {
		return dsn + " sslmode=allow"
	}
	q := u.Query()
	q.Set("sslmode", "allow")
	u.RawQuery = q.Encode()
	return u.String()
}

// chosenKey finds sslmode, or a service whose file may set it, in a
// keyword/value connection string.
var chosenKey = regexp.MustCompile(`(^|\s)(sslmode|service)\s*=`)

// isLoopbackHost reports whether host is localhost or a loopback
// address. A Unix socket's directory is not: no TLS goes over one anyway.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
