package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// TestOpenAPIMatchesResponses keeps internal/api/openapi.json honest: the
// document the server serves must be a valid OpenAPI 3.1 document, name
// exactly the routes internal/api registers, and describe every request
// and answer of a realistic session over HTTP, errors included. Requests
// the server refuses on purpose must be refused by the document too
// wherever it can say so (a missing field, a wrong type, no credentials).
func TestOpenAPIMatchesResponses(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ctx := context.Background()

	// The document, as served.
	served := s.anon().expect(http.StatusOK, "GET", "/api/v1/openapi.json", nil, nil)
	if ct := served.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET /api/v1/openapi.json: Content-Type %q, want application/json", ct)
	}
	loader := openapi3.NewLoader()
	loader.Context = ctx
	doc, err := loader.LoadFromData(served.Body)
	if err != nil {
		t.Fatalf("load the served document: %v", err)
	}
	if doc.OpenAPI != "3.1.0" || !doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(ctx, openapi3.EnableMultiError()); err != nil {
		t.Fatalf("the document is not valid OpenAPI: %v", err)
	}
	if len(doc.Servers) != 1 {
		t.Fatalf("servers = %d, want one (the /api/v1 base)", len(doc.Servers))
	}
	base := doc.Servers[0].URL

	// Every route internal/api registers is documented, and nothing else.
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+base+path] = true
		}
	}
	registered := authzRegisteredRoutes(t)
	if len(registered) == 0 {
		t.Fatal("found no routes in internal/api")
	}
	for _, r := range registered {
		if !documented[r] {
			t.Errorf("route %q is registered by internal/api but not in openapi.json", r)
		}
	}
	for r := range documented {
		if !slices.Contains(registered, r) {
			t.Errorf("openapi.json documents %q, which internal/api does not register", r)
		}
	}

	// The session: every call below is checked against the document.
	doc.Servers = openapi3.Servers{{URL: s.URL + base}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("route the document: %v", err)
	}
	sc := &specChecker{t: t, ctx: ctx, router: router, seen: map[string][]int{}}
	sc.opts = &openapi3filter.Options{
		IncludeResponseStatus:             true, // an undocumented status is a mismatch
		MultiError:                        true,
		RejectWhenRequestBodyNotSpecified: true,
		SkipSettingDefaults:               true,
		AuthenticationFunc:                specAuthenticate,
	}
	rc := newReceiver(t)
	openAPISession(t, s, sc, rc)

	// Every documented operation was called, and answered 2xx at least once.
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			key := method + " " + path
			statuses := sc.seen[key]
			if !slices.ContainsFunc(statuses, func(st int) bool { return st >= 200 && st < 300 }) {
				t.Errorf("%s %s%s: never answered 2xx in the session (saw %v)", method, base, path, statuses)
			}
		}
	}
	if t.Failed() {
		return
	}
	var b strings.Builder
	for _, k := range sortedKeys(sc.seen) {
		fmt.Fprintf(&b, "  %s %v\n", k, sc.seen[k])
	}
	t.Logf("checked %d calls against openapi.json:\n%s", sc.calls, b.String())
}

