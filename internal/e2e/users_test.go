package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// The seed page's jdoe, created, put in a group, modified, and deleted: the
// event feed shows each change with the seed page's payloads, in order.
func TestUserLifecycleEvents(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	start := admin.lastSeq()

	var u user
	admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
		"username": "jdoe", "first_name": "jane", "last_name": "doe", "email": "janedoe@email.pl", "phone": "123456789",
	}, &u)
	if u.Username != "jdoe" || u.Email != "janedoe@email.pl" || u.IsAdmin || len(u.Groups) != 0 || u.ID == 0 || u.CreatedAt == "" {
		t.Fatalf("created user = %+v", u)
	}
	admin.expect(http.StatusOK, "GET", "/api/v1/user/jdoe", nil, &u)
	if u.Phone != "123456789" || u.Groups == nil {
		t.Fatalf("read back = %+v", u)
	}

	admin.expect(http.StatusOK, "POST", "/api/v1/group/admin", map[string]string{"username": "jdoe"}, nil)
	admin.expect(http.StatusOK, "PATCH", "/api/v1/user/jdoe", map[string]string{"phone": "987654321"}, &u)
	if u.Phone != "987654321" || u.FirstName != "jane" || !u.IsAdmin {
		t.Fatalf("patched user = %+v", u)
	}
	// The same values again change nothing, so no event.
	admin.expect(http.StatusOK, "PATCH", "/api/v1/user/jdoe", map[string]string{"phone": "987654321"}, nil)
	admin.expect(http.StatusNoContent, "DELETE", "/api/v1/user/jdoe", nil, nil)
	admin.expect(http.StatusNotFound, "GET", "/api/v1/user/jdoe", nil, nil)

	created := `{"email":"janedoe@email.pl","first_name":"jane","last_name":"doe","groups":[],"is_admin":false,"pgp_cert_id":"","pgp_key":"","phone":"123456789","ssh_key":"","username":"jdoe"}`
	inAdmin := `{"email":"janedoe@email.pl","first_name":"jane","last_name":"doe","groups":["admin"],"is_admin":true,"pgp_cert_id":"","pgp_key":"","phone":"123456789","ssh_key":"","username":"jdoe"}`
	newPhone := `{"email":"janedoe@email.pl","first_name":"jane","last_name":"doe","groups":["admin"],"is_admin":true,"pgp_cert_id":"","pgp_key":"","phone":"987654321","ssh_key":"","username":"jdoe"}`
	evs := admin.eventsAfter(start)
	wantEvents(t, evs,
		[3]string{"user_created", "user:jdoe", created},
		[3]string{"group_modified", "group:admin", `{"name":"admin","members":["admin","jdoe"],"is_admin":true}`},
		[3]string{"user_modified", "user:jdoe", inAdmin},
		[3]string{"user_modified", "user:jdoe", newPhone},
		[3]string{"user_deleted", "user:jdoe", `{"username":"jdoe"}`},
		[3]string{"group_modified", "group:admin", `{"name":"admin","members":["admin"],"is_admin":true}`},
	)
	for i, e := range evs {
		if e.Actor != (actor{Type: "user", Username: "admin"}) || e.ID == "" || (i > 0 && e.Seq <= evs[i-1].Seq) {
			t.Fatalf("event %d: actor %+v id %q seq %d", i, e.Actor, e.ID, e.Seq)
		}
	}
}

