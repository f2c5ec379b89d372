package directory

import (
	"testing"

	"github.com/heraldhq/herald/internal/storetest"
)

// TestBootstrapIgnoresAdminPasswordOnceUsersExist: admin_password is for
// the first start only; once users exist, one that would be refused (too
// short) stops nothing and creates nobody.
func TestBootstrapIgnoresAdminPasswordOnceUsersExist(t *testing.T) {
	t.Parallel()
	storetest.EachDSN(t, func(t *testing.T, dsn string) {
		f := newLoginFixture(t, dsn, Limits{}) // alice exists
		for _, pw := range []string{"short", "", "a long enough admin password"} {
			created, got, err := f.dir.Bootstrap(bg, pw)
			if err != nil || created || got != "" {
				t.Errorf("Bootstrap(%q) with a user: created %v, password %q, %v; want nothing done and no error", pw, created, got, err)
			}
		}
		if _, err := f.dir.GetUser(bg, CLI, "admin"); err == nil {
			t.Error("Bootstrap created admin though a user existed")
		}
	})
}
