package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// Every request a receiver of this suite gets (newReceiver, and the tap in
// front of the example receivers) is checked, when its test ends, against
// the webhooks section of internal/api/openapi.json: the entry named by
// its X-Defguard-Event, the operation of its method, its headers and its
// body. A body format other than defguard's is one more schema for the
// entry's request body (a oneOf of each format's); this file needs no
// change for it.

// webhookDoc is openapi.json, loaded and validated once for the suite.
var webhookDoc = sync.OnceValues(func() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(filepath.Join("..", "api", "openapi.json"))
	if err != nil {
		return nil, fmt.Errorf("load internal/api/openapi.json: %w", err)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableMultiError()); err != nil {
		return nil, fmt.Errorf("internal/api/openapi.json is not valid OpenAPI: %w", err)
	}
	if len(doc.Webhooks) == 0 {
		return nil, errors.New("internal/api/openapi.json has no webhooks section")
	}
	return doc, nil
})

// checkWebhookRequest returns how r differs from what openapi.json's
// webhooks section says Herald sends, or nil.
func checkWebhookRequest(doc *openapi3.T, r received) error {
	ev := r.event()
	item := doc.Webhooks[ev]
	if item == nil {
		return fmt.Errorf("X-Defguard-Event %q has no entry in the webhooks section", ev)
	}
	op := item.GetOperation(r.Method)
	if op == nil {
		return fmt.Errorf("the webhooks entry %q has no %s operation", ev, r.Method)
	}
	// The Authorization header is a security scheme, which may be left out
	// (no token) but must be right when it is there.
	if auth := r.Header.Get("Authorization"); auth != "" {
		if token, ok := strings.CutPrefix(auth, "Bearer "); !ok || token == "" {
			return fmt.Errorf("Authorization %q is not Bearer <token>", auth)
		}
	}
	req, err := http.NewRequest(r.Method, "http://receiver.invalid/hook", bytes.NewReader(r.Body))
	if err != nil {
		return err
	}
	req.Header = r.Header.Clone()
	in := &openapi3filter.RequestValidationInput{
		Request: req,
		Route:   &routers.Route{Spec: doc, Path: ev, PathItem: item, Method: r.Method, Operation: op},
		Options: &openapi3filter.Options{
			MultiError:                        true,
			RejectWhenRequestBodyNotSpecified: true,
			SkipSettingDefaults:               true,
			AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
				if in.SecuritySchemeName != "webhookToken" {
					return fmt.Errorf("security scheme %q is not a webhook's", in.SecuritySchemeName)
				}
				if !strings.HasPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer ") {
					return errors.New("no bearer token")
				}
				return nil
			},
		},
	}
	return openapi3filter.ValidateRequest(context.Background(), in)
}

// checkAgainstWebhookDoc fails t for each of got that openapi.json's
// webhooks section does not describe (the first few, then a count).
// Requests whose body could not be read whole are not Herald's word and
// are left out.
func checkAgainstWebhookDoc(t *testing.T, got []received) {
	t.Helper()
	doc, err := webhookDoc()
	if err != nil {
		t.Error(err)
		return
	}
	bad := 0
	for _, r := range got {
		if r.readErr != nil {
			continue
		}
		if err := checkWebhookRequest(doc, r); err != nil {
			if bad++; bad <= 3 {
				t.Errorf("a request the receiver got does not match openapi.json's webhooks: %s %s: %v\nheaders: %v\nbody: %s", r.Method, r.event(), err, r.Header, clip(r.Body))
			}
		}
	}
	if bad > 3 {
		t.Errorf("... and %d more requests that do not match openapi.json's webhooks", bad-3)
	}
}

