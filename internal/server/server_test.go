package server

// Tests of the middleware every request passes through, on Herald's real
// handler (New) over a SQLite file, without starting a process.

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/secretbox"
	"github.com/heraldhq/herald/internal/session"
	"github.com/heraldhq/herald/internal/storetest"
	"github.com/heraldhq/herald/internal/ui"
	"github.com/heraldhq/herald/internal/web"
)

const adminPassword = "admin-password-1"

// credentials is the body of the admin's login.
const credentials = `{"username":"admin","password":"` + adminPassword + `"}`

// proxy is the trusted reverse proxy of the tests; client a client's
// address behind it; stranger a peer that is not a proxy.
const (
	proxy    = "10.1.2.3"
	client   = "203.0.113.7"
	stranger = "198.51.100.9"
)

// newHandler returns Herald's handler with opts on a fresh database whose
// admin's password is adminPassword, and its log.
func newHandler(t *testing.T, opts Options) (http.Handler, *bytes.Buffer) {
	t.Helper()
	// Requests are served in the test's goroutine: a plain buffer will do.
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	box, err := secretbox.New("test-secret-key-0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	dir := directory.New(storetest.SQLite(t), box, nil, log, directory.Limits{})
	if _, _, err := dir.Bootstrap(context.Background(), adminPassword); err != nil {
		t.Fatal(err)
	}
	h, err := New(dir, prometheus.NewRegistry(), log, box, opts)
	if err != nil {
		t.Fatal(err)
	}
	return h, logs
}

// request is one request to send: from peer, with headers.
type request struct {
	method, path, body string
	peer               string
	header             map[string]string
}

func serve(h http.Handler, rq request) *httptest.ResponseRecorder {
	r := httptest.NewRequest(rq.method, rq.path, strings.NewReader(rq.body))
	r.RemoteAddr = rq.peer + ":40000"
	if rq.body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range rq.header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

var trustProxy = web.Edge{TrustedProxies: []netip.Prefix{netip.MustParsePrefix(proxy + "/32")}}

// TestSecurityHeaders: every answer, API or page, success or error,
// carries the headers browsers act on; HSTS only when the client reaches
// Herald over https (TLS, a trusted proxy's word, or an https public
// URL).
func TestSecurityHeaders(t *testing.T) {
	plain, _ := newHandler(t, Options{Edge: trustProxy})
	public, _ := newHandler(t, Options{Edge: web.Edge{PublicHTTPS: true}, PublicURL: "https://herald.example.com"})
	https := map[string]string{"X-Forwarded-Proto": "https"}
	tests := []struct {
		name string
		h    http.Handler
		rq   request
		hsts bool
	}{
		{"API", plain, request{method: "GET", path: "/api/v1/health", peer: stranger}, false},
		{"API error", plain, request{method: "GET", path: "/api/v1/me", peer: stranger}, false},
		{"API 404", plain, request{method: "GET", path: "/api/v1/nothing", peer: stranger}, false},
		{"page", plain, request{method: "GET", path: "/login", peer: stranger}, false},
		{"static file", plain, request{method: "GET", path: "/static/nothing.css", peer: stranger}, false},
		{"cross-site refusal", plain, request{method: "POST", path: "/api/v1/auth", body: `{}`, peer: stranger,
			header: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}}, false},
		{"https from a trusted proxy", plain, request{method: "GET", path: "/api/v1/health", peer: proxy, header: https}, true},
		{"https claimed by a stranger", plain, request{method: "GET", path: "/api/v1/health", peer: stranger, header: https}, false},
		{"http from a trusted proxy", plain, request{method: "GET", path: "/api/v1/health", peer: proxy,
			header: map[string]string{"X-Forwarded-Proto": "http"}}, false},
		{"https public URL", public, request{method: "GET", path: "/api/v1/health", peer: stranger}, true},
	}
	for _, tt := range tests {
		w := serve(tt.h, tt.rq)
		h := w.Header()
		for name, want := range map[string]string{
			"Content-Security-Policy": contentSecurityPolicy,
			"X-Frame-Options":         "DENY",
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "same-origin",
		} {
			if got := h.Get(name); got != want {
				t.Errorf("%s (%d): %s = %q, want %q", tt.name, w.Code, name, got, want)
			}
		}
		if got := h.Get("Strict-Transport-Security"); (got != "") != tt.hsts {
			t.Errorf("%s: Strict-Transport-Security %q, want it sent: %v", tt.name, got, tt.hsts)
		}
		if len(h.Get("X-Request-Id")) != 12 {
			t.Errorf("%s: X-Request-Id %q", tt.name, h.Get("X-Request-Id"))
		}
	}
	if !strings.Contains(contentSecurityPolicy, "script-src 'self'") || strings.Contains(contentSecurityPolicy, "unsafe-inline") {
		t.Errorf("the policy allows inline scripts: %s", contentSecurityPolicy)
	}
}

// TestSessionCookieSecure: the login cookie is Secure exactly when the
// client reaches Herald over https; a stranger's X-Forwarded-Proto is not
// believed.
func TestSessionCookieSecure(t *testing.T) {
	plain, _ := newHandler(t, Options{Edge: trustProxy})
	public, _ := newHandler(t, Options{Edge: web.Edge{TrustedProxies: trustProxy.TrustedProxies, PublicHTTPS: true}})
	https := map[string]string{"X-Forwarded-Proto": "https"}
	tests := []struct {
		name   string
		h      http.Handler
		peer   string
		header map[string]string
		secure bool
	}{
		{"plain http", plain, stranger, nil, false},
		{"https claimed by a stranger", plain, stranger, https, false},
		{"https from a trusted proxy", plain, proxy, https, true},
		{"http from a trusted proxy", plain, proxy, map[string]string{"X-Forwarded-Proto": "http"}, false},
		{"https public URL", public, stranger, nil, true},
		{"https public URL, proxy says http", public, proxy, map[string]string{"X-Forwarded-Proto": "http"}, true},
	}
	for _, tt := range tests {
		for path, body := range map[string]string{"/api/v1/auth": credentials, "/api/v1/auth/logout": ""} {
			w := serve(tt.h, request{method: "POST", path: path, body: body, peer: tt.peer, header: tt.header})
			cookie := sessionCookie(w)
			if cookie == nil {
				t.Errorf("%s: POST %s answered %d without a session cookie: %s", tt.name, path, w.Code, w.Body)
				continue
			}
			if cookie.Secure != tt.secure || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode {
				t.Errorf("%s: POST %s cookie Secure=%v HttpOnly=%v SameSite=%v, want Secure=%v, HttpOnly, Lax",
					tt.name, path, cookie.Secure, cookie.HttpOnly, cookie.SameSite, tt.secure)
			}
		}
	}
}

func sessionCookie(w *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == session.CookieName {
			return c
		}
	}
	return nil
}

