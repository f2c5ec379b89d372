package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestCrossSiteWriteRefused: a browser carrying the admin's session cookie
// to Herald from another site cannot make changes (docs/security.md: browser
// writes from other sites are refused), while API
// clients (which send no Sec-Fetch-Site or Origin) and Herald's own pages
// can.
func TestCrossSiteWriteRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	adm := s.admin()
	newUser := func(name string) map[string]string {
		return map[string]string{"username": name, "first_name": "X", "last_name": "Y", "email": name + "@example.com"}
	}
	cases := []struct {
		name   string
		header http.Header
		want   int
	}{
		{"cross-site fetch", http.Header{"Sec-Fetch-Site": {"cross-site"}}, http.StatusForbidden},
		{"foreign origin", http.Header{"Origin": {"https://evil.example"}}, http.StatusForbidden},
		{"curl-like client", http.Header{}, http.StatusCreated},
		{"same-origin fetch", http.Header{"Sec-Fetch-Site": {"same-origin"}}, http.StatusCreated},
		{"own origin", http.Header{"Origin": {s.URL}}, http.StatusCreated},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := adm.authzFork(t)
			c.header = tc.header.Clone()
			username := fmt.Sprintf("site%d", i)
			r := c.do("POST", "/api/v1/user", newUser(username))
			if r.Status != tc.want {
				t.Errorf("POST /api/v1/user with %v: status %d, want %d; body %s", tc.header, r.Status, tc.want, r.Body)
			}
			checkAuthzErrorBody(t, "POST", "/api/v1/user", r)
			check := adm.authzFork(t)
			wantGet := http.StatusNotFound
			if tc.want == http.StatusCreated {
				wantGet = http.StatusOK
			}
			check.expect(wantGet, "GET", "/api/v1/user/"+username, nil, nil)
		})
	}

	t.Run("cross-site reads pass", func(t *testing.T) {
		c := adm.authzFork(t)
		c.header.Set("Sec-Fetch-Site", "cross-site")
		c.expect(http.StatusOK, "GET", "/api/v1/me", nil, nil)
	})

	t.Run("cross-site delete refused", func(t *testing.T) {
		a := adm.authzFork(t)
		a.expect(http.StatusCreated, "POST", "/api/v1/user", newUser("victim"), nil)
		c := adm.authzFork(t)
		c.header.Set("Origin", "https://evil.example")
		r := c.do("DELETE", "/api/v1/user/victim", nil)
		if r.Status != http.StatusForbidden {
			t.Errorf("cross-site DELETE: status %d, want 403; body %s", r.Status, r.Body)
		}
		checkAuthzErrorBody(t, "DELETE", "/api/v1/user/victim", r)
		a.expect(http.StatusOK, "GET", "/api/v1/user/victim", nil, nil)
	})
}

// TestLoginThrottled: after five wrong passwords for one username, further
// attempts for it are refused for a while, even with the right password,
// while other usernames can still log in (docs/security.md, "Logins").
func TestLoginThrottled(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	adm := s.admin()
	addAliceAndBob(adm)

	c := s.anon()
	login := func(username, password string) response {
		return c.do("POST", "/api/v1/auth", map[string]string{"username": username, "password": password})
	}
	for i := 1; i <= 5; i++ {
		r := login("alice", "wrong-password")
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("wrong password, attempt %d: status %d, want 401; body %s", i, r.Status, r.Body)
		}
		checkAuthzErrorBody(t, "POST", "/api/v1/auth", r)
	}
	for i, pw := range []string{"wrong-password", authzAlicePassword} {
		r := login("alice", pw)
		if r.Status != http.StatusTooManyRequests {
			t.Errorf("attempt %d: status %d, want 429; body %s", 6+i, r.Status, r.Body)
		}
		checkAuthzErrorBody(t, "POST", "/api/v1/auth", r)
		if msg := strings.ToLower(r.msg()); !strings.Contains(msg, "try again") {
			t.Errorf("attempt %d: msg %q does not say to try again", 6+i, r.msg())
		}
		if len(r.Header.Values("Set-Cookie")) > 0 {
			t.Errorf("attempt %d: a throttled login set a cookie: %v", 6+i, r.Header.Values("Set-Cookie"))
		}
	}
	// Another username is not affected.
	r := login("bob", authzBobPassword)
	if r.Status != http.StatusOK {
		t.Errorf("bob, right password: status %d, want 200; body %s", r.Status, r.Body)
	}
	c.expect(http.StatusOK, "GET", "/api/v1/me", nil, nil)
}
