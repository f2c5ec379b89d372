package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The SCIM end-to-end tests run every case against two SCIM service
// providers: internal/scimtest (Go, built on elimity-com/scim, in this
// process) and a Node one built from scimmy, scimmy-routers and express
// (testdata/scimmy/server.js, a process of its own). Each case asserts
// what a person would see at the provider: the users and groups it holds.

// scimProvider is one SCIM service provider under test, with the test
// knobs both implementations offer.
type scimProvider interface {
	// baseURL is the SCIM base URL a target is given (…/Users is below it).
	baseURL() string
	token() string
	// state returns every user and group the provider holds.
	state(t *testing.T) scimState
	// setFailing makes every SCIM request answer 500 while on.
	setFailing(t *testing.T, on bool)
	// reset drops every user and group: the provider lost its data.
	reset(t *testing.T)
	// calls lists the SCIM requests so far ("METHOD /path?query"), for
	// failure messages.
	calls(t *testing.T) []string
}

// scimState is what a provider holds.
type scimState struct {
	Users    []scimUser      `json:"users"`
	Groups   []scimGroup     `json:"groups"`
	Requests []scimmyRequest `json:"requests"` // the scimmy server's only
}

// scimmyRequest is one entry of the scimmy server's request log.
type scimmyRequest struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Status int    `json:"status"`
}

type scimUser struct {
	ID         string `json:"id"`
	ExternalID string `json:"externalId"`
	UserName   string `json:"userName"`
	Name       struct {
		GivenName  string `json:"givenName"`
		FamilyName string `json:"familyName"`
	} `json:"name"`
	Emails []struct {
		Value   string `json:"value"`
		Primary bool   `json:"primary"`
	} `json:"emails"`
	PhoneNumbers []struct {
		Value string `json:"value"`
	} `json:"phoneNumbers"`
	Active *bool `json:"active"`
}

// email is the primary email (or the only one).
func (u scimUser) email() string {
	for _, e := range u.Emails {
		if e.Primary || len(u.Emails) == 1 {
			return e.Value
		}
	}
	return ""
}

func (u scimUser) phone() string {
	if len(u.PhoneNumbers) == 0 {
		return ""
	}
	return u.PhoneNumbers[0].Value
}

// active reads a missing active as true, as RFC 7643 leaves it to the
// provider and both here default to active.
func (u scimUser) active() bool { return u.Active == nil || *u.Active }

type scimGroup struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	Members     []struct {
		Value string `json:"value"`
	} `json:"members"`
}

// usersNamed returns the provider's users with that userName (more than
// one is a duplicate).
func (s scimState) usersNamed(name string) []scimUser {
	var out []scimUser
	for _, u := range s.Users {
		if strings.EqualFold(u.UserName, name) {
			out = append(out, u)
		}
	}
	return out
}

// user returns the one user named name; ok is false when there is none.
// More than one is reported as an error by the caller's check.
func (s scimState) user(name string) (scimUser, bool) {
	us := s.usersNamed(name)
	if len(us) != 1 {
		return scimUser{}, false
	}
	return us[0], true
}

func (s scimState) group(name string) (scimGroup, bool) {
	for _, g := range s.Groups {
		if g.DisplayName == name {
			return g, true
		}
	}
	return scimGroup{}, false
}

// memberNames returns the userNames of a group's members, sorted as the
// group lists them; an id the provider does not know shows as "?id".
func (s scimState) memberNames(g scimGroup) []string {
	byID := map[string]string{}
	for _, u := range s.Users {
		byID[u.ID] = u.UserName
	}
	var out []string
	for _, m := range g.Members {
		if n, ok := byID[m.Value]; ok {
			out = append(out, n)
		} else {
			out = append(out, "?"+m.Value)
		}
	}
	return out
}

// forEachSCIMProvider runs f as a parallel subtest for each provider, each
// with a provider of its own.
func forEachSCIMProvider(t *testing.T, f func(t *testing.T, p scimProvider)) {
	t.Helper()
	t.Run("scimtest", func(t *testing.T) {
		t.Parallel()
		f(t, newGoSCIMProvider(t))
	})
	t.Run("scimmy", func(t *testing.T) {
		t.Parallel()
		f(t, startScimmy(t))
	})
}

// scimmyDir holds the scimmy server and its package-lock.json;
// .ci/run installs its node_modules with npm ci.
const scimmyDir = "testdata/scimmy"

