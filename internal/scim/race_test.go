package scim_test

import (
	"slices"
	"testing"

	"github.com/heraldhq/herald/internal/scim"
	"github.com/heraldhq/herald/internal/store"
)

// A group created at the target while its member's creation was still on
// its way lists no member; the user_modified that added the user to the
// group (nothing else changed) makes the user join it.
func TestApplyJoinAfterGroupRace(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, func(t *scim.Target) { t.SyncGroups = true })
		amy := e.user("amy")
		e.group("devs")
		// The group's change ran first: amy had no id at the target yet.
		e.apply("group_created", "group:devs", groupBody("devs", "amy"), nil, scim.Done)
		e.apply("user_created", "user:amy", amy, nil, scim.Done)
		g, _ := e.p.Group("devs")
		if len(g.Members()) != 0 {
			t.Fatalf("devs has members %v before the join", g.Members())
		}
		e.apply("user_modified", "user:amy", userBody("amy", "First amy", "devs"), amy, scim.Done)
		g, _ = e.p.Group("devs")
		if want := []string{e.provided("amy").ID}; !slices.Equal(g.Members(), want) {
			t.Errorf("devs has members %v, want %v", g.Members(), want)
		}
	})
}

// After the target lost its data, a resync forgets the ids it no longer
// has: the group it queues is sent without the stale ids of its members,
// who join once they are created again.
func TestResyncForgetsLostIDs(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, func(t *scim.Target) { t.SyncGroups = true })
		amy := e.user("amy", "devs")
		e.group("devs")
		e.apply("group_created", "group:devs", groupBody("devs"), nil, scim.Done)
		e.apply("user_created", "user:amy", amy, nil, scim.Done)
		e.p.Lose()
		local := scim.Local{
			Users:  []scim.LocalResource{{Name: "amy", Data: amy}},
			Groups: []scim.LocalResource{{Name: "devs", Data: groupBody("devs", "amy")}},
		}
		_, changes, err := scim.Resync(ctx, httpDoer{}, e.db, e.tg, local)
		if err != nil || len(changes) != 2 {
			t.Fatalf("Resync: %v, %d changes", err, len(changes))
		}
		if e.remoteID(scim.KindUser, "amy") != "" || e.remoteID(scim.KindGroup, "devs") != "" {
			t.Errorf("ids kept after the loss: amy %q, devs %q", e.remoteID(scim.KindUser, "amy"), e.remoteID(scim.KindGroup, "devs"))
		}
		// The group first (as a race may have it), then the user.
		slices.SortFunc(changes, func(a, b scim.Change) int {
			if a.Subject < b.Subject {
				return -1
			}
			return 1
		})
		for _, c := range changes {
			e.apply(c.Type, c.Subject, c.Data, nil, scim.Done)
		}
		g, _ := e.p.Group("devs")
		if want := []string{e.provided("amy").ID}; !slices.Equal(g.Members(), want) {
			t.Errorf("devs has members %v, want %v", g.Members(), want)
		}
	})
}
