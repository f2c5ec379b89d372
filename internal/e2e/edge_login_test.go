package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/stationrpc/workerpb"
)

// postForm posts a form as c (with its cookies) and returns the answer
// without following a redirect.
func (c *client) postForm(path string, form url.Values) response {
	c.t.Helper()
	req, err := http.NewRequest("POST", c.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// TestLoginNextStaysOnSite: after a UI login, next is followed only when
// it is a path on this site; anything a browser could take elsewhere
// (tabs and newlines it drops, "//", "/\", a scheme, encoded or doubly
// encoded forms of those) sends the user to "/".
func TestLoginNextStaysOnSite(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	cases := []struct{ next, want string }{
		{"/users/admin", "/users/admin"},
		{"/webhooks/1?status=failed", "/webhooks/1?status=failed"},
		{"/events?before=10", "/events?before=10"},
		{"", "/"},
		{"/\t/evil.example", "/"},
		{"/%09/evil.example", "/"},
		{"/\n/evil.example", "/"},
		{"/%0a/evil.example", "/"},
		{"\t/evil.example", "/"},
		{"//evil.example", "/"},
		{"/\\evil.example", "/"},
		{"/%5Cevil.example", "/"},
		{"/%2F/evil.example", "/"},
		{"/%252F%252Fevil.example", "/"},
		{"https://evil.example/", "/"},
		{"https:evil.example", "/"},
		{"javascript:alert(1)", "/"},
		{"evil.example", "/"},
		{"/users/admin\\..\\..\\evil", "/"},
		{" /users", "/"},
	}
	for _, tc := range cases {
		c := s.anon()
		r := c.postForm("/login", url.Values{"username": {"admin"}, "password": {adminPassword}, "next": {tc.next}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != tc.want {
			t.Errorf("next %q: status %d, Location %q; want 303 to %q", tc.next, r.Status, r.Header.Get("Location"), tc.want)
		}
	}
}

// TestNoticesNotFromURL: a notice in the URL is never shown; the notice
// after an action comes in a sealed cookie, shows once, and a forged one
// shows nothing.
func TestNoticesNotFromURL(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	adm := s.admin()
	for _, path := range []string{"/users?notice=Herald+was+moved+to+evil.example", "/groups?notice=Herald+was+moved+to+evil.example"} {
		if r := adm.do("GET", path, nil); r.Status != http.StatusOK || strings.Contains(string(r.Body), "evil.example") {
			t.Errorf("GET %s: status %d, shows the URL's notice: %v", path, r.Status, strings.Contains(string(r.Body), "evil.example"))
		}
	}
	r := adm.postForm("/groups/new", url.Values{"name": {"flashy"}})
	if r.Status != http.StatusSeeOther || strings.Contains(r.Header.Get("Location"), "notice") {
		t.Fatalf("create a group: status %d, Location %q", r.Status, r.Header.Get("Location"))
	}
	if !strings.Contains(r.Header.Get("Set-Cookie"), "herald_flash=") || strings.Contains(r.Header.Get("Set-Cookie"), "created") {
		t.Errorf("the notice is not a sealed cookie: %q", r.Header.Get("Set-Cookie"))
	}
	if page := adm.do("GET", "/groups", nil); !strings.Contains(string(page.Body), "Group flashy created.") {
		t.Errorf("the page after the action does not show its notice")
	}
	if page := adm.do("GET", "/groups", nil); strings.Contains(string(page.Body), "Group flashy created.") {
		t.Errorf("the notice shows twice")
	}
	forged := adm.authzFork(t)
	forged.header.Set("Cookie", "herald_flash=v1:"+strings.Repeat("A", 60))
	if page := forged.do("GET", "/groups", nil); page.Status != http.StatusOK || strings.Contains(string(page.Body), `class="notice"`) {
		t.Errorf("a forged notice cookie: status %d, notice shown: %v", page.Status, strings.Contains(string(page.Body), `class="notice"`))
	}
}

// TestOwnPasswordChangeEndsOtherSessions: a user who changes their own
// password (API or UI) stays logged in where they did it; their other
// sessions end.
func TestOwnPasswordChangeEndsOtherSessions(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.admin().expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
		"username": "alice", "first_name": "A", "last_name": "L", "email": "alice@example.com", "password": "alice-password-1",
	}, nil)
	here, elsewhere := s.login("alice", "alice-password-1"), s.login("alice", "alice-password-1")
	here.expect(http.StatusNoContent, "PUT", "/api/v1/user/alice/password", map[string]string{"old_password": "alice-password-1", "new_password": "alice-password-2"}, nil)
	here.expect(http.StatusOK, "GET", "/api/v1/me", nil, nil)
	elsewhere.expect(http.StatusUnauthorized, "GET", "/api/v1/me", nil, nil)

	here, elsewhere = s.login("alice", "alice-password-2"), s.login("alice", "alice-password-2")
	if r := here.postForm("/users/alice/password", url.Values{"old_password": {"alice-password-2"}, "new_password": {"alice-password-3"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("UI password change: status %d: %s", r.Status, r.Body)
	}
	here.expect(http.StatusOK, "GET", "/api/v1/me", nil, nil)
	elsewhere.expect(http.StatusUnauthorized, "GET", "/api/v1/me", nil, nil)
	s.login("alice", "alice-password-3")
}

// TestStrictJSON: a body with bytes that are not UTF-8, a \u escape of half
// a character, or a key given twice is refused (400) and changes nothing.
func TestStrictJSON(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	adm := s.admin()
	cases := []struct{ name, body, msg string }{
		{"invalid UTF-8", "{\"username\":\"bad1\",\"first_name\":\"J\xe9r\xf4me\",\"last_name\":\"x\",\"email\":\"bad1@example.com\"}", "UTF-8"},
		{"a lone surrogate", `{"username":"bad2","first_name":"\ud800","last_name":"x","email":"bad2@example.com"}`, "surrogate"},
		{"a repeated key", `{"username":"bad3","first_name":"a","first_name":"b","last_name":"x","email":"bad3@example.com"}`, `"first_name" appears twice`},
		{"a repeated key, escaped", `{"username":"bad4","first_name":"a","first_nam\u0065":"b","last_name":"x","email":"bad4@example.com"}`, "appears twice"},
	}
	for i, tc := range cases {
		r := adm.do("POST", "/api/v1/user", tc.body)
		if r.Status != http.StatusBadRequest || !strings.Contains(r.msg(), tc.msg) {
			t.Errorf("%s: status %d, msg %q; want 400 naming %q", tc.name, r.Status, r.msg(), tc.msg)
		}
		adm.expect(http.StatusNotFound, "GET", fmt.Sprintf("/api/v1/user/bad%d", i+1), nil, nil)
	}
}

// TestOversizedCredentials: a username over 64 bytes, an email over 254
// (the longest email) or a password over 1024 is refused before any
// password check, and is neither logged nor stored; a UI login form over
// its size cap is refused (413) unread.
func TestOversizedCredentials(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	longName := "zq" + strings.Repeat("n", 63)
	longEmail := "zq" + strings.Repeat("n", 241) + "@example.com"
	longPassword := "zp" + strings.Repeat("p", 1023)
	before := passwordChecks(t, s.URL)
	for _, tc := range []struct{ username, password, msg string }{
		{longName, "whatever-1", "username: must be at most 64 bytes"},
		{longEmail, "whatever-1", "username: must be at most 254 bytes"},
		{"admin", longPassword, "password: must be at most 1024 bytes"},
	} {
		r := s.anon().do("POST", "/api/v1/auth", map[string]string{"username": tc.username, "password": tc.password})
		if r.Status != http.StatusBadRequest || r.msg() != tc.msg {
			t.Errorf("status %d, msg %q; want 400 %q", r.Status, r.msg(), tc.msg)
		}
	}
	huge := "zh" + strings.Repeat("h", 8<<20)
	r := s.anon().postForm("/login", url.Values{"username": {huge}, "password": {"x"}})
	if r.Status != http.StatusRequestEntityTooLarge || strings.Contains(string(r.Body), "zhhhh") {
		t.Errorf("an 8 MiB UI login: status %d (want 413), echoes the username: %v", r.Status, strings.Contains(string(r.Body), "zhhhh"))
	}
	if n := passwordChecks(t, s.URL) - before; n != 0 {
		t.Errorf("%d passwords checked for oversized credentials", n)
	}
	// The right password still works: nothing was counted against admin.
	s.admin()
	if logs := s.logs.String(); strings.Contains(logs, "zqnnn") || strings.Contains(logs, "zpppp") || strings.Contains(logs, "zhhhh") {
		t.Error("the log holds an oversized username or password")
	}
}

// TestStationTokenRevokedOrExpired: a station token is refused (401) on
// every station route, and on every call of the gRPC station service
// (Unauthenticated), as soon as it is revoked, or once it has expired.
func TestStationTokenRevokedOrExpired(t *testing.T) {
	t.Parallel()
	s := startServer(t, withGRPC)
	adm := s.admin()
	var stationRoutes []string
	for _, rt := range api.New(nil, nil).Routes() {
		if rt.Access.String() == "station" {
			stationRoutes = append(stationRoutes, rt.Pattern)
		}
	}
	if len(stationRoutes) < 2 {
		t.Fatalf("station routes: %v", stationRoutes)
	}
	// call makes a harmless call of each station route (there is no job
	// 999999): 204 or 404 when the token is good.
	call := func(token, station string) map[string]int {
		got := map[string]int{}
		c := s.withToken(token)
		for _, p := range stationRoutes {
			method, path, _ := strings.Cut(p, " ")
			path = strings.ReplaceAll(path, "{id}", "999999") + "?worker=" + station
			var body any
			if method == "POST" {
				body = map[string]any{"success": false, "error": "none"}
			}
			got[p] = c.do(method, path, body).Status
		}
		return got
	}
	// callGRPC makes a harmless call of each method of the station
	// service: OK or NotFound (no job) when the token is good.
	callGRPC := func(token, station string) map[string]codes.Code {
		p := newProvisioner(t, s.GRPCAddr, token, station)
		_, take := p.take()
		got := map[string]codes.Code{
			"RegisterWorker": status.Code(p.register()),
			"GetJob":         status.Code(take),
			"SetJobDone":     status.Code(p.done(&workerpb.GetJobResponse{JobId: 999999}, false, "", "", "", "none")),
		}
		if len(got) != len(workerpb.WorkerService_ServiceDesc.Methods) {
			t.Fatalf("the station service has %d methods; the test calls %d", len(workerpb.WorkerService_ServiceDesc.Methods), len(got))
		}
		return got
	}
	type token struct {
		ID        int64   `json:"id"`
		Station   string  `json:"worker"`
		Token     string  `json:"token"`
		ExpiresAt *string `json:"expires_at"`
	}
	var revoked, expiring token
	adm.expect(http.StatusCreated, "POST", "/api/v1/worker/token", map[string]string{"worker": "station1"}, &revoked)
	// Time enough for the calls with the good token, on a busy machine.
	expiry := time.Now().Add(4 * time.Second).UTC().Truncate(time.Second).Add(time.Second)
	adm.expect(http.StatusCreated, "POST", "/api/v1/worker/token", map[string]string{"worker": "station2", "expires_at": expiry.Format(time.RFC3339)}, &expiring)
	if revoked.ID == 0 || revoked.Station != "station1" || !strings.HasPrefix(revoked.Token, "hrldw_") || revoked.ExpiresAt != nil ||
		expiring.ExpiresAt == nil || *expiring.ExpiresAt != expiry.Format(time.RFC3339) {
		t.Fatalf("created %+v and %+v", revoked, expiring)
	}
	for _, tok := range []token{revoked, expiring} {
		for route, status := range call(tok.Token, tok.Station) {
			if status != http.StatusNoContent && status != http.StatusNotFound {
				t.Errorf("%s with a good token: status %d", route, status)
			}
		}
		for method, code := range callGRPC(tok.Token, tok.Station) {
			if code != codes.OK && code != codes.NotFound {
				t.Errorf("gRPC %s with a good token: %s", method, code)
			}
		}
	}
	var listed []map[string]any
	adm.expect(http.StatusOK, "GET", "/api/v1/worker/token", nil, &listed)
	if len(listed) != 2 || listed[0]["last_used_at"] == nil || strings.Contains(fmt.Sprint(listed), "hrldw_") {
		t.Errorf("listed %v: want both, used, without secrets", listed)
	}

	adm.expect(http.StatusNoContent, "DELETE", fmt.Sprintf("/api/v1/worker/token/%d", revoked.ID), nil, nil)
	for route, status := range call(revoked.Token, revoked.Station) {
		if status != http.StatusUnauthorized {
			t.Errorf("%s right after the token was revoked: status %d, want 401", route, status)
		}
	}
	for method, code := range callGRPC(revoked.Token, revoked.Station) {
		if code != codes.Unauthenticated {
			t.Errorf("gRPC %s right after the token was revoked: %s, want Unauthenticated", method, code)
		}
	}
	time.Sleep(time.Until(expiry) + 50*time.Millisecond)
	for route, status := range call(expiring.Token, expiring.Station) {
		if status != http.StatusUnauthorized {
			t.Errorf("%s after the token expired: status %d, want 401", route, status)
		}
	}
	for method, code := range callGRPC(expiring.Token, expiring.Station) {
		if code != codes.Unauthenticated {
			t.Errorf("gRPC %s after the token expired: %s, want Unauthenticated", method, code)
		}
	}
}

// TestStationsPage: an admin makes a station token on the web UI's
// Stations page, which shows it this once; the list never shows it again;
// revoking it there ends it at once.
func TestStationsPage(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	adm := s.admin()
	r := adm.postForm("/stations", url.Values{"worker": {"Bad Name"}})
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `id="worker-error"`) {
		t.Fatalf("a bad station name: status %d, no error beside the field", r.Status)
	}
	r = adm.postForm("/stations", url.Values{"worker": {"station7"}, "expires_at": {time.Now().Add(48 * time.Hour).UTC().Format("2006-01-02T15:04")}})
	page := string(r.Body)
	start := strings.Index(page, `<code id="new-station-token">`)
	if r.Status != http.StatusOK || start < 0 {
		t.Fatalf("create a station token: status %d: %.400s", r.Status, page)
	}
	token, _, _ := strings.Cut(page[start+len(`<code id="new-station-token">`):], "</code>")
	if !strings.HasPrefix(token, "hrldw_") {
		t.Fatalf("the page shows %q as the token", token)
	}
	s.withToken(token).expect(http.StatusNoContent, "GET", "/api/v1/worker/job?worker=station7", nil, nil)
	list := adm.do("GET", "/stations", nil)
	if !strings.Contains(string(list.Body), "station7") || strings.Contains(string(list.Body), token) {
		t.Fatalf("the stations page lists station7: %v, shows its token: %v", strings.Contains(string(list.Body), "station7"), strings.Contains(string(list.Body), token))
	}
	var tokens []struct{ ID int64 }
	adm.expect(http.StatusOK, "GET", "/api/v1/worker/token", nil, &tokens)
	if len(tokens) != 1 {
		t.Fatalf("tokens: %+v", tokens)
	}
	r = adm.postForm(fmt.Sprintf("/stations/%d/revoke", tokens[0].ID), url.Values{})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/stations" {
		t.Fatalf("revoke: status %d, Location %q", r.Status, r.Header.Get("Location"))
	}
	if page := adm.do("GET", "/stations", nil); !strings.Contains(string(page.Body), "revoked") || strings.Contains(string(page.Body), "station7") {
		t.Errorf("after revoking, the page does not say so or still lists the token")
	}
	s.withToken(token).expect(http.StatusUnauthorized, "GET", "/api/v1/worker/job?worker=station7", nil, nil)
}
