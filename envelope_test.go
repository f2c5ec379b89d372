package herald

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestChanged(t *testing.T) {
	for _, tc := range []struct {
		data, previous string
		want           string
	}{
		{`{"a":1,"b":"x"}`, ``, "a,b"},
		{`{"a":1,"b":"x"}`, `null`, "a,b"},
		{`{"a":1,"b":"x"}`, `{"a":1,"b":"x"}`, ""},
		{`{"a":1,"b":"y"}`, `{"a":1,"b":"x"}`, "b"},
		{`{"g":["a","b"]}`, `{"g":["a"]}`, "g"},
		{`{"username":"j"}`, `{"username":"j","email":"e"}`, "email"},
		{`{"z":true,"a":false}`, `{"z":false,"a":true}`, "a,z"},
	} {
		var prev []byte
		if tc.previous != "" {
			prev = []byte(tc.previous)
		}
		if got := strings.Join(Changed([]byte(tc.data), prev), ","); got != tc.want {
			t.Errorf("Changed(%s, %s) = %q, want %q", tc.data, tc.previous, got, tc.want)
		}
	}
}

func TestBody(t *testing.T) {
	ev := Event{ID: "evt_1", Type: EventUserModified, OccurredAt: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC),
		Actor: Actor{Type: ActorAPIToken, Username: "admin", TokenID: 7}, Payload: []byte(`{"phone":"2","username":"j"}`),
		Previous: []byte(`{"phone":"1","username":"j"}`)}
	if got := string(ev.Body(FormatDefguard)); got != `{"phone":"2","username":"j"}` {
		t.Errorf("defguard body %s", got)
	}
	want := `{"id":"evt_1","type":"user_modified","occurred_at":"2026-01-02T03:04:05.000006Z","actor":{"type":"api_token","username":"admin","token_id":7},"data":{"phone":"2","username":"j"},"previous":{"phone":"1","username":"j"},"changed":["phone"]}`
	if got := string(ev.Body(FormatEnvelope)); got != want {
		t.Errorf("envelope\n got %s\nwant %s", got, want)
	}
	ev.Previous = nil
	if got := string(ev.Body(FormatEnvelope)); !strings.Contains(got, `"previous":null,"changed":["phone","username"]}`) {
		t.Errorf("envelope without previous: %s", got)
	}
}

func TestFilters(t *testing.T) {
	user := func(groups string) []byte { return []byte(`{"groups":` + groups + `,"username":"j"}`) }
	jdoe := Actor{Type: ActorUser, Username: "jdoe"}
	token := Actor{Type: ActorAPIToken, Username: "sync", TokenID: 7}
	station := Actor{Type: ActorStation, Station: "desk-1"}
	for _, tc := range []struct {
		name   string
		ev     Event
		groups []string
		passes map[string]bool // by webhook below
	}{
		{"user joins devs", Event{Type: EventUserModified, Actor: jdoe, Payload: user(`["devs"]`), Previous: user(`[]`)}, []string{"devs"},
			map[string]bool{"none": true, "devs": true, "ops": false, "ignore jdoe": false, "ignore token": true}},
		{"user leaves devs", Event{Type: EventUserModified, Actor: token, Payload: user(`["ops"]`), Previous: user(`["devs"]`)}, []string{"ops", "devs"},
			map[string]bool{"none": true, "devs": true, "ops": true, "ignore jdoe": true, "ignore token": false, "ignore sync": false}},
		{"user deleted", Event{Type: EventUserDeleted, Actor: station, Payload: []byte(`{"username":"j"}`), Previous: user(`["ops"]`)}, []string{"ops"},
			map[string]bool{"none": true, "devs": false, "ops": true, "ignore station": false}},
		{"user in no group", Event{Type: EventUserCreated, Actor: jdoe, Payload: user(`[]`)}, []string{},
			map[string]bool{"none": true, "devs": false}},
		{"group renamed", Event{Type: EventGroupModified, Payload: []byte(`{"name":"team"}`), Previous: []byte(`{"name":"devs"}`)}, []string{"team", "devs"},
			map[string]bool{"none": true, "devs": true, "ops": false, "ignore jdoe": true}},
		{"not a user or group event", Event{Type: "audit_entry", Actor: jdoe, Payload: []byte(`{}`)}, nil,
			map[string]bool{"devs": true, "ignore jdoe": false}},
	} {
		if got := tc.ev.FilterGroups(); !slices.Equal(got, tc.groups) || (got == nil) != (tc.groups == nil) {
			t.Errorf("%s: groups %v, want %v", tc.name, got, tc.groups)
		}
		hooks := map[string]Webhook{
			"none":           {},
			"devs":           {OnlyGroups: []string{"devs"}},
			"ops":            {OnlyGroups: []string{"ops"}},
			"ignore jdoe":    {IgnoreActors: []string{"user:jdoe"}},
			"ignore token":   {IgnoreActors: []string{"api_token:7"}},
			"ignore sync":    {IgnoreActors: []string{"user:sync"}},
			"ignore station": {IgnoreActors: []string{"station:desk-1"}},
		}
		for name, want := range tc.passes {
			if got := hooks[name].Passes(tc.ev); got != want {
				t.Errorf("%s: webhook %q passes it: %v, want %v", tc.name, name, got, want)
			}
		}
	}
}
