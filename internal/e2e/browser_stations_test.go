package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// An admin makes a station token on the stations page: the secret is shown
// once and lets the station take jobs; the list shows the token without
// its secret; revoking it refuses the station at once.
func TestBrowserStationTokens(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	b := newBrowser(t, s)
	b.login("admin", adminPassword)
	b.open("/stations")
	if title := b.title(); title != "Stations · Herald" {
		t.Fatalf("title %q", title)
	}
	b.submit("#create-token")
	if got := b.text("#worker-error"); got == "" {
		t.Fatalf("a token without a station name was accepted: %s", b.text("main"))
	}
	b.do(chromedp.SendKeys(chromedp.CSS("#worker"), "desk-1"))
	b.submit("#create-token")
	secret := b.text("#new-station-token")
	if secret == "" {
		t.Fatalf("no token shown: %s", b.text("main"))
	}
	station := s.withToken(secret)
	station.expect(http.StatusNoContent, "GET", "/api/v1/worker/job?worker=desk-1", nil, nil)
	station.expect(http.StatusForbidden, "GET", "/api/v1/worker/job?worker=desk-2", nil, nil)

	b.open("/stations")
	if strings.Contains(b.html(), secret) {
		t.Fatal("the station token's secret is shown again")
	}
	if got := b.text("#station-tokens tbody"); !containsAll(got, "desk-1", "never") {
		t.Fatalf("tokens list: %s", got)
	}
	b.submit("#station-tokens tbody button")
	if !strings.Contains(b.text("#notice"), "revoked") {
		t.Fatalf("after revoking: %s", b.text("main"))
	}
	station.expect(http.StatusUnauthorized, "GET", "/api/v1/worker/job?worker=desk-1", nil, nil)
}
