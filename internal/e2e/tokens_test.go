package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// An API token is shown once, acts as its user, is listed without its
// secret, and stops working when revoked.
func TestAPITokens(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	var tok struct {
		ID    int64  `json:"id"`
		Name  string `json:"name"`
		Token string `json:"token"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/user/admin/api_token", map[string]string{"name": "provisioning script"}, &tok)
	if tok.ID == 0 || tok.Name != "provisioning script" || !strings.HasPrefix(tok.Token, "hrld_") {
		t.Fatalf("token = %+v", tok)
	}
	bearer := s.withToken(tok.Token)
	var me user
	bearer.expect(http.StatusOK, "GET", "/api/v1/me", nil, &me)
	if me.Username != "admin" || !me.IsAdmin {
		t.Fatalf("token acts as %+v", me)
	}
	// Token-authenticated writes work from scripts.
	bearer.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
		"username": "scripted", "first_name": "S", "last_name": "S", "email": "s@example.com",
	}, nil)

	list := admin.expect(http.StatusOK, "GET", "/api/v1/user/admin/api_token", nil, nil)
	if strings.Contains(string(list.Body), tok.Token) || !strings.Contains(string(list.Body), "provisioning script") {
		t.Fatalf("token list = %s", list.Body)
	}
	admin.expect(http.StatusNoContent, "DELETE", fmt.Sprintf("/api/v1/user/admin/api_token/%d", tok.ID), nil, nil)
	r := bearer.expect(http.StatusUnauthorized, "GET", "/api/v1/me", nil, nil)
	if r.msg() == "" {
		t.Fatal("no msg on revoked token")
	}
	admin.expect(http.StatusNotFound, "DELETE", fmt.Sprintf("/api/v1/user/admin/api_token/%d", tok.ID), nil, nil)
	s.withToken("hrld_nonsense").expect(http.StatusUnauthorized, "GET", "/api/v1/me", nil, nil)
	// A malformed Authorization header is refused, not ignored.
	c := s.anon()
	c.header.Set("Authorization", "Basic YWRtaW46YWRtaW4=")
	c.expect(http.StatusUnauthorized, "GET", "/api/v1/me", nil, nil)
}

// Logging in sets an HttpOnly, SameSite=Lax cookie; logging out ends it.
func TestSessionCookie(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := s.anon()
	r := c.expect(http.StatusOK, "POST", "/api/v1/auth", map[string]string{"username": "admin", "password": adminPassword}, nil)
	var body struct {
		User user `json:"user"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil || body.User.Username != "admin" || !body.User.IsAdmin {
		t.Fatalf("login answer = %s", r.Body)
	}
	c.expect(http.StatusOK, "GET", "/api/v1/me", nil, nil)
	cookie := r.Header.Get("Set-Cookie")
	if !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Lax") || strings.Contains(cookie, "Secure") {
		t.Fatalf("cookie = %q", cookie)
	}
	c.expect(http.StatusNoContent, "POST", "/api/v1/auth/logout", nil, nil)
	c.expect(http.StatusUnauthorized, "GET", "/api/v1/me", nil, nil)
	s.anon().expect(http.StatusUnauthorized, "POST", "/api/v1/auth", map[string]string{"username": "admin", "password": "wrong-password"}, nil)
	s.anon().expect(http.StatusUnauthorized, "POST", "/api/v1/auth", map[string]string{"username": "ghost", "password": "wrong-password"}, nil)
}
