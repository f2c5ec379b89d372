package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// queued returns "event subject" of each of a webhook's deliveries, oldest
// first: fan-out happens in the change's transaction, so this is final as
// soon as the change's request has been answered.
func queued(c *client, hookID int64) []string {
	c.t.Helper()
	ds := c.deliveries(hookID, "")
	out := make([]string, len(ds))
	for i, d := range ds {
		out[len(ds)-1-i] = d.Event + " " + d.Subject
	}
	return out
}

// ignore_actors: a webhook does not get the events made by the API token,
// the user or the station it names; the others still do.
func TestIgnoreActors(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
		"username": "jdoe", "first_name": "jane", "last_name": "doe", "email": "jdoe@example.com", "password": "jdoe-pass-1"}, nil)
	var tok struct {
		ID    int64  `json:"id"`
		Token string `json:"token"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/user/admin/api_token", map[string]string{"name": "sync"}, &tok)
	var st struct {
		Token string `json:"token"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/worker/token", map[string]string{"worker": "station1"}, &st)

	all, noToken, noUser, noStation := newReceiver(t), newReceiver(t), newReceiver(t), newReceiver(t)
	hAll := admin.addWebhook(all.URL, nil)
	tokenKey := fmt.Sprintf("api_token:%d", tok.ID)
	hToken := admin.addWebhook(noToken.URL, map[string]any{"ignore_actors": []string{tokenKey}})
	hUser := admin.addWebhook(noUser.URL, map[string]any{"ignore_actors": []string{"user:jdoe"}})
	hStation := admin.addWebhook(noStation.URL, map[string]any{"ignore_actors": []string{"station:station1"}})
	if !slices.Equal(hToken.IgnoreActors, []string{tokenKey}) || hAll.IgnoreActors == nil || hAll.OnlyGroups == nil {
		t.Fatalf("webhooks as created: %+v, %+v", hToken, hAll)
	}

	// One subject, so each receiver gets what it gets in this order.
	since := time.Now().UTC()
	s.withToken(tok.Token).expect(http.StatusOK, "PATCH", "/api/v1/user/jdoe", map[string]string{"phone": "1"}, nil)
	jdoe := s.login("jdoe", "jdoe-pass-1")
	jdoe.expect(http.StatusOK, "PATCH", "/api/v1/user/jdoe", map[string]string{"phone": "2"}, nil)
	// jdoe's own API token acts as jdoe: "user:jdoe" silences it too.
	var own struct {
		Token string `json:"token"`
	}
	jdoe.expect(http.StatusCreated, "POST", "/api/v1/user/jdoe/api_token", map[string]string{"name": "mine"}, &own)
	s.withToken(own.Token).expect(http.StatusOK, "PATCH", "/api/v1/user/jdoe", map[string]string{"phone": "22"}, nil)
	var job struct {
		ID int64 `json:"id"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/worker/job", map[string]string{"username": "jdoe", "worker": "station1"}, &job)
	station := s.withToken(st.Token)
	station.expect(http.StatusOK, "GET", "/api/v1/worker/job?worker=station1", nil, nil)
	station.expect(http.StatusOK, "POST", fmt.Sprintf("/api/v1/worker/job/%d/done", job.ID), map[string]any{
		"success": true, "ssh_key": testdata(t, "ssh_ed25519.pub"), "serial": "42"}, nil)
	admin.expect(http.StatusOK, "PATCH", "/api/v1/user/jdoe", map[string]string{"phone": "3"}, nil)

	for _, tc := range []struct {
		name string
		hook webhook
		rc   *receiver
		want []string // phone or serial of each request
	}{
		{"no filter", hAll, all, []string{`"phone":"1"`, `"phone":"2"`, `"phone":"22"`, `"serial":"42"`, `"phone":"3"`}},
		{"api token", hToken, noToken, []string{`"phone":"2"`, `"phone":"22"`, `"serial":"42"`, `"phone":"3"`}},
		{"user", hUser, noUser, []string{`"phone":"1"`, `"serial":"42"`, `"phone":"3"`}},
		{"station", hStation, noStation, []string{`"phone":"1"`, `"phone":"2"`, `"phone":"22"`, `"phone":"3"`}},
	} {
		if q := queued(admin, tc.hook.ID); len(q) != len(tc.want) {
			t.Errorf("%s: queued %v, want %d", tc.name, q, len(tc.want))
			continue
		}
		got := tc.rc.waitFor(len(tc.want), 10*time.Second)
		for i, w := range tc.want {
			if !strings.Contains(string(got[i].Body), w) {
				t.Errorf("%s: request %d is %s, want one with %s", tc.name, i, got[i].Body, w)
			}
		}
		// A replay applies the same filter.
		var replayed struct {
			Queued int `json:"queued"`
		}
		admin.expect(http.StatusAccepted, "POST", fmt.Sprintf("/api/v1/webhook/%d/replay", tc.hook.ID),
			map[string]string{"since": since.Format(time.RFC3339Nano)}, &replayed)
		if replayed.Queued != len(tc.want) {
			t.Errorf("%s: a replay queued %d, want %d", tc.name, replayed.Queued, len(tc.want))
		}
	}
}

// only_groups: user events for users in the group before or after the
// change (joining, leaving), group events for the group; the filter follows
// the group's rename; other users and groups are not sent.
func TestOnlyGroups(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	createUser(admin, "alice")
	createUser(admin, "bob")
	admin.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "ops"}, nil)
	rc := newReceiver(t)
	groupEvents := []string{"group_created", "group_modified", "group_deleted"}
	hook := admin.addWebhook(rc.URL, map[string]any{"only_groups": []string{"devs"}, "events": groupEvents, "format": "envelope"})
	other := admin.addWebhook(newReceiver(t).URL, map[string]any{"only_groups": []string{"ops"}, "events": groupEvents})
	third := admin.addWebhook(newReceiver(t).URL, map[string]any{"only_groups": []string{"devs", "sales"}})

	admin.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "devs"}, nil)                                               // sent
	admin.expect(http.StatusOK, "POST", "/api/v1/group/devs", map[string]string{"username": "alice"}, nil)                                       // sent: joins
	admin.expect(http.StatusOK, "PATCH", "/api/v1/user/alice", map[string]string{"phone": "1"}, nil)                                             // sent: a member
	admin.expect(http.StatusOK, "PATCH", "/api/v1/user/bob", map[string]string{"phone": "1"}, nil)                                               // not
	admin.expect(http.StatusNoContent, "DELETE", "/api/v1/group/devs/user/alice", nil, nil)                                                      // sent: leaves
	admin.expect(http.StatusOK, "PATCH", "/api/v1/user/alice", map[string]string{"phone": "2"}, nil)                                             // not: left
	admin.expect(http.StatusOK, "POST", "/api/v1/group/ops", map[string]string{"username": "alice"}, nil)                                        // not: ops
	admin.expect(http.StatusOK, "POST", "/api/v1/group/devs", map[string]string{"username": "bob"}, nil)                                         // sent
	admin.expect(http.StatusOK, "PUT", "/api/v1/group/devs", map[string]any{"name": "team", "members": []string{"bob"}, "is_admin": false}, nil) // sent: renamed
	var after webhook
	admin.expect(http.StatusOK, "GET", fmt.Sprintf("/api/v1/webhook/%d", hook.ID), nil, &after)
	if !slices.Equal(after.OnlyGroups, []string{"team"}) {
		t.Fatalf("only_groups after the rename: %v", after.OnlyGroups)
	}
	admin.expect(http.StatusOK, "GET", fmt.Sprintf("/api/v1/webhook/%d", third.ID), nil, &after)
	if !slices.Equal(after.OnlyGroups, []string{"sales", "team"}) {
		t.Fatalf("only_groups [devs sales] after the rename: %v, want sorted [sales team]", after.OnlyGroups)
	}
	admin.expect(http.StatusOK, "PATCH", "/api/v1/user/bob", map[string]string{"phone": "2"}, nil) // sent: in team
	admin.expect(http.StatusNoContent, "DELETE", "/api/v1/group/team", nil, nil)                   // sent, and bob's user_modified
	admin.expect(http.StatusOK, "PATCH", "/api/v1/user/bob", map[string]string{"phone": "3"}, nil) // not: no group any more

	want := []string{
		"group_created group:devs",
		"group_modified group:devs", "user_modified user:alice",
		"user_modified user:alice",
		"group_modified group:devs", "user_modified user:alice",
		"group_modified group:devs", "user_modified user:bob",
		"group_modified group:team", "user_modified user:bob",
		"user_modified user:bob",
		"group_deleted group:team", "user_modified user:bob",
	}
	got := queued(admin, hook.ID)
	if !slices.Equal(got, want) {
		t.Errorf("queued for only_groups [devs]:\n got %v\nwant %v", got, want)
	}
	rs := rc.waitFor(len(want), 10*time.Second)
	for _, r := range rs {
		if e := parseEnvelope(t, r); !strings.Contains(string(e.Data)+string(e.Previous), `devs`) && !strings.Contains(string(e.Data)+string(e.Previous), `team`) {
			t.Errorf("sent an event about neither devs nor team: %s", r.Body)
		}
	}
	wantOther := []string{"group_modified group:ops", "user_modified user:alice"}
	if got := queued(admin, other.ID); !slices.Equal(got, wantOther) {
		t.Errorf("queued for only_groups [ops]:\n got %v\nwant %v", got, wantOther)
	}
}

// Bad format, ignore_actors or only_groups: 400 naming the field, and
// nothing is created or changed.
func TestWebhookFilterValidation(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	rc := newReceiver(t)
	hook := admin.addWebhook(rc.URL, map[string]any{"only_groups": []string{"devs"}})
	for _, tc := range []struct {
		field string
		value any
	}{
		{"format", "xml"},
		{"format", 7},
		{"ignore_actors", []string{"jdoe"}},
		{"ignore_actors", []string{"api_token:x"}},
		{"ignore_actors", "user:jdoe"},
		{"only_groups", []string{"Dev Ops"}},
		{"only_groups", []any{7}},
	} {
		body := map[string]any{"url": rc.URL, "description": "x", tc.field: tc.value}
		r := admin.do("POST", "/api/v1/webhook", body)
		if r.Status != http.StatusBadRequest || !strings.Contains(r.msg(), tc.field) {
			t.Errorf("POST with %s=%v: %d %s", tc.field, tc.value, r.Status, r.Body)
		}
		r = admin.do("PUT", fmt.Sprintf("/api/v1/webhook/%d", hook.ID), body)
		if r.Status != http.StatusBadRequest || !strings.Contains(r.msg(), tc.field) {
			t.Errorf("PUT with %s=%v: %d %s", tc.field, tc.value, r.Status, r.Body)
		}
	}
	var hooks []webhook
	admin.expect(http.StatusOK, "GET", "/api/v1/webhook", nil, &hooks)
	if len(hooks) != 1 || !slices.Equal(hooks[0].OnlyGroups, []string{"devs"}) || hooks[0].Format != "defguard" {
		t.Fatalf("after refused changes: %+v", hooks)
	}
}

// The web UI's webhook form sets the format and both filters (lists
// separated by spaces or commas), shows them on the webhook's page and in
// the edit form, and shows a bad entry next to its field, keeping what was
// typed.
func TestWebhookFormFilters(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	rc := newReceiver(t)
	form := url.Values{"url": {rc.URL}, "description": {"filtered"}, "method": {"POST"}, "enabled": {"on"}, "on_user_modified": {"on"},
		"format": {"envelope"}, "ignore_actors": {"user:jdoe, api_token:3"}, "only_groups": {"ops devs"}}
	if r := admin.postForm("/webhooks/new", form); r.Status != http.StatusSeeOther {
		t.Fatalf("add webhook: %d %s", r.Status, r.Body)
	}
	var hooks []webhook
	admin.expect(http.StatusOK, "GET", "/api/v1/webhook", nil, &hooks)
	h := hooks[0]
	if h.Format != "envelope" || !slices.Equal(h.IgnoreActors, []string{"api_token:3", "user:jdoe"}) || !slices.Equal(h.OnlyGroups, []string{"devs", "ops"}) {
		t.Fatalf("webhook from the form: %+v", h)
	}
	page := admin.do("GET", fmt.Sprintf("/webhooks/%d", h.ID), nil)
	if !containsAll(string(page.Body), "envelope", "api_token:3, user:jdoe", "devs, ops") {
		t.Errorf("webhook page: %s", page.Body)
	}
	edit := admin.do("GET", fmt.Sprintf("/webhooks/%d/edit", h.ID), nil)
	if !containsAll(string(edit.Body), `value="envelope" selected`, `value="api_token:3 user:jdoe"`, `value="devs ops"`) {
		t.Errorf("edit form: %s", edit.Body)
	}
	form.Set("only_groups", "devs Bad_Group")
	r := admin.postForm(fmt.Sprintf("/webhooks/%d/edit", h.ID), form)
	if r.Status != http.StatusBadRequest || !containsAll(string(r.Body), "Bad_Group", "only_groups-error", `value="devs Bad_Group"`) {
		t.Errorf("bad only_groups: %d %s", r.Status, r.Body)
	}
	admin.expect(http.StatusOK, "GET", "/api/v1/webhook", nil, &hooks)
	if !slices.Equal(hooks[0].OnlyGroups, []string{"devs", "ops"}) {
		t.Errorf("a refused edit changed only_groups: %v", hooks[0].OnlyGroups)
	}
}
