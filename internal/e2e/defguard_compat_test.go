package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Tests of the calls Defguard's clients and scripts make, against a real
// server: each answers as Defguard's does where Herald has the same thing.

// sshd's AuthorizedKeysCommand, as Defguard documents it for sshd, filters
// by user, by group, by both (the user's key only if the user is in the
// group) or by neither (every user's key).
func TestSSHAuthorizedKeysFilters(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	ed, rsa := testdata(t, "ssh_ed25519.pub"), testdata(t, "ssh_rsa.pub")
	for _, u := range []struct{ name, key string }{{"alice", ed}, {"bob", rsa}, {"carol", ""}} {
		admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
			"username": u.name, "first_name": u.name, "last_name": "x", "email": u.name + "@example.com",
		}, nil)
		if u.key != "" {
			admin.expect(http.StatusOK, "PATCH", "/api/v1/user/"+u.name, map[string]string{"ssh_key": u.key}, nil)
		}
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "ops", "members": []string{"alice", "carol"}}, nil)
	admin.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "empty"}, nil)

	tests := []struct {
		name, query, want string
	}{
		{"one user", "?username=bob", rsa + "\n"},
		{"a user without a key", "?username=carol", ""},
		{"an unknown user", "?username=nobody", ""},
		{"a group", "?group=ops", ed + "\n"},
		{"an empty group", "?group=empty", ""},
		{"an unknown group", "?group=nogroup", ""},
		{"a user in the group", "?username=alice&group=ops", ed + "\n"},
		{"a user not in the group", "?username=bob&group=ops", ""},
		{"the group first", "?group=ops&username=alice", ed + "\n"},
		{"a user of an unknown group", "?username=alice&group=nogroup", ""},
		{"an unknown user of a group", "?username=nobody&group=ops", ""},
		{"neither: every user's key, by username", "", ed + "\n" + rsa + "\n"},
		{"empty values are no filter", "?username=&group=", ed + "\n" + rsa + "\n"},
	}
	for _, tt := range tests {
		r := s.anon().expect(http.StatusOK, "GET", "/api/v1/ssh_authorized_keys"+tt.query, nil, nil)
		if string(r.Body) != tt.want {
			t.Errorf("%s (%s): got %q, want %q", tt.name, tt.query, r.Body, tt.want)
		}
		if ct := r.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", tt.name, ct)
		}
	}
	// A name no user or group can have is refused, naming the parameter.
	for query, field := range map[string]string{"?username=Alice&group=ops": "username", "?username=alice&group=Ops": "group"} {
		r := s.anon().expect(http.StatusBadRequest, "GET", "/api/v1/ssh_authorized_keys"+query, nil, nil)
		if !containsAll(r.msg(), field) {
			t.Errorf("%s: msg %q does not name %s", query, r.msg(), field)
		}
	}
}

// POST /api/v1/auth and the login page take an email address in place of
// the username, as Defguard's do; wrong passwords by either name draw on
// one count of the account.
func TestAuthByEmail(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.admin().expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
		"username": "jdoe", "first_name": "Jane", "last_name": "Doe", "email": "jane.doe@example.com", "password": "jdoe-password-1",
	}, nil)

	var answer struct {
		User user `json:"user"`
	}
	c := s.anon()
	c.expect(http.StatusOK, "POST", "/api/v1/auth", map[string]string{"username": "Jane.Doe@example.com", "password": "jdoe-password-1"}, &answer)
	if answer.User.Username != "jdoe" {
		t.Fatalf("logged in by email as %q, want jdoe", answer.User.Username)
	}
	var me user
	c.expect(http.StatusOK, "GET", "/api/v1/me", nil, &me)
	if me.Username != "jdoe" {
		t.Fatalf("the session is %q's, want jdoe's", me.Username)
	}

	// The login page.
	page := s.anon()
	if r := page.do("GET", "/login", nil); !containsAll(string(r.Body), "Username or email") {
		t.Errorf("the login page does not say an email is accepted:\n%s", r.Body)
	}
	r := page.postForm("/login", url.Values{"username": {"jane.doe@example.com"}, "password": {"jdoe-password-1"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("UI login by email: status %d, want 303; body %s", r.Status, r.Body)
	}
	page.expect(http.StatusOK, "GET", "/api/v1/me", nil, &me)
	if me.Username != "jdoe" {
		t.Fatalf("the UI session is %q's, want jdoe's", me.Username)
	}

	// Five wrong passwords, by username and by email in turn, fill the
	// account's count: the right one is then refused by either name.
	names := []string{"jdoe", "jane.doe@example.com", "JANE.DOE@example.com"}
	for i := range 5 {
		s.anon().expect(http.StatusUnauthorized, "POST", "/api/v1/auth", map[string]string{"username": names[i%3], "password": fmt.Sprintf("wrong-guess-%d", i)}, nil)
	}
	for _, name := range names {
		r := s.anon().do("POST", "/api/v1/auth", map[string]string{"username": name, "password": "jdoe-password-1"})
		if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
			t.Errorf("the right password as %q after five wrong ones: status %d (Retry-After %q), want 429", name, r.Status, r.Header.Get("Retry-After"))
		}
	}
	if r := page.postForm("/login", url.Values{"username": {"jane.doe@example.com"}, "password": {"jdoe-password-1"}}); r.Status != http.StatusTooManyRequests {
		t.Errorf("UI login by email after five wrong ones: status %d, want 429", r.Status)
	}
}