// scimmyProvider is a running testdata/scimmy/server.js.
type scimmyProvider struct {
	base string // http://127.0.0.1:PORT
	tok  string
	hc   *http.Client
}

// startScimmy starts the scimmy server on a free loopback port. Without
// node or its node_modules the test is skipped, except under CI=true,
// where it fails.
func startScimmy(t *testing.T) *scimmyProvider {
	t.Helper()
	node := findTool(t, "node", "/usr/bin/node", "/usr/local/bin/node")
	if _, err := os.Stat(filepath.Join(scimmyDir, "node_modules", "scimmy-routers")); err != nil {
		msg := "internal/e2e/testdata/scimmy/node_modules is missing (run npm ci there, as .ci/run does)"
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s; CI must have it for this test", msg)
		}
		t.Skipf("%s: skipping this test, which needs the scimmy SCIM server (under CI=true it fails instead)", msg)
	}
	tok := "scimmy-token-" + fmt.Sprint(time.Now().UnixNano())
	cmd := exec.Command(node, "server.js", "--port", "0", "--token", tok)
	cmd.Dir = scimmyDir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the scimmy server: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("scimmy server's stderr:\n%s", stderr.tail(16<<10))
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	select {
	case line := <-lines:
		base, ok := strings.CutPrefix(line, "listening on ")
		if !ok {
			t.Fatalf("scimmy server said %q, want \"listening on URL\"", line)
		}
		return &scimmyProvider{base: base, tok: tok, hc: &http.Client{Timeout: 10 * time.Second}}
	case <-exited:
		t.Fatalf("the scimmy server exited at start: %s", stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("the scimmy server did not say where it listens in 20 s: %s", stderr.String())
	}
	return nil
}

func (p *scimmyProvider) baseURL() string { return p.base + "/scim" }
func (p *scimmyProvider) token() string   { return p.tok }

func (p *scimmyProvider) knob(t *testing.T, method, path string, out any) {
	t.Helper()
	req, err := http.NewRequest(method, p.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		t.Fatalf("scimmy %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("scimmy %s %s: %d %s", method, path, resp.StatusCode, body)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("scimmy %s %s: %v: %s", method, path, err, body)
		}
	}
}

func (p *scimmyProvider) state(t *testing.T) scimState {
	t.Helper()
	var s scimState
	p.knob(t, "GET", "/_test/state", &s)
	return s
}

func (p *scimmyProvider) calls(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, r := range p.state(t).Requests {
		out = append(out, fmt.Sprintf("%s %s -> %d", r.Method, strings.TrimPrefix(r.Path, "/scim"), r.Status))
	}
	return out
}

func (p *scimmyProvider) setFailing(t *testing.T, on bool) {
	t.Helper()
	if on {
		p.knob(t, "POST", "/_test/fail?ms=3600000", nil)
	} else {
		p.knob(t, "POST", "/_test/fail?n=0", nil)
	}
}

func (p *scimmyProvider) reset(t *testing.T) {
	t.Helper()
	p.knob(t, "POST", "/_test/reset", nil)
}

// scimCreateUser creates a user at the provider over SCIM itself, as the
// provider's own admin would (an account that existed before Herald);
// it returns the provider's id.
func scimCreateUser(t *testing.T, p scimProvider, userName, given, family string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": userName,
		"name":     map[string]string{"givenName": given, "familyName": family},
		"active":   true,
	})
	req, err := http.NewRequest("POST", p.baseURL()+"/Users", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/scim+json")
	req.Header.Set("Authorization", "Bearer "+p.token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("SCIM POST /Users %s: %d %s", userName, resp.StatusCode, data)
	}
	var u scimUser
	if err := json.Unmarshal(data, &u); err != nil || u.ID == "" {
		t.Fatalf("SCIM POST /Users %s: no id in %s (%v)", userName, data, err)
	}
	return u.ID
}

// scimTargetConfig is the body of POST /api/v1/scim_target.
type scimTargetConfig struct {
	Name        string   `json:"name"`
	BaseURL     string   `json:"base_url"`
	Token       string   `json:"token"`
	Enabled     bool     `json:"enabled"`
	OnlyGroups  []string `json:"only_groups"`
	Deprovision string   `json:"deprovision"`
	SyncGroups  bool     `json:"sync_groups"`
}

