package e2e

import (
	"net/http"
	"testing"
)

// Group changes fire group events and user_modified for exactly the users
// whose groups or is_admin changed, in the same transaction.
func TestGroupEvents(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	for _, name := range []string{"amy", "bob"} {
		admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
			"username": name, "first_name": name, "last_name": "X", "email": name + "@example.com",
		}, nil)
	}
	start := admin.lastSeq()
	payload := func(name, groups string, isAdmin bool) string {
		a := "false"
		if isAdmin {
			a = "true"
		}
		return `{"email":"` + name + `@example.com","first_name":"` + name + `","last_name":"X","groups":` + groups + `,"is_admin":` + a + `,"pgp_cert_id":"","pgp_key":"","phone":"","ssh_key":"","username":"` + name + `"}`
	}

	var g struct {
		Name    string   `json:"name"`
		Members []string `json:"members"`
		IsAdmin bool     `json:"is_admin"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "devs", "members": []string{"bob", "amy"}}, &g)
	if g.Name != "devs" || len(g.Members) != 2 || g.Members[0] != "amy" || g.IsAdmin {
		t.Fatalf("created group = %+v", g)
	}
	admin.expect(http.StatusOK, "PUT", "/api/v1/group/devs", map[string]any{"members": []string{"amy"}, "is_admin": true}, &g)
	admin.expect(http.StatusOK, "PUT", "/api/v1/group/devs", map[string]any{"name": "ops", "members": []string{"amy"}, "is_admin": true}, &g)
	if g.Name != "ops" {
		t.Fatalf("rename: %+v", g)
	}
	admin.expect(http.StatusNotFound, "GET", "/api/v1/group/devs", nil, nil)
	admin.expect(http.StatusOK, "GET", "/api/v1/group/ops", nil, &g)
	admin.expect(http.StatusNoContent, "DELETE", "/api/v1/group/ops/user/amy", nil, nil)
	admin.expect(http.StatusNotFound, "DELETE", "/api/v1/group/ops/user/amy", nil, nil)
	admin.expect(http.StatusOK, "POST", "/api/v1/group/ops", map[string]string{"username": "bob"}, nil)
	admin.expect(http.StatusNoContent, "DELETE", "/api/v1/group/ops", nil, nil)

	var groups []map[string]any
	admin.expect(http.StatusOK, "GET", "/api/v1/group", nil, &groups)
	if len(groups) != 1 || groups[0]["name"] != "admin" {
		t.Fatalf("groups left = %v", groups)
	}

	wantEvents(t, admin.eventsAfter(start),
		[3]string{"group_created", "group:devs", `{"name":"devs","members":["amy","bob"],"is_admin":false}`},
		[3]string{"user_modified", "user:amy", payload("amy", `["devs"]`, false)},
		[3]string{"user_modified", "user:bob", payload("bob", `["devs"]`, false)},
		// bob leaves and the group becomes an admin group.
		[3]string{"group_modified", "group:devs", `{"name":"devs","members":["amy"],"is_admin":true}`},
		[3]string{"user_modified", "user:amy", payload("amy", `["devs"]`, true)},
		[3]string{"user_modified", "user:bob", payload("bob", `[]`, false)},
		// Renaming changes amy's groups.
		[3]string{"group_modified", "group:ops", `{"name":"ops","members":["amy"],"is_admin":true}`},
		[3]string{"user_modified", "user:amy", payload("amy", `["ops"]`, true)},
		[3]string{"group_modified", "group:ops", `{"name":"ops","members":[],"is_admin":true}`},
		[3]string{"user_modified", "user:amy", payload("amy", `[]`, false)},
		[3]string{"group_modified", "group:ops", `{"name":"ops","members":["bob"],"is_admin":true}`},
		[3]string{"user_modified", "user:bob", payload("bob", `["ops"]`, true)},
		[3]string{"group_deleted", "group:ops", `{"name":"ops","members":["bob"],"is_admin":true}`},
		[3]string{"user_modified", "user:bob", payload("bob", `[]`, false)},
	)
}

// Nothing may leave Herald without an admin.
func TestLastAdminProtected(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	start := admin.lastSeq()
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"DELETE", "/api/v1/user/admin", nil},
		{"DELETE", "/api/v1/group/admin", nil},
		{"DELETE", "/api/v1/group/admin/user/admin", nil},
		{"PUT", "/api/v1/group/admin", map[string]any{"members": []string{"admin"}, "is_admin": false}},
		{"PUT", "/api/v1/group/admin", map[string]any{"members": []string{}, "is_admin": true}},
		{"PATCH", "/api/v1/user/admin", map[string]any{"groups": []string{}}},
	} {
		r := admin.expect(http.StatusBadRequest, tc.method, tc.path, tc.body, nil)
		if r.msg() == "" {
			t.Fatalf("%s %s: no msg", tc.method, tc.path)
		}
	}
	wantEvents(t, admin.eventsAfter(start))
	admin.expect(http.StatusOK, "GET", "/api/v1/me", nil, nil)
}
