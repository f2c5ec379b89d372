package directory

import (
	"net/mail"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/heraldhq/herald"
)

// Validators return EINVALID errors whose message starts with the field name,
// so a client (or the web UI) can show it next to the field.

// validateName checks a username or group name: 1-64 of a-z 0-9 . _ -,
// starting with a letter or digit.
func validateName(field, s string) error {
	return checkName(field, s, false)
}

// checkName checks a name of 1-64 letters, digits, '.', '_' and '-',
// starting with a letter or digit; upper-case letters only if upper.
func checkName(field, s string, upper bool) error {
	letter := "lowercase letter"
	if upper {
		letter = "letter"
	}
	if s == "" {
		return invalid(field, "is required")
	}
	if len(s) > 64 {
		return invalid(field, "must be at most 64 characters")
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case upper && r >= 'A' && r <= 'Z':
		case (r == '.' || r == '_' || r == '-') && i > 0:
		case r == '.' || r == '_' || r == '-':
			return invalid(field, "must start with a %s or digit", letter)
		default:
			return invalid(field, "may contain only %ss, digits, '.', '_' and '-'", letter)
		}
	}
	return nil
}

// canBeLoginName reports whether a login could name a user: a valid
// username, or a plain email address (users may log in by email). Nothing
// else can, and is not looked up: PostgreSQL refuses some such strings (a
// NUL byte) outright.
func canBeLoginName(s string) bool {
	return validateName("username", s) == nil ||
		(validateEmail(s) == nil && validateText("username", s, 254) == nil)
}

// validateEmail checks for one plain address like jane@example.com.
func validateEmail(s string) error {
	if s == "" {
		return invalid("email", "is required")
	}
	if len(s) > 254 {
		return invalid("email", "must be at most 254 characters")
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || addr.Name != "" {
		return invalid("email", "must be a plain address like jane@example.com")
	}
	local, domain, _ := strings.Cut(s, "@")
	if local == "" || domain == "" || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return invalid("email", "must be a plain address like jane@example.com")
	}
	return nil
}

// validateText checks a free-text profile field: at most max characters,
// one line, no control characters.
func validateText(field, s string, max int) error {
	if !utf8.ValidString(s) {
		return invalid(field, "must be valid UTF-8")
	}
	if utf8.RuneCountInString(s) > max {
		return invalid(field, "must be at most %d characters", max)
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return invalid(field, "must be one line of text without control characters")
		}
	}
	return nil
}

// cleanText makes s fit validateText(field, s, max) instead of refusing
// it: invalid UTF-8 becomes U+FFFD, control characters (newlines, tabs)
// and line separators become spaces, it is trimmed and cut to max
// characters. For what a station reports about a failure, which must be
// recorded whatever it says.
func cleanText(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > max {
		s = strings.TrimSpace(string([]rune(s)[:max]))
	}
	return s
}

// validatePhone allows digits, spaces and + ( ) - . , up to 32 characters.
func validatePhone(s string) error {
	if len(s) > 32 {
		return invalid("phone", "must be at most 32 characters")
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9') && !strings.ContainsRune("+()-. ", r) {
			return invalid("phone", "may contain only digits, spaces and + ( ) - .")
		}
	}
	return nil
}

// validatePassword requires 8 to 1024 characters.
func validatePassword(field, s string) error {
	if s == "" {
		return invalid(field, "is required")
	}
	if utf8.RuneCountInString(s) < 8 {
		return invalid(field, "must be at least 8 characters")
	}
	if len(s) > 1024 {
		return invalid(field, "must be at most 1024 bytes")
	}
	return nil
}

// validateStation checks a provisioning station name: like a username,
// but upper-case letters are allowed too, because Defguard's provisioner
// calls itself "YubikeyProvisioner" unless told otherwise. Names are
// compared exactly: "Yubi" and "yubi" are two stations.
func validateStation(s string) error {
	return checkName("worker", s, true)
}

func invalid(field, format string, args ...any) error {
	return herald.Invalid(field, format, args...)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