// TestClientAddress: the request log names the client: the peer, or
// behind a trusted proxy the address it forwarded for; a stranger's
// X-Forwarded-For is ignored. The query string is never logged (it may
// carry secrets).
func TestClientAddress(t *testing.T) {
	h, logs := newHandler(t, Options{Edge: trustProxy})
	tests := []struct {
		name, peer, forwarded, want string
	}{
		{"direct", stranger, "", stranger},
		{"stranger's header ignored", stranger, "192.0.2.99", stranger},
		{"behind the proxy", proxy, client, client},
		{"chain: right-most untrusted entry", proxy, "192.0.2.99, " + client, client},
		{"chain through the proxy twice", proxy, client + ", " + proxy, client},
		{"garbage from the proxy", proxy, "not-an-address", proxy},
	}
	for i, tt := range tests {
		header := map[string]string{}
		if tt.forwarded != "" {
			header["X-Forwarded-For"] = tt.forwarded
		}
		path := "/api/v1/health?token=secret-" + string(rune('a'+i))
		w := serve(h, request{method: "GET", path: path, peer: tt.peer, header: header})
		id := w.Header().Get("X-Request-Id")
		line := logLine(logs.String(), "id="+id)
		if line == "" {
			t.Errorf("%s: no log line for request %s in\n%s", tt.name, id, logs)
			continue
		}
		if !strings.Contains(line, "client="+tt.want+" ") && !strings.HasSuffix(line, "client="+tt.want) {
			t.Errorf("%s: logged %q, want client=%s", tt.name, line, tt.want)
		}
		if !strings.Contains(line, "path=/api/v1/health ") || !strings.Contains(line, "status=200") {
			t.Errorf("%s: logged %q, want the path and status 200", tt.name, line)
		}
	}
	if strings.Contains(logs.String(), "secret-") {
		t.Errorf("a query string reached the log:\n%s", logs)
	}
}

