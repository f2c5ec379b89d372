package ui

import (
	"net/url"
	"strings"
)

// safeNext returns where to go after logging in: next when it is a path on
// this site, else "/".
func safeNext(next string) string {
	if !localPath(next) {
		return "/"
	}
	return next
}

// localPath reports whether s is a path on this site, as sent by Herald's
// own pages (a request URI, percent-encoded): printable ASCII, starting
// with one "/", with no scheme, host or user, and no backslash (browsers
// read "\" as "/", so "/\evil.example" is another host). What decoding it
// gives, however often, must not start with "//" or "/\" either, nor hold a
// backslash or a control character (browsers drop tabs and newlines, so
// "/\t/x" becomes "//x").
func localPath(s string) bool {
	if !printableASCII(s) {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return false
	}
	for range 8 {
		if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\") || strings.ContainsAny(s, "\\") || hasControl(s) {
			return false
		}
		d, err := url.PathUnescape(s)
		if err != nil {
			return false
		}
		if d == s {
			return true
		}
		s = d
	}
	return false // still changing: not a path anyone meant
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return true
		}
	}
	return false
}
