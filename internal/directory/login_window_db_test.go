package directory

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/storetest"
)

// TestLoginWindowSlides: no span of LoginWindow holds more password checks
// than the limit, for one account from one address and for one address
// over many names, also across what a fixed window's boundary would be (a
// failure, quiet until just before the window's end, then a stream of
// guesses). The window does slide: a failure that has left it makes room.
func TestLoginWindowSlides(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		limits Limits
		limit  int
		login  func(i int) string
	}{
		{"one account from one address", Limits{}, DefaultLimits.LoginPerUser, func(int) string { return "alice" }},
		{"one address over many names", Limits{LoginPerUser: 100, LoginPerAddress: 4}, 4, func(i int) string { return fmt.Sprintf("guess-%d", i%7) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			storetest.EachDSN(t, func(t *testing.T, dsn string) {
				f := newLoginFixture(t, dsn, tc.limits)
				clock := storetest.UseClock(f.db)
				window := f.dir.limits.LoginWindow
				from := netip.MustParseAddr(aliceAddr)
				var checks []time.Time
				attempt := func(i int) {
					t.Helper()
					before := f.dir.PasswordChecks()
					_, _, err := f.dir.Login(bg, tc.login(i), "not-the-password", from)
					switch code := herald.ErrorCode(err); {
					case code == herald.EUNAUTHORIZED && f.dir.PasswordChecks() == before+1:
						checks = append(checks, clock.Now())
					case code == herald.ETOOMANY && f.dir.PasswordChecks() == before:
					default:
						t.Fatalf("attempt %d at %v: %v, %d checks", i, clock.Now().Sub(storetest.T0), err, f.dir.PasswordChecks()-before)
					}
				}
				attempt(0)
				clock.Advance(window - 10*time.Second)
				for i := 1; clock.Now().Before(storetest.T0.Add(2*window + time.Minute)); i++ {
					attempt(i)
					clock.Advance(5 * time.Second)
				}
				for i, c := range checks {
					in := 0
					for _, d := range checks[i:] {
						if d.Sub(c) < window {
							in++
						}
					}
					if in > tc.limit {
						t.Errorf("%d password checks in the %v from %v, want at most %d; checks at %v", in, window, c.Sub(storetest.T0), tc.limit, offsets(checks))
						break
					}
				}
				// Room comes back as failures leave the window: over two
				// windows' length there are at least twice the limit.
				if len(checks) < 2*tc.limit {
					t.Errorf("%d password checks, want at least %d (the window slides); checks at %v", len(checks), 2*tc.limit, offsets(checks))
				}
			})
		})
	}
}

func offsets(ts []time.Time) []time.Duration {
	var out []time.Duration
	for _, t := range ts {
		out = append(out, t.Sub(storetest.T0))
	}
	return out
}
