package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The add-user form with a bad username, a bad email and a short password
// shows all three errors at once, each beside its field, and creates
// nothing; a webhook without any trigger is refused beside the triggers.
func TestBrowserAllFieldErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	b := newBrowser(t, s)
	b.login("admin", adminPassword)

	b.open("/users/new")
	b.do(
		chromedp.SendKeys(chromedp.CSS("#username"), "Bad Name!"),
		chromedp.SendKeys(chromedp.CSS("#first_name"), "Kept"),
		chromedp.SendKeys(chromedp.CSS("#email"), "not-an-email"),
		chromedp.SendKeys(chromedp.CSS("#password"), "short"),
	)
	b.submit("#save")
	for sel, want := range map[string]string{
		"#username-error": "lowercase letters",
		"#email-error":    "plain address",
		"#password-error": "at least 8 characters",
	} {
		if got := b.text(sel); !strings.Contains(got, want) {
			t.Errorf("%s = %q, want it to say %q", sel, got, want)
		}
	}
	if got := b.text("main .error"); !strings.Contains(got, "3 fields") {
		t.Errorf("summary = %q", got)
	}
	if v := b.value("#first_name"); v != "Kept" {
		t.Errorf("first_name = %q, want it kept", v)
	}
	if v := b.value("#password"); v != "" || strings.Contains(b.html(), "short") && strings.Contains(b.html(), `value="short"`) {
		t.Error("the password typed is sent back to the browser")
	}
	b.screenshot("user-new-errors")
	var users []struct{ Username string }
	s.admin().expect(http.StatusOK, "GET", "/api/v1/user", nil, &users)
	if len(users) != 1 {
		t.Fatalf("users after a refused form: %+v", users)
	}

	b.open("/webhooks/new")
	b.do(
		chromedp.SendKeys(chromedp.CSS("#url"), "http://127.0.0.1:9/hook"),
		chromedp.SendKeys(chromedp.CSS("#description"), "no triggers"),
	)
	b.submit("#save")
	if got := b.text("#events-error"); !strings.Contains(got, "at least one trigger or event") {
		t.Fatalf("events error = %q", got)
	}
	var hooks []webhook
	s.admin().expect(http.StatusOK, "GET", "/api/v1/webhook", nil, &hooks)
	if len(hooks) != 0 {
		t.Fatalf("a webhook without triggers was stored: %+v", hooks)
	}
}

// The API answers every field error at once: msg joins them, and errors
// lists each with its field.
func TestAPIAllFieldErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	var body struct {
		Msg    string `json:"msg"`
		Errors []struct {
			Field string `json:"field"`
			Msg   string `json:"msg"`
		} `json:"errors"`
	}
	s.admin().expect(http.StatusBadRequest, "POST", "/api/v1/user", map[string]string{
		"username": "Bad Name!", "email": "nope", "password": "short",
	}, &body)
	var fields []string
	for _, e := range body.Errors {
		fields = append(fields, e.Field)
	}
	if strings.Join(fields, ",") != "username,email,password" || !containsAll(body.Msg, "username: ", "email: ", "password: ") {
		t.Fatalf("answer %+v", body)
	}
	r := s.admin().expect(http.StatusBadRequest, "POST", "/api/v1/webhook", map[string]any{"url": "http://127.0.0.1:9/h", "description": "none"}, nil)
	if r.msg() != "events: choose at least one trigger or event; a webhook with none would never be sent anything" {
		t.Fatalf("no-trigger answer %q", r.msg())
	}
}
