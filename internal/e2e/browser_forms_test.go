package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/heraldhq/herald/internal/app"
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

	// A profile with a bad PGP key and a bad fingerprint: both errors.
	b.open("/users/admin")
	b.do(
		chromedp.SendKeys(chromedp.CSS("#pgp_key"), "not a key"),
		chromedp.SendKeys(chromedp.CSS("#pgp_cert_id"), "xyz"),
	)
	b.submit("#save")
	for sel, want := range map[string]string{"#pgp_key-error": "not an ASCII-armored", "#pgp_cert_id-error": "40 hexadecimal digits"} {
		if got := b.text(sel); !strings.Contains(got, want) {
			t.Errorf("user form: %s = %q, want it to say %q", sel, got, want)
		}
	}

	// A station token with no name and a bad date: both errors, nothing
	// made, whether the date is no date (typed where the browser has no
	// date picker) or one in the past (refused by the directory).
	for date, want := range map[string]string{"next tuesday": "give a date and time", "2001-01-01T00:00": "is in the past"} {
		b.open("/stations")
		_, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.querySelector("#expires_at").type = "text", true`))
		b.check(err)
		b.do(chromedp.SendKeys(chromedp.CSS("#expires_at"), date))
		b.submit("#create-token")
		for sel, want := range map[string]string{"#worker-error": "required", "#expires_at-error": want} {
			if got := b.text(sel); !strings.Contains(got, want) {
				t.Errorf("stations form with %q: %s = %q, want it to say %q", date, sel, got, want)
			}
		}
	}
	if strings.Contains(b.html(), `id="new-station-token"`) {
		t.Error("a refused stations form made a token")
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

// A delivery that failed seven times shows its attempts as a table, one
// row each with its answer, and no Go value syntax.
func TestBrowserDeliveryAttempts(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *app.Config) {
		c.RetrySchedule = []time.Duration{0, 10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond,
			10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond}
	})
	rc := newReceiver(t)
	rc.setAnswer(func(int, received) int { return http.StatusInternalServerError })
	admin := s.admin()
	hook := admin.addWebhook(rc.URL, nil)
	admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
		"username": "seven", "first_name": "S", "last_name": "S", "email": "seven@example.com",
	}, nil)
	ds := admin.waitDeliveries(hook.ID, "failed", 1, 20*time.Second)
	if ds[0].Attempts != 7 {
		t.Fatalf("delivery has %d attempts, want 7", ds[0].Attempts)
	}
	b := newBrowser(t, s)
	b.login("admin", adminPassword)
	b.open(fmt.Sprintf("/webhooks/%d/deliveries/%d", hook.ID, ds[0].ID))
	if got := b.text("#attempt-count"); got != "7" {
		t.Fatalf("attempt count shows %q", got)
	}
	rows, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#attempts tbody tr").length`))
	b.check(err)
	if rows != 7 {
		t.Fatalf("%d attempt rows, want 7", rows)
	}
	main := b.text("main")
	for _, bad := range []string{"[{", "+0000 UTC", "{1 "} {
		if strings.Contains(main, bad) {
			t.Fatalf("the delivery page shows Go value syntax %q: %s", bad, main)
		}
	}
	if !containsAll(b.text("#attempts"), "500", "ms") {
		t.Fatalf("attempts: %s", b.text("#attempts"))
	}
	if title := b.title(); !strings.HasPrefix(title, fmt.Sprintf("Delivery %d · test receiver · Webhooks", ds[0].ID)) {
		t.Fatalf("title %q", title)
	}
	b.screenshot("delivery-7-attempts")
}