// logLine returns the line of logs holding s, or "".
func logLine(logs, s string) string {
	for line := range strings.SplitSeq(logs, "\n") {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}

// TestBodyCaps: a body over its route's cap is refused 413 with the cap
// named, before the handler makes anything of it: 8 KiB for a login,
// 1 MiB elsewhere.
func TestBodyCaps(t *testing.T) {
	h, _ := newHandler(t, Options{})
	login := func(n int) string {
		return `{"username":"admin","password":"` + adminPassword + `","x":"` + strings.Repeat("a", n) + `"}`
	}
	w := serve(h, request{method: "POST", path: "/api/v1/auth", body: credentials, peer: stranger})
	cookie := sessionCookie(w)
	if cookie == nil {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	group := func(n int) string { return `{"name":"` + strings.Repeat("g", n) + `"}` }
	tests := []struct {
		name, path, body string
		status           int
		says             string
	}{
		{"login over 8 KiB", "/api/v1/auth", login(8 << 10), 413, "larger than 8192 bytes"},
		{"login under 8 KiB", "/api/v1/auth", login(7 << 10), 400, "unknown field"},
		{"a body over 1 MiB", "/api/v1/group", group(1 << 20), 413, "larger than 1048576 bytes"},
		{"a body under 1 MiB", "/api/v1/group", group(1<<20 - 100), 400, "name"},
	}
	for _, tt := range tests {
		w := serve(h, request{method: "POST", path: tt.path, body: tt.body, peer: stranger,
			header: map[string]string{"Cookie": session.CookieName + "=" + cookie.Value}})
		if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.says) {
			t.Errorf("%s: %d %s, want %d saying %q", tt.name, w.Code, w.Body, tt.status, tt.says)
		}
	}
}

// TestAuthenticate: a malformed Authorization header or an unknown bearer
// token is refused at once, even on a route anyone may call; a stale
// session cookie is just anonymous, so logging in still works.
func TestAuthenticate(t *testing.T) {
	h, _ := newHandler(t, Options{})
	stale := map[string]string{"Cookie": session.CookieName + "=stale"}
	tests := []struct {
		name, method, path, body string
		header                   map[string]string
		status                   int
		says                     string
	}{
		{"basic auth", "GET", "/api/v1/health", "", map[string]string{"Authorization": "Basic YTpi"}, 401, "must be"},
		{"empty bearer", "GET", "/api/v1/health", "", map[string]string{"Authorization": "Bearer  "}, 401, "must be"},
		{"unknown bearer", "GET", "/api/v1/health", "", map[string]string{"Authorization": "Bearer nope"}, 401, ""},
		{"stale cookie, anyone's route", "GET", "/api/v1/health", "", stale, 200, "ok"},
		{"stale cookie, users' route", "GET", "/api/v1/me", "", stale, 401, "log in"},
		{"stale cookie, login", "POST", "/api/v1/auth", credentials, stale, 200, `"username":"admin"`},
	}
	for _, tt := range tests {
		w := serve(h, request{method: tt.method, path: tt.path, body: tt.body, peer: stranger, header: tt.header})
		if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.says) {
			t.Errorf("%s: %d %s, want %d saying %q", tt.name, w.Code, w.Body, tt.status, tt.says)
		}
	}
}

