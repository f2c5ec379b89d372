package scim_test

import (
	"testing"

	"github.com/heraldhq/herald/internal/scim"
	"github.com/heraldhq/herald/internal/store"
)

// userName is case-insensitive at a provider (RFC 7643 §4.1.1): the
// provider's own "Bob" is Herald's out-of-scope "bob", deprovisioned by a
// resync under Herald's name. Once bob comes into scope, his account is
// active and later resyncs leave it so: no second mapping under "Bob"
// keeps deactivating it.
func TestResyncUserNameCase(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, func(t *scim.Target) { t.OnlyGroups = []string{"staff"}; t.Deprovision = scim.DeprovisionDeactivate })
		e.p.AddUser(map[string]any{"userName": "Bob", "active": true})
		out := e.user("bob", "elsewhere")
		local := scim.Local{Users: []scim.LocalResource{{Name: "bob", Data: out}}}
		rep, changes, err := scim.Resync(ctx, httpDoer{}, e.db, e.tg, local)
		if err != nil || rep.Error != "" || len(changes) != 1 {
			t.Fatalf("first resync: %+v, %v, %v", rep, changes, err)
		}
		if c := changes[0]; c.Type != scim.ChangeRemove || c.Subject != "user:bob" {
			t.Errorf("change %s %s, want scim_remove user:bob (Herald's name: changes of one user are ordered by it)", c.Type, c.Subject)
		}
		for _, c := range changes {
			e.apply(c.Type, c.Subject, c.Data, nil, scim.Done)
		}
		if e.provided("Bob").Active() {
			t.Fatal("bob, out of scope, is active")
		}
		// bob joins staff.
		in := userBody("bob", "First bob", "staff")
		e.apply("user_modified", "user:bob", in, out, scim.Done)
		local.Users[0].Data = in
		rep, changes, err = scim.Resync(ctx, httpDoer{}, e.db, e.tg, local)
		if err != nil || rep.Error != "" || len(changes) != 0 || rep.Users.Deprovisioned != 0 {
			t.Errorf("resync with bob in scope: %+v, changes %v, %v; want nothing to do", rep, changes, err)
		}
		for _, c := range changes {
			e.apply(c.Type, c.Subject, c.Data, nil, scim.Done)
		}
		if !e.provided("Bob").Active() {
			t.Error("bob, in scope, was deactivated by a resync")
		}
	})
}
