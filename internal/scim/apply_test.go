package scim_test

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/heraldhq/herald/internal/scim"
	"github.com/heraldhq/herald/internal/store"
)

// A created user is POSTed with its attributes and Herald's id as
// externalId, its id kept; a change is a PUT to that id.
func TestApplyCreatesThenUpdates(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.apply("user_created", "user:alice", e.user("alice"), nil, scim.Done)
		u := e.provided("alice")
		herald, _, _ := e.db.UserID(ctx, "alice")
		if u.String("externalId") != strconv.FormatInt(herald, 10) || u.Sub("name", "givenName") != "First alice" ||
			u.Sub("emails", "value") != "alice@example.com" || !u.Active() {
			t.Errorf("provided user %+v", u.Attributes)
		}
		if e.remoteID(scim.KindUser, "alice") != u.ID {
			t.Errorf("stored id %q, provider's %q", e.remoteID(scim.KindUser, "alice"), u.ID)
		}
		r := e.apply("user_modified", "user:alice", userBody("alice", "Alicia"), nil, scim.Done)
		if got := e.provided("alice"); got.ID != u.ID || got.Sub("name", "givenName") != "Alicia" {
			t.Errorf("after user_modified: %s %+v", got.ID, got.Attributes)
		}
		if r.Status != 200 || !strings.HasPrefix(r.Log, "PUT /Users/"+u.ID+"\n{") || !strings.Contains(r.Log, "→ 200\n") {
			t.Errorf("status %d, log:\n%s", r.Status, r.Log)
		}
		if n := len(e.p.Users()); n != 1 {
			t.Errorf("the provider has %d users", n)
		}
	})
}

// An account the provider already has with that userName is adopted,
// not duplicated; one the provider lost is created again.
func TestApplyAdoptsAndRecreates(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		id := e.p.AddUser(map[string]any{"userName": "Bob", "active": false})
		e.apply("user_created", "user:bob", e.user("bob"), nil, scim.Done)
		if e.remoteID(scim.KindUser, "bob") != id || len(e.p.Users()) != 1 || !e.provided("bob").Active() {
			t.Fatalf("not adopted: stored %q, provider %v", e.remoteID(scim.KindUser, "bob"), e.p.Users())
		}
		if calls := e.p.Calls(); !slices.Equal(calls, []string{
			`GET /Users?filter=userName%20eq%20%22bob%22`, "PUT /Users/" + id}) {
			t.Errorf("calls %q", calls)
		}
		e.p.Lose()
		e.apply("user_modified", "user:bob", userBody("bob", "Robert"), nil, scim.Done)
		again := e.provided("bob")
		if again.ID == id || e.remoteID(scim.KindUser, "bob") != again.ID || again.Sub("name", "givenName") != "Robert" {
			t.Errorf("after the provider lost bob: %+v, stored %q", again, e.remoteID(scim.KindUser, "bob"))
		}
	})
}

// Deleting: DELETE and the id forgotten; deactivating: active false and
// the id kept. A user leaving the target's groups is deprovisioned too.
func TestApplyDeprovisions(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.apply("user_created", "user:carol", e.user("carol"), nil, scim.Done)
		e.apply("user_deleted", "user:carol", []byte(`{"username":"carol"}`), userBody("carol", "C"), scim.Done)
		if _, ok := e.p.User("carol"); ok || e.remoteID(scim.KindUser, "carol") != "" {
			t.Errorf("carol after user_deleted: provider %v, stored %q", e.p.Users(), e.remoteID(scim.KindUser, "carol"))
		}
		// Nothing there, nothing mapped: done after one lookup.
		e.apply("user_deleted", "user:carol", []byte(`{"username":"carol"}`), nil, scim.Done)

		d := newEnv(t, db, func(t *scim.Target) { t.Deprovision = scim.DeprovisionDeactivate; t.OnlyGroups = []string{"staff"} })
		d.apply("user_created", "user:dan", d.user("dan", "staff"), nil, scim.Done)
		id := d.provided("dan").ID
		d.apply("user_modified", "user:dan", userBody("dan", "Dan"), userBody("dan", "Dan", "staff"), scim.Done)
		if u := d.provided("dan"); u.Active() || u.ID != id || d.remoteID(scim.KindUser, "dan") != id || u.Sub("name", "givenName") != "Dan" {
			t.Errorf("dan out of scope: %+v, stored %q", u, d.remoteID(scim.KindUser, "dan"))
		}
		d.apply("user_modified", "user:dan", userBody("dan", "Dan", "staff"), nil, scim.Done)
		if u := d.provided("dan"); !u.Active() || u.ID != id {
			t.Errorf("dan back in scope: %+v", u)
		}
		// A resync's removal carries no body: the provider's copy is used.
		d.apply(scim.ChangeRemove, "user:dan", []byte(`{"username":"dan"}`), nil, scim.Done)
		if u := d.provided("dan"); u.Active() || u.Sub("name", "givenName") != "Dan" {
			t.Errorf("dan after scim_remove: %+v", u)
		}
	})
}

