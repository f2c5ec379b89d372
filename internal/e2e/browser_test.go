package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Browser tests drive Debian's Chromium against a real Herald. Without a
// browser they skip, except in CI, where .ci/run installs one and a missing
// browser is a failure.

func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("HERALD_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("Chromium is not installed; .ci/run should have installed it (apt-get install -y chromium)")
	}
	t.Skip("browser test skipped: Chromium not found (apt-get install -y chromium, or set HERALD_CHROMIUM)")
	return ""
}

// browser is one headless Chromium tab against a server.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func newBrowser(t *testing.T, s *testServer) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	// One deadline for the whole session, so a stuck page fails the test
	// rather than hanging it. The longest session (every page at 390 px,
	// each with a screenshot) took over 90 s on a 2-core machine busy
	// with other work, so the deadline leaves room for that.
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx, base: s.URL}
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.check(chromedp.Do(b.ctx, steps...))
}

// check fails the test with where the browser was and what it showed.
func (b *browser) check(err error) {
	b.t.Helper()
	if err == nil {
		return
	}
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	body, _ := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("body")))
	b.t.Fatalf("browser: %v (at %s)\npage text: %.2000s", err, loc, body)
}

func (b *browser) open(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base+path), chromedp.WaitReady(chromedp.CSS("body")))
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	b.check(err)
	return s
}

// title is the page's title.
func (b *browser) title() string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Title())
	b.check(err)
	return s
}

// html is the page's whole HTML as the browser has it.
func (b *browser) html() string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	b.check(err)
	return s
}

func (b *browser) value(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS(sel)))
	b.check(err)
	return s
}

// submit clicks a button that submits a form or follows a link, and waits
// for the next page to load.
func (b *browser) submit(sel string) {
	b.t.Helper()
	_, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(sel)))
	b.check(err)
}

func (b *browser) login(username, password string) {
	b.t.Helper()
	b.open("/login")
	b.do(
		chromedp.SendKeys(chromedp.CSS("#username"), username),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
	)
	b.submit("button[type=submit]")
}

// Widths the pages are seen at: a laptop, and a phone (390 px, an iPhone
// 12 to 15) at which nothing may scroll sideways.
const (
	wideWidth, wideHeight     = 1280, 900
	narrowWidth, narrowHeight = 390, 844
)

// screenshot saves the page as name-1280.png and name-390.png in the
// directory HERALD_SCREENSHOTS names (.ci/run sets artifacts/screenshots;
// a relative path is taken from the repository's root), and does nothing
// when it is unset. The page is left at 1280 px.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	dir := os.Getenv("HERALD_SCREENSHOTS")
	if dir == "" {
		return
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join("..", "..", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	for _, w := range []struct{ width, height int64 }{{wideWidth, wideHeight}, {narrowWidth, narrowHeight}} {
		b.do(chromedp.EmulateViewport(w.width, w.height))
		png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		b.check(err)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, w.width)), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	b.do(chromedp.EmulateViewport(wideWidth, wideHeight))
}

// overflow returns how many pixels the page is wider than the window at
// 390 px (0 if it fits), and leaves the window at 1280 px. A table that
// scrolls sideways inside its box counts too: its far columns are as out
// of reach.
func (b *browser) overflow() int {
	b.t.Helper()
	return b.overflowAt(narrowWidth, narrowHeight)
}

// wideOverflow is overflow at 1280 px.
func (b *browser) wideOverflow() int {
	b.t.Helper()
	return b.overflowAt(wideWidth, wideHeight)
}

func (b *browser) overflowAt(width, height int64) int {
	b.t.Helper()
	b.do(chromedp.EmulateViewport(width, height))
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`Math.max(
		document.documentElement.scrollWidth - window.innerWidth,
		...Array.from(document.querySelectorAll(".table-wrap"), el => el.scrollWidth - el.clientWidth))`))
	b.check(err)
	b.do(chromedp.EmulateViewport(wideWidth, wideHeight))
	return max(n, 0)
}

