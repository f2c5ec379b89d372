package api_test

// Tests of the API through Herald's real HTTP handler (server.New: the
// middleware, the route tables, the handlers and the directory) on a real
// SQLite file, without starting a process.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/secretbox"
	"github.com/heraldhq/herald/internal/server"
	"github.com/heraldhq/herald/internal/storetest"
)

var ctx = context.Background()

// fixture is Herald's handler on a fresh database holding the first
// admin, a plain user bob, one webhook (id 1) and the bearer tokens of
// admin, bob and a provisioning station.
type fixture struct {
	handler             http.Handler
	admin, bob, station string
	webhookID           string
	dir                 *directory.Service
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	db := storetest.SQLite(t)
	box, err := secretbox.New("test-secret-key-0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	dir := directory.New(db, box, nil, log, directory.Limits{})
	if _, _, err := dir.Bootstrap(ctx, "admin-password-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := dir.CreateUser(ctx, directory.CLI, directory.NewUser{Username: "bob", FirstName: "Bob", LastName: "B",
		Email: "bob@example.com", Password: "bob-password-1"}); err != nil {
		t.Fatal(err)
	}
	f := fixture{dir: dir}
	for user, dst := range map[string]*string{"admin": &f.admin, "bob": &f.bob} {
		tok, err := dir.CreateAPIToken(ctx, directory.CLI, user, "test")
		if err != nil {
			t.Fatal(err)
		}
		*dst = tok.Token
	}
	st, err := dir.CreateStationToken(ctx, directory.CLI, "station-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	f.station = st.Token
	hook, err := dir.CreateWebhook(ctx, directory.CLI, directory.WebhookInput{URL: "http://127.0.0.1:9/hook", Description: "test", Triggers: herald.Triggers{OnUserCreated: true}})
	if err != nil {
		t.Fatal(err)
	}
	f.webhookID = strconv.FormatInt(hook.ID, 10)
	f.handler, err = server.New(dir, prometheus.NewRegistry(), log, box, server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// answer is what the handler answered.
type answer struct {
	status int
	msg    string // the msg of an error's JSON body
	body   string
	header http.Header
}

// do sends method path with body (as JSON unless contentType says
// otherwise) and token as the bearer token ("" for none).
func (f fixture) do(t *testing.T, method, path, token, body string) answer {
	t.Helper()
	return f.send(t, method, path, token, "application/json", body)
}

func (f fixture) send(t *testing.T, method, path, token, contentType, body string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	if body != "" && contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	a := answer{status: w.Code, body: w.Body.String(), header: w.Header()}
	var e struct {
		Msg string `json:"msg"`
	}
	if w.Code >= 400 {
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
			t.Fatalf("%s %s: %d with a body that is not {\"msg\": ...}: %q", method, path, w.Code, w.Body.String())
		}
		a.msg = e.Msg
	}
	return a
}

// state is what the refused requests must leave as it was: the groups,
// users, webhooks, API tokens and station tokens, as the admin sees
// them.
func (f fixture) state(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, p := range []string{"/api/v1/group", "/api/v1/user", "/api/v1/webhook", "/api/v1/user/bob/api_token", "/api/v1/worker/token"} {
		a := f.do(t, "GET", p, f.admin, "")
		if a.status != http.StatusOK {
			t.Fatalf("GET %s as admin: %d %s", p, a.status, a.msg)
		}
		if p == "/api/v1/worker/token" {
			// A station's token notes its last use: keep who holds
			// which token.
			var tokens []struct {
				ID     int64  `json:"id"`
				Worker string `json:"worker"`
			}
			if err := json.Unmarshal([]byte(a.body), &tokens); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, tokens)
			continue
		}
		b.WriteString(a.body)
	}
	return b.String()
}

// TestAuthorizationBeforeInput: a caller without the right to a route is
// answered 401 (anonymous) or 403 (logged in, not allowed) whatever the
// body, query or path id holds: nothing of the input is read first, and
// nothing changes.
func TestAuthorizationBeforeInput(t *testing.T) {
	f := newFixture(t)
	before := f.state(t)
	huge := `{"name":"` + strings.Repeat("x", 2<<20) + `"}`
	tests := []struct {
		name, method, path, token, contentType, body string
		want                                         int
	}{
		{"anonymous, malformed body", "POST", "/api/v1/group", "", "application/json", `{"name":`, 401},
		{"anonymous, not JSON", "POST", "/api/v1/group", "", "text/plain", `hello`, 401},
		{"anonymous, body over the cap", "POST", "/api/v1/group", "", "application/json", huge, 401},
		{"anonymous, bad id", "DELETE", "/api/v1/webhook/abc", "", "", "", 401},
		{"anonymous, bad query", "GET", "/api/v1/event?limit=abc", "", "", "", 401},
		{"anonymous, own token route", "POST", "/api/v1/user/bob/api_token", "", "application/json", `{"name":1}`, 401},
		{"anonymous, station route", "GET", "/api/v1/worker/job", "", "", "", 401},
		{"user, admin route, malformed body", "POST", "/api/v1/webhook", "bob", "application/json", `{"url":`, 403},
		{"user, admin route, unknown field", "POST", "/api/v1/group", "bob", "application/json", `{"nmae":"x"}`, 403},
		{"user, admin route, not JSON", "PUT", "/api/v1/group/admin", "bob", "text/plain", `x`, 403},
		{"user, admin route, body over the cap", "POST", "/api/v1/group", "bob", "application/json", huge, 403},
		{"user, admin route, bad id", "PUT", "/api/v1/webhook/abc", "bob", "application/json", `{}`, 403},
		{"user, admin route, no such id", "DELETE", "/api/v1/webhook/999", "bob", "", "", 403},
		{"user, admin route, bad query", "GET", "/api/v1/event?limit=-5", "bob", "", "", 403},
		{"user, admin route, bad delivery id", "POST", "/api/v1/webhook/1/delivery/x/redeliver", "bob", "", "", 403},
		{"user, admin route, invalid UTF-8", "POST", "/api/v1/worker/token", "bob", "application/json", "{\"worker\":\"\xff\"}", 403},
		{"user, another user's tokens", "POST", "/api/v1/user/admin/api_token", "bob", "application/json", `{"name":`, 403},
		{"user, another user's token id", "DELETE", "/api/v1/user/admin/api_token/abc", "bob", "", "", 403},
		{"user, station route", "POST", "/api/v1/worker/job/abc/done", "bob", "application/json", `{`, 403},
		{"station, admin route", "POST", "/api/v1/group", "station", "application/json", `{"name":`, 403},
		{"station, user route", "POST", "/api/v1/worker/job", "station", "application/json", `{`, 403},
	}
	tokens := map[string]string{"": "", "bob": f.bob, "station": f.station}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := f.send(t, tt.method, tt.path, tokens[tt.token], tt.contentType, tt.body)
			if a.status != tt.want {
				t.Errorf("%s %s: %d %q, want %d", tt.method, tt.path, a.status, a.msg, tt.want)
			}
		})
	}
	if after := f.state(t); after != before {
		t.Errorf("refused requests changed the directory:\nbefore %s\nafter  %s", before, after)
	}
}