// What the target's answers mean: 5xx and 429 are retried (Retry-After
// carried), 410 is Gone, other 4xx fail naming the RFC 7644 error, the
// egress guard's refusal fails.
func TestApplyVerdicts(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		body := e.user("erin")
		e.p.FailNext(1, 500)
		e.apply("user_created", "user:erin", body, nil, scim.Retry)
		e.p.RetryAfter("7")
		e.p.FailNext(1, 503)
		if r := e.apply("user_created", "user:erin", body, nil, scim.Retry); r.RetryAfter != "7" || r.Status != 503 {
			t.Errorf("503: %+v", r)
		}
		e.p.FailNext(1, 410)
		e.apply("user_created", "user:erin", body, nil, scim.Gone)
		e.p.FailNext(1, 403)
		if r := e.apply("user_created", "user:erin", body, nil, scim.Failed); !strings.Contains(r.Error, "403") {
			t.Errorf("403: %q", r.Error)
		}
		e.p.FailNext(1, 400)
		r := e.apply("user_created", "user:erin", body, nil, scim.Failed)
		if !strings.Contains(r.Error, "400 Bad Request (scimType invalidValue): scimtest: Bad Request") {
			t.Errorf("400: %q\n%s", r.Error, r.Log)
		}
		wrong := e.tg
		wrong.Token = "wrong"
		if r := scim.Apply(ctx, httpDoer{}, e.db, wrong, scim.Change{Type: "user_created", Subject: "user:erin", Data: body}); r.Verdict != scim.Failed || r.Status != 401 {
			t.Errorf("wrong token: %+v", r)
		}
		blocked := e.tg
		blocked.BaseURL = "http://blocked.invalid"
		if r := scim.Apply(ctx, httpDoer{}, e.db, blocked, scim.Change{Type: "user_deleted", Subject: "user:x", Data: []byte(`{"username":"x"}`)}); r.Verdict != scim.Failed || !strings.Contains(r.Error, "egress") {
			t.Errorf("blocked: %+v", r)
		}
		e.apply("user_created", "user:erin", body, nil, scim.Done)
	})
}

// With sync_groups, groups carry the members Herald mapped; a user
// created later joins its mapped groups (PATCH); a rename keeps the id;
// group_deleted deletes it. Without, group changes make no call.
func TestApplyGroups(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		off := newEnv(t, db)
		off.apply("group_created", "group:ops", groupBody("ops"), nil, scim.Done)
		if off.p.Requests() != 0 {
			t.Errorf("a target without sync_groups got %v", off.p.Calls())
		}

		e := newEnv(t, db, func(t *scim.Target) { t.SyncGroups = true })
		e.apply("user_created", "user:alice", e.user("alice", "ops"), nil, scim.Done)
		bobBody := e.user("bob", "ops")
		e.group("ops")
		e.apply("group_created", "group:ops", groupBody("ops", "alice", "bob"), nil, scim.Done)
		g, ok := e.p.Group("ops")
		alice := e.provided("alice").ID
		if !ok || !slices.Equal(g.Members(), []string{alice}) {
			t.Fatalf("group ops %+v (bob is not at the target yet)", g)
		}
		e.apply("user_created", "user:bob", bobBody, nil, scim.Done)
		bob := e.provided("bob").ID
		if g, _ := e.p.Group("ops"); !slices.Equal(g.Members(), []string{alice, bob}) {
			t.Errorf("after bob was created the group has %v", g.Members())
		}
		e.renameGroup("ops", "sre")
		e.apply("group_modified", "group:sre", groupBody("sre", "alice", "bob"), groupBody("ops", "alice", "bob"), scim.Done)
		if s, ok := e.p.Group("sre"); !ok || s.ID != g.ID || e.remoteID(scim.KindGroup, "sre") != g.ID || e.remoteID(scim.KindGroup, "ops") != "" {
			t.Errorf("after the rename: %v", e.p.Groups())
		}
		e.apply("group_deleted", "group:sre", groupBody("sre", "alice", "bob"), groupBody("sre", "alice", "bob"), scim.Done)
		if len(e.p.Groups()) != 0 || e.remoteID(scim.KindGroup, "sre") != "" {
			t.Errorf("after group_deleted: %v", e.p.Groups())
		}
	})
}

// A change of what SCIM does not carry (keys) makes no call for a mapped
// user, and creates an unmapped one.
func TestApplySkipsUnmappedChanges(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		body := e.user("fay")
		e.apply("user_modified", "user:fay", body, body, scim.Done)
		if _, ok := e.p.User("fay"); !ok {
			t.Fatal("an unmapped user was not created")
		}
		n := e.p.Requests()
		if r := e.apply("user_modified", "user:fay", body, body, scim.Done); e.p.Requests() != n || r.Status != 0 {
			t.Errorf("calls %q for an unchanged mapped user", e.p.Calls()[n:])
		}
	})
}

// Users and their group created at the same time (a resync queues them
// together, and the engine sends different subjects at once) end up
// with every user in the group, whichever calls come first.
func TestApplyConcurrentGroupAndUsers(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, func(t *scim.Target) { t.SyncGroups = true })
		e.group("ops")
		var names []string
		var changes []scim.Change
		// More users than a few rounds of resending could catch up with.
		for i := range 24 {
			name := "u" + strconv.Itoa(i)
			names = append(names, name)
			changes = append(changes, scim.Change{Type: scim.ChangeSync, Subject: "user:" + name, Data: e.user(name, "ops")})
		}
		changes = append(changes, scim.Change{Type: scim.ChangeSync, Subject: "group:ops", Data: groupBody("ops", names...)})
		var wg sync.WaitGroup
		results := make([]scim.Result, len(changes))
		for i, c := range slices.Backward(changes) {
			wg.Go(func() { results[i] = scim.Apply(ctx, httpDoer{}, e.db, e.tg, c) })
		}
		wg.Wait()
		for i, r := range results {
			if r.Verdict != scim.Done {
				t.Fatalf("%s: %v %s", changes[i].Subject, r.Verdict, r.Error)
			}
		}
		g, _ := e.p.Group("ops")
		if len(g.Members()) != len(names) {
			t.Errorf("the group has %d members, want %d: %v", len(g.Members()), len(names), e.p.Calls())
		}
	})
}
