package scim

import (
	"encoding/json"
	"strings"
	"testing"
)

// What a user and a group look like at a target.
func TestResources(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  any
		want string
	}{
		{"full user", userResource(userBody{Username: "alice", FirstName: "Alice", LastName: "Liddell", Email: "a@example.com", Phone: "+1 555"}, 42, true),
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"externalId":"42","userName":"alice","name":{"givenName":"Alice","familyName":"Liddell"},` +
				`"emails":[{"value":"a@example.com","type":"work","primary":true}],"phoneNumbers":[{"value":"+1 555","type":"work"}],"active":true}`},
		{"bare, inactive user", userResource(userBody{Username: "bob"}, 0, false),
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bob","active":false}`},
		{"group", groupResource("ops", []string{"u-2", "u-1", "u-2"}),
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"ops","members":[{"value":"u-1"},{"value":"u-2"}]}`},
		{"empty group", groupResource("none", nil),
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"none","members":[]}`},
	} {
		b, _ := json.Marshal(tc.got)
		if string(b) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, b, tc.want)
		}
	}
	if got := filterPath("/Users", filterEq("userName", `a "b"&c`)); got != `/Users?filter=userName%20eq%20%22a%20%5C%22b%5C%22%26c%22` {
		t.Errorf("filterPath = %s", got)
	}
}

// How a provider's copy compares with what Herald would send.
func TestSameUser(t *testing.T) {
	want := userResource(userBody{Username: "alice", FirstName: "A", Email: "a@example.com"}, 7, true)
	var r remote
	_ = json.Unmarshal([]byte(`{"id":"1","externalId":"7","userName":"Alice","name":{"givenName":"A"},"emails":[{"value":"x@example.com"},{"value":"A@example.com","primary":true}]}`), &r)
	if !sameUser(r, want) {
		t.Error("equal users (userName and email in another case, active unsaid) differ")
	}
	f := false
	r.Active = &f
	if sameUser(r, want) {
		t.Error("an inactive copy of an active user is the same")
	}
}

// What a call's answer means (RFC 7644 §3.12 bodies named).
func TestReject(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   Verdict
		err    string
	}{
		{500, ``, Retry, "POST /Users: the target answered 500 Internal Server Error"},
		{429, ``, Retry, "429"},
		{410, ``, Gone, "410 Gone"},
		{409, `{"schemas":["` + SchemaError + `"],"scimType":"uniqueness","detail":"taken","status":"409"}`, Failed, "409 Conflict (scimType uniqueness): taken"},
		{400, `not json`, Failed, "400 Bad Request"},
	} {
		r := &run{}
		r.reject("POST", "/Users", answer{Response: Response{Status: tc.status, Body: []byte(tc.body), RetryAfter: "5"}, ok: true})
		res := r.result()
		if res.Verdict != tc.want || !strings.Contains(res.Error, tc.err) {
			t.Errorf("%d: %v %q, want %v %q", tc.status, res.Verdict, res.Error, tc.want, tc.err)
		}
		if (tc.status == 429) != (res.RetryAfter == "5") && tc.status != 500 {
			t.Errorf("%d: RetryAfter %q", tc.status, res.RetryAfter)
		}
	}
}

// The log keeps the first call and the last ones within its bound.
func TestJoinLog(t *testing.T) {
	var entries []string
	for i := range 20 {
		entries = append(entries, strings.Repeat(string(rune('a'+i)), 2000))
	}
	got := joinLog(entries)
	if len(got) > maxLog || !strings.HasPrefix(got, entries[0]) || !strings.HasSuffix(got, entries[19]) || !strings.Contains(got, "calls left out") {
		t.Errorf("log of %d bytes: %.60s ... %.60s", len(got), got, got[len(got)-60:])
	}
	if joinLog([]string{"a", "b"}) != "a\n\nb" {
		t.Error("a short log is changed")
	}
}
