package directory

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/storetest"
)

// TestLoginNameSizes: a login name longer than any username (64 bytes) is
// refused (400) before anything is counted or checked, unless it has "@":
// users log in by email too, and an email may have up to 254 bytes.
func TestLoginNameSizes(t *testing.T) {
	t.Parallel()
	email := func(n int) string { // a plain address of n bytes
		const domain = "@example.com"
		return strings.Repeat("e", n-len(domain)) + domain
	}
	storetest.EachDSN(t, func(t *testing.T, dsn string) {
		f := newLoginFixture(t, dsn, Limits{LoginPerUser: 100, LoginPerAddress: 100})
		for _, tc := range []struct {
			name    string
			login   string
			checked bool   // its password is checked (and wrong)
			msg     string // else the 400's message
		}{
			{"a username of 64 bytes", strings.Repeat("u", 64), true, ""},
			{"a username of 65 bytes", strings.Repeat("u", 65), false, "username: must be at most 64 bytes"},
			{"a name of 65 bytes that cannot be a username", strings.Repeat("U", 65), false, "username: must be at most 64 bytes"},
			{"an email of 65 bytes", email(65), true, ""},
			{"an email of 254 bytes", email(254), true, ""},
			{"an email of 255 bytes", email(255), false, "username: must be at most 254 bytes"},
			{"a name with @ of 255 bytes", strings.Repeat("@", 255), false, "username: must be at most 254 bytes"},
		} {
			before := f.dir.PasswordChecks()
			_, _, err := f.dir.Login(bg, tc.login, "not-the-password", netip.MustParseAddr(aliceAddr))
			checks := f.dir.PasswordChecks() - before
			if tc.checked {
				if herald.ErrorCode(err) != herald.EUNAUTHORIZED || checks != 1 {
					t.Errorf("%s: %v after %d checks; want wrong username or password after one", tc.name, err, checks)
				}
				continue
			}
			if herald.ErrorCode(err) != herald.EINVALID || err.Error() != tc.msg || checks != 0 {
				t.Errorf("%s: %v after %d checks; want %q (400) before any", tc.name, err, checks, tc.msg)
			}
		}
	})
}
