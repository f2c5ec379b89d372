package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
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
	// A description, a path and searches with no space to break at.
	unbroken := admin.addWebhook("http://127.0.0.1:9/x", map[string]any{"description": strings.Repeat("unbrokendescription", 13)})
	ds := admin.deliveries(f.failing.ID, "")
	if len(ds) == 0 {
		t.Fatal("no delivery to show")
	}
	hook := func(id int64, rest string) string { return fmt.Sprintf("/webhooks/%d%s", id, rest) }
	pages := []struct{ name, path string }{
		{"dashboard", "/"},
		{"users", "/users"},
		{"users-search", "/users?q=pat"},
		{"user-new", "/users/new"},
		{"user", "/users/pat"},
		{"user-delete", "/users/pat/delete"},
		{"groups", "/groups"},
		{"group-new", "/groups/new"},
		{"group", "/groups/ops"},
		{"group-add-member", "/groups/ops?add=a"},
		{"group-delete", "/groups/ops/delete"},
		{"webhooks", "/webhooks"},
		{"webhook-new", "/webhooks/new"},
		{"webhook", hook(f.failing.ID, "")},
		{"webhook-long-url", hook(long.ID, "")},
		{"webhook-edit", hook(long.ID, "/edit")},
		{"webhook-delete", hook(long.ID, "/delete")},
		{"webhook-rotate", hook(f.failing.ID, "/rotate")},
		{"delivery", hook(f.failing.ID, fmt.Sprintf("/deliveries/%d", ds[len(ds)-1].ID))},
		{"events", "/events"},
		{"stations", "/stations"},
		{"api-tokens", "/users/pat/tokens"},
		{"not-found", "/no/such/page"},
		{"audit", "/audit"},
		{"long-404", "/no/such/" + strings.Repeat("averylongpathsegment", 8)},
		{"webhook-unbroken-description", hook(unbroken.ID, "")},
		{"webhooks-unbroken-description", "/webhooks?q=unbroken"},
		{"group-long-member-search", "/groups/ops?add=" + strings.Repeat("averylongsearch", 8)},
		{"audit-long-filter", "/audit?actor=" + strings.Repeat("averylongactorname", 8)},
	}
	b := newBrowser(t, f.s)
	b.login("admin", adminPassword)
	for _, p := range pages {
		b.open(p.path)
		if n := b.overflow(); n > 0 {
			t.Errorf("%s (%s) is %d px wider than a 390 px window", p.name, p.path, n)
		}
		if strings.Contains(b.html(), "secret-token") {
			t.Errorf("%s (%s) has the webhook's token in its HTML", p.name, p.path)
		}
		b.screenshot("page-" + p.name)
	}

	// A plain user's pages, and the login form.
	b.submit("nav .me button")
	b.open("/login")
	if n := b.overflow(); n > 0 {
		t.Errorf("the login page is %d px wider than a 390 px window", n)
	}
	b.screenshot("page-login")
	b.login("pat", "pat-password")
	for _, p := range []struct{ name, path string }{{"profile", "/users/pat"}, {"my-api-tokens", "/users/pat/tokens"}, {"forbidden", "/webhooks"}} {
		b.open(p.path)
		if n := b.overflow(); n > 0 {
			t.Errorf("%s (%s) is %d px wider than a 390 px window", p.name, p.path, n)
		}
		b.screenshot("page-" + p.name)
	}
}