// An admin adds a webhook and a user through the pages; the receiver gets
// user_created and the delivery log shows it succeeded, with its attempt.
// Then the admin changes the user's groups (user_modified) and deletes the
// user through the confirmation (user_deleted).
func TestBrowserAdminWorkflow(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	rc := newReceiver(t)
	b := newBrowser(t, s)
	b.login("admin", adminPassword)
	if got := b.text("#signed-in-user"); got != "admin" {
		t.Fatalf("signed in as %q", got)
	}
	b.screenshot("users")

	b.open("/webhooks/new")
	b.do(
		chromedp.SendKeys(chromedp.CSS("#url"), rc.URL),
		chromedp.SendKeys(chromedp.CSS("#description"), "welcome mails"),
		chromedp.SendKeys(chromedp.CSS("#token"), "browser-token"),
		chromedp.Click(chromedp.CSS("#on_user_created")),
		chromedp.Click(chromedp.CSS("#on_user_modified")),
		chromedp.Click(chromedp.CSS("#on_user_deleted")),
	)
	b.screenshot("webhook-form")
	b.submit("#save")
	if !strings.Contains(b.text("main"), "Webhook added") {
		t.Fatalf("after adding: %s", b.text("main"))
	}
	b.open("/webhooks")
	list := b.text("#webhooks")
	if !containsAll(list, rc.URL, "welcome mails", "nothing sent yet", "user created") {
		t.Fatalf("webhook list: %s", list)
	}
	b.screenshot("webhooks")

	b.open("/users/new")
	b.do(
		chromedp.SendKeys(chromedp.CSS("#username"), "jdoe"),
		chromedp.SendKeys(chromedp.CSS("#first_name"), "jane"),
		chromedp.SendKeys(chromedp.CSS("#last_name"), "doe"),
		chromedp.SendKeys(chromedp.CSS("#email"), "janedoe@email.pl"),
		chromedp.SendKeys(chromedp.CSS("#phone"), "123456789"),
	)
	b.submit("#save")
	got := rc.waitFor(1, 10*time.Second)
	if got[0].event() != "user_created" || got[0].Header.Get("Authorization") != "Bearer browser-token" ||
		string(got[0].Body) != `{"email":"janedoe@email.pl","first_name":"jane","last_name":"doe","groups":[],"is_admin":false,"pgp_cert_id":"","pgp_key":"","phone":"123456789","ssh_key":"","username":"jdoe"}` {
		t.Fatalf("receiver got %s %s", got[0].event(), got[0].Body)
	}
	b.screenshot("user")

	// The delivery log shows it succeeded, with its attempt.
	var hookID int64
	admin := s.admin()
	var hooks []webhook
	admin.expect(http.StatusOK, "GET", "/api/v1/webhook", nil, &hooks)
	hookID = hooks[0].ID
	admin.waitDeliveries(hookID, "succeeded", 1, 5*time.Second)
	b.open(fmt.Sprintf("/webhooks/%d", hookID))
	log := b.text("#deliveries")
	if !containsAll(log, "user_created", "user:jdoe", "succeeded", "200") {
		t.Fatalf("delivery log: %s", log)
	}
	b.screenshot("webhook-detail")
	b.submit("#deliveries tbody a")
	if st := b.text("#delivery-status"); st != "succeeded" {
		t.Fatalf("delivery status %q", st)
	}
	attempts := b.text("#attempts")
	if !containsAll(attempts, "200", "ms") {
		t.Fatalf("attempts: %s", attempts)
	}
	if page := b.text("main"); strings.Contains(page, "browser-token") || !strings.Contains(page, "Bearer ********") {
		t.Fatal("the delivery page must mask the token")
	}
	b.screenshot("delivery")

	// Groups: create one, then put jdoe in it from the user page.
	b.open("/groups/new")
	b.do(chromedp.SendKeys(chromedp.CSS("#name"), "devs"))
	b.submit("#save")
	b.screenshot("groups")
	b.open("/users/jdoe")
	b.do(chromedp.Click(chromedp.CSS("#group-devs")))
	b.submit("#save")
	got = rc.waitFor(2, 10*time.Second)
	if got[1].event() != "user_modified" || !strings.Contains(string(got[1].Body), `"groups":["devs"]`) {
		t.Fatalf("after editing groups the receiver got %s %s", got[1].event(), got[1].Body)
	}

	b.open("/events")
	if !containsAll(b.text("#events"), "user_modified", "user:jdoe", "group_created") {
		t.Fatalf("events page: %s", b.text("#events"))
	}
	b.screenshot("events")

	// The audit log, filtered by target through its form.
	b.open("/audit")
	if !containsAll(b.text("#audit"), "login_succeeded", "webhook_created", "user:admin") {
		t.Fatalf("audit page: %s", b.text("#audit"))
	}
	b.do(chromedp.SendKeys(chromedp.CSS("#target"), "webhook:1"))
	b.submit("#filter")
	if log := b.text("#audit"); !strings.Contains(log, "webhook_created") || strings.Contains(log, "login_succeeded") {
		t.Fatalf("audit page filtered by webhook:1: %s", log)
	}
	b.screenshot("audit")

	// Delete through the confirmation page.
	b.open("/users/jdoe")
	b.submit("#delete-user")
	if !strings.Contains(b.text("main"), "Delete user jdoe?") {
		t.Fatalf("confirmation: %s", b.text("main"))
	}
	b.submit("#confirm")
	got = rc.waitFor(3, 10*time.Second)
	if got[2].event() != "user_deleted" || string(got[2].Body) != `{"username":"jdoe"}` {
		t.Fatalf("after delete the receiver got %s %s", got[2].event(), got[2].Body)
	}
	if strings.Contains(b.text("#users"), "jdoe") {
		t.Fatal("jdoe still listed after delete")
	}
}

