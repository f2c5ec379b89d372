package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// addUsers creates n users u001, u002, ... through the API.
func addUsers(t *testing.T, s *testServer, n int) {
	t.Helper()
	admin := s.admin()
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("u%03d", i)
		admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
			"username": name, "first_name": "First" + name, "last_name": "Last", "email": name + "@example.com",
		}, nil)
	}
}

// rows counts the rows of a table's body.
func (b *browser) rows(table string) int {
	b.t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("`+table+` tbody tr").length`))
	b.check(err)
	return n
}

// checkLastFeedPage opens path, a feed's page (feed "events" or "audit")
// that holds exactly a page's worth of its oldest rows, and checks it
// shows them all, links back to the newest page, and offers no older one.
func (b *browser) checkLastFeedPage(path, feed string) {
	b.t.Helper()
	b.open(path)
	older := strings.Contains(b.html(), `id="older-`+feed+`"`)
	if n := b.rows("#" + feed); n != 50 || older || !strings.Contains(b.html(), `id="newest-`+feed+`"`) {
		b.t.Fatalf("%s: %d rows, an Older link: %v, a Newest link: %v", path, n, older, strings.Contains(b.html(), `id="newest-`+feed+`"`))
	}
}

// checkRefused opens path and checks it gets the error page naming field.
func (b *browser) checkRefused(path, field string) {
	b.t.Helper()
	b.open(path)
	if title, main := b.title(), b.text("main"); title != "Cannot do that · Herald" || !strings.Contains(main, field) {
		b.t.Fatalf("%s: %q: %s", path, title, main)
	}
}

// With 251 users (admin and 250 more) the users list shows 50 a page with
// the total, pages forward and back by stable URLs, and searches on the
// server (the total and pages follow the search).
func TestBrowserUsersPaging(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	addUsers(t, s, 250)
	b := newBrowser(t, s)
	b.login("admin", adminPassword)
	b.open("/users")
	if got := b.text("#total"); got != "1–50 of 251 users" {
		t.Fatalf("total %q", got)
	}
	if n := b.rows("#users"); n != 50 {
		t.Fatalf("%d rows on the first page", n)
	}
	if first := b.text("#users tbody tr td"); first != "admin" {
		t.Fatalf("first row %q", first)
	}
	b.submit("#next-page")
	if got := b.text("#total"); got != "51–100 of 251 users" {
		t.Fatalf("page 2 total %q", got)
	}
	if loc, _ := chromedp.Run(b.ctx, chromedp.Location()); !strings.HasSuffix(loc, "/users?page=2") {
		t.Fatalf("page 2 is at %q", loc)
	}
	if first := b.text("#users tbody tr td"); first != "u050" {
		t.Fatalf("page 2 starts with %q", first)
	}
	b.open("/users?page=6")
	if got, n := b.text("#total"), b.rows("#users"); got != "251–251 of 251 users" || n != 1 {
		t.Fatalf("last page: %q, %d rows", got, n)
	}
	b.submit("#prev-page")
	if got := b.text("#page-of"); got != "Page 5 of 6" {
		t.Fatalf("after Previous: %q", got)
	}
	b.screenshot("users-paged")

	// Search: u1 matches u100-u199 (by username and email).
	b.open("/users")
	b.do(chromedp.SendKeys(chromedp.CSS("#q"), "u1"))
	b.submit("#search")
	if got := b.text("#total"); got != "1–50 of 100 users matching “u1”" {
		t.Fatalf("search total %q", got)
	}
	b.submit("#next-page")
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	if !strings.HasSuffix(loc, "/users?page=2&q=u1") {
		t.Fatalf("search page 2 at %q", loc)
	}
	if got := b.text("#users"); strings.Contains(got, "u200") || strings.Contains(got, "u149") || !containsAll(got, "u150", "u199") {
		t.Fatalf("search page 2 rows: %s", got)
	}
	b.open("/users?q=firstu123")
	if got := b.text("#users tbody"); !strings.Contains(got, "u123") || b.rows("#users") != 1 {
		t.Fatalf("search by first name: %s", got)
	}
	b.open("/users?q=nobody-like-this")
	if got := b.text("#total"); got != "No users matching “nobody-like-this”" {
		t.Fatalf("empty search %q", got)
	}

	// The event feed: its total, pages back by sequence, and a search.
	var all []struct{ Seq int64 }
	s.admin().expect(http.StatusOK, "GET", "/api/v1/event?limit=1000", nil, &all)
	b.open("/events")
	if got, want := b.text("#total"), fmt.Sprintf("%d events", len(all)); got != want || b.rows("#events") != 50 {
		t.Fatalf("events total %q (want %q), %d rows", got, want, b.rows("#events"))
	}
	b.submit("#older-events")
	if b.rows("#events") != 50 || !strings.Contains(b.text("#events"), "u200") {
		t.Fatalf("older events: %s", b.text("#events"))
	}
	// Exactly a page below the 51st oldest event: no link to an empty page.
	b.checkLastFeedPage(fmt.Sprintf("/events?before=%d", all[50].Seq), "events")
	b.checkRefused("/events?before=0", "before")
	b.open("/events?q=u12")
	if got := b.text("#total"); got != "10 events matching “u12”" || b.rows("#events") != 10 {
		t.Fatalf("event search: %q, %d rows", got, b.rows("#events"))
	}
}

// Among 250 users a group's members are added with the search box and an
// Add button, and removed with the Remove button beside each member; the
// page never lists every user.
func TestBrowserGroupMembers(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	addUsers(t, s, 250)
	b := newBrowser(t, s)
	b.login("admin", adminPassword)
	b.open("/groups/new")
	b.do(chromedp.SendKeys(chromedp.CSS("#name"), "ops"))
	b.submit("#save")
	if title := b.title(); title != "ops · Groups · Herald" {
		t.Fatalf("after creating: title %q", title)
	}
	if n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("input[type=checkbox]").length`)); err != nil || n > 1 {
		t.Fatalf("the group page has %d checkboxes (%v)", n, err)
	}
	b.do(chromedp.SendKeys(chromedp.CSS("#add"), "u12"))
	b.submit("#find-user")
	found := b.text("#found")
	if !containsAll(found, "u120", "u129") || strings.Contains(found, "u130") || strings.Contains(found, "u012") {
		t.Fatalf("found: %s", found)
	}
	b.submit("#add-u123")
	if !strings.Contains(b.text("main"), "u123 added to ops") || !strings.Contains(b.text("#members"), "u123") {
		t.Fatalf("after adding: %s", b.text("main"))
	}
	// The search stays, without the new member.
	if got := b.text("#found"); strings.Contains(got, "u123") || !strings.Contains(got, "u124") {
		t.Fatalf("found after adding: %s", got)
	}
	b.submit("#add-u124")
	var g struct{ Members []string }
	s.admin().expect(http.StatusOK, "GET", "/api/v1/group/ops", nil, &g)
	if strings.Join(g.Members, ",") != "u123,u124" {
		t.Fatalf("members %v", g.Members)
	}
	if got := b.text("#total"); got != "1–2 of 2 members" {
		t.Fatalf("members total %q", got)
	}
	b.screenshot("group-members")
	b.submit("#remove-u123")
	if !strings.Contains(b.text("main"), "u123 removed from ops") {
		t.Fatalf("after removing: %s", b.text("main"))
	}
	s.admin().expect(http.StatusOK, "GET", "/api/v1/group/ops", nil, &g)
	if strings.Join(g.Members, ",") != "u124" {
		t.Fatalf("members after removing %v", g.Members)
	}
	if got := b.text("#members"); strings.Contains(got, "u123") {
		t.Fatalf("members list after removing: %s", got)
	}
	b.open("/groups?q=op")
	if got := b.text("#groups tbody"); !containsAll(got, "ops", "1") {
		t.Fatalf("groups search: %s", got)
	}
}