// The edit form never puts the webhook's token into the page: the field is
// empty with "leave empty to keep the current token"; saving with it empty
// keeps the token, a new one replaces it, "Remove the token" clears it.
func TestBrowserWebhookTokenWriteOnly(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	rc := newReceiver(t)
	admin := s.admin()
	hook := admin.addWebhook(rc.URL, map[string]any{"token": "my-secret-token", "description": "crm"})
	b := newBrowser(t, s)
	b.login("admin", adminPassword)
	token := func() string {
		var w webhook
		admin.expect(http.StatusOK, "GET", fmt.Sprintf("/api/v1/webhook/%d", hook.ID), nil, &w)
		return w.Token
	}

	b.open(fmt.Sprintf("/webhooks/%d", hook.ID))
	if got := b.text("#token-state"); !strings.HasPrefix(got, "Set") {
		t.Fatalf("token state %q", got)
	}
	if strings.Contains(b.html(), "my-secret-token") {
		t.Fatal("the webhook page has the token in its HTML")
	}
	b.open(fmt.Sprintf("/webhooks/%d/edit", hook.ID))
	if strings.Contains(b.html(), "my-secret-token") {
		t.Fatal("the edit form has the token in its HTML")
	}
	if v := b.value("#token"); v != "" {
		t.Fatalf("token field = %q", v)
	}
	if got := b.text("#token-note"); !strings.Contains(got, "Leave empty to keep the current token") {
		t.Fatalf("token note %q", got)
	}
	if title := b.title(); title != "Edit · crm · Webhooks · Herald" {
		t.Fatalf("title %q", title)
	}
	b.screenshot("webhook-edit")
	b.do(chromedp.Clear(chromedp.CSS("#description")), chromedp.SendKeys(chromedp.CSS("#description"), "crm renamed"))
	b.submit("#save")
	if got := token(); got != "my-secret-token" {
		t.Fatalf("after saving with the field empty the token is %q", got)
	}

	b.open(fmt.Sprintf("/webhooks/%d/edit", hook.ID))
	b.do(chromedp.SendKeys(chromedp.CSS("#token"), "new-token"))
	b.submit("#save")
	if got := token(); got != "new-token" {
		t.Fatalf("after typing a new token it is %q", got)
	}

	b.open(fmt.Sprintf("/webhooks/%d/edit", hook.ID))
	b.do(chromedp.Click(chromedp.CSS("#clear_token")))
	b.submit("#save")
	if got := token(); got != "" {
		t.Fatalf("after removing the token it is %q", got)
	}
	b.open(fmt.Sprintf("/webhooks/%d", hook.ID))
	if got := b.text("#token-state"); got != "None" {
		t.Fatalf("token state after removing %q", got)
	}
}

// "Send test" to a failing receiver shows the failure as an error, not as
// the success banner, and the test is in the delivery log like any
// delivery (failed, with its attempt); a passing one is green and logged
// as succeeded. Test sends are no change: the event feed leaves them out.
func TestBrowserTestSendLogged(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	rc := newReceiver(t)
	rc.setAnswer(func(n int, _ received) int {
		if n == 0 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	admin := s.admin()
	hook := admin.addWebhook(rc.URL, nil)
	seq := admin.lastSeq()
	b := newBrowser(t, s)
	b.login("admin", adminPassword)
	b.open(fmt.Sprintf("/webhooks/%d", hook.ID))
	b.submit("#send-test")
	class, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS("#notice"), "class"))
	b.check(err)
	if got := b.text("#notice"); class.Value != "error" || !containsAll(got, "Test failed", "500") {
		t.Fatalf("failed test notice %q (class %q)", got, class.Value)
	}
	if log := b.text("#deliveries"); !containsAll(log, "webhook_test", "failed", "500") {
		t.Fatalf("delivery log after a failed test: %s", log)
	}
	b.screenshot("webhook-test-failed")
	b.submit("#deliveries tbody a")
	if st := b.text("#delivery-status"); st != "failed" {
		t.Fatalf("test delivery status %q", st)
	}
	if att := b.text("#attempts"); !containsAll(att, "500", "ms") {
		t.Fatalf("test delivery attempts: %s", att)
	}

	b.open(fmt.Sprintf("/webhooks/%d", hook.ID))
	b.submit("#send-test")
	class, err = chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS("#notice"), "class"))
	b.check(err)
	if got := b.text("#notice"); class.Value != "notice" || !strings.Contains(got, "Test sent") {
		t.Fatalf("passed test notice %q (class %q)", got, class.Value)
	}
	ds := admin.deliveries(hook.ID, "")
	if len(ds) != 2 || ds[0].Event != "webhook_test" || ds[0].Status != "succeeded" || ds[1].Status != "failed" || ds[1].LastStatusCode != 500 {
		t.Fatalf("deliveries %+v", ds)
	}
	if got := rc.all(); len(got) != 2 || got[1].id() != ds[0].EventID {
		t.Fatalf("the receiver got %d requests; the logged event id %q is not the one sent", len(got), ds[0].EventID)
	}
	if evs := admin.eventsAfter(seq); len(evs) != 0 {
		t.Fatalf("test sends in the event feed: %+v", evs)
	}
}