// TestCrossSiteWrites: a browser's cross-site write is refused 403 before
// anything is read; the same from Herald's public URL, a same-origin
// page, or a client that says nothing of origins (curl) passes.
func TestCrossSiteWrites(t *testing.T) {
	h, _ := newHandler(t, Options{PublicURL: "https://herald.example.com"})
	tests := []struct {
		name   string
		header map[string]string
		status int
	}{
		{"curl", nil, 200},
		{"same origin", map[string]string{"Sec-Fetch-Site": "same-origin"}, 200},
		{"public URL behind a proxy", map[string]string{"Origin": "https://herald.example.com"}, 200},
		{"cross-site", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 403},
		{"foreign origin", map[string]string{"Origin": "https://evil.example"}, 403},
	}
	for _, tt := range tests {
		w := serve(h, request{method: "POST", path: "/api/v1/auth", body: credentials, peer: stranger, header: tt.header})
		if w.Code != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.name, w.Code, w.Body, tt.status)
		}
		if tt.status == 403 && (sessionCookie(w) != nil || !strings.Contains(w.Body.String(), "cross-site request refused")) {
			t.Errorf("%s: refused with %s, cookie %v", tt.name, w.Body, sessionCookie(w))
		}
	}
}

// TestRecoverPanics: a handler's panic is a 500 that shows nothing of it
// (JSON under /api/, the UI's styled error page elsewhere), and a log line
// with the stack; http.ErrAbortHandler goes on up, as net/http expects.
func TestRecoverPanics(t *testing.T) {
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	box, err := secretbox.New("test-secret-key-0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	pages, err := ui.New(directory.New(storetest.SQLite(t), box, nil, log, directory.Limits{}), log, box)
	if err != nil {
		t.Fatal(err)
	}
	h := recoverPanics(log, pages.Fail, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("secret detail")
	}))
	for _, tt := range []struct{ path, contentType, body string }{
		{"/api/v1/user", "application/json", `"internal error"`},
		{"/groups", "text/html", `id="error-message"`},
		{"/webhooks/1", "text/html", "internal error"},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", tt.path, nil))
		if w.Code != 500 || strings.Contains(w.Body.String(), "secret detail") || !strings.Contains(w.Body.String(), tt.body) ||
			!strings.HasPrefix(w.Header().Get("Content-Type"), tt.contentType) {
			t.Errorf("%s: panic answered %d %s %s", tt.path, w.Code, w.Header().Get("Content-Type"), w.Body)
		}
	}
	if !strings.Contains(logs.String(), "secret detail") || !strings.Contains(logs.String(), "stack=") {
		t.Errorf("panic logged as %q", logs)
	}

	abort := recoverPanics(slog.New(slog.DiscardHandler), pages.Fail, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("ErrAbortHandler recovered as %v", v)
		}
	}()
	abort.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
}

func TestMetricsRoute(t *testing.T) {
	here, _ := newHandler(t, Options{})
	elsewhere, _ := newHandler(t, Options{MetricsElsewhere: true})
	serve(here, request{method: "GET", path: "/api/v1/health", peer: stranger})
	if w := serve(here, request{method: "GET", path: "/metrics", peer: stranger}); w.Code != 200 ||
		!strings.Contains(w.Body.String(), `herald_http_requests_total{code="200",route="GET /api/v1/health"} 1`) {
		t.Errorf("/metrics: %d, without the health check counted:\n%s", w.Code, w.Body)
	}
	if w := serve(elsewhere, request{method: "GET", path: "/metrics", peer: stranger}); w.Code != 404 {
		t.Errorf("/metrics with metrics_addr: %d, want 404", w.Code)
	}
}