// PUT replaces every field; the same values fire nothing; a user edits
// their own profile but not their groups, and changes their own password.
func TestUserReplaceAndSelfService(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	admin.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "devs"}, nil)
	admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
		"username": "alice", "first_name": "Alice", "last_name": "A", "email": "alice@example.com", "password": "alice-pass-1",
	}, nil)
	start := admin.lastSeq()

	alice := s.login("alice", "alice-pass-1")
	var me user
	alice.expect(http.StatusOK, "GET", "/api/v1/me", nil, &me)
	if me.Username != "alice" || me.IsAdmin {
		t.Fatalf("me = %+v", me)
	}
	// What GET returns can be sent back with PUT.
	me.Phone = "+48 123"
	alice.expect(http.StatusOK, "PUT", "/api/v1/user/alice", me, &me)
	if me.Phone != "+48 123" {
		t.Fatalf("phone not replaced: %+v", me)
	}
	me.Groups = []string{"devs"}
	r := alice.expect(http.StatusForbidden, "PUT", "/api/v1/user/alice", me, nil)
	if !strings.Contains(r.msg(), "groups") {
		t.Fatalf("403 msg %q does not name groups", r.msg())
	}
	admin.expect(http.StatusOK, "PUT", "/api/v1/user/alice", me, &me)
	if len(me.Groups) != 1 || me.Groups[0] != "devs" {
		t.Fatalf("groups not replaced by admin: %+v", me)
	}
	admin.expect(http.StatusOK, "PUT", "/api/v1/user/alice", me, nil) // no change, no event

	withPhone := `{"email":"alice@example.com","first_name":"Alice","last_name":"A","groups":[],"is_admin":false,"pgp_cert_id":"","pgp_key":"","phone":"+48 123","ssh_key":"","username":"alice"}`
	inDevs := strings.Replace(withPhone, `"groups":[]`, `"groups":["devs"]`, 1)
	wantEvents(t, admin.eventsAfter(start),
		[3]string{"user_modified", "user:alice", withPhone},
		[3]string{"user_modified", "user:alice", inDevs},
		[3]string{"group_modified", "group:devs", `{"name":"devs","members":["alice"],"is_admin":false}`},
	)

	// Password: the old one is required from the user themself.
	alice.expect(http.StatusBadRequest, "PUT", "/api/v1/user/alice/password", map[string]string{"new_password": "alice-pass-2"}, nil)
	alice.expect(http.StatusBadRequest, "PUT", "/api/v1/user/alice/password", map[string]string{"new_password": "alice-pass-2", "old_password": "wrong-pass"}, nil)
	alice.expect(http.StatusNoContent, "PUT", "/api/v1/user/alice/password", map[string]string{"new_password": "alice-pass-2", "old_password": "alice-pass-1"}, nil)
	s.anon().expect(http.StatusUnauthorized, "POST", "/api/v1/auth", map[string]string{"username": "alice", "password": "alice-pass-1"}, nil)
	s.login("alice", "alice-pass-2")
	// An admin resets it without the old one, and alice's sessions end.
	admin.expect(http.StatusNoContent, "PUT", "/api/v1/user/alice/password", map[string]string{"new_password": "alice-pass-3"}, nil)
	alice.expect(http.StatusUnauthorized, "GET", "/api/v1/me", nil, nil)
	s.login("alice", "alice-pass-3")
	// Password changes are not exported fields: no events.
	wantEvents(t, admin.eventsAfter(start)[3:])
}

func TestUserAvailableAndList(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	for _, name := range []string{"zed", "amy", "bob"} {
		admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
			"username": name, "first_name": name, "last_name": "X", "email": name + "@example.com",
		}, nil)
	}
	var users []user
	admin.expect(http.StatusOK, "GET", "/api/v1/user", nil, &users)
	var names []string
	for _, u := range users {
		names = append(names, u.Username)
	}
	if strings.Join(names, ",") != "admin,amy,bob,zed" {
		t.Fatalf("users not sorted by username: %v", names)
	}
	admin.expect(http.StatusOK, "POST", "/api/v1/user/available", map[string]string{"username": "carol"}, nil)
	if r := admin.expect(http.StatusBadRequest, "POST", "/api/v1/user/available", map[string]string{"username": "amy"}, nil); !strings.Contains(r.msg(), "taken") {
		t.Fatalf("taken msg = %q", r.msg())
	}
	admin.expect(http.StatusBadRequest, "POST", "/api/v1/user/available", map[string]string{"username": "Not Valid"}, nil)
	// A user without a password cannot log in.
	s.anon().expect(http.StatusUnauthorized, "POST", "/api/v1/auth", map[string]string{"username": "amy", "password": "anything-at-all"}, nil)
}