// An unknown path gets the styled 404 page (signed in or not), while the
// API keeps its JSON 404; page titles name the thing shown.
func TestBrowserNotFoundAndTitles(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.admin().expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
		"username": "alice", "first_name": "Alice", "last_name": "A", "email": "alice@example.com",
	}, nil)
	r := s.anon().do("GET", "/no/such/page", nil)
	if r.Status != http.StatusNotFound || !strings.Contains(r.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(r.Body), "/static/herald.css") {
		t.Fatalf("anonymous unknown path: %d %s %.300s", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	if r := s.admin().do("GET", "/api/v1/nope", nil); r.Status != http.StatusNotFound || !strings.Contains(r.Header.Get("Content-Type"), "json") {
		t.Fatalf("API unknown path: %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	b := newBrowser(t, s)
	b.login("admin", adminPassword)
	b.open("/no/such/page")
	if got := b.text("main"); !containsAll(got, "404", "Not found", "There is no page at /no/such/page") {
		t.Fatalf("404 page: %s", got)
	}
	if got := b.title(); got != "Not found · Herald" {
		t.Fatalf("404 title %q", got)
	}
	if nav := b.text("nav"); !strings.Contains(nav, "Users") {
		t.Fatalf("the 404 page has no navigation: %s", nav)
	}
	b.screenshot("not-found")
	b.open("/users/alice")
	if got := b.title(); got != "alice · Users · Herald" {
		t.Fatalf("user page title %q", got)
	}
	if cur, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector("nav [aria-current]")?.textContent ?? ""`)); err != nil || cur != "Users" {
		t.Fatalf("current navigation entry %q (%v)", cur, err)
	}
	b.open("/users/nobody")
	if got := b.text("main"); !containsAll(got, "404", "no user named") {
		t.Fatalf("missing user page: %s", got)
	}
}

// A user makes a personal API token on its page: the secret is shown once
// and works against the API; revoking it ends it. An admin sees and
// revokes other users' tokens; a plain user cannot open someone else's.
func TestBrowserAPITokens(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.admin().expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
		"username": "pat", "first_name": "Pat", "last_name": "P", "email": "pat@example.com", "password": "pat-password",
	}, nil)
	b := newBrowser(t, s)
	b.login("pat", "pat-password")
	b.submit("#api-tokens-link")
	b.submit("#create-token")
	if got := b.text("#name-error"); !strings.Contains(got, "is required") {
		t.Fatalf("a token without a name: %q", got)
	}
	b.do(chromedp.SendKeys(chromedp.CSS("#name"), "backup script"))
	b.submit("#create-token")
	secret := b.text("#new-api-token")
	s.withToken(secret).expect(http.StatusOK, "GET", "/api/v1/me", nil, nil)
	if got := b.text("#api-tokens tbody"); !strings.Contains(got, "backup script") {
		t.Fatalf("tokens: %s", got)
	}
	b.open("/users/pat/tokens")
	if strings.Contains(b.html(), secret) {
		t.Fatal("the secret is shown again")
	}
	b.open("/users/admin/tokens")
	if got := b.text("main"); !containsAll(got, "403", "Not allowed") {
		t.Fatalf("another user's tokens as pat: %s", got)
	}

	b.submit("nav .me button")
	b.login("admin", adminPassword)
	b.open("/users/pat/tokens")
	if title := b.title(); title != "API tokens · pat · Users · Herald" {
		t.Fatalf("title %q", title)
	}
	b.submit("#api-tokens tbody button")
	if !strings.Contains(b.text("#notice"), "revoked") || strings.Contains(b.text("#api-tokens"), "backup script") {
		t.Fatalf("after revoking: %s", b.text("main"))
	}
	s.withToken(secret).expect(http.StatusUnauthorized, "GET", "/api/v1/me", nil, nil)
}

// The audit log's page shows how many entries match, pages back by id
// keeping its filters, and searches words anywhere in an entry (here the
// webhooks' descriptions, which webhook_created records as its detail).
func TestBrowserAuditPaging(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	for i := 1; i <= 60; i++ {
		admin.addWebhook(deadURL(t), map[string]any{"description": fmt.Sprintf("CRM sync %02d", i)})
	}
	for i := 1; i <= 5; i++ {
		admin.addWebhook(deadURL(t), map[string]any{"description": fmt.Sprintf("wiki %02d", i)})
	}
	b := newBrowser(t, s)
	b.login("admin", adminPassword)
	var all []struct {
		ID     int64
		Detail string
	}
	admin.expect(http.StatusOK, "GET", "/api/v1/audit?limit=1000", nil, &all)
	b.open("/audit")
	if got, want := b.text("#total"), fmt.Sprintf("%d entries", len(all)); got != want || b.rows("#audit") != 50 {
		t.Fatalf("audit total %q (want %q), %d rows", got, want, b.rows("#audit"))
	}

	// Words, in any case, with an action filter: 60 entries, 50 and 10.
	b.do(chromedp.SendKeys(chromedp.CSS("#q"), "crm sync"))
	b.do(chromedp.SetValue(chromedp.CSS("#action"), "webhook_created"))
	b.submit("#filter")
	if got := b.text("#total"); got != "60 entries matching the filter" || b.rows("#audit") != 50 {
		t.Fatalf("search: %q, %d rows", got, b.rows("#audit"))
	}
	if got := b.text("#audit tbody"); !containsAll(got, "CRM sync 60", "CRM sync 11") || strings.Contains(got, "wiki") || strings.Contains(got, "CRM sync 10") {
		t.Fatalf("search's first page: %s", got)
	}
	b.submit("#older-audit")
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	if !containsAll(loc, "before=", "q=crm+sync", "action=webhook_created") {
		t.Fatalf("older entries at %q: the filter is lost", loc)
	}
	if got := b.text("#audit tbody"); b.rows("#audit") != 10 || !containsAll(got, "CRM sync 10", "CRM sync 01") || b.text("#total") != "60 entries matching the filter" {
		t.Fatalf("older entries: %d rows: %s", b.rows("#audit"), got)
	}
	b.submit("#newest-audit")
	if got := b.text("#audit tbody"); b.rows("#audit") != 50 || !strings.Contains(got, "CRM sync 60") {
		t.Fatalf("back to the newest: %s", got)
	}
	// Exactly a page's worth below an entry: no link to an empty page.
	var id51 int64
	for _, e := range all {
		if e.Detail == "CRM sync 51" {
			id51 = e.ID
		}
	}
	b.checkLastFeedPage(fmt.Sprintf("/audit?q=crm&before=%d", id51), "audit")
	b.checkRefused("/audit?before=abc", "before")
	b.open("/audit?q=WIKI")
	if got := b.text("#total"); got != "5 entries matching the filter" || b.rows("#audit") != 5 {
		t.Fatalf("search in another case: %q, %d rows", got, b.rows("#audit"))
	}
	b.open("/audit?q=" + url.QueryEscape("50%"))
	if got := b.text("#total"); got != "0 entries matching the filter" || !strings.Contains(b.text("#audit"), "No entries match.") {
		t.Fatalf("a search with a wildcard character: %q: %s", got, b.text("#audit"))
	}
}
