package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/session"
)

// A run that uses every kind of secret — passwords, API and station tokens,
// a session, a webhook token and signing secrets before and after a
// rotation — logs one line per request and per delivery (successes at
// debug level, which the test server logs), and none of the secrets.
func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	secrets := []string{adminPassword}
	userPassword := "user-secret-pass-9"
	admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
		"username": "logan", "first_name": "L", "last_name": "L", "email": "logan@example.com", "password": userPassword,
	}, nil)
	secrets = append(secrets, userPassword)
	s.anon().expect(http.StatusUnauthorized, "POST", "/api/v1/auth", map[string]string{"username": "logan", "password": "wrong-secret-guess"}, nil)
	secrets = append(secrets, "wrong-secret-guess")
	logan := s.login("logan", userPassword)
	for _, c := range logan.http.Jar.Cookies(mustURL(t, s.URL)) {
		if c.Name == session.CookieName {
			secrets = append(secrets, c.Value)
		}
	}
	logan.expect(http.StatusNoContent, "PUT", "/api/v1/user/logan/password", map[string]string{"old_password": userPassword, "new_password": "user-secret-pass-10"}, nil)
	secrets = append(secrets, "user-secret-pass-10")
	var tok struct {
		Token string `json:"token"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/user/admin/api_token", map[string]string{"name": "t"}, &tok)
	secrets = append(secrets, tok.Token)
	s.withToken(tok.Token).expect(http.StatusOK, "GET", "/api/v1/me", nil, nil)
	admin.expect(http.StatusCreated, "POST", "/api/v1/worker/token", map[string]string{"worker": "st"}, &tok)
	secrets = append(secrets, tok.Token)
	s.withToken(tok.Token).expect(http.StatusNoContent, "GET", "/api/v1/worker/job?worker=st", nil, nil)

	rc := newReceiver(t)
	rc.setAnswer(func(n int, _ received) int {
		if n == 0 {
			return http.StatusInternalServerError // one retry, logged
		}
		return http.StatusOK
	})
	hook := admin.addWebhook(rc.URL, map[string]any{"token": "webhook-secret-token"})
	secrets = append(secrets, "webhook-secret-token", hook.SigningSecret)
	var rotated webhook
	admin.expect(http.StatusOK, "POST", fmt.Sprintf("/api/v1/webhook/%d/rotate_secret", hook.ID), nil, &rotated)
	secrets = append(secrets, rotated.SigningSecret)
	createUser(admin, "after")
	got := rc.waitFor(2, 10*time.Second)
	for _, r := range got {
		secrets = append(secrets, strings.Fields(r.Header.Get("webhook-signature"))...)
	}
	admin.expect(http.StatusOK, "POST", fmt.Sprintf("/api/v1/webhook/%d/test", hook.ID), nil, nil)
	admin.waitDeliveries(hook.ID, "succeeded", 1, 5*time.Second)
	s.stop()

	logs := s.logs.String()
	for _, want := range []string{"msg=request", "path=/api/v1/user", "msg=delivery", "outcome=retrying", "outcome=succeeded"} {
		if !strings.Contains(logs, want) {
			t.Fatalf("the log lacks %q; it should have a line per request and per delivery", want)
		}
	}
	for _, secret := range secrets {
		if secret != "" && strings.Contains(logs, secret) {
			t.Errorf("the log contains a secret (%d characters, starting %q)", len(secret), secret[:4])
		}
	}
}