// openAPISession drives the whole management API as an admin, a user, a
// provisioning station and strangers would.
func openAPISession(t *testing.T, s *testServer, sc *specChecker, rc *receiver) {
	anon := s.anon()
	sshKey := testdata(t, "ssh_ed25519.pub")
	sshKey2 := testdata(t, "ssh_rsa.pub")
	pgpKey := testdata(t, "pgp_ed25519.asc")
	fpr := testdata(t, "pgp_ed25519.fpr")
	jdoeBody := map[string]any{
		"username": "jdoe", "first_name": "jane", "last_name": "doe", "email": "janedoe@email.pl",
		"phone": "123456789", "password": "jdoe-pass-1",
	}

	// Public calls and strangers.
	sc.call("health", anon, 200, "GET", "/api/v1/health", nil, nil)
	sc.call("ready", anon, 200, "GET", "/api/v1/ready", nil, nil)
	sc.call("the document itself", anon, 200, "GET", "/api/v1/openapi.json", nil, nil)
	sc.call("login with a wrong password", anon, 401, "POST", "/api/v1/auth", map[string]string{"username": "admin", "password": "wrong-password"}, nil)
	sc.call("login without a password", anon, 400, "POST", "/api/v1/auth", map[string]string{"username": "admin"}, nil, requestInvalid)
	sc.call("login with an unknown field", anon, 400, "POST", "/api/v1/auth", map[string]string{"username": "admin", "password": "x", "otp": "1"}, nil, requestInvalid)
	sc.call("list users, not logged in", anon, 401, "GET", "/api/v1/user", nil, nil, requestInvalid)
	sc.call("me with an unknown bearer token", s.withToken("hrld_nosuchtoken"), 401, "GET", "/api/v1/me", nil, nil)
	sc.call("health with a malformed Authorization header", anon, 401, "GET", "/api/v1/health", nil, nil, specHeader("Authorization", "Basic YWRtaW46eA=="))

	admin := s.anon()
	var login struct {
		User user `json:"user"`
	}
	sc.call("login as admin", admin, 200, "POST", "/api/v1/auth", map[string]string{"username": "admin", "password": adminPassword}, &login)
	if login.User.Username != "admin" || !login.User.IsAdmin {
		t.Fatalf("login answered %+v", login.User)
	}
	sc.call("me as admin", admin, 200, "GET", "/api/v1/me", nil, nil)

	// A webhook first, so every change below is delivered to it: POST, a
	// token, the added events, and a receiver that fails once.
	rc.setAnswer(func(n int, r received) int {
		if n == 0 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	var hook webhook
	sc.call("create webhook", admin, 201, "POST", "/api/v1/webhook", map[string]any{
		"url": rc.URL, "description": "openapi receiver", "token": "s3cret-token", "method": "post",
		"on_user_created": true, "on_user_modified": true, "on_user_deleted": true, "on_hwkey_provision": true,
		"events": []string{"group_created", "group_modified", "group_deleted"},
	}, &hook)
	hookPath := fmt.Sprintf("/api/v1/webhook/%d", hook.ID)
	sc.call("create webhook with defaults", admin, 201, "POST", "/api/v1/webhook", map[string]any{
		"url": rc.URL + "?second", "description": "to be deleted", "on_user_deleted": true,
	}, nil)
	// Station names may have capitals (as stations name themselves).
	sc.call("create webhook ignoring a station", admin, 201, "POST", "/api/v1/webhook", map[string]any{
		"url": rc.URL + "?third", "description": "not from the desk", "on_user_modified": true,
		"ignore_actors": []string{"station:Desk-1", "api_token:3", "user:jdoe"},
	}, nil)
	sc.call("create webhook with no trigger", admin, 400, "POST", "/api/v1/webhook", map[string]any{"url": rc.URL, "description": "never sent"}, nil)
	sc.call("create webhook with an ftp url", admin, 400, "POST", "/api/v1/webhook", map[string]any{"url": "ftp://example.com/x", "description": "ftp"}, nil)
	sc.call("create webhook without a description", admin, 400, "POST", "/api/v1/webhook", map[string]any{"url": rc.URL, "description": ""}, nil, requestInvalid)
	sc.call("create webhook with an unknown event", admin, 400, "POST", "/api/v1/webhook", map[string]any{"url": rc.URL, "description": "x", "events": []string{"user_created"}}, nil, requestInvalid)
	sc.call("create webhook with method PUT", admin, 400, "POST", "/api/v1/webhook", map[string]any{"url": rc.URL, "description": "x", "method": "PUT"}, nil, requestInvalid)

	// Users.
	sc.call("username available", admin, 200, "POST", "/api/v1/user/available", map[string]string{"username": "jdoe"}, nil)
	var jdoe user
	sc.call("create user", admin, 201, "POST", "/api/v1/user", jdoeBody, &jdoe)
	sc.call("create user without a password", admin, 201, "POST", "/api/v1/user", map[string]any{
		"username": "bob", "first_name": "Bob", "last_name": "", "email": "bob@example.com",
	}, nil)
	sc.call("username taken", admin, 400, "POST", "/api/v1/user/available", map[string]string{"username": "jdoe"}, nil)
	sc.call("create user with a taken username", admin, 409, "POST", "/api/v1/user", jdoeBody, nil)
	sc.call("create user with an unknown field", admin, 400, "POST", "/api/v1/user", map[string]any{
		"username": "x1", "first_name": "x", "last_name": "x", "email": "x1@example.com", "nickname": "x",
	}, nil, requestInvalid)
	sc.call("create user with a bad username", admin, 400, "POST", "/api/v1/user", map[string]any{
		"username": "Not Valid", "first_name": "x", "last_name": "x", "email": "x2@example.com",
	}, nil, requestInvalid)
	sc.call("create user with a short password", admin, 400, "POST", "/api/v1/user", map[string]any{
		"username": "x3", "first_name": "x", "last_name": "x", "email": "x3@example.com", "password": "short",
	}, nil, requestInvalid)
	sc.call("create user as text/plain", admin, 415, "POST", "/api/v1/user", jdoeBody, nil, requestInvalid, specHeader("Content-Type", "text/plain"))
	sc.call("create user with a body over 1 MiB", admin, 413, "POST", "/api/v1/user", map[string]any{
		"username": "big", "first_name": strings.Repeat("x", 1<<20), "last_name": "x", "email": "big@example.com",
	}, nil, requestInvalid)
	sc.call("create user, cross-site", admin, 403, "POST", "/api/v1/user", map[string]any{
		"username": "evil", "first_name": "e", "last_name": "e", "email": "evil@example.com",
	}, nil, specHeader("Sec-Fetch-Site", "cross-site"))
	sc.call("list users", admin, 200, "GET", "/api/v1/user", nil, nil)
	var current map[string]any
	sc.call("read user", admin, 200, "GET", "/api/v1/user/jdoe", nil, &current)
	sc.call("read a missing user", admin, 404, "GET", "/api/v1/user/nobody", nil, nil)
	sc.call("patch user", admin, 200, "PATCH", "/api/v1/user/jdoe", map[string]any{"phone": "+48 123-456 (7)", "ssh_key": sshKey}, nil)
	sc.call("patch user with a bad ssh key", admin, 400, "PATCH", "/api/v1/user/jdoe", map[string]any{"ssh_key": "ssh-rsa nonsense"}, nil)
	sc.call("patch user with a wrong type", admin, 400, "PATCH", "/api/v1/user/jdoe", map[string]any{"first_name": 7}, nil, requestInvalid)
	sc.call("patch a missing user", admin, 404, "PATCH", "/api/v1/user/nobody", map[string]any{"phone": "1"}, nil)
	sc.call("patch user to a taken email", admin, 409, "PATCH", "/api/v1/user/jdoe", map[string]any{"email": "bob@example.com"}, nil)
	// PUT what GET returned, read-only fields included, with a change.
	sc.call("read user again", admin, 200, "GET", "/api/v1/user/jdoe", nil, &current)
	current["first_name"], current["pgp_key"], current["pgp_cert_id"] = "Jane", pgpKey, strings.ToLower(fpr)
	sc.call("replace user with what GET returned", admin, 200, "PUT", "/api/v1/user/jdoe", current, &jdoe)
	if jdoe.PGPCertID != fpr || jdoe.FirstName != "Jane" {
		t.Fatalf("after PUT: %+v", jdoe)
	}
	sc.call("replace user missing fields", admin, 400, "PUT", "/api/v1/user/jdoe", map[string]any{"first_name": "Jane"}, nil, requestInvalid)
	// Defguard's user object: no key fields, and keys Herald lacks.
	sc.call("replace user with Defguard's user object", admin, 200, "PUT", "/api/v1/user/jdoe", map[string]any{
		"id": current["id"], "username": "jdoe", "first_name": "Jane", "last_name": current["last_name"], "email": current["email"],
		"phone": current["phone"], "groups": current["groups"], "is_admin": current["is_admin"], "mfa_enabled": false,
		"totp_enabled": false, "email_mfa_enabled": false, "mfa_method": "None", "authorized_apps": []any{}, "is_active": true,
		"enrolled": true, "ldap_pass_requires_change": false,
	}, nil)
	sc.call("replace user renaming it", admin, 400, "PUT", "/api/v1/user/jdoe", func() map[string]any {
		b := map[string]any{}
		for k, v := range current {
			b[k] = v
		}
		b["username"] = "jane"
		return b
	}(), nil)

	// The user themself, and passwords.
	jdoeC := s.anon()
	sc.call("login as jdoe", jdoeC, 200, "POST", "/api/v1/auth", map[string]string{"username": "jdoe", "password": "jdoe-pass-1"}, nil)
	sc.call("me as jdoe", jdoeC, 200, "GET", "/api/v1/me", nil, nil)
	sc.call("read own user", jdoeC, 200, "GET", "/api/v1/user/jdoe", nil, nil)
	sc.call("read another user", jdoeC, 403, "GET", "/api/v1/user/bob", nil, nil)
	sc.call("list users as a user", jdoeC, 403, "GET", "/api/v1/user", nil, nil)
	sc.call("patch own profile", jdoeC, 200, "PATCH", "/api/v1/user/jdoe", map[string]any{"last_name": "Doe"}, nil)
	sc.call("patch own groups", jdoeC, 403, "PATCH", "/api/v1/user/jdoe", map[string]any{"groups": []string{"admin"}}, nil)
	sc.call("own password without the old one", jdoeC, 400, "PUT", "/api/v1/user/jdoe/password", map[string]string{"new_password": "jdoe-pass-2"}, nil)
	sc.call("own password", jdoeC, 204, "PUT", "/api/v1/user/jdoe/password", map[string]string{"new_password": "jdoe-pass-2", "old_password": "jdoe-pass-1"}, nil)
	sc.call("password of a missing user", admin, 404, "PUT", "/api/v1/user/nobody/password", map[string]string{"new_password": "whatever-1"}, nil)
	sc.call("admin resets a password", admin, 204, "PUT", "/api/v1/user/jdoe/password", map[string]string{"new_password": "jdoe-pass-3"}, nil)
	sc.call("me with an ended session", jdoeC, 401, "GET", "/api/v1/me", nil, nil)
	sc.call("login as jdoe again", jdoeC, 200, "POST", "/api/v1/auth", map[string]string{"username": "jdoe", "password": "jdoe-pass-3"}, nil)

	// API tokens.
	var tok struct {
		ID    int64  `json:"id"`
		Token string `json:"token"`
	}
	sc.call("create API token", jdoeC, 201, "POST", "/api/v1/user/jdoe/api_token", map[string]string{"name": "laptop"}, &tok)
	sc.call("create API token without a name", jdoeC, 400, "POST", "/api/v1/user/jdoe/api_token", map[string]string{"name": ""}, nil, requestInvalid)
	sc.call("create API token for a missing user", admin, 404, "POST", "/api/v1/user/nobody/api_token", map[string]string{"name": "x"}, nil)
	sc.call("create API token for another user", jdoeC, 403, "POST", "/api/v1/user/bob/api_token", map[string]string{"name": "x"}, nil)
	sc.call("list API tokens", admin, 200, "GET", "/api/v1/user/jdoe/api_token", nil, nil)
	jdoeT := s.withToken(tok.Token)
	sc.call("me with an API token", jdoeT, 200, "GET", "/api/v1/me", nil, nil)
	sc.call("list own API tokens with an API token", jdoeT, 200, "GET", "/api/v1/user/jdoe/api_token", nil, nil)
	sc.call("revoke API token", jdoeC, 204, "DELETE", fmt.Sprintf("/api/v1/user/jdoe/api_token/%d", tok.ID), nil, nil)
	sc.call("revoke it again", jdoeC, 404, "DELETE", fmt.Sprintf("/api/v1/user/jdoe/api_token/%d", tok.ID), nil, nil)
	sc.call("me with a revoked API token", jdoeT, 401, "GET", "/api/v1/me", nil, nil)

	// Groups.
	sc.call("create group", admin, 201, "POST", "/api/v1/group", map[string]any{"name": "devs", "members": []string{"jdoe"}}, nil)
	sc.call("create group with only a name", admin, 201, "POST", "/api/v1/group", map[string]any{"name": "ops"}, nil)
	sc.call("create a taken group", admin, 409, "POST", "/api/v1/group", map[string]any{"name": "devs"}, nil)
	sc.call("create group with an unknown member", admin, 400, "POST", "/api/v1/group", map[string]any{"name": "qa", "members": []string{"nobody"}}, nil)
	sc.call("create group without a name", admin, 400, "POST", "/api/v1/group", map[string]any{"members": []string{}}, nil, requestInvalid)
	sc.call("list groups", admin, 200, "GET", "/api/v1/group", nil, nil)
	sc.call("list groups as a user", jdoeC, 403, "GET", "/api/v1/group", nil, nil)
	sc.call("read group", admin, 200, "GET", "/api/v1/group/devs", nil, nil)
	sc.call("read a missing group", admin, 404, "GET", "/api/v1/group/nope", nil, nil)
	sc.call("replace group, renaming it", admin, 200, "PUT", "/api/v1/group/devs", map[string]any{"name": "developers", "members": []string{"jdoe", "bob"}, "is_admin": false}, nil)
	sc.call("replace group without is_admin", admin, 400, "PUT", "/api/v1/group/developers", map[string]any{"members": []string{}}, nil, requestInvalid)
	sc.call("rename group to a taken name", admin, 409, "PUT", "/api/v1/group/developers", map[string]any{"name": "ops", "members": []string{}, "is_admin": false}, nil)
	sc.call("replace a missing group", admin, 404, "PUT", "/api/v1/group/nope", map[string]any{"members": []string{}, "is_admin": false}, nil)
	sc.call("take the last admin's admin group away", admin, 400, "PUT", "/api/v1/group/admin", map[string]any{"members": []string{}, "is_admin": true}, nil)
	sc.call("add member", admin, 200, "POST", "/api/v1/group/ops", map[string]string{"username": "jdoe"}, nil)
	sc.call("add member without a username", admin, 400, "POST", "/api/v1/group/ops", map[string]string{}, nil, requestInvalid)
	sc.call("add member to a missing group", admin, 404, "POST", "/api/v1/group/nope", map[string]string{"username": "jdoe"}, nil)
	sc.call("remove member", admin, 204, "DELETE", "/api/v1/group/developers/user/bob", nil, nil)
	sc.call("remove a non-member", admin, 404, "DELETE", "/api/v1/group/developers/user/bob", nil, nil)
	sc.call("remove the last admin", admin, 400, "DELETE", "/api/v1/group/admin/user/admin", nil, nil)
	sc.call("delete the admin group", admin, 400, "DELETE", "/api/v1/group/admin", nil, nil)
	sc.call("delete group", admin, 204, "DELETE", "/api/v1/group/ops", nil, nil)
	sc.call("delete a missing group", admin, 404, "DELETE", "/api/v1/group/ops", nil, nil)

	// Provisioning with real keys.
	var wtok, wtok3 struct {
		ID    int64  `json:"id"`
		Token string `json:"token"`
	}
	sc.call("create station token", admin, 201, "POST", "/api/v1/worker/token", map[string]string{"worker": "station1"}, &wtok)
	sc.call("create station token with an expiry", admin, 201, "POST", "/api/v1/worker/token", map[string]any{
		"worker": "station3", "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
	}, &wtok3)
	sc.call("create station token expiring in the past", admin, 400, "POST", "/api/v1/worker/token", map[string]any{
		"worker": "station3", "expires_at": "2001-01-01T00:00:00Z",
	}, nil)
	sc.call("list station tokens", admin, 200, "GET", "/api/v1/worker/token", nil, nil)
	sc.call("list station tokens as a user", jdoeC, 403, "GET", "/api/v1/worker/token", nil, nil)
	station3 := s.withToken(wtok3.Token)
	sc.call("take a job with the expiring token", station3, 204, "GET", "/api/v1/worker/job?worker=station3", nil, nil)
	sc.call("revoke station token", admin, 204, "DELETE", fmt.Sprintf("/api/v1/worker/token/%d", wtok3.ID), nil, nil)
	sc.call("revoke it again", admin, 404, "DELETE", fmt.Sprintf("/api/v1/worker/token/%d", wtok3.ID), nil, nil)
	sc.call("take a job with a revoked token", station3, 401, "GET", "/api/v1/worker/job?worker=station3", nil, nil)
	sc.call("create station token as a user", jdoeC, 403, "POST", "/api/v1/worker/token", map[string]string{"worker": "station2"}, nil)
	sc.call("create station token with a bad name", admin, 400, "POST", "/api/v1/worker/token", map[string]string{"worker": "Station 2"}, nil, requestInvalid)
	station := s.withToken(wtok.Token)
	sc.call("take a job when there is none", station, 204, "GET", "/api/v1/worker/job?worker=station1", nil, nil)
	sc.call("take a job without ?worker", station, 400, "GET", "/api/v1/worker/job", nil, nil, requestInvalid)
	sc.call("take a job for another station", station, 403, "GET", "/api/v1/worker/job?worker=station2", nil, nil)
	sc.call("take a job as a user", jdoeC, 403, "GET", "/api/v1/worker/job?worker=station1", nil, nil, requestInvalid)
	sc.call("me as a station", station, 403, "GET", "/api/v1/me", nil, nil, requestInvalid)
	var job struct {
		ID int64 `json:"id"`
	}
	sc.call("start own provisioning", jdoeC, 201, "POST", "/api/v1/worker/job", map[string]string{"username": "jdoe", "worker": "station1"}, &job)
	sc.call("start provisioning for another user", jdoeC, 403, "POST", "/api/v1/worker/job", map[string]string{"username": "bob", "worker": "station1"}, nil)
	sc.call("start provisioning for a missing user", admin, 404, "POST", "/api/v1/worker/job", map[string]string{"username": "nobody", "worker": "station1"}, nil)
	sc.call("start provisioning without a username", admin, 400, "POST", "/api/v1/worker/job", map[string]string{"worker": "station1"}, nil, requestInvalid)
	jobPath := fmt.Sprintf("/api/v1/worker/%d", job.ID)
	sc.call("read own job", jdoeC, 200, "GET", jobPath, nil, nil)
	sc.call("read a missing job", admin, 404, "GET", "/api/v1/worker/999999", nil, nil)
	sc.call("take a job", station, 200, "GET", "/api/v1/worker/job?worker=station1", nil, nil)
	sc.call("read the running job", jdoeC, 200, "GET", jobPath, nil, nil)
	done := fmt.Sprintf("/api/v1/worker/job/%d/done", job.ID)
	sc.call("report keys with a wrong fingerprint", station, 400, "POST", done, map[string]any{
		"success": true, "ssh_key": sshKey2, "pgp_key": pgpKey, "pgp_cert_id": testdata(t, "pgp_rsa.fpr"), "serial": "123456",
	}, nil)
	sc.call("report without success", station, 400, "POST", done, map[string]any{"serial": "123456"}, nil, requestInvalid)
	sc.call("report as a user", jdoeC, 403, "POST", done, map[string]any{"success": false, "error": "x"}, nil, requestInvalid)
	sc.call("report a missing job", station, 404, "POST", "/api/v1/worker/job/999999/done", map[string]any{"success": false, "error": "x"}, nil)
	sc.call("report keys", station, 200, "POST", done, map[string]any{
		"success": true, "ssh_key": sshKey2, "pgp_key": pgpKey, "pgp_cert_id": strings.ToLower(fpr), "serial": "123456",
	}, nil)
	sc.call("report twice", station, 409, "POST", done, map[string]any{"success": false, "error": "again"}, nil)
	sc.call("read the finished job", admin, 200, "GET", jobPath, nil, nil)
	sc.call("start another provisioning", admin, 201, "POST", "/api/v1/worker/job", map[string]string{"username": "bob", "worker": "station1"}, &job)
	sc.call("take it", station, 200, "GET", "/api/v1/worker/job?worker=station1", nil, nil)
	sc.call("report a failure", station, 200, "POST", fmt.Sprintf("/api/v1/worker/job/%d/done", job.ID), map[string]any{"success": false, "error": "no key plugged in"}, nil)
	sc.call("read the failed job", admin, 200, "GET", fmt.Sprintf("/api/v1/worker/%d", job.ID), nil, nil)
	sc.call("read another user's job", jdoeC, 404, "GET", fmt.Sprintf("/api/v1/worker/%d", job.ID), nil, nil)

	// Authorized keys for sshd.
	r := sc.call("authorized keys of a user", anon, 200, "GET", "/api/v1/ssh_authorized_keys?username=jdoe", nil, nil)
	if strings.TrimSpace(string(r.Body)) != sshKey2 {
		t.Errorf("authorized keys of jdoe = %q, want %q", r.Body, sshKey2)
	}
	sc.call("authorized keys of a group", anon, 200, "GET", "/api/v1/ssh_authorized_keys?group=developers", nil, nil)
	sc.call("authorized keys of an unknown user", anon, 200, "GET", "/api/v1/ssh_authorized_keys?username=nobody", nil, nil)
	sc.call("every authorized key", anon, 200, "GET", "/api/v1/ssh_authorized_keys", nil, nil)

	// Webhooks and their deliveries.
	sc.call("list webhooks", admin, 200, "GET", "/api/v1/webhook", nil, nil)
	sc.call("list webhooks as a user", jdoeC, 403, "GET", "/api/v1/webhook", nil, nil)
	var hookNow map[string]any
	sc.call("read webhook", admin, 200, "GET", hookPath, nil, &hookNow)
	sc.call("read a missing webhook", admin, 404, "GET", "/api/v1/webhook/999999", nil, nil)
	sc.call("read a webhook by a non-numeric id", admin, 404, "GET", "/api/v1/webhook/abc", nil, nil, requestInvalid)
	hookNow["description"] = "openapi receiver, renamed"
	sc.call("replace webhook with what GET returned", admin, 200, "PUT", hookPath, hookNow, nil)
	sc.call("replace webhook without a url", admin, 400, "PUT", hookPath, map[string]any{"description": "x"}, nil, requestInvalid)
	sc.call("replace a missing webhook", admin, 404, "PUT", "/api/v1/webhook/999999", map[string]any{"url": rc.URL, "description": "x", "on_user_created": true}, nil)
	sc.call("disable webhook", admin, 200, "POST", hookPath, map[string]any{"enabled": false}, nil)
	sc.call("enable webhook", admin, 200, "POST", hookPath, map[string]any{"enabled": true}, nil)
	sc.call("enable webhook without enabled", admin, 400, "POST", hookPath, map[string]any{}, nil, requestInvalid)
	sc.call("enable a missing webhook", admin, 404, "POST", "/api/v1/webhook/999999", map[string]any{"enabled": true}, nil)

	// user_created, user_modified (several), user_keys, group_* so far:
	// wait until every delivery is finished.
	waitSettled(t, admin, hook.ID)
	var ds []delivery
	sc.call("list deliveries", admin, 200, "GET", hookPath+"/delivery", nil, &ds)
	if len(ds) < 5 {
		t.Fatalf("only %d deliveries: %+v", len(ds), ds)
	}
	sc.call("list succeeded deliveries", admin, 200, "GET", hookPath+"/delivery?status=succeeded&limit=2", nil, nil)
	sc.call("list older deliveries", admin, 200, "GET", fmt.Sprintf("%s/delivery?before=%d&limit=1000", hookPath, ds[0].ID), nil, nil)
	sc.call("list failed deliveries (none)", admin, 200, "GET", hookPath+"/delivery?status=failed", nil, nil)
	sc.call("list deliveries with a bad status", admin, 400, "GET", hookPath+"/delivery?status=lost", nil, nil, requestInvalid)
	sc.call("list deliveries with a bad limit", admin, 400, "GET", hookPath+"/delivery?limit=0", nil, nil, requestInvalid)
	sc.call("list deliveries of a missing webhook", admin, 404, "GET", "/api/v1/webhook/999999/delivery", nil, nil)
	for _, d := range ds {
		var detail struct {
			Request struct {
				Headers map[string]string `json:"headers"`
			} `json:"request"`
			AttemptLog []json.RawMessage `json:"attempt_log"`
		}
		sc.call("read delivery "+d.Event, admin, 200, "GET", fmt.Sprintf("%s/delivery/%d", hookPath, d.ID), nil, &detail)
		if auth := detail.Request.Headers["Authorization"]; auth != "" && strings.Contains(auth, "s3cret") {
			t.Errorf("delivery %d shows the token: %q", d.ID, auth)
		}
	}
	sc.call("read a missing delivery", admin, 404, "GET", hookPath+"/delivery/999999", nil, nil)
	sc.call("redeliver", admin, 202, "POST", fmt.Sprintf("%s/delivery/%d/redeliver", hookPath, ds[len(ds)-1].ID), nil, nil)
	sc.call("redeliver a missing delivery", admin, 404, "POST", hookPath+"/delivery/999999/redeliver", nil, nil)
	// Catch a delivery while it is queued (next_attempt_at set, completed_at null).
	sc.call("list deliveries right after a redelivery", admin, 200, "GET", hookPath+"/delivery?limit=1000", nil, nil)
	sc.call("replay", admin, 202, "POST", hookPath+"/replay", map[string]string{"since": "2000-01-01T00:00:00Z"}, nil)
	sc.call("replay since a time that is not RFC 3339", admin, 400, "POST", hookPath+"/replay", map[string]string{"since": "yesterday"}, nil, requestInvalid)
	sc.call("replay since the future", admin, 400, "POST", hookPath+"/replay", map[string]string{"since": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, nil)
	sc.call("replay a missing webhook", admin, 404, "POST", "/api/v1/webhook/999999/replay", map[string]string{"since": "2000-01-01T00:00:00Z"}, nil)
	sc.call("list deliveries during a replay", admin, 200, "GET", hookPath+"/delivery?limit=1000", nil, nil)
	sc.call("test webhook", admin, 200, "POST", hookPath+"/test", nil, nil)
	rc.setAnswer(func(int, received) int { return http.StatusInternalServerError })
	sc.call("test webhook whose receiver fails", admin, 200, "POST", hookPath+"/test", nil, nil)
	rc.setAnswer(nil)
	sc.call("test a missing webhook", admin, 404, "POST", "/api/v1/webhook/999999/test", nil, nil)
	sc.call("rotate secret", admin, 200, "POST", hookPath+"/rotate_secret", nil, nil)
	sc.call("rotate secret as a user", jdoeC, 403, "POST", hookPath+"/rotate_secret", nil, nil)
	sc.call("rotate secret of a missing webhook", admin, 404, "POST", "/api/v1/webhook/999999/rotate_secret", nil, nil)
	var hooks []webhook
	sc.call("list webhooks again", admin, 200, "GET", "/api/v1/webhook", nil, &hooks)

	// A SCIM target, at an address that refuses connections: nothing
	// changes after it is created, so only a resync queues anything.
	var target struct {
		ID int64 `json:"id"`
	}
	targetBody := map[string]any{"name": "App", "base_url": "http://127.0.0.1:9/scim/v2", "token": "scim-token", "only_groups": []string{"admin"}}
	sc.call("create SCIM target", admin, 201, "POST", "/api/v1/scim_target", targetBody, &target)
	targetPath := fmt.Sprintf("/api/v1/scim_target/%d", target.ID)
	sc.call("create SCIM target without a name", admin, 400, "POST", "/api/v1/scim_target", map[string]any{"base_url": "https://a.example"}, nil, requestInvalid)
	sc.call("create SCIM target with an ftp base_url", admin, 400, "POST", "/api/v1/scim_target", map[string]any{"name": "x", "base_url": "ftp://a.example"}, nil)
	sc.call("create SCIM target as a user", jdoeC, 403, "POST", "/api/v1/scim_target", targetBody, nil)
	sc.call("list SCIM targets", admin, 200, "GET", "/api/v1/scim_target", nil, nil)
	var targetNow map[string]any
	sc.call("read SCIM target", admin, 200, "GET", targetPath, nil, &targetNow)
	sc.call("read a missing SCIM target", admin, 404, "GET", "/api/v1/scim_target/999999", nil, nil)
	sc.call("read a webhook as a SCIM target", admin, 404, "GET", fmt.Sprintf("/api/v1/scim_target/%d", hook.ID), nil, nil)
	sc.call("replace SCIM target with what GET returned", admin, 200, "PUT", targetPath, targetNow, nil)
	sc.call("replace SCIM target with a bad deprovision", admin, 400, "PUT", targetPath, map[string]any{"name": "App", "base_url": "http://127.0.0.1:9/scim/v2", "deprovision": "purge"}, nil, requestInvalid)
	sc.call("resync SCIM target that refuses connections", admin, 200, "POST", targetPath+"/resync", nil, nil)
	sc.call("list SCIM target deliveries", admin, 200, "GET", targetPath+"/deliveries?limit=10", nil, nil)
	sc.call("delete SCIM target", admin, 204, "DELETE", targetPath, nil, nil)
	sc.call("delete it again", admin, 404, "DELETE", targetPath, nil, nil)

	for _, h := range hooks {
		if h.ID != hook.ID {
			sc.call("delete webhook", admin, 204, "DELETE", fmt.Sprintf("/api/v1/webhook/%d", h.ID), nil, nil)
			sc.call("delete it again", admin, 404, "DELETE", fmt.Sprintf("/api/v1/webhook/%d", h.ID), nil, nil)
		}
	}

	// Deletions, then the event log with every kind of event.
	sc.call("delete user", admin, 204, "DELETE", "/api/v1/user/bob", nil, nil)
	sc.call("delete a missing user", admin, 404, "DELETE", "/api/v1/user/bob", nil, nil)
	sc.call("delete the last admin", admin, 400, "DELETE", "/api/v1/user/admin", nil, nil)
	sc.call("delete user as a user", jdoeC, 403, "DELETE", "/api/v1/user/jdoe", nil, nil)
	sc.call("delete user, cross-origin", admin, 403, "DELETE", "/api/v1/user/jdoe", nil, nil, specHeader("Origin", "https://evil.example"))
	sc.call("delete group", admin, 204, "DELETE", "/api/v1/group/developers", nil, nil)
	sc.call("events", admin, 200, "GET", "/api/v1/event?after=0&limit=1000", nil, nil)
	sc.call("events, paged", admin, 200, "GET", "/api/v1/event?after=2&limit=3", nil, nil)
	sc.call("events with a bad after", admin, 400, "GET", "/api/v1/event?after=-1", nil, nil, requestInvalid)
	sc.call("events with a non-numeric limit", admin, 400, "GET", "/api/v1/event?limit=many", nil, nil, requestInvalid)
	sc.call("events as a user", jdoeC, 403, "GET", "/api/v1/event", nil, nil)
	sc.call("audit log", admin, 200, "GET", "/api/v1/audit?after=0&limit=1000", nil, nil)
	sc.call("audit log, filtered", admin, 200, "GET", "/api/v1/audit?action=login_succeeded&actor=user:admin", nil, nil)
	sc.call("audit log with a bad action", admin, 400, "GET", "/api/v1/audit?action=reboot", nil, nil, requestInvalid)
	sc.call("audit log as a user", jdoeC, 403, "GET", "/api/v1/audit", nil, nil)
	waitSettled(t, admin, hook.ID)
	sc.call("list deliveries at the end", admin, 200, "GET", hookPath+"/delivery?limit=1000", nil, &ds)
	for _, d := range ds {
		sc.call("read delivery "+d.Event+" at the end", admin, 200, "GET", fmt.Sprintf("%s/delivery/%d", hookPath, d.ID), nil, nil)
	}

	// Throttled logins, then logging out.
	for i := range 5 {
		sc.call(fmt.Sprintf("failed login %d", i+1), anon, 401, "POST", "/api/v1/auth", map[string]string{"username": "jdoe", "password": "not-the-password"}, nil)
	}
	sc.call("login while throttled", anon, 429, "POST", "/api/v1/auth", map[string]string{"username": "jdoe", "password": "jdoe-pass-3"}, nil)
	sc.call("logout", jdoeC, 204, "POST", "/api/v1/auth/logout", nil, nil)
	sc.call("me after logout", jdoeC, 401, "GET", "/api/v1/me", nil, nil, requestInvalid)
	sc.call("logout without a session", anon, 204, "POST", "/api/v1/auth/logout", nil, nil)
	sc.call("health at the end", admin, 200, "GET", "/api/v1/health", nil, nil)
}

// waitSettled waits until none of the webhook's deliveries is pending or
// retrying (unchecked calls: the checked ones come after).
func waitSettled(t *testing.T, admin *client, hookID int64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		busy := len(admin.deliveries(hookID, "status=pending")) + len(admin.deliveries(hookID, "status=retrying"))
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook %d still has %d unfinished deliveries", hookID, busy)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// specChecker sends requests and checks each request and its answer
// against the OpenAPI document.
type specChecker struct {
	t      *testing.T
	ctx    context.Context
	router routers.Router
	opts   *openapi3filter.Options
	seen   map[string][]int // "METHOD /path/{template}" -> statuses answered
	calls  int
}

type specCallOpts struct {
	invalid bool
	header  map[string]string
}

type specOpt func(*specCallOpts)
