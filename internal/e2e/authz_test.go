package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/api"
)

// The five kinds of caller of the authorization matrix (docs/security.md,
// "Who may call what").
const (
	actorAnon    = "anonymous"
	actorOther   = "other-user" // bob, not an admin, acting on alice
	actorSelf    = "self"       // the user the call is about, not an admin
	actorAdmin   = "admin"
	actorStation = "station" // a provisioning station token for station1
)

var authzActors = []string{actorAnon, actorOther, actorSelf, actorAdmin, actorStation}

// addAliceAndBob creates the two plain users of the authorization tests,
// with passwords authzAlicePassword and authzBobPassword.
func addAliceAndBob(adm *client) {
	adm.t.Helper()
	for _, u := range []struct{ name, first, password string }{{"alice", "Alice", authzAlicePassword}, {"bob", "Bob", authzBobPassword}} {
		adm.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
			"username": u.name, "first_name": u.first, "last_name": "L", "email": u.name + "@example.com", "password": u.password,
		}, nil)
	}
}

const (
	authzAlicePassword = "alice-password-1"
	authzBobPassword   = "bob-password-1"
	// A public test key (internal/keys/testdata/ssh_ed25519.pub).
	authzSSHKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINm8IWDBz1A7/lHTA42WmIRXj5hmonpsWfLUU/fpZT+j test-ed25519@example.com"
)

// authzWant lists the expected status for each actor, in the order of
// authzActors.
func authzWant(anon, other, self, admin, station int) map[string]int {
	return map[string]int{actorAnon: anon, actorOther: other, actorSelf: self, actorAdmin: admin, actorStation: station}
}

// authzEveryone expects the same status for every actor.
func authzEveryone(status int) map[string]int {
	return authzWant(status, status, status, status, status)
}

// authzAdminOnly: anonymous callers must log in; everybody but an admin
// is refused.
func authzAdminOnly(ok int) map[string]int {
	return authzWant(http.StatusUnauthorized, http.StatusForbidden, http.StatusForbidden, ok, http.StatusForbidden)
}

// authzSelfOrAdmin: the user themself and admins may; stations and other
// users may not.
func authzSelfOrAdmin(ok int) map[string]int {
	return authzWant(http.StatusUnauthorized, http.StatusForbidden, ok, ok, http.StatusForbidden)
}

// authzStationOnly: only the station token may.
func authzStationOnly(ok int) map[string]int {
	return authzWant(http.StatusUnauthorized, http.StatusForbidden, http.StatusForbidden, http.StatusForbidden, ok)
}

// authzEnv is one server with the fixtures every row starts from, seen by
// one actor.
type authzEnv struct {
	t     *testing.T
	s     *testServer
	actor string
	admin *client // admin session, for setting up and checking
	alice *client // alice's session (actor self)
	bob   *client // bob's session (actor other-user)

	station1, station2 string // station tokens
	aliceJob           int64  // a pending job for alice on station2
	aliceToken         int64  // an API token of alice
	n                  int    // counter for fresh names

	receiver *httptest.Server // webhook receiver answering 204
	testSent atomic.Int64     // webhook_test requests it got
	webhook  int64            // a webhook on user_created, to receiver
	delivery int64            // a succeeded delivery of webhook
}

// authzFixture is what one row acts on. Unless the row asks for fresh
// fixtures, the user is alice and the group is "staff" (member: bob).
type authzFixture struct {
	t        *testing.T
	env      *authzEnv
	admin    *client // admin, bound to this row's t
	user     string  // the user the call is about; the self actor is this user
	password string
	email    string
	group    string
	job      int64
	tokenID  int64
	webhook  int64
	delivery int64
}

type authzRow struct {
	route string // the pattern as registered in internal/api ("" for none)
	name  string
	path  func(f *authzFixture) string
	body  func(f *authzFixture) any
	// fresh makes a new user the subject of the call (the self actor logs
	// in as them), for calls that change or delete the user.
	fresh bool
	// freshSession makes the actor log in anew, for calls that end the
	// session.
	freshSession bool
	setup        func(f *authzFixture)
	// check, if set, verifies after the call that the state agrees with
	// the answer (a refused call changed nothing, an allowed one did).
	check func(f *authzFixture, allowed bool)
	want  map[string]int
}

func authzFixed(p string) func(*authzFixture) string { return func(*authzFixture) string { return p } }

func (e *authzEnv) fresh(prefix string) string {
	e.n++
	return fmt.Sprintf("%s%d", prefix, e.n)
}

// authzFork returns a copy of c bound to t with its own cookie jar holding
// c's cookies, so what a row does to its cookies stays in that row.
func (c *client) authzFork(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	u, err := url.Parse(c.base)
	if err != nil {
		t.Fatal(err)
	}
	if c.http.Jar != nil {
		jar.SetCookies(u, c.http.Jar.Cookies(u))
	}
	hc := *c.http
	hc.Jar = jar
	return &client{t: t, base: c.base, http: &hc, bearer: c.bearer, header: c.header.Clone()}
}

