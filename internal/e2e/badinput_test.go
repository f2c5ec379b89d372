package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// badInputCase is one bad request and what Herald must answer.
type badInputCase struct {
	name         string
	as           *client // nil: the admin
	method, path string
	body         any               // as for client.do: a string is sent raw
	header       map[string]string // set on the request (e.g. another Content-Type)
	// status is the wanted status; alt lists others the contract also
	// allows where it is silent about the exact one.
	status int
	alt    []int
	// msg lists substrings (case-insensitive) that the error's "msg" must
	// contain, so it names the problem.
	msg []string
}

// badInputState is everything a bad request could have changed.
type badInputState struct {
	events    int
	eventBody string
	parts     map[string]string // GET path -> body
}

// badInputKey reads a file of internal/keys/testdata, trimmed.
func badInputKey(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "keys", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// badInputClient returns c reporting to t, so a subtest fails itself and
// not its parent.
func badInputClient(c *client, t *testing.T) *client {
	cc := *c
	cc.t = t
	cc.header = c.header.Clone()
	return &cc
}

// TestBadInputChangesNothing sends bad input to every write endpoint of
// users, groups, passwords, tokens and provisioning jobs, and checks that
// each gets a 4xx with a helpful {"msg"} and leaves no trace: no event, no
// change to any user, group, token or job (bad input never leaves a
// half-made change behind).
func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()

	// Fixtures: two users, a group, an API token, a station with a running
	// job and another station with a pending one.
	admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]any{
		"username": "jdoe", "first_name": "Jane", "last_name": "Doe", "email": "jdoe@example.com",
		"phone": "123456789", "password": "jdoe-password-1",
	}, nil)
	admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]any{
		"username": "other", "first_name": "Otto", "last_name": "Other", "email": "Other.User@Example.com",
	}, nil)
	admin.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "devs", "members": []string{"jdoe"}}, nil)
	var apiToken struct {
		ID int64 `json:"id"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/user/jdoe/api_token", map[string]any{"name": "ci"}, &apiToken)
	var workerToken struct {
		Token string `json:"token"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/worker/token", map[string]any{"worker": "station1"}, &workerToken)
	var job struct {
		ID int64 `json:"id"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/worker/job", map[string]any{"username": "jdoe", "worker": "station1"}, &job)
	station := s.withToken(workerToken.Token)
	station.expect(http.StatusOK, "GET", "/api/v1/worker/job?worker=station1", nil, nil)
	// A second station with a job it has not taken yet.
	var workerToken2 struct {
		Token string `json:"token"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/worker/token", map[string]any{"worker": "station2"}, &workerToken2)
	station2 := s.withToken(workerToken2.Token)
	var job2 struct {
		ID int64 `json:"id"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/worker/job", map[string]any{"username": "other", "worker": "station2"}, &job2)
	job2Path := fmt.Sprintf("/api/v1/worker/%d", job2.ID)
	done2Path := fmt.Sprintf("/api/v1/worker/job/%d/done", job2.ID)
	jobPath := fmt.Sprintf("/api/v1/worker/%d", job.ID)
	donePath := fmt.Sprintf("/api/v1/worker/job/%d/done", job.ID)
	var jobNow struct {
		Status string `json:"status"`
	}
	admin.expect(http.StatusOK, "GET", jobPath, nil, &jobNow)
	if jobNow.Status != "running" {
		t.Fatalf("job is %q, want running", jobNow.Status)
	}

	jdoe := s.login("jdoe", "jdoe-password-1")
	anon := s.anon()

	sshKey := badInputKey(t, "ssh_ed25519.pub")
	sshRSA1024 := badInputKey(t, "ssh_rsa1024.pub")
	sshDSA := badInputKey(t, "ssh_dsa.pub")
	pgpKey := badInputKey(t, "pgp_ed25519.asc")
	pgpFpr := badInputKey(t, "pgp_ed25519.fpr")
	otherFpr := badInputKey(t, "pgp_rsa.fpr")
	pgpBroken := strings.Replace(pgpKey, "mDMEawkAxRYJKwYBBAHaRw8BAQdA", "AAAAAAAAAAAAAAAAAAAAAAAAAAAA", 1)
	if pgpBroken == pgpKey {
		t.Fatal("could not break the test PGP key")
	}
	privateKey := "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----"

	// fullUser is a complete, valid PUT body for jdoe with some fields changed.
	fullUser := func(changes map[string]any) map[string]any {
		b := map[string]any{
			"first_name": "Jane", "last_name": "Doe", "email": "jdoe@example.com", "phone": "123456789",
			"ssh_key": "", "pgp_key": "", "pgp_cert_id": "", "groups": []string{"devs"},
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
	adminUser := func(changes map[string]any) map[string]any {
		b := map[string]any{
			"first_name": "Herald", "last_name": "Admin", "email": "admin@localhost.localdomain", "phone": "",
			"ssh_key": "", "pgp_key": "", "pgp_cert_id": "", "groups": []string{"admin"},
		}
		for k, v := range changes {
			b[k] = v
		}
		return b
	}

	// Every write endpoint that takes a JSON body gets the same malformed
	// bodies; typeBody has typeField of the wrong JSON type.
	endpoints := []struct {
		as                  *client
		method, path        string
		typeBody, typeField string
		onlyType            bool // the endpoint is already listed; add only the wrong type
	}{
		{nil, "POST", "/api/v1/user", `{"username":5,"first_name":"N","last_name":"B","email":"n@example.com"}`, "username", false},
		{nil, "POST", "/api/v1/user/available", `{"username":5}`, "username", false},
		{nil, "PUT", "/api/v1/user/jdoe", `{"first_name":"Jane","last_name":"Doe","email":5,"phone":"","ssh_key":"","pgp_key":"","pgp_cert_id":"","groups":["devs"]}`, "email", false},
		{nil, "PATCH", "/api/v1/user/jdoe", `{"groups":"devs"}`, "groups", false},
		{nil, "PATCH", "/api/v1/user/jdoe", `{"first_name":["Jane"]}`, "first_name", true},
		{nil, "PUT", "/api/v1/user/jdoe/password", `{"new_password":12345678}`, "new_password", false},
		{nil, "POST", "/api/v1/user/jdoe/api_token", `{"name":{"x":1}}`, "name", false},
		{nil, "POST", "/api/v1/group", `{"name":"qa","is_admin":"yes"}`, "is_admin", false},
		{nil, "PUT", "/api/v1/group/devs", `{"members":"jdoe","is_admin":false}`, "members", false},
		{nil, "POST", "/api/v1/group/devs", `{"username":5}`, "username", false},
		{nil, "POST", "/api/v1/worker/job", `{"username":"jdoe","worker":5}`, "worker", false},
		{nil, "POST", "/api/v1/worker/token", `{"worker":true}`, "worker", false},
		{station, "POST", donePath, `{"success":"yes"}`, "success", false},
	}
	tooLarge := `{"x":"` + strings.Repeat("a", 1<<20) + `"}`
	var cases []badInputCase
	for _, e := range endpoints {
		for _, c := range []badInputCase{
			{name: "malformed JSON", body: `{"username": `, status: 400, msg: []string{"JSON"}},
			{name: "malformed JSON, trailing comma", body: `{"a":1,}`, status: 400, msg: []string{"JSON"}},
			{name: "malformed JSON, single quotes", body: `{'username':'jdoe'}`, status: 400, msg: []string{"JSON"}},
			{name: "empty body", body: "", status: 400, msg: []string{"empty"}},
			{name: "no body, no content type", body: nil, status: 400, msg: []string{"empty"}},
			{name: "array instead of object", body: `[]`, status: 400, msg: []string{"object"}},
			{name: "string instead of object", body: `"jdoe"`, status: 400, msg: []string{"object"}},
			{name: "two objects", body: `{} {}`, status: 400, msg: []string{"unexpected data"}},
			{name: "stray closing brace", body: `{}}`, status: 400, msg: []string{"unexpected data"}},
			{name: "trailing garbage", body: `{} garbage`, status: 400, msg: []string{"unexpected data"}},
			{name: "unknown field", body: `{"bogus_field":1}`, status: 400, msg: []string{"bogus_field"}},
			{name: "wrong type", body: e.typeBody, status: 400, msg: []string{e.typeField}},
			{name: "body over 1 MiB", body: tooLarge, status: 413, msg: []string{"large"}},
			{name: "text/plain", body: `{}`, header: map[string]string{"Content-Type": "text/plain"}, status: 415, msg: []string{"Content-Type"}},
			{name: "form encoded", body: `username=jdoe`, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, status: 415, msg: []string{"Content-Type"}},
		} {
			c.as, c.method, c.path = e.as, e.method, e.path
			if c.name == "wrong type" {
				c.name += " of " + e.typeField
			} else if e.onlyType {
				continue
			}
			cases = append(cases, c)
		}
	}

	// The body limit is exactly 1 MiB: padding a bad body to that size
	// keeps it a 400, one byte more makes it a 413.
	unknownField := `{"bogus_field":1}`
	atLimit := strings.Repeat(" ", 1<<20-len(unknownField)) + unknownField
	deep := `{"first_name":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`

	newUser := func(changes map[string]any) map[string]any {
		b := map[string]any{"username": "newbie", "first_name": "New", "last_name": "Bie", "email": "newbie@example.com", "password": "newbie-password-1"}
		for k, v := range changes {
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
		}
		return b
	}
	cases = append(cases, []badInputCase{
		// Shapes of body not covered above.
		{name: "body of exactly 1 MiB is read", method: "POST", path: "/api/v1/user", body: atLimit, status: 400, msg: []string{"bogus_field"}},
		{name: "body of 1 MiB and one byte", method: "POST", path: "/api/v1/user", body: " " + atLimit, status: 413, msg: []string{"large"}},
		{name: "deeply nested JSON", method: "PATCH", path: "/api/v1/user/jdoe", body: deep, status: 400, msg: []string{"JSON"}},
		{name: "Content-Type without subtype", method: "POST", path: "/api/v1/user", body: newUser(nil), header: map[string]string{"Content-Type": "application"}, status: 415, msg: []string{"Content-Type"}},
		{name: "Content-Type JSON-like", method: "POST", path: "/api/v1/user", body: newUser(nil), header: map[string]string{"Content-Type": "application/json-patch+json"}, status: 415, msg: []string{"Content-Type"}},
		{name: "null members", method: "PUT", path: "/api/v1/group/devs", body: `{"members":null,"is_admin":true}`, status: 400, msg: []string{"members"}},
		{name: "null groups", method: "PUT", path: "/api/v1/user/jdoe", body: `{"first_name":"Changed","last_name":"Doe","email":"jdoe@example.com","phone":"","ssh_key":"","pgp_key":"","pgp_cert_id":"","groups":null}`, status: 400, msg: []string{"groups"}},

		// Requests that may not write at all: cross-site, anonymous, not allowed.
		{name: "cross-site create", method: "POST", path: "/api/v1/user", body: newUser(nil), header: map[string]string{"Sec-Fetch-Site": "cross-site"}, status: 403, msg: []string{"cross-site"}},
		{name: "cross-origin delete", method: "DELETE", path: "/api/v1/user/jdoe", header: map[string]string{"Origin": "https://evil.example"}, status: 403, msg: []string{"cross-site"}},
		{name: "cross-site password change", method: "PUT", path: "/api/v1/user/jdoe/password", body: map[string]any{"new_password": "evil-password-1"}, header: map[string]string{"Sec-Fetch-Site": "cross-site"}, status: 403, msg: []string{"cross-site"}},
		{name: "anonymous create", as: anon, method: "POST", path: "/api/v1/user", body: newUser(nil), status: 401},
		{name: "anonymous group change", as: anon, method: "PUT", path: "/api/v1/group/devs", body: map[string]any{"members": []string{}, "is_admin": true}, status: 401},
		{name: "bad bearer token", as: s.withToken("hrld_not-a-token"), method: "DELETE", path: "/api/v1/user/jdoe", status: 401},
		{name: "user changes own groups along with a name", as: jdoe, method: "PATCH", path: "/api/v1/user/jdoe", body: map[string]any{"first_name": "Changed", "groups": []string{"admin", "devs"}}, status: 403, msg: []string{"groups"}},
		{name: "user leaves own group in a PUT", as: jdoe, method: "PUT", path: "/api/v1/user/jdoe", body: fullUser(map[string]any{"groups": []string{}, "phone": "555"}), status: 403, msg: []string{"groups"}},
		{name: "user changes another user", as: jdoe, method: "PATCH", path: "/api/v1/user/other", body: map[string]any{"first_name": "Changed"}, status: 403},
		{name: "user creates a user", as: jdoe, method: "POST", path: "/api/v1/user", body: newUser(nil), status: 403},
		{name: "user creates a group", as: jdoe, method: "POST", path: "/api/v1/group", body: map[string]any{"name": "qa"}, status: 403},
		{name: "user joins the admin group", as: jdoe, method: "POST", path: "/api/v1/group/admin", body: map[string]any{"username": "jdoe"}, status: 403},
		{name: "user without old password", as: jdoe, method: "PUT", path: "/api/v1/user/jdoe/password", body: map[string]any{"new_password": "new-password-1"}, status: 400, msg: []string{"old_password"}},
		{name: "user with wrong old password", as: jdoe, method: "PUT", path: "/api/v1/user/jdoe/password", body: map[string]any{"old_password": "wrong-password", "new_password": "new-password-1"}, status: 400, msg: []string{"old_password"}},
		{name: "user with short new password", as: jdoe, method: "PUT", path: "/api/v1/user/jdoe/password", body: map[string]any{"old_password": "jdoe-password-1", "new_password": "short"}, status: 400, msg: []string{"new_password"}},
		{name: "user sets another user's password", as: jdoe, method: "PUT", path: "/api/v1/user/other/password", body: map[string]any{"new_password": "new-password-1"}, status: 403},
		{name: "user makes a token for another user", as: jdoe, method: "POST", path: "/api/v1/user/other/api_token", body: map[string]any{"name": "x"}, status: 403},
		{name: "user queues a job for another user", as: jdoe, method: "POST", path: "/api/v1/worker/job", body: map[string]any{"username": "other", "worker": "station1"}, status: 403},
		{name: "user makes a station token", as: jdoe, method: "POST", path: "/api/v1/worker/token", body: map[string]any{"worker": "station2"}, status: 403},
		{name: "station takes another station's job", as: station, method: "GET", path: "/api/v1/worker/job?worker=station2", status: 403},
		{name: "station finishes another station's job", as: station, method: "POST", path: done2Path, body: map[string]any{"success": true, "ssh_key": sshKey}, status: 403, alt: []int{404}},
		{name: "station finishes another station's job as failed", as: station, method: "POST", path: done2Path, body: map[string]any{"success": false, "error": "no key"}, status: 403, alt: []int{404}},
		{name: "station finishes a job it has not taken", as: station2, method: "POST", path: done2Path, body: map[string]any{"success": true, "ssh_key": sshKey}, status: 409, alt: []int{400}},
		{name: "station fails a job it has not taken", as: station2, method: "POST", path: done2Path, body: map[string]any{"success": false, "error": "no key"}, status: 409, alt: []int{400}},
		{name: "user reports a job", as: jdoe, method: "POST", path: donePath, body: map[string]any{"success": true, "ssh_key": sshKey}, status: 403},

		// POST /api/v1/user
		{name: "null body", method: "POST", path: "/api/v1/user", body: `null`, status: 400, msg: []string{"username"}},
		{name: "no username", method: "POST", path: "/api/v1/user", body: newUser(map[string]any{"username": nil}), status: 400, msg: []string{"username"}},
		{name: "uppercase username", method: "POST", path: "/api/v1/user", body: newUser(map[string]any{"username": "Newbie"}), status: 400, msg: []string{"username"}},
		{name: "username starting with dash", method: "POST", path: "/api/v1/user", body: newUser(map[string]any{"username": "-newbie"}), status: 400, msg: []string{"username"}},
		{name: "username with space", method: "POST", path: "/api/v1/user", body: newUser(map[string]any{"username": "new bie"}), status: 400, msg: []string{"username"}},
		{name: "username with slash", method: "POST", path: "/api/v1/user", body: newUser(map[string]any{"username": "new/bie"}), status: 400, msg: []string{"username"}},
		{name: "username non-ASCII", method: "POST", path: "/api/v1/user", body: newUser(map[string]any{"username": "newbié"}), status: 400, msg: []string{"username"}},
		{name: "username 65 characters", method: "POST", path: "/api/v1/user", body: newUser(map[string]any{"username": strings.Repeat("n", 65)}), status: 400, msg: []string{"username"}},
		{name: "no email", method: "POST", path: "/api/v1/user", body: newUser(map[string]any{"email": nil}), status: 400, msg: []string{"email"}},
		{name: "invalid email", method: "POST", path: "/api/v1/user", body: newUser(map[string]any{"email": "newbie"}), status: 400, msg: []string{"email"}},
		{name: "email with display name", method: "POST", path: "/api/v1/user", body: newUser(map[string]any{"email": "New <newbie@example.com>"}), status: 400, msg: []string{"email"}},
		{name: "taken username", method: "POST", path: "/api/v1/user", body: newUser(map[string]any{"username": "jdoe"}), status: 409, msg: []string{"username", "jdoe"}},
		{name: "taken username and email", method: "POST", path: "/api/v1/user", body: newUser(map[string]any{"username": "jdoe", "email": "jdoe@example.com"}), status: 409, msg: []string{"jdoe"}},
		{name: "taken email", method: "POST", path: "/api/v1/user", body: newUser(map[string]any{"email": "jdoe@example.com"}), status: 409, msg: []string{"email"}},
		{name: "taken email, other case", method: "POST", path: "/api/v1/user", body: newUser(map[string]any{"email": "JDoe@Example.COM"}), status: 409, msg: []string{"email"}},
		{name: "taken email, other case the other way", method: "POST", path: "/api/v1/user", body: newUser(map[string]any{"email": "other.user@example.com"}), status: 409, msg: []string{"email"}},
		{name: "taken email with spaces around", method: "POST", path: "/api/v1/user", body: newUser(map[string]any{"email": " jdoe@example.com "}), status: 409, msg: []string{"email"}},
		{name: "taken username of the admin", method: "POST", path: "/api/v1/user", body: newUser(map[string]any{"username": "admin"}), status: 409, msg: []string{"username"}},
		{name: "short password", method: "POST", path: "/api/v1/user", body: newUser(map[string]any{"password": "short"}), status: 400, msg: []string{"password"}},
		{name: "password over 1024 bytes", method: "POST", path: "/api/v1/user", body: newUser(map[string]any{"password": strings.Repeat("p", 1025)}), status: 400, msg: []string{"password"}},
		{name: "invalid phone", method: "POST", path: "/api/v1/user", body: newUser(map[string]any{"phone": "call me"}), status: 400, msg: []string{"phone"}},
		{name: "first_name too long", method: "POST", path: "/api/v1/user", body: newUser(map[string]any{"first_name": strings.Repeat("a", 129)}), status: 400, msg: []string{"first_name"}},
		{name: "last_name with newline", method: "POST", path: "/api/v1/user", body: newUser(map[string]any{"last_name": "Bie\nEvil"}), status: 400, msg: []string{"last_name"}},
		{name: "keys are not create fields", method: "POST", path: "/api/v1/user", body: newUser(map[string]any{"ssh_key": sshKey}), status: 400, msg: []string{"ssh_key"}},

		// POST /api/v1/user/available
		{name: "taken", method: "POST", path: "/api/v1/user/available", body: map[string]any{"username": "jdoe"}, status: 400, msg: []string{"username"}},
		{name: "invalid", method: "POST", path: "/api/v1/user/available", body: map[string]any{"username": "J Doe"}, status: 400, msg: []string{"username"}},
		{name: "missing", method: "POST", path: "/api/v1/user/available", body: `{}`, status: 400, msg: []string{"username"}},

		// PUT /api/v1/user/{username}
		{name: "empty object", method: "PUT", path: "/api/v1/user/jdoe", body: `{}`, status: 400, msg: []string{"email", "first_name", "groups", "pgp_key"}},
		{name: "missing groups", method: "PUT", path: "/api/v1/user/jdoe", body: fullUser(map[string]any{"groups": nil, "first_name": "Changed"}), status: 400, msg: []string{"groups"}},
		{name: "missing pgp_cert_id", method: "PUT", path: "/api/v1/user/jdoe", body: fullUser(map[string]any{"pgp_cert_id": nil, "first_name": "Changed"}), status: 400, msg: []string{"pgp_cert_id"}},
		{name: "null email", method: "PUT", path: "/api/v1/user/jdoe", body: `{"first_name":"Changed","last_name":"Doe","email":null,"phone":"","ssh_key":"","pgp_key":"","pgp_cert_id":"","groups":["devs"]}`, status: 400, msg: []string{"email"}},
		{name: "username changed", method: "PUT", path: "/api/v1/user/jdoe", body: fullUser(map[string]any{"username": "jdoe2"}), status: 400, msg: []string{"username"}},
		{name: "invalid email", method: "PUT", path: "/api/v1/user/jdoe", body: fullUser(map[string]any{"email": "jdoe@", "first_name": "Changed"}), status: 400, msg: []string{"email"}},
		{name: "empty email", method: "PUT", path: "/api/v1/user/jdoe", body: fullUser(map[string]any{"email": ""}), status: 400, msg: []string{"email"}},
		{name: "taken email, other case", method: "PUT", path: "/api/v1/user/jdoe", body: fullUser(map[string]any{"email": "OTHER.USER@EXAMPLE.COM", "first_name": "Changed"}), status: 409, msg: []string{"email"}},
		{name: "bad ssh key", method: "PUT", path: "/api/v1/user/jdoe", body: fullUser(map[string]any{"ssh_key": "ssh-ed25519 AAAA", "first_name": "Changed"}), status: 400, msg: []string{"ssh_key"}},
		{name: "pgp key with wrong fingerprint", method: "PUT", path: "/api/v1/user/jdoe", body: fullUser(map[string]any{"pgp_key": pgpKey, "pgp_cert_id": otherFpr, "ssh_key": sshKey}), status: 400, msg: []string{"pgp_cert_id"}},
		{name: "unknown group", method: "PUT", path: "/api/v1/user/jdoe", body: fullUser(map[string]any{"groups": []string{"devs", "ghosts"}, "first_name": "Changed", "ssh_key": sshKey}), status: 400, msg: []string{"groups", "ghosts"}},
		{name: "unknown group, dropping devs", method: "PUT", path: "/api/v1/user/jdoe", body: fullUser(map[string]any{"groups": []string{"ghosts"}}), status: 400, msg: []string{"ghosts"}},
		{name: "unknown user", method: "PUT", path: "/api/v1/user/ghost", body: fullUser(nil), status: 404, msg: []string{"ghost"}},
		{name: "last admin leaves the admin group", method: "PUT", path: "/api/v1/user/admin", body: adminUser(map[string]any{"groups": []string{}, "first_name": "Changed"}), status: 400, msg: []string{"admin"}},
		{name: "last admin moves to devs", method: "PUT", path: "/api/v1/user/admin", body: adminUser(map[string]any{"groups": []string{"devs"}}), status: 400, msg: []string{"admin"}},

		// PATCH /api/v1/user/{username}
		{name: "username changed", method: "PATCH", path: "/api/v1/user/jdoe", body: map[string]any{"username": "jdoe2"}, status: 400, msg: []string{"username"}},
		{name: "empty email", method: "PATCH", path: "/api/v1/user/jdoe", body: map[string]any{"email": ""}, status: 400, msg: []string{"email"}},
		{name: "invalid email", method: "PATCH", path: "/api/v1/user/jdoe", body: map[string]any{"email": "not an address"}, status: 400, msg: []string{"email"}},
		{name: "taken email", method: "PATCH", path: "/api/v1/user/jdoe", body: map[string]any{"email": "other.user@example.com"}, status: 409, msg: []string{"email"}},
		{name: "taken email of the admin, other case", method: "PATCH", path: "/api/v1/user/jdoe", body: map[string]any{"email": "Admin@LocalHost.LocalDomain", "first_name": "Changed"}, status: 409, msg: []string{"email"}},
		{name: "invalid phone", method: "PATCH", path: "/api/v1/user/jdoe", body: map[string]any{"phone": "+48 123 ext. 5"}, status: 400, msg: []string{"phone"}},
		{name: "first_name too long", method: "PATCH", path: "/api/v1/user/jdoe", body: map[string]any{"first_name": strings.Repeat("é", 129)}, status: 400, msg: []string{"first_name"}},
		{name: "last_name with control character", method: "PATCH", path: "/api/v1/user/jdoe", body: map[string]any{"last_name": "Doe\u001b[31m"}, status: 400, msg: []string{"last_name"}},
		{name: "garbage ssh key", method: "PATCH", path: "/api/v1/user/jdoe", body: map[string]any{"ssh_key": "not a key"}, status: 400, msg: []string{"ssh_key"}},
		{name: "short rsa ssh key", method: "PATCH", path: "/api/v1/user/jdoe", body: map[string]any{"ssh_key": sshRSA1024}, status: 400, msg: []string{"ssh_key"}},
		{name: "dsa ssh key", method: "PATCH", path: "/api/v1/user/jdoe", body: map[string]any{"ssh_key": sshDSA}, status: 400, msg: []string{"ssh_key"}},
		{name: "private ssh key", method: "PATCH", path: "/api/v1/user/jdoe", body: map[string]any{"ssh_key": privateKey}, status: 400, msg: []string{"ssh_key"}},
		{name: "two ssh keys", method: "PATCH", path: "/api/v1/user/jdoe", body: map[string]any{"ssh_key": sshKey + "\n" + sshKey}, status: 400, msg: []string{"ssh_key"}},
		{name: "pgp key with wrong fingerprint", method: "PATCH", path: "/api/v1/user/jdoe", body: map[string]any{"pgp_key": pgpKey, "pgp_cert_id": otherFpr}, status: 400, msg: []string{"pgp_cert_id"}},
		{name: "pgp fingerprint not hex", method: "PATCH", path: "/api/v1/user/jdoe", body: map[string]any{"pgp_key": pgpKey, "pgp_cert_id": strings.Repeat("X", 40)}, status: 400, msg: []string{"pgp_cert_id"}},
		{name: "pgp fingerprint without key", method: "PATCH", path: "/api/v1/user/jdoe", body: map[string]any{"pgp_cert_id": pgpFpr}, status: 400, msg: []string{"pgp_key"}},
		{name: "broken pgp key", method: "PATCH", path: "/api/v1/user/jdoe", body: map[string]any{"pgp_key": pgpBroken, "pgp_cert_id": pgpFpr}, status: 400, msg: []string{"pgp_key"}},
		{name: "pgp key not armored", method: "PATCH", path: "/api/v1/user/jdoe", body: map[string]any{"pgp_key": sshKey}, status: 400, msg: []string{"pgp_key"}},
		{name: "good ssh key with bad pgp key", method: "PATCH", path: "/api/v1/user/jdoe", body: map[string]any{"ssh_key": sshKey, "pgp_key": pgpKey, "pgp_cert_id": otherFpr}, status: 400, msg: []string{"pgp_cert_id"}},
		{name: "good email with bad ssh key", method: "PATCH", path: "/api/v1/user/jdoe", body: map[string]any{"email": "jane@example.com", "ssh_key": "ssh-rsa AAAA"}, status: 400, msg: []string{"ssh_key"}},
		{name: "good email with unknown group", method: "PATCH", path: "/api/v1/user/jdoe", body: map[string]any{"email": "jane@example.com", "groups": []string{"ghosts"}}, status: 400, msg: []string{"ghosts"}},
		{name: "valid keys with unknown group", method: "PATCH", path: "/api/v1/user/jdoe", body: map[string]any{"ssh_key": sshKey, "pgp_key": pgpKey, "pgp_cert_id": pgpFpr, "groups": []string{"devs", "admin", "ghosts"}}, status: 400, msg: []string{"ghosts"}},
		{name: "unknown user", method: "PATCH", path: "/api/v1/user/ghost", body: map[string]any{"first_name": "Ghost"}, status: 404, msg: []string{"ghost"}},
		{name: "last admin leaves the admin group", method: "PATCH", path: "/api/v1/user/admin", body: map[string]any{"groups": []string{}}, status: 400, msg: []string{"admin"}},
		{name: "last admin leaves the admin group while renaming", method: "PATCH", path: "/api/v1/user/admin", body: map[string]any{"first_name": "Changed", "email": "boss@example.com", "groups": []string{"devs"}}, status: 400, msg: []string{"admin"}},

		// DELETE /api/v1/user/{username}
		{name: "last admin", method: "DELETE", path: "/api/v1/user/admin", status: 400, msg: []string{"admin"}},
		{name: "unknown user", method: "DELETE", path: "/api/v1/user/ghost", status: 404, msg: []string{"ghost"}},

		// PUT /api/v1/user/{username}/password
		{name: "short", method: "PUT", path: "/api/v1/user/jdoe/password", body: map[string]any{"new_password": "short"}, status: 400, msg: []string{"new_password"}},
		{name: "7 characters", method: "PUT", path: "/api/v1/user/jdoe/password", body: map[string]any{"new_password": "1234567"}, status: 400, msg: []string{"new_password"}},
		{name: "over 1024 bytes", method: "PUT", path: "/api/v1/user/jdoe/password", body: map[string]any{"new_password": strings.Repeat("p", 1025)}, status: 400, msg: []string{"new_password"}},
		{name: "missing", method: "PUT", path: "/api/v1/user/jdoe/password", body: `{}`, status: 400, msg: []string{"new_password"}},
		{name: "old password only", method: "PUT", path: "/api/v1/user/jdoe/password", body: map[string]any{"old_password": "jdoe-password-1"}, status: 400, msg: []string{"new_password"}},
		{name: "short for the admin", method: "PUT", path: "/api/v1/user/admin/password", body: map[string]any{"new_password": "short"}, status: 400, msg: []string{"new_password"}},
		{name: "unknown user", method: "PUT", path: "/api/v1/user/ghost/password", body: map[string]any{"new_password": "long-enough-1"}, status: 404, msg: []string{"ghost"}},

		// API tokens
		{name: "no name", method: "POST", path: "/api/v1/user/jdoe/api_token", body: `{}`, status: 400, msg: []string{"name"}},
		{name: "blank name", method: "POST", path: "/api/v1/user/jdoe/api_token", body: map[string]any{"name": "   "}, status: 400, msg: []string{"name"}},
		{name: "name too long", method: "POST", path: "/api/v1/user/jdoe/api_token", body: map[string]any{"name": strings.Repeat("t", 101)}, status: 400, msg: []string{"name"}},
		{name: "name with newline", method: "POST", path: "/api/v1/user/jdoe/api_token", body: map[string]any{"name": "ci\nevil"}, status: 400, msg: []string{"name"}},
		{name: "unknown user", method: "POST", path: "/api/v1/user/ghost/api_token", body: map[string]any{"name": "ci"}, status: 404, msg: []string{"ghost"}},
		{name: "revoke unknown id", method: "DELETE", path: "/api/v1/user/jdoe/api_token/999999", status: 404},
		{name: "revoke non-numeric id", method: "DELETE", path: "/api/v1/user/jdoe/api_token/abc", status: 404, msg: []string{"id"}},
		{name: "revoke id 0", method: "DELETE", path: "/api/v1/user/jdoe/api_token/0", status: 404, msg: []string{"id"}},
		{name: "revoke another user's token", method: "DELETE", path: fmt.Sprintf("/api/v1/user/other/api_token/%d", apiToken.ID), status: 404},
		{name: "revoke for unknown user", method: "DELETE", path: fmt.Sprintf("/api/v1/user/ghost/api_token/%d", apiToken.ID), status: 404},

		// POST /api/v1/group
		{name: "no name", method: "POST", path: "/api/v1/group", body: `{}`, status: 400, msg: []string{"name"}},
		{name: "invalid name", method: "POST", path: "/api/v1/group", body: map[string]any{"name": "Dev Ops"}, status: 400, msg: []string{"name"}},
		{name: "name starting with dot", method: "POST", path: "/api/v1/group", body: map[string]any{"name": ".devs"}, status: 400, msg: []string{"name"}},
		{name: "name 65 characters", method: "POST", path: "/api/v1/group", body: map[string]any{"name": strings.Repeat("g", 65)}, status: 400, msg: []string{"name"}},
		{name: "taken name", method: "POST", path: "/api/v1/group", body: map[string]any{"name": "devs"}, status: 409, msg: []string{"name", "devs"}},
		{name: "taken name admin", method: "POST", path: "/api/v1/group", body: map[string]any{"name": "admin", "is_admin": true, "members": []string{"jdoe"}}, status: 409, msg: []string{"admin"}},
		{name: "unknown member", method: "POST", path: "/api/v1/group", body: map[string]any{"name": "qa", "members": []string{"jdoe", "ghost"}}, status: 400, msg: []string{"members", "ghost"}},
		{name: "unknown member in admin group", method: "POST", path: "/api/v1/group", body: map[string]any{"name": "qa", "is_admin": true, "members": []string{"ghost", "other"}}, status: 400, msg: []string{"ghost"}},
		{name: "invalid member name", method: "POST", path: "/api/v1/group", body: map[string]any{"name": "qa", "members": []string{"Other"}}, status: 400, msg: []string{"members"}},

		// PUT /api/v1/group/{name}
		{name: "empty object", method: "PUT", path: "/api/v1/group/devs", body: `{}`, status: 400, msg: []string{"members", "is_admin"}},
		{name: "missing members", method: "PUT", path: "/api/v1/group/devs", body: map[string]any{"is_admin": true}, status: 400, msg: []string{"members"}},
		{name: "missing is_admin", method: "PUT", path: "/api/v1/group/devs", body: map[string]any{"members": []string{}}, status: 400, msg: []string{"is_admin"}},
		{name: "unknown member", method: "PUT", path: "/api/v1/group/devs", body: map[string]any{"members": []string{"other", "ghost"}, "is_admin": true}, status: 400, msg: []string{"members", "ghost"}},
		{name: "rename to invalid name", method: "PUT", path: "/api/v1/group/devs", body: map[string]any{"name": "Dev Ops", "members": []string{"other"}, "is_admin": false}, status: 400, msg: []string{"name"}},
		{name: "rename to empty name", method: "PUT", path: "/api/v1/group/devs", body: map[string]any{"name": "", "members": []string{"jdoe"}, "is_admin": false}, status: 400, msg: []string{"name"}},
		{name: "rename to taken name", method: "PUT", path: "/api/v1/group/devs", body: map[string]any{"name": "admin", "members": []string{"jdoe"}, "is_admin": false}, status: 409, msg: []string{"name", "admin"}},
		{name: "rename with unknown member", method: "PUT", path: "/api/v1/group/devs", body: map[string]any{"name": "ops", "members": []string{"ghost"}, "is_admin": true}, status: 400, msg: []string{"ghost"}},
		{name: "unknown group", method: "PUT", path: "/api/v1/group/ghosts", body: map[string]any{"members": []string{}, "is_admin": false}, status: 404, msg: []string{"ghosts"}},
		{name: "admin group loses its last member", method: "PUT", path: "/api/v1/group/admin", body: map[string]any{"members": []string{}, "is_admin": true}, status: 400, msg: []string{"admin"}},
		{name: "admin group swaps its last admin for others", method: "PUT", path: "/api/v1/group/admin", body: map[string]any{"members": []string{}, "is_admin": true, "name": "admins"}, status: 400, msg: []string{"admin"}},
		{name: "admin group stops being admin", method: "PUT", path: "/api/v1/group/admin", body: map[string]any{"members": []string{"admin"}, "is_admin": false}, status: 400, msg: []string{"admin"}},

		// DELETE /api/v1/group/{name}
		{name: "the admin group", method: "DELETE", path: "/api/v1/group/admin", status: 400, msg: []string{"admin"}},
		{name: "unknown group", method: "DELETE", path: "/api/v1/group/ghosts", status: 404, msg: []string{"ghosts"}},

		// POST /api/v1/group/{name} (add a member)
		{name: "no username", method: "POST", path: "/api/v1/group/devs", body: `{}`, status: 400, msg: []string{"username"}},
		{name: "unknown user", method: "POST", path: "/api/v1/group/devs", body: map[string]any{"username": "ghost"}, status: 400, alt: []int{404}, msg: []string{"ghost"}},
		{name: "unknown group", method: "POST", path: "/api/v1/group/ghosts", body: map[string]any{"username": "jdoe"}, status: 404, msg: []string{"ghosts"}},

		// DELETE /api/v1/group/{name}/user/{username}
		{name: "last admin from the admin group", method: "DELETE", path: "/api/v1/group/admin/user/admin", status: 400, msg: []string{"admin"}},
		{name: "not a member", method: "DELETE", path: "/api/v1/group/devs/user/other", status: 404, msg: []string{"other"}},
		{name: "unknown user", method: "DELETE", path: "/api/v1/group/devs/user/ghost", status: 404, msg: []string{"ghost"}},
		{name: "unknown group", method: "DELETE", path: "/api/v1/group/ghosts/user/jdoe", status: 404, msg: []string{"ghosts"}},

		// POST /api/v1/worker/job
		{name: "no worker", method: "POST", path: "/api/v1/worker/job", body: map[string]any{"username": "jdoe"}, status: 400, msg: []string{"worker"}},
		{name: "invalid worker", method: "POST", path: "/api/v1/worker/job", body: map[string]any{"username": "jdoe", "worker": "Station 1"}, status: 400, msg: []string{"worker"}},
		{name: "no username", method: "POST", path: "/api/v1/worker/job", body: map[string]any{"worker": "station1"}, status: 400, msg: []string{"username"}},
		{name: "unknown user", method: "POST", path: "/api/v1/worker/job", body: map[string]any{"username": "ghost", "worker": "station1"}, status: 404, alt: []int{400}, msg: []string{"ghost"}},

		// POST /api/v1/worker/token
		{name: "no worker", method: "POST", path: "/api/v1/worker/token", body: `{}`, status: 400, msg: []string{"worker"}},
		{name: "invalid worker", method: "POST", path: "/api/v1/worker/token", body: map[string]any{"worker": "-station"}, status: 400, msg: []string{"worker"}},
		{name: "worker too long", method: "POST", path: "/api/v1/worker/token", body: map[string]any{"worker": strings.Repeat("w", 65)}, status: 400, msg: []string{"worker"}},

		// GET /api/v1/worker/job (a station takes a job: a write)
		{name: "no worker", as: station, method: "GET", path: "/api/v1/worker/job", status: 400, msg: []string{"worker"}},

		// POST /api/v1/worker/job/{id}/done
		{name: "no success", as: station, method: "POST", path: donePath, body: `{}`, status: 400, msg: []string{"success"}},
		{name: "success without keys", as: station, method: "POST", path: donePath, body: map[string]any{"success": true, "serial": "123"}, status: 400, msg: []string{"key"}},
		{name: "bad ssh key", as: station, method: "POST", path: donePath, body: map[string]any{"success": true, "ssh_key": "ssh-ed25519 AAAA", "serial": "123"}, status: 400, msg: []string{"ssh_key"}},
		{name: "private ssh key", as: station, method: "POST", path: donePath, body: map[string]any{"success": true, "ssh_key": privateKey}, status: 400, msg: []string{"ssh_key"}},
		{name: "pgp key with wrong fingerprint", as: station, method: "POST", path: donePath, body: map[string]any{"success": true, "ssh_key": sshKey, "pgp_key": pgpKey, "pgp_cert_id": otherFpr, "serial": "123"}, status: 400, msg: []string{"pgp_cert_id"}},
		{name: "pgp fingerprint without key", as: station, method: "POST", path: donePath, body: map[string]any{"success": true, "ssh_key": sshKey, "pgp_cert_id": pgpFpr}, status: 400, msg: []string{"pgp_key"}},
		{name: "broken pgp key", as: station, method: "POST", path: donePath, body: map[string]any{"success": true, "pgp_key": pgpBroken, "pgp_cert_id": pgpFpr}, status: 400, msg: []string{"pgp_key"}},
		{name: "serial too long", as: station, method: "POST", path: donePath, body: map[string]any{"success": true, "ssh_key": sshKey, "serial": strings.Repeat("1", 65)}, status: 400, msg: []string{"serial"}},
		// A failure's error is cleaned up instead (TestProvisioningFailureMessageCleaned); a success's is still checked.
		{name: "success with a control character in the error", as: station, method: "POST", path: donePath, body: map[string]any{"success": true, "ssh_key": sshKey, "serial": "123", "error": "boom\x00"}, status: 400, msg: []string{"error"}},
		{name: "unknown job", as: station, method: "POST", path: "/api/v1/worker/job/999999/done", body: map[string]any{"success": true, "ssh_key": sshKey}, status: 404, msg: []string{"999999"}},
		{name: "non-numeric job id", as: station, method: "POST", path: "/api/v1/worker/job/abc/done", body: map[string]any{"success": true, "ssh_key": sshKey}, status: 404, msg: []string{"id"}},
		{name: "not a station", method: "POST", path: donePath, body: map[string]any{"success": true, "ssh_key": sshKey}, status: 403},
	}...)

	// state reads everything a bad request must leave alone.
	watched := []string{
		"/api/v1/user", "/api/v1/group", "/api/v1/user/jdoe", "/api/v1/user/admin", "/api/v1/group/admin",
		"/api/v1/group/devs", "/api/v1/user/jdoe/api_token", "/api/v1/user/other/api_token", jobPath, job2Path,
	}
	state := func(t *testing.T) badInputState {
		t.Helper()
		admin := badInputClient(admin, t)
		st := badInputState{parts: map[string]string{}}
		r := admin.expect(http.StatusOK, "GET", "/api/v1/event?limit=1000", nil, nil)
		var events []json.RawMessage
		if err := json.Unmarshal(r.Body, &events); err != nil {
			t.Fatalf("events: %v", err)
		}
		if len(events) >= 1000 {
			t.Fatalf("%d events: too many to count with one call", len(events))
		}
		st.events, st.eventBody = len(events), string(r.Body)
		for _, p := range watched {
			st.parts[p] = string(admin.expect(http.StatusOK, "GET", p, nil, nil).Body)
		}
		return st
	}

	names := map[string]bool{}
	for _, tc := range cases {
		name := tc.method + " " + tc.path + ": " + tc.name
		if names[name] {
			t.Fatalf("duplicate case %q", name)
		}
		names[name] = true
		t.Run(name, func(t *testing.T) {
			before := state(t)
			c := tc.as
			if c == nil {
				c = admin
			}
			c = badInputClient(c, t)
			for k, v := range tc.header {
				c.header.Set(k, v)
			}
			r := c.do(tc.method, tc.path, tc.body)
			if r.Status != tc.status && !slices.Contains(tc.alt, r.Status) {
				want := fmt.Sprint(tc.status)
				for _, a := range tc.alt {
					want += fmt.Sprintf(" or %d", a)
				}
				t.Errorf("status %d, want %s; body: %.300s", r.Status, want, r.Body)
			}
			if r.Status < 400 || r.Status >= 500 {
				t.Errorf("status %d is not a 4xx", r.Status)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			var body map[string]any
			dec := json.NewDecoder(bytes.NewReader(r.Body))
			if err := dec.Decode(&body); err != nil {
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

			after := state(t)
			if after.events != before.events {
				t.Errorf("bad input recorded events: %d before, %d after", before.events, after.events)
			} else if after.eventBody != before.eventBody {
				t.Errorf("bad input changed the event feed")
			}
			for _, p := range watched {
				if after.parts[p] != before.parts[p] {
					t.Errorf("bad input changed GET %s\nbefore: %s\nafter:  %s", p, before.parts[p], after.parts[p])
				}
			}
		})
	}

	// Things the watched reads cannot show.
	t.Run("afterwards", func(t *testing.T) {
		admin, station := badInputClient(admin, t), badInputClient(station, t)
		// No password was changed and no session ended.
		badInputClient(s.anon(), t).expect(http.StatusOK, "POST", "/api/v1/auth", map[string]string{"username": "jdoe", "password": "jdoe-password-1"}, nil)
		admin.expect(http.StatusOK, "GET", "/api/v1/me", nil, nil)
		badInputClient(jdoe, t).expect(http.StatusOK, "GET", "/api/v1/me", nil, nil)
		// No provisioning job was queued, and the running one is still
		// the station's to finish.
		next := max(job.ID, job2.ID) + 1
		r := admin.do("GET", fmt.Sprintf("/api/v1/worker/%d", next), nil)
		if r.Status != http.StatusNotFound {
			t.Errorf("a job %d exists after only bad requests: %d %s", next, r.Status, r.Body)
		}
		station.expect(http.StatusNoContent, "GET", "/api/v1/worker/job?worker=station1", nil, nil)
		var j struct {
			Status string `json:"status"`
		}
		admin.expect(http.StatusOK, "GET", jobPath, nil, &j)
		if j.Status != "running" {
			t.Errorf("job is %q after only bad reports, want running", j.Status)
		}
		// The station can still report success: bad reports did not spoil the job.
		station.expect(http.StatusOK, "POST", donePath, map[string]any{"success": true, "ssh_key": sshKey, "pgp_key": pgpKey, "pgp_cert_id": strings.ToLower(pgpFpr), "serial": "42"}, nil)
		var u struct {
			SSHKey    string `json:"ssh_key"`
			PGPCertID string `json:"pgp_cert_id"`
		}
		admin.expect(http.StatusOK, "GET", "/api/v1/user/jdoe", nil, &u)
		if u.SSHKey != sshKey || u.PGPCertID != pgpFpr {
			t.Errorf("after a good report: ssh_key %q, pgp_cert_id %q", u.SSHKey, u.PGPCertID)
		}
		// A second report for a finished job is refused and changes nothing.
		before := state(t)
		r = station.do("POST", donePath, map[string]any{"success": true, "ssh_key": badInputKey(t, "ssh_rsa.pub"), "serial": "43"})
		if r.Status != http.StatusConflict {
			t.Errorf("second report: status %d, want 409; body: %s", r.Status, r.Body)
		}
		if r.msg() == "" {
			t.Errorf("second report: no msg in %s", r.Body)
		}
		after := state(t)
		if after.eventBody != before.eventBody {
			t.Errorf("second report recorded events: %d before, %d after", before.events, after.events)
		}
		for _, p := range watched {
			if after.parts[p] != before.parts[p] {
				t.Errorf("second report changed GET %s\nbefore: %s\nafter:  %s", p, before.parts[p], after.parts[p])
			}
		}
	})
}
