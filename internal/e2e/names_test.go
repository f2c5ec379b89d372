package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestNamesThatCannotExist: a username or group name no user or group can
// have (a NUL byte, bytes that are not UTF-8, upper case) gets a clear 4xx
// wherever a name is looked up, never a 500. PostgreSQL refuses a NUL byte
// or invalid UTF-8 in text outright, so on PostgreSQL such a name reaching
// the database was an internal error.
func TestNamesThatCannotExist(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	adm := s.admin()
	adm.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "staff", "members": []string{"admin"}}, nil)
	cases := []struct {
		name         string
		as           *client
		method, path string
		body         any
		status       int
		msg          string
	}{
		{"API login with a NUL", s.anon(), "POST", "/api/v1/auth", map[string]string{"username": "ad\x00min", "password": adminPassword}, 401, "wrong username or password"},
		{"API login, a letter no username has", s.anon(), "POST", "/api/v1/auth", `{"username":"ad\u00ffmin","password":"whatever-1"}`, 401, "wrong username or password"},
		{"authorized keys of a user with a NUL", s.anon(), "GET", "/api/v1/ssh_authorized_keys?username=a%00b", nil, 400, "username"},
		{"authorized keys of a group with a NUL", s.anon(), "GET", "/api/v1/ssh_authorized_keys?group=a%00b", nil, 400, "group"},
		{"authorized keys, not UTF-8", s.anon(), "GET", "/api/v1/ssh_authorized_keys?username=a%ffb", nil, 400, "username"},
		{"a user with a NUL", adm, "GET", "/api/v1/user/a%00b", nil, 404, "no user named"},
		{"a user, not UTF-8", adm, "GET", "/api/v1/user/a%ffb", nil, 404, "no user named"},
		{"a user in upper case", adm, "GET", "/api/v1/user/ADMIN", nil, 404, "no user named"},
		{"a group with a NUL", adm, "GET", "/api/v1/group/a%00b", nil, 404, "no group named"},
		{"a group, not UTF-8", adm, "GET", "/api/v1/group/a%ffb", nil, 404, "no group named"},
		{"changing a user with a NUL", adm, "PATCH", "/api/v1/user/a%00b", map[string]string{"first_name": "X"}, 404, "no user named"},
		{"deleting a user with a NUL", adm, "DELETE", "/api/v1/user/a%00b", nil, 404, "no user named"},
		{"a password of a user with a NUL", adm, "PUT", "/api/v1/user/a%00b/password", map[string]string{"new_password": "new-password-1"}, 404, "no user named"},
		{"tokens of a user with a NUL", adm, "GET", "/api/v1/user/a%00b/api_token", nil, 404, "no user named"},
		{"joining a group with a NUL", adm, "PATCH", "/api/v1/user/admin", map[string]any{"groups": []string{"admin", "a\x00b"}}, 400, "no group named"},
		{"a member with a NUL", adm, "POST", "/api/v1/group", map[string]any{"name": "ops", "members": []string{"a\x00b"}}, 400, "no user named"},
		{"adding a member with a NUL", adm, "POST", "/api/v1/group/staff", map[string]string{"username": "a\x00b"}, 400, "no user named"},
		{"removing a member with a NUL", adm, "DELETE", "/api/v1/group/staff/user/a%00b", nil, 404, "no user named"},
		{"deleting a group with a NUL", adm, "DELETE", "/api/v1/group/a%00b", nil, 404, "no group named"},
		{"a job for a user with a NUL", adm, "POST", "/api/v1/worker/job", map[string]string{"username": "a\x00b", "worker": "station1"}, 404, "no user named"},
	}
	for _, tc := range cases {
		r := tc.as.do(tc.method, tc.path, tc.body)
		if r.Status != tc.status || !strings.Contains(r.msg(), tc.msg) {
			t.Errorf("%s: %s %s: status %d, msg %q; want %d naming %q", tc.name, tc.method, tc.path, r.Status, r.msg(), tc.status, tc.msg)
		}
	}

	// The web UI's login form, and its pages of a user and a group.
	hc := clientFrom("127.0.0.1")
	resp, err := hc.PostForm(s.URL+"/login", url.Values{"username": {"ad\x00min"}, "password": {adminPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("UI login with a NUL in the username: status %d, want 401", resp.StatusCode)
	}
	for _, path := range []string{"/users/a%00b", "/groups/a%00b"} {
		if r := adm.do("GET", path, nil); r.Status != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, r.Status)
		}
	}
	// Nothing above was an internal error.
	if logs := s.logs.String(); strings.Contains(logs, "level=ERROR") {
		t.Errorf("the server logged an error:\n%s", logs)
	}
}
