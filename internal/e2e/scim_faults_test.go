package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/app"
)

// A provider that lost all its data gets everything back from a resync:
// the report counts what was missing, the provider then holds every user
// and group again, and a second resync finds nothing to do.
func TestSCIMResyncAfterDataLoss(t *testing.T) {
	t.Parallel()
	forEachSCIMProvider(t, func(t *testing.T, p scimProvider) {
		s := startServer(t)
		admin := s.admin()
		target := addSCIMTarget(admin, p, func(c *scimTargetConfig) { c.SyncGroups = true })
		// What existed before the target (the first admin and its group)
		// reaches it by a first resync.
		var rep herald.SCIMResync
		admin.expect(http.StatusOK, "POST", fmt.Sprintf("/api/v1/scim_target/%d/resync", target), nil, &rep)
		if want := (herald.SCIMResyncCounts{Created: 1}); rep.Users != want || rep.Groups != want || rep.Error != "" {
			t.Errorf("first resync = users %+v, groups %+v (error %q), want the admin and its group created", rep.Users, rep.Groups, rep.Error)
		}
		for _, name := range []string{"ann", "ben", "cat"} {
			createUser(admin, name)
		}
		admin.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "devs", "members": []string{"ann", "ben"}}, nil)
		var users []herald.User
		admin.expect(http.StatusOK, "GET", "/api/v1/user", nil, &users)
		var groups []herald.Group
		admin.expect(http.StatusOK, "GET", "/api/v1/group", nil, &groups)
		everything := func(st scimState) string {
			for _, u := range users {
				if problem := wantUser(st, u.Username, u.FirstName, u.LastName, u.Email, u.Phone, true); problem != "" {
					return problem
				}
			}
			for _, g := range groups {
				sg, ok := st.group(g.Name)
				if !ok {
					return fmt.Sprintf("no group %q", g.Name)
				}
				got := st.memberNames(sg)
				slices.Sort(got)
				want := slices.Clone(g.Members)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					return fmt.Sprintf("group %q has members %v, want %v", g.Name, got, want)
				}
			}
			return ""
		}
		waitSCIM(t, p, admin, target, "before the loss", everything)
		waitDelivered(t, admin, target)

		p.reset(t)
		admin.expect(http.StatusOK, "POST", fmt.Sprintf("/api/v1/scim_target/%d/resync", target), nil, &rep)
		if rep.Error != "" {
			t.Fatalf("resync error: %s", rep.Error)
		}
		wantCounts := herald.SCIMResyncCounts{Created: len(users)}
		if rep.Users != wantCounts {
			t.Errorf("resync users = %+v, want %+v", rep.Users, wantCounts)
		}
		if want := (herald.SCIMResyncCounts{Created: len(groups)}); rep.Groups != want {
			t.Errorf("resync groups = %+v, want %+v", rep.Groups, want)
		}
		waitSCIM(t, p, admin, target, "after the resync", everything)
		waitDelivered(t, admin, target)

		admin.expect(http.StatusOK, "POST", fmt.Sprintf("/api/v1/scim_target/%d/resync", target), nil, &rep)
		if want := (herald.SCIMResyncCounts{Unchanged: len(users)}); rep.Users != want || rep.Error != "" {
			t.Errorf("second resync users = %+v (error %q), want %+v", rep.Users, rep.Error, want)
		}
		if want := (herald.SCIMResyncCounts{Unchanged: len(groups)}); rep.Groups != want {
			t.Errorf("second resync groups = %+v, want %+v", rep.Groups, want)
		}
		var got herald.SCIMTarget
		admin.expect(http.StatusOK, "GET", fmt.Sprintf("/api/v1/scim_target/%d", target), nil, &got)
		if got.LastResync == nil || got.LastResync.Users != rep.Users {
			t.Errorf("the target's last_resync = %+v, want the last report %+v", got.LastResync, rep)
		}
		if got.Token != "" && got.Token == p.token() {
			t.Errorf("GET scim_target shows the token")
		}
	})
}

// While the provider answers 500, Herald keeps the changes and retries
// them; once it recovers, it holds the last state (a create then two
// modifications of one field, applied in order), and nothing failed.
func TestSCIMProviderFailing(t *testing.T) {
	t.Parallel()
	forEachSCIMProvider(t, func(t *testing.T, p scimProvider) {
		// A schedule long enough (about 5 s) to outlast the outage.
		s := startServer(t, func(c *app.Config) {
			c.RetrySchedule = []time.Duration{0, 20 * time.Millisecond, 50 * time.Millisecond}
			for range 25 {
				c.RetrySchedule = append(c.RetrySchedule, 200*time.Millisecond)
			}
		})
		admin := s.admin()
		target := addSCIMTarget(admin, p, nil)
		p.setFailing(t, true)
		admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
			"username": "eve", "first_name": "Eve", "last_name": "First", "email": "eve@example.com",
		}, nil)
		admin.expect(http.StatusOK, "PATCH", "/api/v1/user/eve", map[string]string{"last_name": "Second"}, nil)
		admin.expect(http.StatusOK, "PATCH", "/api/v1/user/eve", map[string]string{"last_name": "Third", "phone": "+15550009"}, nil)

		// The outage lasts until Herald has retried at least twice.
		deadline := time.Now().Add(scimWait())
		for {
			ds := admin.scimDeliveries(target)
			retried := slices.ContainsFunc(ds, func(d delivery) bool {
				return d.Subject == "user:eve" && d.Status == "retrying" && d.Attempts >= 2 && d.LastStatusCode == 500
			})
			if retried {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no delivery of user:eve was retried after a 500:\n%s", describeDeliveries(ds))
			}
			time.Sleep(20 * time.Millisecond)
		}
		if st := p.state(t); len(st.Users) != 0 {
			t.Fatalf("a failing provider holds users: %+v", st.Users)
		}
		p.setFailing(t, false)

		waitSCIM(t, p, admin, target, "after the outage", func(st scimState) string {
			return wantUser(st, "eve", "Eve", "Third", "eve@example.com", "+15550009", true)
		})
		ds := waitDelivered(t, admin, target)
		n := 0
		for _, d := range ds {
			if d.Subject == "user:eve" {
				n++
				if d.Status != "succeeded" {
					t.Errorf("delivery %d (%s) is %s", d.ID, d.Event, d.Status)
				}
			}
		}
		if n != 3 {
			t.Errorf("delivery log has %d deliveries of user:eve, want 3:\n%s", n, describeDeliveries(ds))
		}
	})
}

