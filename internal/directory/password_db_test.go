package directory

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/storetest"
)

// TestSetPasswordFieldErrors: a change of one's own password reports every
// field error it can find without checking the old password at once (so
// the form marks them together), and checks the old password (counted as a
// login is) only when the new one is valid: an invalid new password costs
// no attempt and no check, whatever the old one.
func TestSetPasswordFieldErrors(t *testing.T) {
	t.Parallel()
	storetest.EachDSN(t, func(t *testing.T, dsn string) {
		f := newLoginFixture(t, dsn, Limits{})
		alice, err := f.dir.GetUser(bg, CLI, "alice")
		if err != nil {
			t.Fatal(err)
		}
		self := Actor{UserID: alice.ID, Username: "alice"}
		admin := Actor{UserID: alice.ID + 1000, Username: "root", IsAdmin: true}
		from := netip.MustParseAddr(aliceAddr)
		// The last case changes the password; the ones before must not.
		for _, tc := range []struct {
			name     string
			actor    Actor
			old, new string
			fields   []string // the fields of the errors, in the form's order; none for success
			checks   int64    // passwords checked
		}{
			{"empty old, short new", self, "", "short", []string{"old_password", "new_password"}, 0},
			{"empty old, empty new", self, "", "", []string{"old_password", "new_password"}, 0},
			{"oversized old, short new", self, strings.Repeat("x", maxPasswordBytes+1), "short", []string{"old_password", "new_password"}, 0},
			{"empty old, valid new", self, "", "new-password-1", []string{"old_password"}, 0},
			{"wrong old, valid new", self, "not-her-password", "new-password-1", []string{"old_password"}, 1},
			{"wrong old, short new", self, "not-her-password", "short", []string{"new_password"}, 0},
			{"right old, short new", self, alicePassword, "short", []string{"new_password"}, 0},
			{"admin, short new", admin, "", "short", []string{"new_password"}, 0},
			{"right old, valid new", self, alicePassword, "new-password-1", nil, 1},
		} {
			before := f.dir.PasswordChecks()
			err := f.dir.SetPassword(bg, tc.actor, "alice", tc.old, tc.new, from)
			checks := f.dir.PasswordChecks() - before
			var fields []string
			for _, e := range herald.FieldErrors(err) {
				fields = append(fields, e.Field)
			}
			if !slices.Equal(fields, tc.fields) || (err != nil && herald.ErrorCode(err) != herald.EINVALID) {
				t.Errorf("%s: %v (fields %q), want EINVALID on %q", tc.name, err, fields, tc.fields)
			}
			if err != nil && len(fields) != len(herald.FieldErrors(err)) {
				t.Errorf("%s: %v has an error about no field", tc.name, err)
			}
			if checks != tc.checks {
				t.Errorf("%s: %d passwords checked, want %d", tc.name, checks, tc.checks)
			}
		}
		if _, _, err := f.dir.Login(bg, "alice", "new-password-1", from); err != nil {
			t.Errorf("a login with the new password: %v", err)
		}
	})
}
