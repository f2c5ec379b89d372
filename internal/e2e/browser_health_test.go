package e2e

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/internal/app"
)

// deadURL is a loopback address nothing listens on.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/hook"
}

// healthFixture is a server with three webhooks, one healthy, one always
// answering 500 and one whose receiver is gone, after one user was
// created: the failing ones wait an hour for their next attempt.
type healthFixture struct {
	s                      *testServer
	healthy, failing, dead webhook
}

func newHealthFixture(t *testing.T) healthFixture {
	t.Helper()
	s := startServer(t, func(c *app.Config) { c.RetrySchedule = []time.Duration{0, 10 * time.Millisecond, time.Hour} })
	ok, bad := newReceiver(t), newReceiver(t)
	bad.setAnswer(func(int, received) int { return http.StatusInternalServerError })
	admin := s.admin()
	f := healthFixture{s: s,
		healthy: admin.addWebhook(ok.URL, map[string]any{"description": "healthy crm"}),
		failing: admin.addWebhook(bad.URL, map[string]any{"description": "failing wiki"}),
		dead:    admin.addWebhook(deadURL(t), map[string]any{"description": "dead mailer"}),
	}
	createUser(admin, "hal")
	admin.waitDeliveries(f.healthy.ID, "succeeded", 1, 10*time.Second)
	for _, id := range []int64{f.failing.ID, f.dead.ID} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			ds := admin.deliveries(id, "status=retrying")
			if len(ds) == 1 && ds[0].Attempts == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("webhook %d deliveries: %+v", id, admin.deliveries(id, ""))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return f
}