// TestOpenAPIWebhooks sends every event Herald has, with GET and POST,
// with a token and without, during a secret rotation too, and checks that
// the webhooks section describes each request (an entry for every event
// and none for an event Herald never sends), and that the check refuses
// requests Herald must not send.
func TestOpenAPIWebhooks(t *testing.T) {
	t.Parallel()
	doc, err := webhookDoc()
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t)
	admin := s.admin()
	start := admin.lastSeq()
	groupEvents := []string{"group_created", "group_modified", "group_deleted"}
	getRC, postRC := newReceiver(t), newReceiver(t)
	getHook := admin.addWebhook(getRC.URL, map[string]any{"token": "get-token", "events": groupEvents})
	postHook := admin.addWebhook(postRC.URL, map[string]any{"method": "POST", "events": groupEvents})
	// The envelope format, and the audit log's entries in both formats.
	withAudit := append(slices.Clone(groupEvents), "audit")
	envGetRC, envPostRC, auditGetRC, auditPostRC := newReceiver(t), newReceiver(t), newReceiver(t), newReceiver(t)
	envGet := admin.addWebhook(envGetRC.URL, map[string]any{"format": "envelope", "events": withAudit})
	envPost := admin.addWebhook(envPostRC.URL, map[string]any{"format": "envelope", "method": "POST", "events": withAudit})
	noTriggers := map[string]any{"on_user_created": false, "on_user_modified": false, "on_user_deleted": false,
		"on_hwkey_provision": false, "events": []string{"audit"}}
	admin.addWebhook(auditGetRC.URL, noTriggers)
	noTriggers["method"] = "POST"
	admin.addWebhook(auditPostRC.URL, noTriggers)

	// Every event: a user's life, with hardware keys, and a group's.
	admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
		"username": "jdoe", "first_name": "jane", "last_name": "doe", "email": "janedoe@email.pl", "phone": "123456789",
	}, nil)
	admin.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "devs", "members": []string{"jdoe"}}, nil)
	admin.expect(http.StatusOK, "PUT", "/api/v1/group/devs", map[string]any{"name": "developers", "members": []string{"jdoe"}, "is_admin": false}, nil)
	var tok struct {
		Token string `json:"token"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/worker/token", map[string]string{"worker": "station1"}, &tok)
	var job struct {
		ID int64 `json:"id"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/worker/job", map[string]string{"username": "jdoe", "worker": "station1"}, &job)
	station := s.withToken(tok.Token)
	station.expect(http.StatusOK, "GET", "/api/v1/worker/job?worker=station1", nil, nil)
	station.expect(http.StatusOK, "POST", fmt.Sprintf("/api/v1/worker/job/%d/done", job.ID), map[string]any{
		"success": true, "ssh_key": testdata(t, "ssh_ed25519.pub"), "pgp_key": testdata(t, "pgp_ed25519.asc"),
		"pgp_cert_id": testdata(t, "pgp_ed25519.fpr"), "serial": "123456",
	}, nil)
	// Two signatures while the secret rotates.
	admin.expect(http.StatusOK, "POST", fmt.Sprintf("/api/v1/webhook/%d/rotate_secret", getHook.ID), nil, nil)
	admin.expect(http.StatusOK, "PATCH", "/api/v1/user/jdoe", map[string]any{"phone": "+48 123-456 (7)"}, nil)
	admin.expect(http.StatusNoContent, "DELETE", "/api/v1/group/developers", nil, nil)
	admin.expect(http.StatusNoContent, "DELETE", "/api/v1/user/jdoe", nil, nil)
	for _, id := range []int64{getHook.ID, postHook.ID, envGet.ID, envPost.ID} {
		admin.expect(http.StatusOK, "POST", fmt.Sprintf("/api/v1/webhook/%d/test", id), nil, nil)
	}

	// Each webhook gets every event of the feed, and webhook_test.
	n := len(admin.eventsAfter(start)) + 1
	seen := map[string]bool{}
	for _, rc := range []*receiver{getRC, postRC} {
		got := rc.waitFor(n, 15*time.Second)
		for _, r := range got {
			seen[r.event()+" "+r.Method] = true
			if err := checkWebhookRequest(doc, r); err != nil {
				t.Errorf("%s %s does not match openapi.json's webhooks: %v\nbody: %s", r.Method, r.event(), err, clip(r.Body))
			}
		}
	}
	// The envelope receivers get every event type, audit entries among
	// them; the audit-only ones get audit entries in the defguard format.
	for _, c := range []struct {
		rc   *receiver
		want []string
	}{{envGetRC, sortedKeys(doc.Webhooks)}, {envPostRC, sortedKeys(doc.Webhooks)},
		{auditGetRC, []string{"audit_entry"}}, {auditPostRC, []string{"audit_entry"}}} {
		for _, r := range c.rc.waitForEvents(c.want, 15*time.Second) {
			seen[r.event()+" "+r.Method] = true
			if err := checkWebhookRequest(doc, r); err != nil {
				t.Errorf("%s %s does not match openapi.json's webhooks: %v\nbody: %s", r.Method, r.event(), err, clip(r.Body))
			}
		}
	}
	rotated := false
	for _, r := range getRC.all() {
		if strings.Contains(string(r.Body), "+48 123-456 (7)") {
			rotated = len(strings.Fields(r.Header.Get("webhook-signature"))) == 2
		}
	}
	if !rotated {
		t.Error("no request during the rotation had two signatures (the check must see both)")
	}
	for ev := range doc.Webhooks {
		for _, m := range []string{"GET", "POST"} {
			if !seen[ev+" "+m] {
				t.Errorf("the webhooks section has %s, which Herald did not send with %s here (seen: %v)", ev, m, sortedKeys(seen))
			}
		}
	}
	for k := range seen {
		ev, _, _ := strings.Cut(k, " ")
		if doc.Webhooks[ev] == nil {
			t.Errorf("Herald sent %s, which the webhooks section does not describe", ev)
		}
	}

	// The check can fail: requests Herald must not send are refused.
	// Subjects are delivered in parallel: the first request of each event,
	// not the first request, which may be another subject's.
	good := firstOf(t, getRC, "user_created")
	keys := firstOf(t, getRC, "user_keys")
	env := firstOf(t, envGetRC, "user_created")
	envModified := firstOf(t, envGetRC, "user_modified")
	envDeleted := firstOf(t, envGetRC, "user_deleted")
	replace := func(r received, old, new string) received {
		return withBody(r, strings.Replace(string(r.Body), old, new, 1))
	}
	// set replaces one key of an envelope's body with v.
	set := func(r received, key string, v any) received {
		var m map[string]any
		if err := json.Unmarshal(r.Body, &m); err != nil {
			t.Fatalf("%s: %v", r.event(), err)
		}
		m[key] = v
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return withBody(r, string(b))
	}
	var fullUser map[string]any
	if err := json.Unmarshal(envDataOf(t, env), &fullUser); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		what string
		good received
		r    received
	}{
		{"another event's name", good, withHeader(good, "X-Defguard-Event", "user_deleted")},
		{"an event nobody knows", good, withHeader(good, "X-Defguard-Event", "user_renamed")},
		{"no signature", good, withHeader(good, "webhook-signature", "")},
		{"a signature that is not v1", good, withHeader(good, "webhook-signature", "v2,abc")},
		{"no webhook-id", good, withHeader(good, "webhook-id", "")},
		{"a timestamp that is not a time", good, withHeader(good, "webhook-timestamp", "yesterday")},
		{"a Basic Authorization", good, withHeader(good, "Authorization", "Basic YWRtaW46eA==")},
		{"a text/plain body", good, withHeader(good, "Content-Type", "text/plain")},
		{"a key the seed does not have", good, replace(good, `{"email"`, `{"id":2,"email"`)},
		{"serial in a user_created body", good, replace(good, `"ssh_key"`, `"serial":"1","ssh_key"`)},
		{"a null string", good, replace(good, `"pgp_key":""`, `"pgp_key":null`)},
		{"a missing key", good, replace(good, `"is_admin":false,`, ``)},
		{"no body", good, withBody(good, "")},
		{"a PUT", good, withMethod(good, "PUT")},
		{"a user_keys serial that is a number", keys, replace(keys, `"serial":"123456"`, `"serial":123456`)},
		{"an envelope whose type is another event's", env, replace(env, `"type":"user_created"`, `"type":"user_modified"`)},
		{"an envelope of user_created with a previous state", env, replace(env, `"previous":null`, `"previous":`+string(envDataOf(t, env)))},
		{"an envelope listing a changed key its body does not have", env, replace(env, `"changed":[`, `"changed":["password",`)},
		{"an envelope whose previous is another subject's shape", envModified, set(envModified, "previous", map[string]any{"name": "devs", "members": []string{}, "is_admin": false})},
		{"an envelope of user_modified listing no change", envModified, set(envModified, "changed", []string{})},
		{"an envelope of user_created listing some keys only", env, set(env, "changed", []string{"email"})},
		{"an envelope of user_deleted whose data is the whole user", envDeleted, set(envDeleted, "data", fullUser)},
		{"an envelope of user_deleted with a previous state but username changed", envDeleted, set(envDeleted, "changed", []string{"username"})},
		{"an envelope of user_deleted with no previous state and every key changed", envDeleted, set(envDeleted, "previous", nil)},
		{"an envelope with a key of its own", env, replace(env, `{"id"`, `{"seq":1,"id"`)},
	}
	for _, c := range bad {
		if err := checkWebhookRequest(doc, c.good); err != nil {
			t.Fatalf("%s: the untampered %s request fails the check: %v", c.what, c.good.event(), err)
		}
		if string(c.r.Body) == string(c.good.Body) && c.r.Method == c.good.Method && fmt.Sprint(c.r.Header) == fmt.Sprint(c.good.Header) {
			t.Fatalf("%s: the tampered request is the good one", c.what)
		}
		if err := checkWebhookRequest(doc, c.r); err == nil {
			t.Errorf("a request with %s passes the check", c.what)
		}
	}
}

// firstOf returns the first request of event ev that rc got.
func firstOf(t *testing.T, rc *receiver, ev string) received {
	t.Helper()
	for _, r := range rc.all() {
		if r.event() == ev {
			return r
		}
	}
	t.Fatalf("the receiver got no %s", ev)
	return received{}
}

// envDataOf returns the data of an envelope body.
func envDataOf(t *testing.T, r received) []byte {
	t.Helper()
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(r.Body, &env); err != nil || len(env.Data) == 0 {
		t.Fatalf("%s: not an envelope: %v: %s", r.event(), err, clip(r.Body))
	}
	return env.Data
}
