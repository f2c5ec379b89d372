package e2e

import (
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
)

// A receiver that accepts connections and never answers holds only its own
// few slots; a healthy receiver gets every event meanwhile (docs/receivers.md:
// "A slow or dead receiver never delays the others").
func TestDeadReceiverDoesNotSlowOthers(t *testing.T) {
	t.Parallel()
	const (
		perWebhook = 4
		timeout    = 30 * time.Second // long, so that slow (-race) runs still finish well inside it
		users      = 200
		creators   = 8
	)
	s := startServer(t, func(c *app.Config) {
		c.RequestTimeout = timeout
		c.Engine.PerWebhook = perWebhook
	})
	// Registered after the server, so cleaned up before it: closing the
	// connections lets the requests in flight end before shutdown waits.
	hole := newBlackhole(t)
	healthy := newReceiver(t)
	admin := s.admin()
	dead := admin.addWebhook(hole.url, nil)
	live := admin.addWebhook(healthy.URL, nil)

	// The creators log in one after another, before the clock starts:
	// eight logins of one user from one address at once are more than
	// the login throttle lets be checked at a time (5), and on a busy
	// machine the rest may be told to come back (429).
	clients := make([]*client, creators)
	for w := range clients {
		clients[w] = s.admin()
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan string, users)
	for w := range creators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clients[w]
			for i := w; i < users; i += creators {
				name := fmt.Sprintf("iso%03d", i)
				r := c.do("POST", "/api/v1/user", map[string]string{
					"username": name, "first_name": "I", "last_name": "So", "email": name + "@example.com",
				})
				if r.Status != http.StatusCreated {
					errs <- fmt.Sprintf("create %s: %d %s", name, r.Status, r.Body)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	created := time.Since(start)

	got := healthy.waitFor(users, 20*time.Second)
	elapsed := time.Since(start)
	names := map[string]bool{}
	for _, r := range got {
		if r.event() != "user_created" {
			t.Errorf("healthy receiver got %q", r.event())
		}
		names[r.username()] = true
	}
	if len(names) != users {
		t.Errorf("healthy receiver got %d requests for %d distinct users, want %d", len(got), len(names), users)
	}
	if elapsed >= timeout {
		t.Fatalf("took %v, not less than the request timeout %v: the checks below would prove nothing", elapsed, timeout)
	}

	// Meanwhile the dead receiver's requests are all still waiting.
	for _, st := range []string{"succeeded", "failed"} {
		if ds := admin.deliveries(dead.ID, "status="+st); len(ds) != 0 {
			t.Errorf("dead webhook has %d %s deliveries after %v: %+v", len(ds), st, elapsed, ds)
		}
	}
	all := admin.deliveries(dead.ID, "")
	waiting := 0
	for _, d := range all {
		if d.Status == "pending" || d.Status == "retrying" {
			waiting++
		}
	}
	if len(all) != users || waiting != users {
		t.Errorf("dead webhook has %d deliveries, %d of them pending or retrying; want %d and %d", len(all), waiting, users, users)
	}
	if ds := admin.deliveries(live.ID, "status=succeeded"); len(ds) != users {
		// Outcomes are recorded in batches just after the answers.
		admin.waitDeliveries(live.ID, "succeeded", users, 2*time.Second)
	}

	// The dead receiver held only its own slots.
	accepted, open := hole.counts()
	if accepted == 0 || accepted > perWebhook {
		t.Errorf("dead receiver accepted %d connections, want 1..%d (the per-webhook cap)", accepted, perWebhook)
	}
	t.Logf("%d users created in %v; healthy receiver had all %d events after %v; dead receiver holds %d connections (%d accepted)",
		users, created.Round(time.Millisecond), users, elapsed.Round(time.Millisecond), open, accepted)
}

// blackhole accepts TCP connections and never answers.
type blackhole struct {
	url   string
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	done  chan struct{}
}

func newBlackhole(t *testing.T) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{url: "http://" + ln.Addr().String() + "/hook", ln: ln, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-b.done
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, c := range b.conns {
			c.Close()
		}
	})
	return b
}

// counts returns how many connections were accepted, and how many of them
// the client has not closed.
func (b *blackhole) counts() (accepted, open int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.conns {
		c.SetReadDeadline(time.Now().Add(time.Millisecond))
		var one [1]byte
		// A request is waiting in the buffer, or the read times out: open.
		if _, err := c.Read(one[:]); err == nil || isNetTimeout(err) {
			open++
		}
	}
	return len(b.conns), open
}

func isNetTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