// authzLogin logs in with a session cookie, failing t (not the server's
// test).
func authzLogin(t *testing.T, s *testServer, username, password string) *client {
	t.Helper()
	c := s.anon()
	c.t = t
	c.expect(http.StatusOK, "POST", "/api/v1/auth", map[string]string{"username": username, "password": password}, nil)
	return c
}

// checkAuthzErrorBody fails unless a non-2xx answer is JSON with a
// non-empty msg.
func checkAuthzErrorBody(t *testing.T, method, path string, r response) {
	t.Helper()
	if r.Status >= 200 && r.Status < 300 {
		return
	}
	var m struct {
		Msg *string `json:"msg"`
	}
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Errorf("%s %s: status %d with a body that is not JSON (%v): %q", method, path, r.Status, err, r.Body)
		return
	}
	if m.Msg == nil || strings.TrimSpace(*m.Msg) == "" {
		t.Errorf("%s %s: status %d without a msg: %s", method, path, r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: status %d with Content-Type %q, want application/json", method, path, r.Status, ct)
	}
}

func newAuthzEnv(t *testing.T, actor string) *authzEnv {
	s := startServer(t)
	adm := authzLogin(t, s, "admin", adminPassword)
	e := &authzEnv{t: t, s: s, actor: actor, admin: adm}
	// What the receiver got is checked against openapi.json's webhooks
	// at the end, as every test receiver's is (newReceiver).
	var mu sync.Mutex
	var got []received
	e.receiver = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, received{Method: r.Method, Header: r.Header.Clone(), Body: body, At: time.Now(), readErr: err})
		mu.Unlock()
		if r.Header.Get("X-Defguard-Event") == "webhook_test" {
			e.testSent.Add(1)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(func() {
		e.receiver.Close()
		mu.Lock()
		defer mu.Unlock()
		if len(got) == 0 {
			t.Error("the authorization matrix's receiver got no request to check")
		}
		checkAgainstWebhookDoc(t, got)
	})
	var hook struct{ ID int64 }
	adm.expect(http.StatusCreated, "POST", "/api/v1/webhook", map[string]any{
		"url": e.receiver.URL + "/hook", "description": "authz matrix", "on_user_created": true,
	}, &hook)
	e.webhook = hook.ID
	addAliceAndBob(adm)
	adm.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "staff", "members": []string{"bob"}}, nil)
	var job struct{ ID int64 }
	adm.expect(http.StatusCreated, "POST", "/api/v1/worker/job", map[string]string{"username": "alice", "worker": "station2"}, &job)
	e.aliceJob = job.ID
	var tok struct{ ID int64 }
	adm.expect(http.StatusCreated, "POST", "/api/v1/user/alice/api_token", map[string]string{"name": "laptop"}, &tok)
	e.aliceToken = tok.ID
	var st struct{ Token string }
	adm.expect(http.StatusCreated, "POST", "/api/v1/worker/token", map[string]string{"worker": "station1"}, &st)
	e.station1 = st.Token
	adm.expect(http.StatusCreated, "POST", "/api/v1/worker/token", map[string]string{"worker": "station2"}, &st)
	e.station2 = st.Token
	// Wait for a user_created to reach the receiver, so that its delivery
	// can be redelivered.
	deadline := time.Now().Add(10 * time.Second)
	for e.delivery == 0 {
		var ds []struct {
			ID      int64
			Subject string
			Status  string
		}
		adm.expect(http.StatusOK, "GET", fmt.Sprintf("/api/v1/webhook/%d/delivery", e.webhook), nil, &ds)
		for _, d := range ds {
			if d.Status == "succeeded" {
				e.delivery = d.ID
			}
		}
		if e.delivery == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("no delivery of webhook %d succeeded: %+v", e.webhook, ds)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	switch actor {
	case actorSelf:
		e.alice = authzLogin(t, s, "alice", authzAlicePassword)
	case actorOther:
		e.bob = authzLogin(t, s, "bob", authzBobPassword)
	}
	return e
}

// fixture prepares what row acts on.
func (e *authzEnv) fixture(t *testing.T, row authzRow) *authzFixture {
	t.Helper()
	f := &authzFixture{t: t, env: e, admin: e.admin.authzFork(t),
		user: "alice", password: authzAlicePassword, email: "alice@example.com",
		group: "staff", job: e.aliceJob, tokenID: e.aliceToken,
		webhook: e.webhook, delivery: e.delivery}
	if row.fresh {
		f.user = e.fresh("user")
		f.password = f.user + "-password"
		f.email = f.user + "@example.com"
		f.admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
			"username": f.user, "first_name": "Fresh", "last_name": "User", "email": f.email, "password": f.password,
		}, nil)
	}
	if row.setup != nil {
		row.setup(f)
	}
	return f
}

