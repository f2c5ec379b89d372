package store

import (
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// plainOnLoopback makes cfg, parsed from dsn, try each host without TLS
// first and with TLS only if the server refuses that (what sslmode=allow
// does, for a pg_hba.conf with hostssl lines only), when dsn says nothing
// of TLS and every host is a loopback address or localhost. Left to
// themselves PostgreSQL's drivers try TLS first (sslmode=prefer), which on
// loopback protects nothing: prefer checks no certificate, and what
// crosses the loopback interface never leaves the machine. It costs CPU
// on both ends of every statement (2–5 % of Herald's and PostgreSQL's per
// user created: docs/benchmarks.md).
//
// dsn "says something of TLS" when it, or the environment, names any ssl
// setting (sslmode, ssl, sslnegotiation, sslrootcert, sslcert...) or a
// service, whose file may. cfg itself is changed, not the string: the
// driver reads a URL its own way (libpq's), which rewriting could alter.
func plainOnLoopback(dsn string, cfg *pgx.ConnConfig) {
	if choosesTLS(dsn) {
		return
	}
	tries := append([]*pgconn.FallbackConfig{{Host: cfg.Host, Port: cfg.Port, TLSConfig: cfg.TLSConfig}}, cfg.Fallbacks...)
	// prefer gives each host two tries in a row, TLS then plain: swap them.
	if len(tries)%2 != 0 {
		return
	}
	for i := 0; i < len(tries); i += 2 {
		withTLS, plain := tries[i], tries[i+1]
		if withTLS.TLSConfig == nil || plain.TLSConfig != nil || withTLS.Host != plain.Host || withTLS.Port != plain.Port ||
			!isLoopbackHost(withTLS.Host) {
			return
		}
	}
	for i := 0; i < len(tries); i += 2 {
		tries[i], tries[i+1] = tries[i+1], tries[i]
	}
	cfg.Host, cfg.Port, cfg.TLSConfig = tries[0].Host, tries[0].Port, tries[0].TLSConfig
	cfg.Fallbacks = tries[1:]
}

// choosesTLS reports whether dsn or the environment names an ssl setting
// or a service.
func choosesTLS(dsn string) bool {
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PGSSL") || strings.HasPrefix(kv, "PGSERVICE=") {
			if _, v, _ := strings.Cut(kv, "="); v != "" {
				return true
			}
		}
	}
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return tlsKeyword.MatchString(dsn)
	}
	_, query, _ := strings.Cut(dsn, "?")
	for _, pair := range strings.Split(query, "&") {
		key, _, _ := strings.Cut(pair, "=")
		if k, err := url.QueryUnescape(key); err == nil {
			key = k
		}
		if strings.HasPrefix(key, "ssl") || key == "service" {
			return true
		}
	}
	return false
}

// tlsKeyword finds an ssl setting, or a service, in a keyword/value
// connection string.
var tlsKeyword = regexp.MustCompile(`(^|\s)(ssl\w*|service)\s*=`)

// isLoopbackHost reports whether host is localhost or a loopback
// address. A Unix socket's directory is not: no TLS goes over one anyway.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
