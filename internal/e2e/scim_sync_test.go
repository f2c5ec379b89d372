package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
)

// A user created, modified and deleted in Herald is created, updated and
// deleted at the provider: userName, names, primary email, phone, active
// and externalId (Herald's user id) as a person at the provider would see
// them; the delivery log shows each change delivered.
func TestSCIMUserLifecycle(t *testing.T) {
	t.Parallel()
	forEachSCIMProvider(t, func(t *testing.T, p scimProvider) {
		s := startServer(t)
		admin := s.admin()
		target := addSCIMTarget(admin, p, nil)

		var u herald.User
		admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
			"username": "alice", "first_name": "Alice", "last_name": "Archer",
			"email": "alice@example.com", "phone": "+15550001",
		}, &u)
		st := waitSCIM(t, p, admin, target, "create", func(st scimState) string {
			return wantUser(st, "alice", "Alice", "Archer", "alice@example.com", "+15550001", true)
		})
		got, _ := st.user("alice")
		if got.ExternalID != strconv.FormatInt(u.ID, 10) {
			t.Errorf("externalId = %q, want Herald's user id %d", got.ExternalID, u.ID)
		}
		providerID := got.ID

		// Each profile field, then all of them at once.
		for _, change := range []map[string]string{
			{"first_name": "Alicia"},
			{"last_name": "Bowman"},
			{"email": "alicia@example.org"},
			{"phone": "+15550002"},
			{"first_name": "Ally", "last_name": "Carter", "email": "ally@example.net", "phone": "+15550003"},
		} {
			admin.expect(http.StatusOK, "PATCH", "/api/v1/user/alice", change, &u)
			st = waitSCIM(t, p, admin, target, fmt.Sprintf("modify %v", change), func(st scimState) string {
				return wantUser(st, "alice", u.FirstName, u.LastName, u.Email, u.Phone, true)
			})
			if got, _ := st.user("alice"); got.ID != providerID {
				t.Fatalf("after %v alice has provider id %q, want %q (the same account)", change, got.ID, providerID)
			}
		}

		admin.expect(http.StatusNoContent, "DELETE", "/api/v1/user/alice", nil, nil)
		waitSCIM(t, p, admin, target, "delete", func(st scimState) string { return noUser(st, "alice") })

		ds := waitDelivered(t, admin, target)
		var events []string
		for _, d := range ds {
			if d.Subject == "user:alice" {
				events = append(events, d.Event)
				if d.Status != "succeeded" {
					t.Errorf("delivery %d (%s) is %s, want succeeded", d.ID, d.Event, d.Status)
				}
			}
		}
		slices.Sort(events)
		want := []string{"user_created", "user_deleted", "user_modified", "user_modified", "user_modified", "user_modified", "user_modified"}
		if !slices.Equal(events, want) {
			t.Errorf("delivery log for user:alice has %v, want %v\n%s", events, want, describeDeliveries(ds))
		}
	})
}

// With deprovision "deactivate" a user deleted in Herald stays at the
// provider, marked inactive, with the same id.
func TestSCIMDeprovisionDeactivate(t *testing.T) {
	t.Parallel()
	forEachSCIMProvider(t, func(t *testing.T, p scimProvider) {
		s := startServer(t)
		admin := s.admin()
		target := addSCIMTarget(admin, p, func(c *scimTargetConfig) { c.Deprovision = "deactivate" })
		createUser(admin, "dave")
		st := waitSCIM(t, p, admin, target, "create", func(st scimState) string {
			return wantUser(st, "dave", "dave", "X", "dave@example.com", "", true)
		})
		before, _ := st.user("dave")

		admin.expect(http.StatusNoContent, "DELETE", "/api/v1/user/dave", nil, nil)
		st = waitSCIM(t, p, admin, target, "deactivate", func(st scimState) string {
			return wantUser(st, "dave", "dave", "X", "dave@example.com", "", false)
		})
		if after, _ := st.user("dave"); after.ID != before.ID {
			t.Errorf("deactivated dave has id %q, want %q", after.ID, before.ID)
		}
		waitDelivered(t, admin, target)
	})
}

// With sync_groups, a group and its members appear at the provider;
// joining, leaving and renaming show there, the group keeping its id.
func TestSCIMGroups(t *testing.T) {
	t.Parallel()
	forEachSCIMProvider(t, func(t *testing.T, p scimProvider) {
		s := startServer(t)
		admin := s.admin()
		target := addSCIMTarget(admin, p, func(c *scimTargetConfig) { c.SyncGroups = true })
		createUser(admin, "amy")
		createUser(admin, "bob")

		members := func(group string, want ...string) func(scimState) string {
			return func(st scimState) string {
				g, ok := st.group(group)
				if !ok {
					return fmt.Sprintf("no group %q", group)
				}
				got := st.memberNames(g)
				slices.Sort(got)
				if !slices.Equal(got, want) {
					return fmt.Sprintf("group %q has members %v, want %v", group, got, want)
				}
				return ""
			}
		}

		admin.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "devs", "members": []string{"amy"}}, nil)
		st := waitSCIM(t, p, admin, target, "create group", members("devs", "amy"))
		g, _ := st.group("devs")
		groupID := g.ID

		admin.expect(http.StatusOK, "POST", "/api/v1/group/devs", map[string]string{"username": "bob"}, nil)
		waitSCIM(t, p, admin, target, "bob joins", members("devs", "amy", "bob"))

		admin.expect(http.StatusNoContent, "DELETE", "/api/v1/group/devs/user/amy", nil, nil)
		waitSCIM(t, p, admin, target, "amy leaves", members("devs", "bob"))

		admin.expect(http.StatusOK, "PUT", "/api/v1/group/devs", map[string]any{"name": "ops", "members": []string{"bob"}, "is_admin": false}, nil)
		st = waitSCIM(t, p, admin, target, "rename", func(st scimState) string {
			if _, ok := st.group("devs"); ok {
				return "group devs still there"
			}
			return members("ops", "bob")(st)
		})
		if g, _ := st.group("ops"); g.ID != groupID {
			t.Errorf("renamed group has id %q, want %q (the same group)", g.ID, groupID)
		}
		// Both users are still there: leaving a group is no deprovisioning.
		for _, name := range []string{"amy", "bob"} {
			if problem := wantUser(st, name, name, "X", name+"@example.com", "", true); problem != "" {
				t.Error(problem)
			}
		}

		admin.expect(http.StatusNoContent, "DELETE", "/api/v1/group/ops", nil, nil)
		waitSCIM(t, p, admin, target, "group deleted", func(st scimState) string {
			if _, ok := st.group("ops"); ok {
				return "group ops still there"
			}
			return ""
		})
		waitDelivered(t, admin, target)
	})
}