// PUT /api/v1/user/{username} takes back Defguard's user object: its keys
// Herald has nothing for are ignored, phone null is no phone, and the
// hardware keys it lacks are kept; a key neither Herald nor Defguard has
// is still refused, as is is_active false, and neither changes anything.
func TestUserPutDefguardObject(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	sshKey := testdata(t, "ssh_ed25519.pub")
	admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
		"username": "jdoe", "first_name": "Jane", "last_name": "Doe", "email": "jdoe@example.com", "phone": "123456789", "password": "jdoe-password-1",
	}, nil)
	admin.expect(http.StatusOK, "PATCH", "/api/v1/user/jdoe", map[string]string{"ssh_key": sshKey}, nil)
	var before user
	admin.expect(http.StatusOK, "GET", "/api/v1/user/jdoe", nil, &before)
	start := admin.lastSeq()

	// Defguard's user object (UserInfo), as its clients send it back, by
	// the user themself.
	defguardUser := func(extra string) string {
		return `{"id":7,"username":"jdoe","last_name":"Doe","first_name":"Janet","email":"jdoe@example.com","phone":null,` +
			`"mfa_enabled":false,"totp_enabled":false,"email_mfa_enabled":false,"groups":[],"mfa_method":"None",` +
			`"authorized_apps":[],"is_active":true,"enrolled":true,"is_admin":false,"ldap_pass_requires_change":false` + extra + `}`
	}
	jdoe := s.login("jdoe", "jdoe-password-1")
	for _, bad := range []struct{ body, msg string }{
		{defguardUser(`,"shoe_size":42`), `unknown field "shoe_size"`},
		{strings.Replace(defguardUser(""), `"is_active":true`, `"is_active":false`, 1), "is_active"},
		{strings.Replace(defguardUser(""), `"first_name":"Janet"`, `"first_name":null`, 1), "missing: first_name"},
	} {
		if r := jdoe.expect(http.StatusBadRequest, "PUT", "/api/v1/user/jdoe", bad.body, nil); !strings.Contains(r.msg(), bad.msg) {
			t.Errorf("msg %q, want it to say %q", r.msg(), bad.msg)
		}
	}
	if evs := admin.eventsAfter(start); len(evs) != 0 {
		t.Fatalf("refused PUTs fired events: %v", evs)
	}

	var after user
	jdoe.expect(http.StatusOK, "PUT", "/api/v1/user/jdoe", defguardUser(""), &after)
	if after.FirstName != "Janet" || after.Phone != "" || after.SSHKey != sshKey || after.ID != before.ID || after.IsAdmin {
		t.Fatalf("after Defguard's PUT: %+v", after)
	}
	payload := `{"email":"jdoe@example.com","first_name":"Janet","last_name":"Doe","groups":[],"is_admin":false,"pgp_cert_id":"",` +
		`"pgp_key":"","phone":"","ssh_key":` + jsonString(sshKey) + `,"username":"jdoe"}`
	wantEvents(t, admin.eventsAfter(start), [3]string{"user_modified", "user:jdoe", payload})

	// Herald's own answer, sent back as it came, changes nothing.
	var got map[string]any
	jdoe.expect(http.StatusOK, "GET", "/api/v1/user/jdoe", nil, &got)
	jdoe.expect(http.StatusOK, "PUT", "/api/v1/user/jdoe", got, nil)
	if evs := admin.eventsAfter(start); len(evs) != 1 {
		t.Fatalf("sending the user back unchanged fired events: %v", evs)
	}
}

// GET /api/v1/worker/{id} carries success as Defguard's job status does:
// null while the job waits or runs, then true or false as it ended.
func TestWorkerJobStatusSuccess(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	var tok struct {
		Token string `json:"token"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/worker/token", map[string]string{"worker": "station1"}, &tok)
	station := s.withToken(tok.Token)
	success := func(id int64) string {
		t.Helper()
		var status map[string]any
		r := admin.expect(http.StatusOK, "GET", fmt.Sprintf("/api/v1/worker/%d", id), nil, &status)
		v, ok := status["success"]
		if !ok {
			t.Fatalf("job %d has no success: %s", id, r.Body)
		}
		return fmt.Sprintf("%s %v", status["status"], v)
	}
	newJob := func() int64 {
		var job struct {
			ID int64 `json:"id"`
		}
		admin.expect(http.StatusCreated, "POST", "/api/v1/worker/job", map[string]string{"username": "admin", "worker": "station1"}, &job)
		return job.ID
	}

	ok, failed := newJob(), newJob()
	if got := success(ok); got != "pending <nil>" {
		t.Errorf("a pending job: %s, want success null", got)
	}
	station.expect(http.StatusOK, "GET", "/api/v1/worker/job?worker=station1", nil, nil)
	if got := success(ok); got != "running <nil>" {
		t.Errorf("a running job: %s, want success null", got)
	}
	station.expect(http.StatusOK, "POST", fmt.Sprintf("/api/v1/worker/job/%d/done", ok), map[string]any{
		"success": true, "ssh_key": testdata(t, "ssh_ed25519.pub"), "pgp_key": "", "pgp_cert_id": "", "serial": "123456",
	}, nil)
	if got := success(ok); got != "done true" {
		t.Errorf("a job done: %s, want success true", got)
	}
	station.expect(http.StatusOK, "GET", "/api/v1/worker/job?worker=station1", nil, nil)
	station.expect(http.StatusOK, "POST", fmt.Sprintf("/api/v1/worker/job/%d/done", failed), map[string]any{"success": false, "error": "no key plugged in"}, nil)
	if got := success(failed); got != "failed false" {
		t.Errorf("a failed job: %s, want success false", got)
	}
}