// client returns the row's actor, acting as f says.
func (e *authzEnv) client(t *testing.T, row authzRow, f *authzFixture) *client {
	t.Helper()
	switch e.actor {
	case actorAnon:
		c := e.s.anon()
		c.t = t
		return c
	case actorOther:
		if row.freshSession {
			return authzLogin(t, e.s, "bob", authzBobPassword)
		}
		return e.bob.authzFork(t)
	case actorSelf:
		if row.fresh || row.freshSession {
			return authzLogin(t, e.s, f.user, f.password)
		}
		return e.alice.authzFork(t)
	case actorAdmin:
		if row.freshSession {
			return authzLogin(t, e.s, "admin", adminPassword)
		}
		return e.admin.authzFork(t)
	case actorStation:
		c := e.s.withToken(e.station1)
		c.t = t
		return c
	}
	t.Fatalf("unknown actor %q", e.actor)
	return nil
}

// Setup helpers for rows.

func authzNewToken(f *authzFixture) {
	var tok struct{ ID int64 }
	f.admin.expect(http.StatusCreated, "POST", "/api/v1/user/"+f.user+"/api_token", map[string]string{"name": "spare"}, &tok)
	f.tokenID = tok.ID
}

// authzNewStationToken makes a spare station token the row may revoke.
func authzNewStationToken(f *authzFixture) {
	var tok struct{ ID int64 }
	f.admin.expect(http.StatusCreated, "POST", "/api/v1/worker/token", map[string]string{"worker": "spare"}, &tok)
	f.tokenID = tok.ID
}

func authzNewGroup(withUser bool) func(f *authzFixture) {
	return func(f *authzFixture) {
		f.group = f.env.fresh("group")
		members := []string{"bob"}
		if withUser {
			members = append(members, f.user)
		}
		f.admin.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": f.group, "members": members}, nil)
	}
}

func authzNewJob(worker string) func(f *authzFixture) {
	return func(f *authzFixture) {
		var job struct{ ID int64 }
		f.admin.expect(http.StatusCreated, "POST", "/api/v1/worker/job", map[string]string{"username": f.user, "worker": worker}, &job)
		f.job = job.ID
	}
}

// authzRunningJob makes a job for the user on worker and has that station
// take it, so it is running.
func authzRunningJob(worker string) func(f *authzFixture) {
	return func(f *authzFixture) {
		authzNewJob(worker)(f)
		token := f.env.station1
		if worker == "station2" {
			token = f.env.station2
		}
		st := f.env.s.withToken(token)
		st.t = f.t
		for range 100 {
			var got struct{ ID int64 }
			r := st.do("GET", "/api/v1/worker/job?worker="+worker, nil)
			if r.Status != http.StatusOK {
				f.t.Fatalf("station %s takes a job: status %d, want 200; body %s", worker, r.Status, r.Body)
			}
			if err := json.Unmarshal(r.Body, &got); err != nil {
				f.t.Fatalf("station %s takes a job: %v: %s", worker, err, r.Body)
			}
			if got.ID == f.job {
				return
			}
		}
		f.t.Fatalf("station %s never got job %d", worker, f.job)
	}
}

func authzNewWebhook(f *authzFixture) {
	var hook struct{ ID int64 }
	f.admin.expect(http.StatusCreated, "POST", "/api/v1/webhook", map[string]any{
		"url": f.env.receiver.URL + "/other", "description": "spare", "on_user_deleted": true,
	}, &hook)
	f.webhook = hook.ID
}

// authzNewSCIMTarget makes a SCIM target, enabled, at an address that
// refuses connections, and keeps its id in f.webhook.
func authzNewSCIMTarget(f *authzFixture) {
	var target struct{ ID int64 }
	f.admin.expect(http.StatusCreated, "POST", "/api/v1/scim_target", map[string]any{
		"name": "spare", "base_url": "http://127.0.0.1:9/scim/v2",
	}, &target)
	f.webhook = target.ID
}

// Checks for rows.

func (f *authzFixture) getUser(username string) (response, map[string]any) {
	var u map[string]any
	r := f.admin.do("GET", "/api/v1/user/"+username, nil)
	if r.Status == http.StatusOK {
		if err := json.Unmarshal(r.Body, &u); err != nil {
			f.t.Fatalf("GET user %s: %v", username, err)
		}
	}
	return r, u
}

func (f *authzFixture) userGroups() []string {
	var u struct{ Groups []string }
	f.admin.expect(http.StatusOK, "GET", "/api/v1/user/"+f.user, nil, &u)
	return u.Groups
}