// A bad URL shows an error next to the URL field and keeps what was typed.
func TestBrowserValidationKeepsInput(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	b := newBrowser(t, s)
	b.login("admin", adminPassword)
	b.open("/webhooks/new")
	b.do(
		chromedp.SendKeys(chromedp.CSS("#url"), "not a url"),
		chromedp.SendKeys(chromedp.CSS("#description"), "kept description"),
		chromedp.SendKeys(chromedp.CSS("#token"), "kept-token"),
		chromedp.Click(chromedp.CSS("#on_user_deleted")),
	)
	b.submit("#save")
	if msg := b.text("#url-error"); !strings.Contains(msg, "http") {
		t.Fatalf("url error = %q", msg)
	}
	if v := b.value("#description"); v != "kept description" {
		t.Fatalf("description = %q", v)
	}
	if v := b.value("#url"); v != "not a url" {
		t.Fatalf("url = %q", v)
	}
	// The token typed is not sent back: secrets never reach a page's HTML.
	if v := b.value("#token"); v != "" {
		t.Fatalf("token = %q, want it not sent back", v)
	}
	if html := b.html(); strings.Contains(html, "kept-token") {
		t.Fatal("the form shown again has the typed token in its HTML")
	}
	if !strings.Contains(b.text("#token-retype"), "type it again") {
		t.Fatalf("no note to type the token again: %q", b.text("#token-retype"))
	}
	checked, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.querySelector("#on_user_deleted").checked`))
	b.check(err)
	if !checked {
		t.Fatal("trigger checkbox not kept")
	}
	b.screenshot("webhook-form-error")
	invalid, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS("#url"), "aria-invalid"))
	b.check(err)
	if invalid.Value != "true" {
		t.Fatal("the URL field is not marked invalid for assistive technology")
	}
}

// A plain user sees only their profile and gets a 403 page on admin pages.
func TestBrowserPlainUser(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.admin().expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
		"username": "pat", "first_name": "Pat", "last_name": "P", "email": "pat@example.com", "password": "pat-password",
	}, nil)
	b := newBrowser(t, s)
	b.login("pat", "pat-password")
	nav := b.text("nav")
	if strings.Contains(nav, "Webhooks") || strings.Contains(nav, "Users") || !strings.Contains(nav, "My profile") {
		t.Fatalf("plain user's navigation: %s", nav)
	}
	if h := b.text("h1"); h != "My profile" {
		t.Fatalf("landing page heading %q", h)
	}
	b.screenshot("profile")
	// They can edit their own profile.
	b.do(chromedp.Clear(chromedp.CSS("#phone")), chromedp.SendKeys(chromedp.CSS("#phone"), "+1 555"))
	b.submit("#save")
	if !strings.Contains(b.text("main"), "Saved") || b.value("#phone") != "+1 555" {
		t.Fatalf("profile save: %s", b.text("main"))
	}
	for _, path := range []string{"/webhooks", "/users", "/groups", "/events", "/audit", "/users/admin", "/webhooks/new"} {
		b.open(path)
		if msg := b.text("main"); !strings.Contains(msg, "403") || !strings.Contains(msg, "Not allowed") {
			t.Fatalf("%s as a plain user: %s", path, msg)
		}
	}
	b.screenshot("forbidden")
}

// Under the Content-Security-Policy (no inline script or style) the pages
// work in Chromium: a protected page opened without a session shows the
// login form and comes back to that page after logging in; the delivery
// filter submits itself when changed (static/herald.js); and the browser
// reports no blocked script, style or frame.
func TestBrowserPagesUnderCSP(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	rc := newReceiver(t)
	hook := s.admin().addWebhook(rc.URL, nil)
	b := newBrowser(t, s)
	cctx, stop := context.WithCancel(b.ctx)
	messages := chromedp.Console(cctx)
	var console []chromedp.ConsoleMessage
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			console = append(console, m)
		}
	}()

	page := fmt.Sprintf("/webhooks/%d", hook.ID)
	b.open(page)
	b.do(
		chromedp.SendKeys(chromedp.CSS("#username"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#password"), adminPassword),
	)
	b.submit("button[type=submit]")
	if loc, err := chromedp.Run(b.ctx, chromedp.Location()); err != nil || !strings.HasSuffix(loc, page) {
		t.Fatalf("after logging in at %s the browser is at %q (%v)", page, loc, err)
	}
	b.do(chromedp.WaitReady(chromedp.CSS("#status")))
	// Change it after the evaluation returns: the form's submission
	// navigates away.
	_, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`(() => {
		const s = document.querySelector("#status");
		s.value = "failed";
		setTimeout(() => s.dispatchEvent(new Event("change")), 0);
		return true;
	})()`))
	b.check(err)
	// The filtered page: errors while the browser navigates are expected,
	// so ask again until it is there.
	deadline := time.Now().Add(20 * time.Second)
	for {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		text, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector("#deliveries")?.innerText ?? ""`))
		if strings.Contains(loc, "status=failed") && strings.Contains(text, "No deliveries with status failed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("changing the status filter did not submit it (at %q: %q)", loc, text)
		}
		time.Sleep(50 * time.Millisecond)
	}

	stop()
	<-done
	for _, m := range console {
		if strings.Contains(m.Text, "Content Security Policy") || strings.Contains(m.Text, "Refused to") {
			t.Errorf("the browser blocked something: %s", m.Text)
		}
	}
}
