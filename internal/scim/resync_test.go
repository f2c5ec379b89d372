package scim_test

import (
	"slices"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/scim"
	"github.com/heraldhq/herald/internal/store"
)

// A resync reads the target page by page, adopts accounts by userName
// and displayName, leaves the provider's own alone, and queues what makes
// the target agree: missing and differing resources synced, mapped ones
// Herald no longer provisions removed.
func TestResync(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, func(t *scim.Target) { t.OnlyGroups = []string{"staff"}; t.SyncGroups = true })
		e.p.PageSize(2)
		e.group("staff")
		e.group("elsewhere")
		same, changed := e.user("same", "staff"), e.user("changed", "staff")
		e.apply("user_created", "user:same", same, nil, scim.Done)
		e.apply("user_created", "user:changed", changed, nil, scim.Done)
		e.apply("user_created", "user:gone", e.user("gone", "staff"), nil, scim.Done)
		e.apply("user_created", "user:left", e.user("left", "staff"), nil, scim.Done)
		adoptID := e.p.AddUser(map[string]any{"userName": "adopt"})
		e.p.AddUser(map[string]any{"userName": "outsider"}) // the provider's own
		e.p.AddUser(map[string]any{"userName": "other"})    // the provider's own, named as Herald's other (out of scope): left alone
		e.p.AddGroup(map[string]any{"displayName": "theirs"})

		local := scim.Local{
			Users: []scim.LocalResource{
				{Name: "same", Data: same},
				{Name: "changed", Data: userBody("changed", "New", "staff")},
				{Name: "left", Data: userBody("left", "First left")},
				{Name: "adopt", Data: e.user("adopt", "staff")},
				{Name: "new", Data: e.user("new", "staff")},
				{Name: "other", Data: e.user("other", "elsewhere")},
			},
			Groups: []scim.LocalResource{{Name: "staff", Data: groupBody("staff", "same")}, {Name: "elsewhere", Data: groupBody("elsewhere")}},
		}
		rep, changes, err := scim.Resync(ctx, httpDoer{}, e.db, e.tg, local)
		if err != nil || rep.Error != "" {
			t.Fatalf("Resync: %v, %q", err, rep.Error)
		}
		wantUsers := herald.SCIMResyncCounts{Unchanged: 1, Created: 1, Updated: 2, Deprovisioned: 2, Adopted: 1, Unmanaged: 2}
		if rep.Users != wantUsers {
			t.Errorf("users %+v, want %+v", rep.Users, wantUsers)
		}
		if want := (herald.SCIMResyncCounts{Created: 1, Unmanaged: 1}); rep.Groups != want {
			t.Errorf("groups %+v, want %+v", rep.Groups, want)
		}
		var got []string
		for _, c := range changes {
			got = append(got, c.Type+" "+c.Subject)
		}
		slices.Sort(got)
		want := []string{"scim_remove user:gone", "scim_remove user:left",
			"scim_sync group:staff", "scim_sync user:adopt", "scim_sync user:changed", "scim_sync user:new"}
		if !slices.Equal(got, want) {
			t.Errorf("changes %q, want %q", got, want)
		}
		if e.remoteID(scim.KindUser, "adopt") != adoptID {
			t.Errorf("adopt was not adopted")
		}
		// (adopt is adopted, and updated: the provider's copy has no name.)
		// Applying them makes the target agree: a second resync finds nothing.
		for _, c := range changes {
			e.apply(c.Type, c.Subject, c.Data, nil, scim.Done)
		}
		rep, changes, err = scim.Resync(ctx, httpDoer{}, e.db, e.tg, local)
		if err != nil || len(changes) != 0 || rep.Users.Unchanged != 4 || rep.Groups.Unchanged != 1 {
			t.Errorf("second resync: %+v, %v, %v", rep, changes, err)
		}

		e.p.FailNext(1, 500)
		rep, changes, err = scim.Resync(ctx, httpDoer{}, e.db, e.tg, local)
		if err != nil || rep.Error == "" || changes != nil {
			t.Errorf("unreadable target: %+v, %v, %v", rep, changes, err)
		}
	})
}