// TestBadInput: bad input from a caller who may call the route is a 4xx
// whose message names the field or the problem, and changes nothing.
func TestBadInput(t *testing.T) {
	f := newFixture(t)
	hook := "/api/v1/webhook/" + f.webhookID
	before := f.state(t)
	tests := []struct {
		name, method, path, token, contentType, body string
		want                                         int
		says                                         string // in the message
	}{
		{"wrong type", "POST", "/api/v1/group", "admin", "application/json", `{"name":5}`, 400, "name"},
		{"wrong type, bool", "POST", hook, "admin", "application/json", `{"enabled":"yes"}`, 400, "enabled"},
		{"missing required field", "POST", hook, "admin", "application/json", `{}`, 400, "enabled"},
		{"missing member", "POST", "/api/v1/group/admin", "admin", "application/json", `{}`, 400, "username"},
		{"PUT group without members", "PUT", "/api/v1/group/admin", "admin", "application/json", `{"name":"x"}`, 400, "members"},
		{"bad time", "POST", hook + "/replay", "admin", "application/json", `{"since":"yesterday"}`, 400, "since"},
		{"bad expiry", "POST", "/api/v1/worker/token", "admin", "application/json", `{"worker":"s","expires_at":"soon"}`, 400, "expires_at"},
		{"job without user", "POST", "/api/v1/worker/job", "bob", "application/json", `{}`, 400, "username"},
		{"finish without success", "POST", "/api/v1/worker/job/1/done", "station", "application/json", `{}`, 400, "success"},
		{"limit zero", "GET", "/api/v1/event?limit=0", "admin", "", "", 400, "limit"},
		{"after negative", "GET", "/api/v1/event?after=-1", "admin", "", "", 400, "after"},
		{"before not a number", "GET", hook + "/delivery?before=x", "admin", "", "", 400, "before"},
		{"webhook URL not a URL", "POST", "/api/v1/webhook", "admin", "application/json", `{"url":"not a url","on_user_created":true}`, 400, "url"},
		{"login without password", "POST", "/api/v1/auth", "", "application/json", `{"username":"bob"}`, 400, "password"},
		{"empty body", "POST", "/api/v1/group", "admin", "application/json", ``, 400, "empty"},
		{"array body", "POST", "/api/v1/group", "admin", "application/json", `[1]`, 400, "object"},
		{"data after the object", "POST", "/api/v1/group", "admin", "application/json", `{"name":"g"} {}`, 400, "after the JSON object"},
		{"body ends early", "POST", "/api/v1/group", "admin", "application/json", `{"name":"g"`, 400, "malformed JSON"},
		{"not JSON", "POST", "/api/v1/group", "admin", "text/plain", `{"name":"g"}`, 415, "Content-Type"},
		{"login body over its cap", "POST", "/api/v1/auth", "", "application/json", `{"username":"` + strings.Repeat("x", 9<<10) + `"}`, 413, "larger than"},
		{"body over the cap", "POST", "/api/v1/group", "admin", "application/json", `{"name":"` + strings.Repeat("x", 1<<20) + `"}`, 413, "larger than"},
		{"taken name", "POST", "/api/v1/group", "admin", "application/json", `{"name":"admin"}`, 409, "admin"},
		{"no such user", "GET", "/api/v1/user/nobody", "admin", "", "", 404, "nobody"},
		{"no such endpoint", "GET", "/api/v1/nothing", "admin", "", "", 404, "/api/v1/nothing"},
	}
	tokens := map[string]string{"": "", "admin": f.admin, "bob": f.bob, "station": f.station}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := f.send(t, tt.method, tt.path, tokens[tt.token], tt.contentType, tt.body)
			if a.status != tt.want || !strings.Contains(a.msg, tt.says) {
				t.Errorf("%s %s: %d %q, want %d naming %q", tt.method, tt.path, a.status, a.msg, tt.want, tt.says)
			}
		})
	}
	if after := f.state(t); after != before {
		t.Errorf("bad input changed the directory:\nbefore %s\nafter  %s", before, after)
	}
}

