package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Every page, opened at 390 px, fits the window: nothing scrolls sideways
// (document.documentElement.scrollWidth <= innerWidth), with long URLs,
// failing webhooks and full tables. Each page is also kept as a screenshot
// at 1280 and 390 px when HERALD_SCREENSHOTS is set.
func TestBrowserEveryPageNarrow(t *testing.T) {
	t.Parallel()
	f := newHealthFixture(t)
	admin := f.s.admin()
	long := admin.addWebhook("http://127.0.0.1:9/"+strings.Repeat("a-very-long-path-segment/", 12)+"hook?with=a-query-string-that-goes-on",
		map[string]any{"description": "a receiver with a very long URL and a description that says a lot about it", "token": "secret-token"})
	admin.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "ops", "members": []string{"hal", "admin"}}, nil)
	admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
		"username": "pat", "first_name": "Patricia-Maximiliane", "last_name": "Featherstonehaugh-Wolfeschlegelsteinhausen",
		"email": "patricia.maximiliane.featherstonehaugh@a-long-company-name.example.com", "password": "pat-password",
	}, nil)
	// A username as long as may be, in the audit log (its logins, by and
	// for it) and in the delivery log (user_created).
	longName := strings.Repeat("longusername", 5) + "abcd"
	admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
		"username": longName, "first_name": "L", "last_name": "N", "email": "long@example.com", "password": "long-password",
	}, nil)
	f.s.login(longName, "long-password")
	// A description, a path and searches with no space to break at.
	unbroken := admin.addWebhook("http://127.0.0.1:9/x", map[string]any{"description": strings.Repeat("unbrokendescription", 13)})
	ds := admin.deliveries(f.failing.ID, "")
	if len(ds) == 0 {
		t.Fatal("no delivery to show")
	}
	hook := func(id int64, rest string) string { return fmt.Sprintf("/webhooks/%d%s", id, rest) }
	var target struct{ ID int64 }
	admin.expect(http.StatusCreated, "POST", "/api/v1/scim_target", map[string]any{"name": "a ticketing service with a long name",
		"base_url": "http://127.0.0.1:9/" + strings.Repeat("a-very-long-path-segment/", 8) + "scim/v2", "token": "secret-token",
		"only_groups": []string{"ops"}, "sync_groups": true}, &target)
	scimPage := func(rest string) string { return fmt.Sprintf("/scim/%d%s", target.ID, rest) }
	// A change the target is sent, so that it has a delivery with an
	// attempt to show (its call refused: nothing listens on port 9).
	admin.expect(http.StatusOK, "PATCH", "/api/v1/user/hal", map[string]string{"phone": "5"}, nil)
	var scimDelivery int64
	for deadline := time.Now().Add(10 * time.Second); scimDelivery == 0; time.Sleep(50 * time.Millisecond) {
		var sds []struct {
			ID       int64 `json:"id"`
			Attempts int   `json:"attempts"`
		}
		admin.expect(http.StatusOK, "GET", fmt.Sprintf("/api/v1/scim_target/%d/deliveries", target.ID), nil, &sds)
		if len(sds) > 0 && sds[0].Attempts > 0 {
			scimDelivery = sds[0].ID
		} else if time.Now().After(deadline) {
			t.Fatalf("the SCIM target's deliveries after 10 s: %+v", sds)
		}
	}
	// Each page's title (before " · Herald"): an error page where none is
	// meant would pass the width check without showing the page.
	pages := []struct{ name, path, title string }{
		{"dashboard", "/", "Dashboard"},
		{"users", "/users", "Users"},
		{"users-search", "/users?q=pat", "Users"},
		{"user-new", "/users/new", "Add user · Users"},
		{"user", "/users/pat", "pat · Users"},
		{"user-delete", "/users/pat/delete", "Delete pat · Users"},
		{"groups", "/groups", "Groups"},
		{"group-new", "/groups/new", "Add group · Groups"},
		{"group", "/groups/ops", "ops · Groups"},
		{"group-add-member", "/groups/ops?add=a", "ops · Groups"},
		{"group-delete", "/groups/ops/delete", "Delete ops · Groups"},
		{"webhooks", "/webhooks", "Webhooks"},
		{"webhook-new", "/webhooks/new", "Add webhook · Webhooks"},
		{"webhook", hook(f.failing.ID, ""), "failing wiki · Webhooks"},
		{"webhook-long-url", hook(long.ID, ""), "a receiver with a very long URL and a description that says a lot about it · Webhooks"},
		{"webhook-edit", hook(long.ID, "/edit"), "Edit · a receiver with a very long URL and a description that says a lot about it · Webhooks"},
		{"webhook-delete", hook(long.ID, "/delete"), "Delete · a receiver with a very long URL and a description that says a lot about it · Webhooks"},
		{"webhook-rotate", hook(f.failing.ID, "/rotate"), "Rotate secret · failing wiki · Webhooks"},
		{"delivery", hook(f.failing.ID, fmt.Sprintf("/deliveries/%d", ds[len(ds)-1].ID)), fmt.Sprintf("Delivery %d · failing wiki · Webhooks", ds[len(ds)-1].ID)},
		{"scim-targets", "/scim", "SCIM targets"},
		{"scim-target-new", "/scim/new", "Add a target · SCIM targets"},
		{"scim-target", scimPage(""), "a ticketing service with a long name · SCIM targets"},
		{"scim-target-edit", scimPage("/edit"), "Edit · a ticketing service with a long name · SCIM targets"},
		{"scim-target-delete", scimPage("/delete"), "Delete · a ticketing service with a long name · SCIM targets"},
		{"scim-delivery", scimPage(fmt.Sprintf("/deliveries/%d", scimDelivery)), fmt.Sprintf("Delivery %d · a ticketing service with a long name · SCIM targets", scimDelivery)},
		{"events", "/events", "Events"},
		{"stations", "/stations", "Stations"},
		{"api-tokens", "/users/pat/tokens", "API tokens · pat · Users"},
		{"not-found", "/no/such/page", "Not found"},
		{"audit", "/audit", "Audit log"},
		{"long-404", "/no/such/" + strings.Repeat("averylongpathsegment", 8), "Not found"},
		{"webhook-unbroken-description", hook(unbroken.ID, ""), strings.Repeat("unbrokendescription", 13) + " · Webhooks"},
		{"webhooks-unbroken-description", "/webhooks?q=unbroken", "Webhooks"},
		{"group-long-member-search", "/groups/ops?add=" + strings.Repeat("averylongsearch", 8), "ops · Groups"},
		// A page number too big for an int shows the last page, no 500.
		{"users-huge-page", "/users?page=99999999999999999999", "Users"},
		{"groups-huge-page", "/groups?page=9223372036854775807", "Groups"},
		{"members-huge-page", "/groups/ops?page=9223372036854775807", "ops · Groups"},
		{"webhooks-huge-page", "/webhooks?page=99999999999999999999", "Webhooks"},
		{"stations-huge-page", "/stations?page=9223372036854775807", "Stations"},
		{"tokens-huge-page", "/users/admin/tokens?page=-99999999999999999999", "API tokens · admin · Users"},
		{"audit-long-filter", "/audit?actor=" + strings.Repeat("averylongactorname", 8), "Cannot do that"},
	}
	b := newBrowser(t, f.s)
	b.login("admin", adminPassword)
	for _, p := range pages {
		b.open(p.path)
		if got := b.title(); got != p.title+" · Herald" {
			t.Errorf("%s (%s) is titled %q, want %q", p.name, p.path, got, p.title+" · Herald")
		}
		if strings.HasSuffix(p.name, "-huge-page") && strings.Contains(b.html(), `id="total"`) && strings.Contains(b.text("#total"), "-") {
			t.Errorf("%s (%s) counts %q", p.name, p.path, b.text("#total"))
		}
		if n := b.overflow(); n > 0 {
			t.Errorf("%s (%s) is %d px wider than a 390 px window", p.name, p.path, n)
		}
		if n := b.wideOverflow(); n > 0 {
			t.Errorf("%s (%s) is %d px wider than a 1280 px window", p.name, p.path, n)
		}
		if strings.Contains(b.html(), "secret-token") {
			t.Errorf("%s (%s) has the webhook's token in its HTML", p.name, p.path)
		}
		b.screenshot("page-" + p.name)
	}

	// A plain user's pages, and the login form.
	b.submit("nav .me button")
	b.open("/login")
	if got := b.title(); got != "Log in · Herald" {
		t.Errorf("the login page is titled %q", got)
	}
	if n := b.overflow(); n > 0 {
		t.Errorf("the login page is %d px wider than a 390 px window", n)
	}
	b.screenshot("page-login")
	b.login("pat", "pat-password")
	for _, p := range []struct{ name, path, title string }{
		{"profile", "/users/pat", "My profile"}, {"my-api-tokens", "/users/pat/tokens", "API tokens · pat · My profile"}, {"forbidden", "/webhooks", "Not allowed"},
	} {
		b.open(p.path)
		if got := b.title(); got != p.title+" · Herald" {
			t.Errorf("%s (%s) is titled %q, want %q", p.name, p.path, got, p.title+" · Herald")
		}
		if n := b.overflow(); n > 0 {
			t.Errorf("%s (%s) is %d px wider than a 390 px window", p.name, p.path, n)
		}
		b.screenshot("page-" + p.name)
	}
}
