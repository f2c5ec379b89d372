package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
)

// TestSecureCookiesAndHSTS: the session cookie is Secure, and HSTS is
// sent, when the client reaches Herald over https: a trusted proxy says so
// with X-Forwarded-Proto, or the public URL is https. An untrusted peer
// saying so changes nothing. Every answer carries the security headers.
func TestSecureCookiesAndHSTS(t *testing.T) {
	t.Parallel()
	trust := func(cidr string) func(*app.Config) {
		return func(c *app.Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix(cidr)} }
	}
	publicURL := func(u string) func(*app.Config) { return func(c *app.Config) { c.PublicURL = u } }
	cases := []struct {
		name   string
		opt    func(*app.Config)
		proto  string // X-Forwarded-Proto sent, if any
		secure bool
	}{
		{"plain http", func(*app.Config) {}, "", false},
		{"trusted proxy says https", trust("127.0.0.1/32"), "https", true},
		{"trusted proxy says http", trust("127.0.0.1/32"), "http", false},
		{"untrusted peer says https", trust("127.0.0.2/32"), "https", false},
		{"https public URL", publicURL("https://herald.example.com"), "", true},
		{"https public URL in capitals", publicURL("HTTPS://Herald.Example.com"), "", true},
		{"http public URL", publicURL("http://herald.example.com"), "https", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, tc.opt)
			hc := clientFrom("127.0.0.1")
			for _, login := range []struct {
				path, contentType, body string
			}{
				{"/api/v1/auth", "application/json", `{"username":"admin","password":"` + adminPassword + `"}`},
				{"/login", "application/x-www-form-urlencoded", "username=admin&password=" + adminPassword},
			} {
				req, _ := http.NewRequest("POST", s.URL+login.path, strings.NewReader(login.body))
				req.Header.Set("Content-Type", login.contentType)
				if tc.proto != "" {
					req.Header.Set("X-Forwarded-Proto", tc.proto)
				}
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusSeeOther {
					t.Fatalf("POST %s: status %d", login.path, resp.StatusCode)
				}
				cookie := resp.Header.Get("Set-Cookie")
				if !strings.HasPrefix(cookie, "herald_session=") || strings.Contains(cookie, "; Secure") != tc.secure {
					t.Errorf("POST %s: Set-Cookie %q, want Secure: %v", login.path, cookie, tc.secure)
				}
				if hsts := resp.Header.Get("Strict-Transport-Security"); (hsts != "") != tc.secure || (tc.secure && !strings.HasPrefix(hsts, "max-age=")) {
					t.Errorf("POST %s: Strict-Transport-Security %q, want it: %v", login.path, hsts, tc.secure)
				}
			}
		})
	}

	t.Run("security headers", func(t *testing.T) {
		t.Parallel()
		s := startServer(t)
		for _, path := range []string{"/login", "/users", "/api/v1/health", "/static/herald.css"} {
			r := s.anon().do("GET", path, nil)
			h := r.Header
			csp := h.Get("Content-Security-Policy")
			if !containsAll(csp, "default-src 'self'", "script-src 'self'", "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
				t.Errorf("GET %s: Content-Security-Policy %q", path, csp)
			}
			if h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "same-origin" {
				t.Errorf("GET %s: X-Frame-Options %q, X-Content-Type-Options %q, Referrer-Policy %q",
					path, h.Get("X-Frame-Options"), h.Get("X-Content-Type-Options"), h.Get("Referrer-Policy"))
			}
		}
	})
}

