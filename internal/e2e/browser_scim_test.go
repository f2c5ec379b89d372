package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// An admin adds a SCIM target through the form, reached from the nav: a
// bad base URL is refused beside its field, a good form lands on the
// target's page, which says a token is set without showing it, and the
// list shows the target with its base URL's host. The webhook list does
// not show it.
func TestBrowserSCIMTargetAdded(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	admin.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "staff"}, nil)
	b := newBrowser(t, s)
	b.login("admin", adminPassword)

	b.open("/")
	b.submit(`nav a[href="/scim"]`)
	if got := b.text("h1"); got != "SCIM targets" {
		t.Fatalf("the nav's SCIM targets link leads to %q", got)
	}
	b.submit("#add-scim-target")
	b.do(chromedp.SendKeys(chromedp.CSS("#name"), "Ticketing app"),
		chromedp.SendKeys(chromedp.CSS("#base_url"), "ftp://tickets.example.com/scim"),
		chromedp.SendKeys(chromedp.CSS("#token"), "scim-bearer-token"),
		chromedp.SendKeys(chromedp.CSS("#only_groups"), "staff"))
	b.submit("#save")
	if got := b.text("#base_url-error"); !strings.Contains(got, "http") {
		t.Fatalf("base_url error %q", got)
	}
	if strings.Contains(b.html(), "scim-bearer-token") {
		t.Fatal("the form shown again has the typed token in its HTML")
	}
	b.do(chromedp.Clear(chromedp.CSS("#base_url")), chromedp.SendKeys(chromedp.CSS("#base_url"), "http://127.0.0.1:9/scim/v2"),
		chromedp.SendKeys(chromedp.CSS("#token"), "scim-bearer-token"))
	b.submit("#save")
	if got := b.text("h1"); got != "Ticketing app" {
		t.Fatalf("after adding: page %q", got)
	}
	if got := b.text("#token-state"); !strings.HasPrefix(got, "Set") {
		t.Fatalf("token state %q", got)
	}
	if got := b.text("#only-groups"); got != "staff" {
		t.Fatalf("only groups %q", got)
	}
	if got := b.text("#deprovision"); !strings.Contains(got, "deactivated") {
		t.Fatalf("deprovision %q, want the default, deactivate", got)
	}
	if got := b.text("#no-resync"); !strings.Contains(got, "Never resynced") {
		t.Fatalf("last resync %q", got)
	}
	if strings.Contains(b.html(), "scim-bearer-token") {
		t.Fatal("the target's page has the token in its HTML")
	}
	b.screenshot("scim-target")

	// A resync answers on the page: this target refuses connections, so it
	// fails, saying why, and the page shows the failed report.
	b.submit("#resync")
	if notice := b.text("#notice"); !strings.HasPrefix(notice, "Resync failed") {
		t.Fatalf("after a resync the notice says %q", notice)
	}
	if got := b.text("#last-resync"); !strings.Contains(got, "failed") || !strings.Contains(got, "Nothing was queued") {
		t.Fatalf("the last resync shows %q", got)
	}

	// A change that concerns the target is in its delivery log, with a
	// page of its own.
	admin.expect(http.StatusOK, "POST", "/api/v1/group/staff", map[string]any{"username": "admin"}, nil)
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	b.check(err)
	b.do(chromedp.Navigate(loc), chromedp.WaitReady(chromedp.CSS("body")))
	if got := b.text("#deliveries tbody"); !strings.Contains(got, "user_modified") || !strings.Contains(got, "user:admin") {
		t.Fatalf("the target's delivery log shows %q", got)
	}
	b.submit("#deliveries tbody a")
	if got := b.title(); !strings.HasSuffix(got, "· Ticketing app · SCIM targets · Herald") || !strings.Contains(b.html(), `id="redeliver"`) {
		t.Fatalf("the delivery page is titled %q", got)
	}

	// Its address refuses connections: it is failing, and the dashboard
	// says so.
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.open("/")
		if strings.Contains(b.text("#attention"), "Ticketing app") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard never listed the failing target: %q", b.text("#attention"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := b.text("#count-scim-targets"); !strings.HasPrefix(got, "1") {
		t.Fatalf("the dashboard counts %q", got)
	}

	b.open("/scim")
	if got := b.text("#scim-targets tbody"); !strings.Contains(got, "Ticketing app") || !strings.Contains(got, "127.0.0.1:9") {
		t.Fatalf("the SCIM list shows %q", got)
	}
	b.open("/webhooks")
	if strings.Contains(b.html(), "Ticketing app") {
		t.Fatal("the webhook list shows the SCIM target")
	}
	var targets []struct {
		Name     string `json:"name"`
		TokenSet bool   `json:"token_set"`
	}
	admin.expect(http.StatusOK, "GET", "/api/v1/scim_target", nil, &targets)
	if len(targets) != 1 || targets[0].Name != "Ticketing app" || !targets[0].TokenSet {
		t.Fatalf("the API lists %+v", targets)
	}
}