// TestStrictJSON: a body the decoder would take silently in another
// reading (a key it does not know, a key given twice, text that is not
// UTF-8) is refused with a message saying which, and changes nothing.
func TestStrictJSON(t *testing.T) {
	f := newFixture(t)
	before := f.state(t)
	tests := []struct {
		name, body, says string
	}{
		{"unknown key", `{"name":"g","admin":true}`, `unknown field "admin"`},
		{"misspelt key", `{"nmae":"g"}`, `"nmae"`},
		{"duplicate key", `{"name":"g1","name":"g2"}`, `"name" appears twice`},
		{"duplicate key, other case", `{"name":"g1","NAME":"g2"}`, `"NAME"`},
		{"duplicate key, nested", `{"name":"g","members":["bob"],"is_admin":false,"is_admin":true}`, `"is_admin" appears twice`},
		{"invalid UTF-8 in a value", "{\"name\":\"g\xff\"}", "not valid UTF-8"},
		{"invalid UTF-8 in a key", "{\"n\xc3ame\":\"g\"}", "not valid UTF-8"},
		{"lone surrogate", `{"name":"g\ud800"}`, "surrogate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := f.do(t, "POST", "/api/v1/group", f.admin, tt.body)
			if a.status != http.StatusBadRequest || !strings.Contains(a.msg, tt.says) {
				t.Errorf("POST %s: %d %q, want 400 saying %q", tt.body, a.status, a.msg, tt.says)
			}
		})
	}
	if after := f.state(t); after != before {
		t.Errorf("refused bodies changed the directory:\nbefore %s\nafter  %s", before, after)
	}
	// The same body, strict, is taken.
	if a := f.do(t, "POST", "/api/v1/group", f.admin, `{"name":"g"}`); a.status != http.StatusCreated {
		t.Errorf("a good body: %d %q, want 201", a.status, a.msg)
	}
}

// TestPathIDs: an id in the path that is not a positive integer is a 404
// naming the parameter; a well-formed id of nothing is a 404 too.
func TestPathIDs(t *testing.T) {
	f := newFixture(t)
	hook := "/api/v1/webhook/" + f.webhookID
	tests := []struct {
		method, path string
		want         int
		says         string
	}{
		{"GET", hook, 200, ""},
		{"GET", "/api/v1/webhook/abc", 404, `id: "abc" is not a valid id`},
		{"GET", "/api/v1/webhook/0", 404, `id: "0"`},
		{"GET", "/api/v1/webhook/-1", 404, `id: "-1"`},
		{"GET", "/api/v1/webhook/1.5", 404, `id: "1.5"`},
		{"GET", "/api/v1/webhook/99999999999999999999", 404, `id: "99999999999999999999"`},
		{"GET", "/api/v1/webhook/999", 404, ""},
		{"GET", hook + "/delivery/x", 404, `did: "x" is not a valid id`},
		{"GET", hook + "/delivery/0", 404, `did: "0"`},
		{"GET", hook + "/delivery/7", 404, ""},
		{"POST", hook + "/delivery/x/redeliver", 404, `did: "x"`},
		{"DELETE", "/api/v1/user/admin/api_token/x", 404, `id: "x"`},
		{"DELETE", "/api/v1/worker/token/x", 404, `id: "x"`},
		{"GET", "/api/v1/worker/x", 404, `id: "x"`},
	}
	for _, tt := range tests {
		a := f.do(t, tt.method, tt.path, f.admin, "")
		if a.status != tt.want || !strings.Contains(a.msg, tt.says) {
			t.Errorf("%s %s: %d %q, want %d saying %q", tt.method, tt.path, a.status, a.msg, tt.want, tt.says)
		}
	}
}
