package e2e

import (
	"net/http"
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