// An account that exists at the provider before Herald creates a user of
// the same userName is adopted: no duplicate, its id kept, and Herald's
// later changes land on it.
func TestSCIMAdoption(t *testing.T) {
	t.Parallel()
	forEachSCIMProvider(t, func(t *testing.T, p scimProvider) {
		s := startServer(t)
		admin := s.admin()
		existing := scimCreateUser(t, p, "carol", "Caroline", "Old")
		target := addSCIMTarget(admin, p, nil)

		admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
			"username": "carol", "first_name": "Carol", "last_name": "New", "email": "carol@example.com",
		}, nil)
		waitDelivered(t, admin, target)
		admin.expect(http.StatusOK, "PATCH", "/api/v1/user/carol", map[string]string{"last_name": "Newer"}, nil)
		st := waitSCIM(t, p, admin, target, "adopt and modify", func(st scimState) string {
			return wantUser(st, "carol", "Carol", "Newer", "carol@example.com", "", true)
		})
		if u, _ := st.user("carol"); u.ID != existing {
			t.Errorf("carol at the provider has id %q, want the existing account's %q", u.ID, existing)
		}
		waitDelivered(t, admin, target)
		// Only the test itself created a user there.
		posts := 0
		for _, c := range p.calls(t) {
			if strings.HasPrefix(c, "POST /Users") {
				posts++
			}
		}
		if posts != 1 {
			t.Errorf("%d POST /Users at the provider, want 1 (the account made before Herald): %q", posts, p.calls(t))
		}
	})
}

// With only_groups, a user outside the listed groups is not provisioned;
// joining one provisions them, and leaving the last listed group
// deprovisions them.
func TestSCIMOnlyGroups(t *testing.T) {
	t.Parallel()
	forEachSCIMProvider(t, func(t *testing.T, p scimProvider) {
		s := startServer(t)
		admin := s.admin()
		admin.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "staff", "members": []string{}}, nil)
		admin.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "contractors", "members": []string{}}, nil)
		target := addSCIMTarget(admin, p, func(c *scimTargetConfig) { c.OnlyGroups = []string{"staff", "contractors"} })

		createUser(admin, "inside")
		createUser(admin, "outside")
		admin.expect(http.StatusOK, "POST", "/api/v1/group/staff", map[string]string{"username": "inside"}, nil)
		waitSCIM(t, p, admin, target, "member of staff", func(st scimState) string {
			return wantUser(st, "inside", "inside", "X", "inside@example.com", "", true)
		})
		waitDelivered(t, admin, target)
		st := p.state(t)
		for _, name := range []string{"outside", "admin"} {
			if problem := noUser(st, name); problem != "" {
				t.Errorf("%s is in none of the target's groups: %s", name, problem)
			}
		}

		// In two listed groups, leaving one keeps the user.
		admin.expect(http.StatusOK, "POST", "/api/v1/group/contractors", map[string]string{"username": "inside"}, nil)
		admin.expect(http.StatusNoContent, "DELETE", "/api/v1/group/staff/user/inside", nil, nil)
		waitDelivered(t, admin, target)
		if problem := wantUser(p.state(t), "inside", "inside", "X", "inside@example.com", "", true); problem != "" {
			t.Errorf("inside left staff but is still in contractors: %s", problem)
		}
		admin.expect(http.StatusNoContent, "DELETE", "/api/v1/group/contractors/user/inside", nil, nil)
		waitSCIM(t, p, admin, target, "left the last listed group", func(st scimState) string { return noUser(st, "inside") })

		admin.expect(http.StatusOK, "POST", "/api/v1/group/staff", map[string]string{"username": "outside"}, nil)
		waitSCIM(t, p, admin, target, "outside joins staff", func(st scimState) string {
			return wantUser(st, "outside", "outside", "X", "outside@example.com", "", true)
		})
		ds := waitDelivered(t, admin, target)
		for _, d := range ds {
			if strings.HasPrefix(d.Subject, "user:admin") {
				t.Errorf("delivery log has %s %s, a user outside only_groups:\n%s", d.Event, d.Subject, describeDeliveries(ds))
			}
		}
	})
}
