package directory

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/storetest"
)

// TestLoginByEmail: a user logs in by username or by email address, the
// email in any case, as with Defguard; an unknown email is wrong
// credentials like an unknown username.
func TestLoginByEmail(t *testing.T) {
	t.Parallel()
	storetest.EachDSN(t, func(t *testing.T, dsn string) {
		f := newLoginFixture(t, dsn, Limits{})
		from := netip.MustParseAddr(aliceAddr)
		for _, login := range []string{"alice", "alice@example.com", "Alice@Example.COM"} {
			u, token, err := f.dir.Login(bg, login, alicePassword, from)
			if err != nil || u.Username != "alice" || token == "" {
				t.Errorf("login as %q: user %q, token %t, %v; want alice's session", login, u.Username, token != "", err)
			}
		}
		for _, login := range []string{"nobody@example.com", "alice@example.org"} {
			if _, _, err := f.dir.Login(bg, login, alicePassword, from); herald.ErrorCode(err) != herald.EUNAUTHORIZED {
				t.Errorf("login as %q: %v, want EUNAUTHORIZED", login, err)
			}
		}
	})
}

// TestLoginThrottledPerAccount: wrong passwords by username and by email
// draw on one count of the account, so switching names does not buy more
// guesses; the right password by either name is then throttled from that
// address, and the database holds one count for the account (and one for
// the address), neither naming it in clear.
func TestLoginThrottledPerAccount(t *testing.T) {
	t.Parallel()
	storetest.EachDSN(t, func(t *testing.T, dsn string) {
		f := newLoginFixture(t, dsn, Limits{})
		from := netip.MustParseAddr(aliceAddr)
		names := []string{"alice", "alice@example.com", "ALICE@example.com"}
		before := f.dir.PasswordChecks()
		for i := range DefaultLimits.LoginPerUser {
			login := names[i%len(names)]
			if _, _, err := f.dir.Login(bg, login, fmt.Sprintf("guess-number-%d", i), from); herald.ErrorCode(err) != herald.EUNAUTHORIZED {
				t.Fatalf("wrong guess %d as %q: %v, want EUNAUTHORIZED", i+1, login, err)
			}
		}
		for _, login := range names {
			_, _, err := f.dir.Login(bg, login, alicePassword, from)
			wantThrottled(t, "the right password as "+login+" after five wrong ones", err)
		}
		if got := f.dir.PasswordChecks() - before; got != int64(DefaultLimits.LoginPerUser) {
			t.Errorf("%d passwords checked, want %d", got, DefaultLimits.LoginPerUser)
		}
		rows := f.loginAttempts(t)
		userKey, addrKey := throttleKeys("alice", from)
		if len(rows) != 2 || !strings.HasPrefix(rows[0], addrKey+" ") || !strings.HasPrefix(rows[1], userKey+" 5 5 ") {
			t.Errorf("login_attempts = %q, want the address's count and the account's, 5 attempts 5 failures", rows)
		}
		for _, row := range rows {
			if strings.Contains(strings.ToLower(row), "alice") {
				t.Errorf("login_attempts names the account in clear: %q", row)
			}
		}
		if _, _, err := f.dir.Login(bg, "alice@example.com", alicePassword, netip.MustParseAddr(otherAddr)); err != nil {
			t.Errorf("the right password by email from another address: %v", err)
		}
	})
}
