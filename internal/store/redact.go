package store

import (
	"net/url"
	"strings"
)

// passwordParams are the query parameters of a PostgreSQL URL that carry a
// secret: the server password and the client key's passphrase.
var passwordParams = []string{"password", "sslpassword"}

// Redact returns dsn fit for a log line or an error message: a SQLite path
// unchanged; a PostgreSQL URL with its password, wherever the URL puts one
// (user info or a query parameter), replaced by "xxxxx".
func Redact(dsn string) string {
	if KindOf(dsn) != PostgreSQL {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		// Where the parts are, and so the password, is unclear.
		return "postgres://(unparseable URL)"
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			u.RawQuery = "(unparseable query)"
		} else {
			for k := range q {
				if isPasswordParam(k) {
					q[k] = []string{"xxxxx"}
				}
			}
			u.RawQuery = q.Encode()
		}
	}
	return u.Redacted()
}

func isPasswordParam(key string) bool {
	for _, p := range passwordParams {
		if strings.EqualFold(key, p) {
			return true
		}
	}
	return false
}
