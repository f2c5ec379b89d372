package scim_test

import (
	"testing"

	"github.com/heraldhq/herald/internal/scim"
	"github.com/heraldhq/herald/internal/store"
)

// userName is case-insensitive at a provider (RFC 7643 §4.1.1). The
// provider's own "Bob", named as Herald's out-of-scope "bob", is left
// alone by a resync (Herald never provisioned it); once bob comes into
// scope, his change adopts "Bob" under Herald's name, and later resyncs
// find nothing to do: no second mapping under "Bob".
func TestResyncUserNameCase(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, func(t *scim.Target) { t.OnlyGroups = []string{"staff"}; t.Deprovision = scim.DeprovisionDeactivate })
		bobID := e.p.AddUser(map[string]any{"userName": "Bob", "active": true})
		out := e.user("bob", "elsewhere")
		local := scim.Local{Users: []scim.LocalResource{{Name: "bob", Data: out}}}
		rep, changes, err := scim.Resync(ctx, httpDoer{}, e.db, e.tg, local)
		if err != nil || rep.Error != "" || len(changes) != 0 || rep.Users.Unmanaged != 1 {
			t.Fatalf("first resync: %+v, %v, %v; want the provider's Bob unmanaged, nothing queued", rep, changes, err)
		}
		if !e.provided("Bob").Active() {
			t.Fatal("the provider's own Bob was deactivated")
		}
		// bob joins staff.
		in := userBody("bob", "First bob", "staff")
		e.apply("user_modified", "user:bob", in, out, scim.Done)
		if got := e.remoteID(scim.KindUser, "bob"); got != bobID {
			t.Fatalf("bob is mapped to %q, want the provider's Bob %q (adopted, not duplicated)", got, bobID)
		}
		local.Users[0].Data = in
		rep, changes, err = scim.Resync(ctx, httpDoer{}, e.db, e.tg, local)
		if err != nil || rep.Error != "" || len(changes) != 0 || rep.Users.Deprovisioned != 0 {
			t.Errorf("resync with bob in scope: %+v, changes %v, %v; want nothing to do", rep, changes, err)
		}
		if !e.provided("Bob").Active() {
			t.Error("bob, in scope, is not active")
		}
	})
}