// addSCIMTarget creates an enabled SCIM target for p (deprovision delete,
// no group sync unless mod says otherwise) and returns its id.
func addSCIMTarget(c *client, p scimProvider, mod func(*scimTargetConfig)) int64 {
	c.t.Helper()
	cfg := scimTargetConfig{Name: "provider", BaseURL: p.baseURL(), Token: p.token(), Enabled: true,
		OnlyGroups: []string{}, Deprovision: "delete"}
	if mod != nil {
		mod(&cfg)
	}
	var out struct {
		ID int64 `json:"id"`
	}
	c.expect(http.StatusCreated, "POST", "/api/v1/scim_target", cfg, &out)
	if out.ID == 0 {
		c.t.Fatalf("POST /api/v1/scim_target: no id")
	}
	return out.ID
}

// scimDeliveries is the target's delivery log.
func (c *client) scimDeliveries(targetID int64) []delivery {
	c.t.Helper()
	var ds []delivery
	c.expect(http.StatusOK, "GET", fmt.Sprintf("/api/v1/scim_target/%d/deliveries?limit=1000", targetID), nil, &ds)
	return ds
}

// describeDeliveries renders a delivery log for a failure message.
func describeDeliveries(ds []delivery) string {
	var b strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&b, "  %d %s %s: %s, %d attempts, last %d %q\n", d.ID, d.Event, d.Subject, d.Status, d.Attempts, d.LastStatusCode, d.LastError)
	}
	return b.String()
}

// scimWait is how long a provider may take to agree with Herald.
func scimWait() time.Duration {
	if onPostgres() {
		return 30 * time.Second
	}
	return 15 * time.Second
}

// waitSCIM polls the provider until check passes (returns ""), and fails
// the test with check's last complaint and the delivery log at the
// deadline. It returns the state that passed.
func waitSCIM(t *testing.T, p scimProvider, c *client, targetID int64, what string, check func(scimState) string) scimState {
	t.Helper()
	deadline := time.Now().Add(scimWait())
	for {
		s := p.state(t)
		problem := check(s)
		if problem == "" {
			return s
		}
		if time.Now().After(deadline) {
			log := ""
			if c != nil {
				log = describeDeliveries(c.scimDeliveries(targetID))
			}
			t.Fatalf("%s: after %v the provider still disagrees: %s\nprovider users: %+v\nprovider groups: %+v\ndelivery log:\n%sSCIM requests:\n  %s",
				what, scimWait(), problem, s.Users, s.Groups, log, strings.Join(p.calls(t), "\n  "))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// waitDelivered waits until the target's delivery log has no unfinished
// delivery and returns it; it fails on a delivery that failed.
func waitDelivered(t *testing.T, c *client, targetID int64) []delivery {
	t.Helper()
	deadline := time.Now().Add(scimWait())
	for {
		ds := c.scimDeliveries(targetID)
		done := true
		for _, d := range ds {
			if d.Status == "pending" || d.Status == "retrying" {
				done = false
			}
		}
		if done {
			for _, d := range ds {
				if d.Status == "failed" {
					t.Fatalf("delivery %d (%s %s) failed:\n%s", d.ID, d.Event, d.Subject, describeDeliveries(ds))
				}
			}
			return ds
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries still unfinished after %v:\n%s", scimWait(), describeDeliveries(ds))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// wantUser returns "" when the provider holds exactly one user named name
// with these values and active as given, else what differs.
func wantUser(s scimState, name, given, family, email, phone string, active bool) string {
	us := s.usersNamed(name)
	if len(us) != 1 {
		return fmt.Sprintf("%d users named %q, want 1", len(us), name)
	}
	u := us[0]
	got := fmt.Sprintf("%s|%s|%s|%s|%v", u.Name.GivenName, u.Name.FamilyName, u.email(), u.phone(), u.active())
	want := fmt.Sprintf("%s|%s|%s|%s|%v", given, family, email, phone, active)
	if got != want {
		return fmt.Sprintf("user %q is given|family|email|phone|active %s, want %s", name, got, want)
	}
	return ""
}

// noUser returns "" when the provider holds no user named name.
func noUser(s scimState, name string) string {
	if n := len(s.usersNamed(name)); n != 0 {
		return fmt.Sprintf("%d users named %q, want none", n, name)
	}
	return ""
}