// The webhooks list and each webhook's page show its health: healthy,
// failing with its failures in a row, since when, and its next attempt;
// the delivery log has next-attempt and last-error columns. The page's
// buttons disable and enable it, rotate its secret after a confirmation
// that says how long the old one still signs, and delete it.
func TestBrowserWebhookHealth(t *testing.T) {
	t.Parallel()
	f := newHealthFixture(t)
	b := newBrowser(t, f.s)
	b.login("admin", adminPassword)
	b.open("/webhooks")
	row := func(id int64) string { return b.text(fmt.Sprintf("#webhook-%d", id)) }
	if got := row(f.healthy.ID); !containsAll(got, "Healthy", "Last answer 200") {
		t.Errorf("healthy row: %s", got)
	}
	if got := row(f.failing.ID); !containsAll(got, "Failing", "2 failed attempts in a row", "failing since", "1 waiting, next attempt", "500") {
		t.Errorf("failing row: %s", got)
	}
	if got := row(f.dead.ID); !containsAll(got, "Failing", "2 failed attempts in a row", "Last error", "connect") {
		t.Errorf("dead row: %s", got)
	}
	// At 1280 px each row's actions sit in a table cell level with the
	// row's other cells, not in a flex box pushed down by a margin.
	misplaced, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#webhooks tbody tr")).flatMap(tr => {
		const cells = Array.from(tr.cells);
		const actions = cells[cells.length - 1];
		return getComputedStyle(actions).display == "table-cell" && actions.getBoundingClientRect().top == cells[0].getBoundingClientRect().top
			? [] : [tr.id + ": " + getComputedStyle(actions).display];
	})`))
	b.check(err)
	if len(misplaced) > 0 {
		t.Errorf("actions cells out of line at 1280 px: %v", misplaced)
	}
	b.screenshot("webhooks-health")
	b.open("/webhooks?q=WIKI")
	if got := b.text("#total"); got != "1–1 of 1 webhooks matching “WIKI”" || !strings.Contains(b.text("#webhooks tbody"), "failing wiki") {
		t.Errorf("webhooks search: %q", got)
	}

	b.open(fmt.Sprintf("/webhooks/%d", f.failing.ID))
	if got := b.text("#consecutive-failures"); got != "2" {
		t.Errorf("failures in a row %q", got)
	}
	if got := b.text("#failing-since"); !strings.Contains(got, "UTC") {
		t.Errorf("failing since %q", got)
	}
	next := b.text("#next-attempt")
	if !strings.Contains(next, "UTC") {
		t.Errorf("next attempt %q", next)
	}
	if got := b.text("#last-attempt"); !strings.Contains(got, "answered 500") {
		t.Errorf("last attempt %q", got)
	}
	if got := b.text("#deliveries thead"); !containsAll(got, "Next attempt", "Last error") {
		t.Errorf("delivery log columns: %s", got)
	}
	if got := b.text("#deliveries tbody"); !containsAll(got, "retrying", "500", next) {
		t.Errorf("delivery log: %s", got)
	}
	b.screenshot("webhook-failing")

	// The log filters by event type too, with its total.
	b.open(fmt.Sprintf("/webhooks/%d?event=user_created", f.failing.ID))
	if got := b.text("#deliveries-total"); got != "1 delivery match" {
		t.Errorf("filtered total %q", got)
	}
	b.open(fmt.Sprintf("/webhooks/%d?event=group_deleted&status=failed", f.failing.ID))
	if got := b.text("#deliveries tbody"); !strings.Contains(got, "No deliveries with status failed of group_deleted") {
		t.Errorf("empty filtered log: %s", got)
	}
	// And by free text in the subject or the event id, typed into its box.
	logged := f.s.admin().deliveries(f.failing.ID, "")
	if len(logged) != 1 || logged[0].Subject != "user:hal" {
		t.Fatalf("the failing webhook's log: %+v", logged)
	}
	b.open(fmt.Sprintf("/webhooks/%d?status=retrying", f.failing.ID))
	b.do(chromedp.SendKeys(chromedp.CSS("#delivery-q"), "HAL"))
	b.submit("#filter-deliveries")
	if got, rows := b.text("#deliveries-total"), b.text("#deliveries tbody"); got != "1 delivery match" || !strings.Contains(rows, "user:hal") {
		t.Errorf("search HAL: %q, %s", got, rows)
	}
	if got := b.value("#delivery-q"); got != "HAL" {
		t.Errorf("the search box after searching holds %q", got)
	}
	for q, want := range map[string]string{strings.ToUpper(logged[0].EventID): "1 delivery match", "user%": "0 deliveries match", "webhook": "0 deliveries match"} {
		b.open(fmt.Sprintf("/webhooks/%d?q=%s", f.failing.ID, url.QueryEscape(q)))
		if got := b.text("#deliveries-total"); got != want {
			t.Errorf("search %q: %q, want %q", q, got, want)
		}
	}
	b.open(fmt.Sprintf("/webhooks/%d?q=webhook", f.failing.ID))
	if got := b.text("#deliveries tbody"); !strings.Contains(got, "No deliveries matching “webhook”") {
		t.Errorf("a search that finds nothing: %s", got)
	}
	b.open(fmt.Sprintf("/webhooks/%d?event=nonsense", f.failing.ID))
	if got := b.text("main"); !containsAll(got, "400", "event: must be one of") {
		t.Errorf("a bad event filter: %s", got)
	}

	// Disable and enable from the page.
	b.open(fmt.Sprintf("/webhooks/%d", f.failing.ID))
	b.submit("#disable")
	if got := b.text("#disabled-reason"); got != "by an admin" {
		t.Errorf("after disabling: %q", got)
	}
	b.submit("#enable")
	if !strings.Contains(b.text("#notice"), "Webhook enabled") {
		t.Errorf("after enabling: %s", b.text("#notice"))
	}

	// Rotate, twice: the second confirmation says until when the first
	// secret still signs.
	admin := f.s.admin()
	secret := func() string {
		var w webhook
		admin.expect(http.StatusOK, "GET", fmt.Sprintf("/api/v1/webhook/%d", f.failing.ID), nil, &w)
		return w.SigningSecret
	}
	before := secret()
	b.submit("#rotate")
	if got := b.text("main"); !containsAll(got, "Rotate signing secret", "24 hours") {
		t.Fatalf("rotate confirmation: %s", got)
	}
	if secret() != before {
		t.Fatal("opening the confirmation rotated the secret")
	}
	b.submit("#confirm")
	after := secret()
	if after == before {
		t.Fatal("confirming did not rotate the secret")
	}
	// The rotation's answer shows the new secret once; no GET shows it.
	if got := b.text("#new-signing-secret"); got != after {
		t.Errorf("the rotation's answer shows %q, not the new secret %q", got, after)
	}
	for _, path := range []string{"", "?show_secret=1", "/edit"} {
		path = fmt.Sprintf("/webhooks/%d%s", f.failing.ID, path)
		page := string(admin.expect(http.StatusOK, "GET", path, nil, nil).Body)
		if !strings.HasPrefix(after, "whsec_") || strings.Contains(page, after) || strings.Contains(page, before) {
			t.Errorf("GET %s has the signing secret in its HTML", path)
		}
		b.open(path)
		if strings.Contains(b.html(), after) {
			t.Errorf("%s in the browser shows the signing secret", path)
		}
	}
	if got := string(admin.expect(http.StatusOK, "GET", fmt.Sprintf("/webhooks/%d", f.failing.ID), nil, nil).Body); !strings.Contains(got, fmt.Sprintf("GET /api/v1/webhook/%d", f.failing.ID)) {
		t.Error("the webhook page does not say where to read the signing secret")
	}
	b.open(fmt.Sprintf("/webhooks/%d", f.failing.ID))
	b.submit("#rotate")
	if got := b.text("main"); !containsAll(got, "still signs until", "stops signing at once") {
		t.Fatalf("second rotate confirmation: %s", got)
	}
	b.screenshot("webhook-rotate-confirm")

	// Delete from the page, through its confirmation.
	b.open(fmt.Sprintf("/webhooks/%d", f.dead.ID))
	b.submit("#delete-webhook")
	b.submit("#confirm")
	admin.expect(http.StatusNotFound, "GET", fmt.Sprintf("/api/v1/webhook/%d", f.dead.ID), nil, nil)
}

// The dashboard's figures match what the API says: users, groups and
// webhooks counted, webhooks by health, deliveries waiting and settled in
// the last 24 h, the newest events; the failing webhooks are listed, each
// linked to its page.
func TestBrowserDashboard(t *testing.T) {
	t.Parallel()
	f := newHealthFixture(t)
	admin := f.s.admin()
	// A fourth receiver is gone for good (410): Herald disables it.
	goneRc := newReceiver(t)
	goneRc.setAnswer(func(int, received) int { return http.StatusGone })
	gone := admin.addWebhook(goneRc.URL, map[string]any{"description": "retired app", "on_user_modified": true, "on_user_created": false})
	admin.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "ops", "members": []string{"hal"}}, nil)
	admin.waitDeliveries(gone.ID, "failed", 1, 10*time.Second)
	// Let hal's user_modified settle: sent to the healthy webhook; at the
	// others it waits behind hal's user_created (order per subject).
	admin.waitDeliveries(f.healthy.ID, "succeeded", 2, 10*time.Second)
	for _, id := range []int64{f.failing.ID, f.dead.ID} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			ds := admin.deliveries(id, "")
			if len(ds) == 2 && ds[0].Attempts == 0 && ds[1].Attempts == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("webhook %d deliveries: %+v", id, ds)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	var users []struct{ Username string }
	admin.expect(http.StatusOK, "GET", "/api/v1/user", nil, &users)
	var groups []struct{ Name string }
	admin.expect(http.StatusOK, "GET", "/api/v1/group", nil, &groups)
	var hooks []webhook
	admin.expect(http.StatusOK, "GET", "/api/v1/webhook", nil, &hooks)
	waiting, succeeded, failed := 0, 0, 0
	for _, h := range hooks {
		for _, d := range admin.deliveries(h.ID, "") {
			switch d.Status {
			case "pending", "retrying":
				waiting++
			case "succeeded":
				succeeded++
			case "failed":
				failed++
			}
		}
	}

	b := newBrowser(t, f.s)
	b.login("admin", adminPassword)
	if title := b.title(); title != "Dashboard · Herald" {
		t.Fatalf("after logging in: %q", title)
	}
	for sel, want := range map[string]string{
		"#count-users .figure":    fmt.Sprint(len(users)),
		"#count-groups .figure":   fmt.Sprint(len(groups)),
		"#count-webhooks .figure": fmt.Sprint(len(hooks)),
		"#health-healthy":         "1",
		"#health-failing":         "2",
		"#health-disabled":        "1",
		"#deliveries-pending":     fmt.Sprint(waiting),
		"#deliveries-succeeded":   fmt.Sprint(succeeded),
		"#deliveries-failed":      fmt.Sprint(failed),
	} {
		if got := b.text(sel); got != want {
			t.Errorf("%s = %q, want %q", sel, got, want)
		}
	}
	if waiting == 0 || succeeded == 0 {
		t.Errorf("the fixture has %d waiting and %d succeeded deliveries, want some of each", waiting, succeeded)
	}
	attention := b.text("#attention")
	if !containsAll(attention, "failing wiki", "dead mailer", "2 failed attempts in a row", "retired app", "the receiver answered 410 Gone", "enable it") ||
		strings.Contains(attention, "healthy crm") {
		t.Errorf("needs attention: %s", attention)
	}
	if events := b.text("#newest-events"); !containsAll(events, "group_created", "group:ops", "user_created", "user:hal") {
		t.Errorf("newest events: %s", events)
	}
	b.screenshot("dashboard")
	b.submit("#attention a")
	if title := b.title(); !strings.HasSuffix(title, "· Webhooks · Herald") {
		t.Errorf("the attention link leads to %q", title)
	}
}