// TestSlowClientsCutOff: a client that trickles its body one byte at a
// time is cut off when the whole-request timeout runs out (shortened here
// from its default of 60 s), and one that never finishes its headers when
// the header timeout does.
func TestSlowClientsCutOff(t *testing.T) {
	t.Parallel()
	if d := app.DefaultConfig(); d.HeaderTimeout != 10*time.Second || d.WholeRequestTimeout != 60*time.Second || d.IdleTimeout != 120*time.Second {
		t.Errorf("default timeouts: headers %v, whole request %v, idle %v; want 10s, 60s, 120s", d.HeaderTimeout, d.WholeRequestTimeout, d.IdleTimeout)
	}
	const timeout = 2 * time.Second
	s := startServer(t, func(c *app.Config) {
		c.HeaderTimeout = timeout
		c.WholeRequestTimeout = timeout
	})
	cases := []struct {
		name, start string
		trickle     string
	}{
		{"a trickled body", "POST /api/v1/auth HTTP/1.1\r\nHost: herald\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n",
			`{"username":"admin","password":"` + strings.Repeat("x", 4000)},
		{"trickled headers", "GET /api/v1/health HTTP/1.1\r\nHost: herald\r\n", strings.Repeat("X-Slow: 1\r\n", 200)},
		{"a trickled form", "POST /login HTTP/1.1\r\nHost: herald\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 4096\r\n\r\n",
			"username=admin&password=" + strings.Repeat("x", 4000)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			began := time.Now()
			if _, err := io.WriteString(conn, tc.start); err != nil {
				t.Fatal(err)
			}
			// One byte every 100 ms: the whole would take minutes.
			go func() {
				for i := range len(tc.trickle) {
					if _, err := conn.Write([]byte{tc.trickle[i]}); err != nil {
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}()
			_ = conn.SetReadDeadline(time.Now().Add(timeout + 8*time.Second))
			answer, err := io.ReadAll(bufio.NewReader(conn))
			took := time.Since(began)
			var netErr net.Error
			if errors.As(err, &netErr) && netErr.Timeout() {
				t.Fatalf("still connected after %v (timeout %v); got %q", took.Round(time.Millisecond), timeout, answer)
			}
			if took < timeout-100*time.Millisecond {
				t.Errorf("cut off after %v, before the %v timeout", took, timeout)
			}
			if strings.Contains(string(answer), " 200 ") || strings.Contains(string(answer), " 303 ") {
				t.Errorf("a trickled request was served: %q", answer)
			}
			t.Logf("cut off after %v: %.80q", took.Round(time.Millisecond), answer)
		})
	}
}

// TestWebhookTestWithinRequestTimeout: a webhook test (API or UI) answers
// within the server's whole-request timeout, with the receiver's silence
// as its outcome, even when request_timeout would let the test wait
// longer: else the server would cut the connection off first and the
// admin would get no answer at all.
func TestWebhookTestWithinRequestTimeout(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *app.Config) {
		c.WholeRequestTimeout = 4 * time.Second
		c.RequestTimeout = 30 * time.Second
	})
	// A receiver that reads the request (checked against openapi.json
	// like every receiver's) and then never answers.
	hang := make(chan struct{})
	silent := newReceiver(t)
	silent.setAnswer(func(int, received) int { <-hang; return http.StatusOK })
	defer close(hang)
	adm := s.admin()
	adm.http.Timeout = 20 * time.Second
	var hook struct{ ID int64 }
	adm.expect(http.StatusCreated, "POST", "/api/v1/webhook", map[string]any{"url": silent.URL, "description": "silent", "on_user_created": true}, &hook)
	var outcome struct {
		Success bool   `json:"success"`
		Error   string `json:"error"`
	}
	adm.expect(http.StatusOK, "POST", fmt.Sprintf("/api/v1/webhook/%d/test", hook.ID), nil, &outcome)
	if outcome.Success || outcome.Error == "" {
		t.Errorf("test of a receiver that never answers: %+v, want a failure saying why", outcome)
	}
	r := adm.postForm(fmt.Sprintf("/webhooks/%d/test", hook.ID), url.Values{})
	if r.Status >= 500 {
		t.Errorf("the web UI's test of a receiver that never answers: status %d", r.Status)
	}
	if got := silent.all(); len(got) != 2 || got[0].event() != "webhook_test" || got[1].event() != "webhook_test" {
		t.Errorf("the silent receiver got %d requests, want the two tests", len(got))
	}
}