// groupMembers returns the group's members, sorted.
func (f *authzFixture) groupMembers() []string {
	var g struct{ Members []string }
	f.admin.expect(http.StatusOK, "GET", "/api/v1/group/"+f.group, nil, &g)
	slices.Sort(g.Members)
	return g.Members
}

func authzSorted(s ...string) []string {
	slices.Sort(s)
	return s
}

func (f *authzFixture) jobStatus() string {
	var j struct{ Status string }
	f.admin.expect(http.StatusOK, "GET", "/api/v1/worker/"+strconv.FormatInt(f.job, 10), nil, &j)
	return j.Status
}

func (f *authzFixture) exists(path string, allowedMeansGone, allowed bool) {
	r := f.admin.do("GET", path, nil)
	gone := r.Status == http.StatusNotFound
	if !gone && r.Status != http.StatusOK {
		f.t.Fatalf("GET %s: status %d; body %s", path, r.Status, r.Body)
	}
	if wantGone := allowed == allowedMeansGone; gone != wantGone {
		f.t.Errorf("after the call (allowed=%v) GET %s answers %d", allowed, path, r.Status)
	}
}

func (f *authzFixture) canLogin(password string, want bool) {
	r := f.env.s.anon()
	r.t = f.t
	resp := r.do("POST", "/api/v1/auth", map[string]string{"username": f.user, "password": password})
	if got := resp.Status == http.StatusOK; got != want {
		f.t.Errorf("login as %s with %q: status %d, want success=%v", f.user, password, resp.Status, want)
	}
}

func (f *authzFixture) getWebhook() (response, map[string]any) {
	var w map[string]any
	r := f.admin.do("GET", fmt.Sprintf("/api/v1/webhook/%d", f.webhook), nil)
	if r.Status == http.StatusOK {
		if err := json.Unmarshal(r.Body, &w); err != nil {
			f.t.Fatalf("GET webhook %d: %v", f.webhook, err)
		}
	}
	return r, w
}

func authzWantState(f *authzFixture, what string, got, want any) {
	if fmt.Sprint(got) != fmt.Sprint(want) {
		f.t.Errorf("after the call %s is %v, want %v", what, got, want)
	}
}

// authzRegisteredRoutes returns the patterns of internal/api's route table,
// so a new endpoint cannot be added without a row in the matrix.
func authzRegisteredRoutes(t *testing.T) []string {
	t.Helper()
	var routes []string
	for _, r := range api.New(nil, nil).Routes() {
		routes = append(routes, r.Pattern)
	}
	return routes
}

func authzRowMethod(row authzRow) string {
	if row.route == "" {
		return "GET"
	}
	m, _, _ := strings.Cut(row.route, " ")
	return m
}

// TestAuthorizationMatrix calls every API endpoint as each kind of caller
// and checks the exact status (docs/security.md, "Who may call what"): admins may do
// everything; a user who is not an admin may read and change their own
// profile (not their groups), their password (with the old one), their API
// tokens, and start and read their own provisioning jobs; a station token
// may only use the station API; webhooks are for admins only; the health
// check and authorized keys are public. A state check after most calls
// makes sure a refused call changed nothing and an allowed one did.
func TestAuthorizationMatrix(t *testing.T) {
	rows := authzRows()

	t.Run("covers every route", func(t *testing.T) {
		t.Parallel()
		registered := authzRegisteredRoutes(t)
		covered := map[string]bool{}
		for _, row := range rows {
			if row.route == "" {
				continue
			}
			covered[row.route] = true
			if !slices.Contains(registered, row.route) {
				t.Errorf("row %q: route %q is not registered by internal/api", row.name, row.route)
			}
			for _, a := range authzActors {
				if _, ok := row.want[a]; !ok {
					t.Errorf("row %s %s: no expected status for %s", row.route, row.name, a)
				}
			}
		}
		for _, r := range registered {
			if !covered[r] {
				t.Errorf("route %q has no row in the authorization matrix", r)
			}
		}
	})

	for _, actor := range authzActors {
		t.Run(actor, func(t *testing.T) {
			t.Parallel()
			env := newAuthzEnv(t, actor)
			for _, row := range rows {
				name := row.route
				if name == "" {
					name = "none"
				}
				if row.name != "" {
					name += " " + row.name
				}
				t.Run(name, func(t *testing.T) {
					f := env.fixture(t, row)
					c := env.client(t, row, f)
					method, path := authzRowMethod(row), row.path(f)
					var body any
					if row.body != nil {
						body = row.body(f)
					}
					r := c.do(method, path, body)
					want := row.want[actor]
					if r.Status != want {
						t.Errorf("%s %s as %s: status %d, want %d; body: %s", method, path, actor, r.Status, want, r.Body)
					}
					checkAuthzErrorBody(t, method, path, r)
					if row.check != nil {
						row.check(f, r.Status >= 200 && r.Status < 300)
					}
				})
			}
		})
	}
}
