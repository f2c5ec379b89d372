package ui

import "net/url"

// safeNext returns where to go after logging in: next when it is a path on
// this site, else "/".
func safeNext(next string) string {
	if !localPath(next) {
		return "/"
	}
	return next
}

// localPath reports whether s is a path on this site: it starts with one
// "/", has no scheme, host or user, and holds only printable ASCII with no
// backslash (browsers read "\" as "/", so "/\evil.example" is another
// host; control characters such as a tab are dropped by them, so "/\t/x"
// becomes "//x"). The same holds for what percent-decoding s gives, however
// often it is decoded.
func localPath(s string) bool {
	for range 8 {
		if !localPathOnce(s) {
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

func localPathOnce(s string) bool {
	if len(s) == 0 || s[0] != '/' || (len(s) > 1 && (s[1] == '/' || s[1] == '\\')) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return false
		}
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil && u.Opaque == ""
}