// Herald killed with SIGKILL while it provisions: after a restart every
// user reaches the provider once, with its last values.
func TestSCIMCrashLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the herald binary")
	}
	t.Parallel()
	bin := buildHerald(t)
	forEachSCIMProvider(t, func(t *testing.T, p scimProvider) {
		dir := t.TempDir()
		database := newDatabase(t)
		logs := &lockedBuffer{}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("herald's stderr (last 32 KiB):\n%s", logs.tail(32<<10))
			}
		})
		proc := startHeraldProcess(t, bin, dir, database, logs)
		admin := (&testServer{t: t, URL: proc.url}).admin()
		var tok struct {
			Token string `json:"token"`
		}
		admin.expect(http.StatusCreated, "POST", "/api/v1/user/admin/api_token", map[string]string{"name": "scim-crash"}, &tok)
		api := crashAPI{base: proc.url, token: tok.Token, http: &http.Client{}}
		target := api.addSCIMTarget(t, p)

		// While the provider fails, the changes queue up; it recovers, and
		// Herald dies as soon as the first user has arrived.
		p.setFailing(t, true)
		const n = 20
		for i := range n {
			api.mustCall(t, http.StatusCreated, "POST", "/api/v1/user", crashNewUser(fmt.Sprintf("k%02d", i)))
		}
		for i := 0; i < n; i += 2 {
			api.mustCall(t, http.StatusOK, "PATCH", fmt.Sprintf("/api/v1/user/k%02d", i), map[string]string{"last_name": "Changed"})
		}
		p.setFailing(t, false)
		deadline := time.Now().Add(scimWait())
		for len(p.state(t).Users) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("no user reached the provider in %v", scimWait())
			}
			time.Sleep(5 * time.Millisecond)
		}
		proc.kill(t)
		t.Logf("SIGKILL with %d of %d users at the provider", len(p.state(t).Users), n)

		proc = startHeraldProcess(t, bin, dir, database, logs)
		api.base = proc.url
		api.mustCall(t, http.StatusCreated, "POST", "/api/v1/user", crashNewUser("after"))

		// On PostgreSQL what the dead process had leased waits for its
		// lease (the timeouts plus 10 s) before anyone takes it again.
		wait := scimWait()
		if onPostgres() {
			wait = 60 * time.Second
		}
		deadline = time.Now().Add(wait)
		for {
			st := p.state(t)
			problem := ""
			for i := range n {
				name := fmt.Sprintf("k%02d", i)
				last := "L" + name
				if i%2 == 0 {
					last = "Changed"
				}
				if problem = wantUser(st, name, "F"+name, last, name+"@example.com", "", true); problem != "" {
					break
				}
			}
			if problem == "" {
				problem = wantUser(st, "after", "Fafter", "Lafter", "after@example.com", "", true)
			}
			if problem == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after the restart: %s\nprovider users: %+v\ndelivery log:\n%s", problem, st.Users, api.scimDeliveries(t, target))
			}
			time.Sleep(25 * time.Millisecond)
		}
		proc.kill(t)
	})
}

// addSCIMTarget creates an enabled target for p on a herald process.
func (a crashAPI) addSCIMTarget(t *testing.T, p scimProvider) int64 {
	t.Helper()
	body := scimTargetConfig{Name: "provider", BaseURL: p.baseURL(), Token: p.token(), Enabled: true,
		OnlyGroups: []string{}, Deprovision: "delete"}
	data := a.mustCall(t, http.StatusCreated, "POST", "/api/v1/scim_target", body)
	var out struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(data, &out); err != nil || out.ID == 0 {
		t.Fatalf("POST /api/v1/scim_target: %s (%v)", data, err)
	}
	return out.ID
}

// scimDeliveries renders a target's delivery log.
func (a crashAPI) scimDeliveries(t *testing.T, target int64) string {
	var ds []delivery
	a.get(t, fmt.Sprintf("/api/v1/scim_target/%d/deliveries?limit=1000", target), &ds)
	return describeDeliveries(ds)
}

// mustCall makes an API call and fails the test unless it answers want.
func (a crashAPI) mustCall(t *testing.T, want int, method, path string, body any) []byte {
	t.Helper()
	st, data, err := a.call(method, path, body)
	if err != nil || st != want {
		t.Fatalf("%s %s: %d %s %v, want %d", method, path, st, data, err, want)
	}
	return data
}
