package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// whBadState is everything a bad webhook call could have changed.
type whBadState struct {
	parts    map[string]string // GET path -> body, byte for byte
	received map[string]int    // receiver -> requests it got
}

// TestWebhookBadInputChangesNothing sends bad input to every call of the
// webhook management API (/api/v1/webhook) and checks that each gets a 4xx
// with a {"msg"} naming the problem and leaves no trace: the webhook list
// (secrets included), every delivery list and delivery, and the event feed
// read the same afterwards, and no receiver got a request (bad input never
// leaves a half-made change behind).
func TestWebhookBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()

	// Fixtures: hookA (POST, a token, an added event) whose receiver
	// accepts, hookB whose receiver always fails, hookC disabled. Each of
	// A and B has finished deliveries, so nothing moves in the background.
	okRC, failRC, pausedRC := newReceiver(t), newReceiver(t), newReceiver(t)
	failRC.setAnswer(func(int, received) int { return http.StatusInternalServerError })
	receivers := map[string]*receiver{"ok": okRC, "failing": failRC, "paused": pausedRC}
	hookA := admin.addWebhook(okRC.URL, map[string]any{"description": "accepts", "method": "POST",
		"token": "token-of-hook-a", "events": []string{"group_created"}})
	hookB := admin.addWebhook(failRC.URL, map[string]any{"description": "fails", "on_hwkey_provision": false})
	hookC := admin.addWebhook(pausedRC.URL, map[string]any{"description": "paused", "token": "token-of-hook-c"})
	admin.expect(http.StatusOK, "POST", fmt.Sprintf("/api/v1/webhook/%d", hookC.ID), map[string]any{"enabled": false}, nil)
	admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
		"username": "wbi", "first_name": "Web", "last_name": "Hook", "email": "wbi@example.com",
	}, nil)
	admin.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "wbi-devs"}, nil)
	dsA := admin.waitDeliveries(hookA.ID, "succeeded", 2, 10*time.Second)
	dsB := admin.waitDeliveries(hookB.ID, "failed", 1, 10*time.Second)
	if len(dsA) != 2 || len(dsB) != 1 {
		t.Fatalf("deliveries: A %+v, B %+v", dsA, dsB)
	}
	if n := len(admin.deliveries(hookC.ID, "")); n != 0 {
		t.Fatalf("disabled hookC has %d deliveries", n)
	}
	dA, dB := dsA[0].ID, dsB[0].ID

	hookPath := func(id int64) string { return fmt.Sprintf("/api/v1/webhook/%d", id) }
	pathA, pathB, pathC := hookPath(hookA.ID), hookPath(hookB.ID), hookPath(hookC.ID)
	const unknown = "/api/v1/webhook/999999"
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	future := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)

	// valid is a complete, valid WEBHOOK body unlike any fixture, with
	// changes applied (nil deletes a field); a half-applied bad one shows.
	valid := func(changes map[string]any) map[string]any {
		b := map[string]any{
			"url": okRC.URL + "/changed", "description": "changed", "token": "changed-token", "enabled": true,
			"on_user_created": false, "on_user_deleted": true, "on_user_modified": false, "on_hwkey_provision": true,
			"method": "POST", "events": []string{"group_deleted"},
		}
		for k, v := range changes {
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
		}
		return b
	}

	// Every call that reads a JSON body gets the same malformed bodies;
	// typeBody has typeField of the wrong JSON type.
	bodyCalls := []struct {
		method, path        string
		typeBody, typeField string
	}{
		{"POST", "/api/v1/webhook", `{"url":5,"description":"x"}`, "url"},
		{"PUT", pathA, `{"url":"https://example.com/hook","description":"x","enabled":"yes"}`, "enabled"},
		{"POST", pathA, `{"enabled":"yes"}`, "enabled"},
		{"POST", pathC, `{"enabled":1}`, "enabled"},
		{"POST", pathA + "/replay", `{"since":5}`, "since"},
	}
	tooLarge := `{"x":"` + strings.Repeat("a", 1<<20) + `"}`
	var cases []badInputCase
	for _, e := range bodyCalls {
		for _, c := range []badInputCase{
			{name: "malformed JSON", body: `{"url": `, status: 400, msg: []string{"JSON"}},
			{name: "malformed JSON, trailing comma", body: `{"enabled":true,}`, status: 400, msg: []string{"JSON"}},
			{name: "malformed JSON, single quotes", body: `{'enabled':true}`, status: 400, msg: []string{"JSON"}},
			{name: "empty body", body: "", status: 400, msg: []string{"empty"}},
			{name: "no body, no content type", body: nil, status: 400, msg: []string{"empty"}},
			{name: "array instead of object", body: `[]`, status: 400, msg: []string{"object"}},
			{name: "string instead of object", body: `"https://example.com/hook"`, status: 400, msg: []string{"object"}},
			{name: "two objects", body: `{} {}`, status: 400, msg: []string{"unexpected data"}},
			{name: "trailing garbage", body: `{} garbage`, status: 400, msg: []string{"unexpected data"}},
			{name: "unknown field", body: `{"bogus_field":1}`, status: 400, msg: []string{"bogus_field"}},
			{name: "wrong type of " + e.typeField, body: e.typeBody, status: 400, msg: []string{e.typeField}},
			{name: "body over 1 MiB", body: tooLarge, status: 413, msg: []string{"large"}},
			{name: "text/plain", body: `{}`, header: map[string]string{"Content-Type": "text/plain"}, status: 415, msg: []string{"Content-Type"}},
			{name: "form encoded", body: `enabled=true`, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, status: 415, msg: []string{"Content-Type"}},
		} {
			c.method, c.path = e.method, e.path
			cases = append(cases, c)
		}
	}

	// The body limit is exactly 1 MiB: padding a bad body to that size
	// keeps it a 400, one byte more makes it a 413.
	unknownField := `{"bogus_field":1}`
	atLimit := strings.Repeat(" ", 1<<20-len(unknownField)) + unknownField
	cases = append(cases,
		badInputCase{name: "body of exactly 1 MiB is read", method: "POST", path: "/api/v1/webhook", body: atLimit, status: 400, msg: []string{"bogus_field"}},
		badInputCase{name: "body of 1 MiB and one byte", method: "PUT", path: pathA, body: " " + atLimit, status: 413, msg: []string{"large"}},
		badInputCase{name: "null body", method: "POST", path: "/api/v1/webhook", body: `null`, status: 400, msg: []string{"url"}},
		badInputCase{name: "empty object", method: "PUT", path: pathA, body: `{}`, status: 400, msg: []string{"url"}},
	)

	// WEBHOOK validation, the same for create and for replace (of an
	// enabled and of a disabled webhook).
	long := func(prefix string, n int) string { return prefix + strings.Repeat("a", n-len(prefix)) }
	invalid := []struct {
		name    string
		changes map[string]any
		msg     []string
	}{
		{"url missing", map[string]any{"url": nil}, []string{"url"}},
		{"url empty", map[string]any{"url": ""}, []string{"url"}},
		{"url blank", map[string]any{"url": "   "}, []string{"url"}},
		{"url relative", map[string]any{"url": "/hook"}, []string{"url"}},
		{"url scheme-relative", map[string]any{"url": "//example.com/hook"}, []string{"url"}},
		{"url ftp", map[string]any{"url": "ftp://example.com/hook"}, []string{"url"}},
		{"url javascript", map[string]any{"url": "javascript:alert(1)"}, []string{"url"}},
		{"url without host", map[string]any{"url": "http:///hook"}, []string{"url"}},
		{"url scheme only", map[string]any{"url": "http://"}, []string{"url"}},
		{"url opaque", map[string]any{"url": "http:example.com/hook"}, []string{"url"}},
		{"url port without host", map[string]any{"url": "https://:443/hook"}, []string{"url"}},
		{"url with space in host", map[string]any{"url": "http://exa mple.com/hook"}, []string{"url"}},
		{"url 2049 characters", map[string]any{"url": long("https://example.com/", 2049)}, []string{"url"}},
		{"url with fragment", map[string]any{"url": "https://example.com/hook#frag"}, []string{"url"}},
		{"description missing", map[string]any{"description": nil}, []string{"description"}},
		{"description empty", map[string]any{"description": ""}, []string{"description"}},
		{"description whitespace only", map[string]any{"description": " \t "}, []string{"description"}},
		{"description 256 characters", map[string]any{"description": strings.Repeat("d", 256)}, []string{"description"}},
		{"description 256 non-ASCII characters", map[string]any{"description": strings.Repeat("é", 256)}, []string{"description"}},
		{"description with newline", map[string]any{"description": "line one\nline two"}, []string{"description"}},
		{"token 251 characters", map[string]any{"token": strings.Repeat("t", 251)}, []string{"token"}},
		{"token with newline", map[string]any{"token": "tok\nen"}, []string{"token"}},
		{"token with CRLF header injection", map[string]any{"token": "x\r\nX-Evil: 1"}, []string{"token"}},
		{"method PUT", map[string]any{"method": "PUT"}, []string{"method"}},
		{"method DELETE", map[string]any{"method": "DELETE"}, []string{"method"}},
		{"events with a seed event", map[string]any{"events": []string{"user_created"}}, []string{"events", "user_created"}},
		{"events unknown", map[string]any{"events": []string{"nope"}}, []string{"events", "nope"}},
		{"events one good one bad", map[string]any{"events": []string{"group_created", "nope"}}, []string{"events", "nope"}},
		{"events empty name", map[string]any{"events": []string{""}}, []string{"events"}},
		{"enabled a string", map[string]any{"enabled": "yes"}, []string{"enabled"}},
		{"on_user_created a number", map[string]any{"on_user_created": 1}, []string{"on_user_created"}},
		{"on_user_deleted a string", map[string]any{"on_user_deleted": "true"}, []string{"on_user_deleted"}},
		{"on_hwkey_provision an object", map[string]any{"on_hwkey_provision": map[string]any{}}, []string{"on_hwkey_provision"}},
		{"events a string", map[string]any{"events": "group_created"}, []string{"events"}},
		{"events of numbers", map[string]any{"events": []int{5}}, []string{"events"}},
		{"url a number", map[string]any{"url": 5}, []string{"url"}},
		{"description an array", map[string]any{"description": []string{"x"}}, []string{"description"}},
		{"token a number", map[string]any{"token": 123}, []string{"token"}},
		{"method a bool", map[string]any{"method": true}, []string{"method"}},
		{"typo in a trigger name", map[string]any{"on_user_create": true}, []string{"on_user_create"}},
	}
	for _, target := range []struct{ method, path string }{{"POST", "/api/v1/webhook"}, {"PUT", pathA}, {"PUT", pathC}} {
		for _, v := range invalid {
			cases = append(cases, badInputCase{name: v.name, method: target.method, path: target.path, body: valid(v.changes), status: 400, msg: v.msg})
		}
	}

	cases = append(cases, []badInputCase{
		// POST /api/v1/webhook/{id} {"enabled"}
		{name: "without enabled", method: "POST", path: pathA, body: `{}`, status: 400, msg: []string{"enabled"}},
		{name: "without enabled", method: "POST", path: pathC, body: `{}`, status: 400, msg: []string{"enabled"}},
		{name: "enabled null", method: "POST", path: pathA, body: `{"enabled":null}`, status: 400, msg: []string{"enabled"}},
		{name: "enabled null", method: "POST", path: pathC, body: `{"enabled":null}`, status: 400, msg: []string{"enabled"}},
		{name: "enabled with another field", method: "POST", path: pathC, body: `{"enabled":true,"url":"https://example.com/x"}`, status: 400, msg: []string{"url"}},

		// POST /api/v1/webhook/{id}/replay {"since"}
		{name: "since missing", method: "POST", path: pathA + "/replay", body: `{}`, status: 400, msg: []string{"since"}},
		{name: "since empty", method: "POST", path: pathA + "/replay", body: map[string]any{"since": ""}, status: 400, msg: []string{"since"}},
		{name: "since null", method: "POST", path: pathA + "/replay", body: `{"since":null}`, status: 400, msg: []string{"since"}},
		{name: "since yesterday", method: "POST", path: pathA + "/replay", body: map[string]any{"since": "yesterday"}, status: 400, msg: []string{"since"}},
		{name: "since in the future", method: "POST", path: pathA + "/replay", body: map[string]any{"since": future}, status: 400, msg: []string{"since"}},
		{name: "since far in the future", method: "POST", path: pathB + "/replay", body: map[string]any{"since": "9999-12-31T23:59:59Z"}, status: 400, msg: []string{"since"}},
		{name: "since a date only", method: "POST", path: pathA + "/replay", body: map[string]any{"since": "2026-01-02"}, status: 400, msg: []string{"since"}},
		{name: "since without a zone", method: "POST", path: pathA + "/replay", body: map[string]any{"since": "2026-01-02T15:04:05"}, status: 400, msg: []string{"since"}},
		{name: "since with a space", method: "POST", path: pathA + "/replay", body: map[string]any{"since": "2026-01-02 15:04:05Z"}, status: 400, msg: []string{"since"}},
		{name: "since Unix seconds", method: "POST", path: pathA + "/replay", body: `{"since":"1767225600"}`, status: 400, msg: []string{"since"}},
		{name: "since and an unknown field", method: "POST", path: pathA + "/replay", body: map[string]any{"since": past, "until": past}, status: 400, msg: []string{"until"}},

		// GET /api/v1/webhook/{id}/delivery?status=&limit=&before=
		{name: "status bogus", method: "GET", path: pathA + "/delivery?status=bogus", status: 400, msg: []string{"status"}},
		{name: "limit 0", method: "GET", path: pathA + "/delivery?limit=0", status: 400, msg: []string{"limit"}},
		{name: "limit negative", method: "GET", path: pathA + "/delivery?limit=-1", status: 400, msg: []string{"limit"}},
		{name: "limit x", method: "GET", path: pathA + "/delivery?limit=x", status: 400, msg: []string{"limit"}},
		{name: "limit fraction", method: "GET", path: pathA + "/delivery?limit=1.5", status: 400, msg: []string{"limit"}},
		{name: "before -1", method: "GET", path: pathA + "/delivery?before=-1", status: 400, msg: []string{"before"}},
		{name: "before x", method: "GET", path: pathA + "/delivery?before=x", status: 400, msg: []string{"before"}},

		// Unknown webhook id, otherwise good input: 404 on every call.
		{name: "unknown webhook", method: "GET", path: unknown, status: 404, msg: []string{"999999"}},
		{name: "unknown webhook", method: "PUT", path: unknown, body: valid(nil), status: 404, msg: []string{"999999"}},
		{name: "unknown webhook", method: "DELETE", path: unknown, status: 404, msg: []string{"999999"}},
		{name: "unknown webhook", method: "POST", path: unknown, body: map[string]any{"enabled": true}, status: 404, msg: []string{"999999"}},
		{name: "unknown webhook", method: "POST", path: unknown + "/rotate_secret", status: 404, msg: []string{"999999"}},
		{name: "unknown webhook", method: "POST", path: unknown + "/test", status: 404, msg: []string{"999999"}},
		{name: "unknown webhook", method: "GET", path: unknown + "/delivery", status: 404, msg: []string{"999999"}},
		{name: "unknown webhook", method: "GET", path: unknown + "/delivery?status=succeeded&limit=10&before=1000", status: 404, msg: []string{"999999"}},
		{name: "unknown webhook", method: "GET", path: fmt.Sprintf("%s/delivery/%d", unknown, dA), status: 404, msg: []string{"999999"}},
		{name: "unknown webhook", method: "POST", path: fmt.Sprintf("%s/delivery/%d/redeliver", unknown, dA), status: 404, msg: []string{"999999"}},
		{name: "unknown webhook", method: "POST", path: unknown + "/replay", body: map[string]any{"since": past}, status: 404, msg: []string{"999999"}},

		// Unknown delivery id, and a delivery of another webhook.
		{name: "unknown delivery", method: "GET", path: pathA + "/delivery/999999", status: 404, msg: []string{"999999"}},
		{name: "unknown delivery", method: "POST", path: pathA + "/delivery/999999/redeliver", status: 404, msg: []string{"999999"}},
		{name: "delivery of another webhook", method: "GET", path: fmt.Sprintf("%s/delivery/%d", pathA, dB), status: 404, msg: []string{fmt.Sprint(dB)}},
		{name: "delivery of another webhook", method: "POST", path: fmt.Sprintf("%s/delivery/%d/redeliver", pathA, dB), status: 404, msg: []string{fmt.Sprint(dB)}},
		{name: "delivery of another webhook", method: "GET", path: fmt.Sprintf("%s/delivery/%d", pathB, dA), status: 404, msg: []string{fmt.Sprint(dA)}},
		{name: "delivery of another webhook", method: "POST", path: fmt.Sprintf("%s/delivery/%d/redeliver", pathB, dA), status: 404, msg: []string{fmt.Sprint(dA)}},
		{name: "delivery of another webhook", method: "GET", path: fmt.Sprintf("%s/delivery/%d", pathC, dA), status: 404, msg: []string{fmt.Sprint(dA)}},
		{name: "delivery of another webhook", method: "POST", path: fmt.Sprintf("%s/delivery/%d/redeliver", pathC, dB), status: 404, msg: []string{fmt.Sprint(dB)}},
	}...)

	// Ids that are not ids: 404 on every call.
	for _, id := range []string{"abc", "0", "-1", "1.0", "99999999999999999999"} {
		p := "/api/v1/webhook/" + id
		for _, c := range []badInputCase{
			{method: "GET", path: p},
			{method: "PUT", path: p, body: valid(nil)},
			{method: "DELETE", path: p},
			{method: "POST", path: p, body: map[string]any{"enabled": false}},
			{method: "POST", path: p + "/rotate_secret"},
			{method: "POST", path: p + "/test"},
			{method: "GET", path: p + "/delivery"},
			{method: "GET", path: fmt.Sprintf("%s/delivery/%d", p, dA)},
			{method: "POST", path: fmt.Sprintf("%s/delivery/%d/redeliver", p, dA)},
			{method: "POST", path: p + "/replay", body: map[string]any{"since": past}},
		} {
			c.name, c.status, c.msg = "webhook id "+id, 404, []string{"id"}
			cases = append(cases, c)
		}
		cases = append(cases,
			badInputCase{name: "delivery id " + id, method: "GET", path: pathA + "/delivery/" + id, status: 404, msg: []string{"did"}},
			badInputCase{name: "delivery id " + id, method: "POST", path: pathA + "/delivery/" + id + "/redeliver", status: 404, msg: []string{"did"}},
		)
	}

	// state reads everything a bad call must leave alone.
	watched := []string{"/api/v1/webhook", pathA, pathB, pathC, "/api/v1/event?limit=1000"}
	for _, id := range []int64{hookA.ID, hookB.ID, hookC.ID} {
		watched = append(watched, fmt.Sprintf("/api/v1/webhook/%d/delivery?limit=1000", id))
	}
	for _, d := range dsA {
		watched = append(watched, fmt.Sprintf("%s/delivery/%d", pathA, d.ID))
	}
	watched = append(watched, fmt.Sprintf("%s/delivery/%d", pathB, dB))
	state := func(t *testing.T) whBadState {
		t.Helper()
		admin := badInputClient(admin, t)
		st := whBadState{parts: map[string]string{}, received: map[string]int{}}
		for _, p := range watched {
			st.parts[p] = string(admin.expect(http.StatusOK, "GET", p, nil, nil).Body)
		}
		for name, rc := range receivers {
			st.received[name] = len(rc.all())
		}
		return st
	}
	compare := func(t *testing.T, what string, before, after whBadState) {
		t.Helper()
		for _, p := range watched {
			if after.parts[p] != before.parts[p] {
				t.Errorf("%s changed GET %s\nbefore: %.2000s\nafter:  %.2000s", what, p, before.parts[p], after.parts[p])
			}
		}
		for name, n := range before.received {
			if after.received[name] != n {
				t.Errorf("%s: the %s receiver got %d requests", what, name, after.received[name]-n)
			}
		}
	}
	initial := state(t)
	var list []webhook
	if err := json.Unmarshal([]byte(initial.parts["/api/v1/webhook"]), &list); err != nil || len(list) != 3 {
		t.Fatalf("webhook list: %v: %s", err, initial.parts["/api/v1/webhook"])
	}
	for _, w := range list {
		if w.SigningSecret == "" {
			t.Fatalf("webhook %d has no signing_secret in the list: %+v", w.ID, w)
		}
	}

	names := map[string]bool{}
	for _, tc := range cases {
		name := tc.method + " " + tc.path + ": " + tc.name
		if len(name) > 200 {
			name = name[:200]
		}
		if names[name] {
			t.Fatalf("duplicate case %q", name)
		}
		names[name] = true
		t.Run(name, func(t *testing.T) {
			before := state(t)
			c := badInputClient(admin, t)
			for k, v := range tc.header {
				c.header.Set(k, v)
			}
			r := c.do(tc.method, tc.path, tc.body)
			if r.Status != tc.status && !slices.Contains(tc.alt, r.Status) {
				t.Errorf("status %d, want %d; body: %.300s", r.Status, tc.status, r.Body)
			}
			if r.Status < 400 || r.Status >= 500 {
				t.Errorf("status %d is not a 4xx", r.Status)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			var body map[string]any
			if err := json.NewDecoder(bytes.NewReader(r.Body)).Decode(&body); err != nil {
				t.Errorf("body is not a JSON object: %v: %.300s", err, r.Body)
			}
			msg, ok := body["msg"].(string)
			if !ok || strings.TrimSpace(msg) == "" {
				t.Errorf(`body has no non-empty "msg": %.300s`, r.Body)
			}
			for _, want := range tc.msg {
				if !strings.Contains(strings.ToLower(msg), strings.ToLower(want)) {
					t.Errorf("msg %q does not mention %q", msg, want)
				}
			}
			t.Logf("%d %s", r.Status, msg)
			compare(t, "bad input", before, state(t))
		})
	}

	// Let the delivery engine run anything a bad call might have queued,
	// then check that nothing at all changed since the start.
	t.Run("afterwards", func(t *testing.T) {
		time.Sleep(300 * time.Millisecond)
		compare(t, "all the bad input together", initial, state(t))
	})

	// What GET returns may be sent back with PUT as is: 200, and nothing
	// changes, the signing secret least of all.
	for _, id := range []int64{hookA.ID, hookB.ID, hookC.ID} {
		t.Run(fmt.Sprintf("PUT %s with what GET returned", hookPath(id)), func(t *testing.T) {
			admin := badInputClient(admin, t)
			before := state(t)
			got := admin.expect(http.StatusOK, "GET", hookPath(id), nil, nil).Body
			var sent map[string]any
			if err := json.Unmarshal(got, &sent); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"id", "signing_secret", "created_at", "disabled_reason", "token_unreadable", "signing_secret_unreadable"} {
				if _, ok := sent[f]; !ok {
					t.Errorf("GET has no %q to send back: %s", f, got)
				}
			}
			r := admin.do("PUT", hookPath(id), string(got))
			if r.Status != http.StatusOK {
				t.Fatalf("PUT of what GET returned: status %d, want 200; body: %s", r.Status, r.Body)
			}
			var answer map[string]any
			if err := json.Unmarshal(r.Body, &answer); err != nil {
				t.Fatalf("PUT answer: %v: %s", err, r.Body)
			}
			if !reflect.DeepEqual(answer, sent) {
				t.Errorf("PUT answered\n%s\nwant what was sent\n%s", r.Body, got)
			}
			after := state(t)
			if a, b := after.parts[hookPath(id)], before.parts[hookPath(id)]; a != b {
				t.Errorf("PUT of what GET returned changed the webhook\nbefore: %s\nafter:  %s", b, a)
			}
			compare(t, "PUT of what GET returned", before, after)
		})
	}

	// Read-only fields sent with other values are ignored (or refused):
	// they never change the webhook, and id does not redirect the write.
	t.Run("PUT with other read-only values", func(t *testing.T) {
		admin := badInputClient(admin, t)
		before := state(t)
		got := admin.expect(http.StatusOK, "GET", pathA, nil, nil).Body
		var sent map[string]any
		if err := json.Unmarshal(got, &sent); err != nil {
			t.Fatal(err)
		}
		sent["id"] = hookB.ID
		sent["signing_secret"] = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
		sent["created_at"] = "2000-01-01T00:00:00Z"
		r := admin.do("PUT", pathA, sent)
		if r.Status != http.StatusOK && r.Status != http.StatusBadRequest {
			t.Errorf("status %d, want 200 (ignored) or 400 (refused); body: %s", r.Status, r.Body)
		}
		compare(t, "PUT with other read-only values", before, state(t))
	})
}
