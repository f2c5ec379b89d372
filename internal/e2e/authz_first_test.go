package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/ui"
	"github.com/heraldhq/herald/internal/web"
)

// meantFor says who each route is for, as this test (not the route table)
// expects; a route not named here is for admins only. "self" routes act on
// the user named in the path.
var meantFor = map[string]string{
	"POST /api/v1/auth":                 "anyone",
	"POST /api/v1/auth/logout":          "anyone",
	"GET /api/v1/health":                "anyone",
	"GET /api/v1/ready":                 "anyone",
	"GET /api/v1/openapi.json":          "anyone",
	"GET /api/v1/ssh_authorized_keys":   "anyone",
	"GET /static/":                      "anyone",
	"GET /{$}":                          "anyone",
	"GET /login":                        "anyone",
	"POST /login":                       "anyone",
	"POST /logout":                      "anyone",
	"GET /api/v1/me":                    "user",
	"POST /api/v1/worker/job":           "user", // the directory then checks whose job it is
	"GET /api/v1/worker/{id}":           "user",
	"GET /api/v1/worker/job":            "station",
	"POST /api/v1/worker/job/{id}/done": "station",

	"POST /api/v1/user/{username}/api_token":        "self",
	"GET /api/v1/user/{username}/api_token":         "self",
	"DELETE /api/v1/user/{username}/api_token/{id}": "self",
	"GET /api/v1/user/{username}":                   "self",
	"PUT /api/v1/user/{username}":                   "self",
	"PATCH /api/v1/user/{username}":                 "self",
	"PUT /api/v1/user/{username}/password":          "self",
	"GET /users/{username}":                         "self",
	"POST /users/{username}":                        "self",
	"POST /users/{username}/password":               "self",
	"POST /users/{username}/provision":              "self",
	"GET /users/{username}/tokens":                  "self",
	"POST /users/{username}/tokens":                 "self",
	"POST /users/{username}/tokens/{id}/revoke":     "self",
}

// accessNames are the route table's names of those kinds of callers.
var accessNames = map[string]string{
	"anyone": "anyone", "user": "user", "admin": "admin", "station": "station", "self": "self-or-admin {username}",
}

// everyRoute is every route the server serves through a route table: the
// API's and the UI's.
func everyRoute(t *testing.T) []web.Route {
	t.Helper()
	pages, err := ui.New(nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return append(api.New(nil, nil).Routes(), pages.Routes()...)
}

// TestRoutesRefuseBeforeReadingInput: for every route of the API and the
// UI, an anonymous caller and a plain user without rights to it get 401 or
// 403 whatever they send: a malformed JSON body, a form body of the wrong
// type, a body over every size limit, a query of nonsense. Nothing is
// read before the caller's rights are known, so no 400, 413 or 415 tells
// them anything. Each route's declared access is also what it is meant
// to be.
func TestRoutesRefuseBeforeReadingInput(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	adm := s.admin()
	for _, name := range []string{"alice", "bob"} {
		adm.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
			"username": name, "first_name": name, "last_name": "X", "email": name + "@example.com", "password": name + "-password-1",
		}, nil)
	}
	adm.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "staff", "members": []string{"bob"}}, nil)

	// No client sends the 2 MiB body unless the server asks for it (100
	// Continue), which it does only once a handler reads the body.
	transport := &http.Transport{ExpectContinueTimeout: 10 * time.Second}
	newClient := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Transport: transport, Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	anon, bob := newClient(), newClient()
	login, err := bob.Post(s.URL+"/api/v1/auth", "application/json", strings.NewReader(`{"username":"bob","password":"bob-password-1"}`))
	if err != nil || login.StatusCode != http.StatusOK {
		t.Fatalf("bob's login: %v %v", login, err)
	}
	login.Body.Close()

	const query = "?limit=-5&after=x&before=%ff&status=lost&worker=No%20Such&username=&group=&q=%00&show_secret=1&next=//evil.example"
	bodies := []struct {
		name, contentType string
		body              []byte
	}{
		{"malformed JSON", "application/json", []byte("\xff\xfe{\"username\": [nul")},
		{"a body of the wrong type", "text/plain", []byte("username=alice&password=x")},
		{"a body over every limit", "application/json", bytes.Repeat([]byte("x"), 2<<20)},
	}
	path := strings.NewReplacer("{username}", "alice", "{name}", "staff", "{id}", "1", "{did}", "1", "{$}", "").Replace

	for _, rt := range everyRoute(t) {
		meant := meantFor[rt.Pattern]
		if meant == "" {
			meant = "admin"
		}
		if got := rt.Access.String(); got != accessNames[meant] {
			t.Errorf("%s declares access %q, but it is meant for %q", rt.Pattern, got, accessNames[meant])
		}
		method, pattern, _ := strings.Cut(rt.Pattern, " ")
		url := s.URL + path(pattern) + query
		for _, caller := range []struct {
			name string
			hc   *http.Client
			want int // 0: the caller may use the route
		}{
			{"anonymous", anon, map[string]int{"anyone": 0}[meant] | map[bool]int{true: http.StatusUnauthorized}[meant != "anyone"]},
			{"plain user", bob, map[string]int{"admin": http.StatusForbidden, "self": http.StatusForbidden, "station": http.StatusForbidden}[meant]},
		} {
			if meant == "anyone" && caller.hc == bob {
				continue // logging out would end bob's session for the rest
			}
			for _, b := range bodies {
				req, err := http.NewRequest(method, url, bytes.NewReader(b.body))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", b.contentType)
				req.Header.Set("Expect", "100-continue")
				resp, err := caller.hc.Do(req)
				if err != nil && caller.want == 0 && b.name == "a body over every limit" && errors.Is(err, syscall.ECONNRESET) {
					// A route the caller may use reads the body up to its
					// cap, answers 413 and closes the connection: the
					// client, still writing the rest, may see the reset
					// before the answer. Nothing to check then.
					continue
				}
				if err != nil {
					t.Errorf("%s as %s with %s: %v", rt.Pattern, caller.name, b.name, err)
					continue
				}
				answer, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				what := fmt.Sprintf("%s %s as %s with %s", method, path(pattern), caller.name, b.name)
				switch {
				case resp.StatusCode >= 500:
					t.Errorf("%s: status %d; body %.300s", what, resp.StatusCode, answer)
				case caller.want != 0 && resp.StatusCode != caller.want:
					t.Errorf("%s: status %d, want %d; body %.300s", what, resp.StatusCode, caller.want, answer)
				}
			}
		}
	}
}

// TestAnonymousRoutesDocumented: every route anyone may call is named in
// docs/security.md's list of what is anonymous on purpose, so an operator
// knows what to shield at the proxy.
func TestAnonymousRoutesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(doc), "Anonymous on purpose:")
	section, _, _ = strings.Cut(section, "\n\n"+"Browser writes")
	section = strings.Join(strings.Fields(section), " ")
	for _, rt := range everyRoute(t) {
		if rt.Access != web.Anyone {
			continue
		}
		named := "`" + strings.TrimSuffix(strings.ReplaceAll(rt.Pattern, "{$}", ""), "/") // "GET /static/" -> "`GET /static"
		if rt.Pattern == "GET /{$}" {
			named = "`GET /`"
		}
		if !strings.Contains(section, named) {
			t.Errorf("%s is open to anyone, but docs/security.md's \"Anonymous on purpose\" does not name it (%s)", rt.Pattern, named)
		}
	}
}
