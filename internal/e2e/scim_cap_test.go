package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/scimtest"
)

// A SCIM target is capped as a webhook is: it never has more requests
// from Herald at once than the per-webhook cap, though a change frees
// its slot before Herald stores the id the target answered; and with a
// backlog it gets that many, so the cap is what holds it back.
func TestSCIMTargetCapped(t *testing.T) {
	t.Parallel()
	const perWebhook, users = 4, 40
	s := startServer(t, func(c *app.Config) { c.Engine.PerWebhook = perWebhook })
	p := scimtest.New(t, "cap-token")
	upstream, err := url.Parse(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	// In front of the provider: each request held a little, and counted
	// while it is open.
	var open, most atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: upstream.Scheme, Host: upstream.Host})
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := open.Add(1)
		defer open.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(20 * time.Millisecond)
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)

	admin := s.admin()
	target := addSCIMTarget(admin, goSCIMProvider{p}, func(c *scimTargetConfig) {
		c.BaseURL, c.Token = front.URL+upstream.Path, "cap-token"
	})
	// The creators log in one after another (the login throttle), then
	// create at once.
	creators := []*client{s.admin(), s.admin(), s.admin(), s.admin()}
	var wg sync.WaitGroup
	errs := make(chan string, users)
	for w, c := range creators {
		wg.Go(func() {
			for i := w; i < users; i += len(creators) {
				name := fmt.Sprintf("cap%02d", i)
				if r := c.do("POST", "/api/v1/user", map[string]string{
					"username": name, "first_name": "C", "last_name": "Ap", "email": name + "@example.com"}); r.Status != http.StatusCreated {
					errs <- fmt.Sprintf("create %s: %d %s", name, r.Status, r.Body)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	waitDelivered(t, admin, target)
	if n := len(p.Users()); n != users {
		t.Errorf("the provider holds %d users, want %d", n, users)
	}
	if m := most.Load(); m != perWebhook {
		t.Errorf("at most %d SCIM requests were open at once, want the cap, %d (more breaks it; fewer: the backlog never filled it)", m, perWebhook)
	}
}
