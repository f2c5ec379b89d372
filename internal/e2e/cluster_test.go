package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// requirePostgresPass skips a test outside the PostgreSQL pass of the suite.
func requirePostgresPass(t *testing.T) {
	t.Helper()
	if !onPostgres() {
		t.Skip("PostgreSQL-only test: runs in the PostgreSQL pass of ./scripts/test (HERALD_TEST_BACKEND=postgres)")
	}
}

// Three Herald processes share one PostgreSQL database, started at the same
// moment. 90 users are created and modified twice through all three while
// one process is killed with SIGKILL: every event arrives, in order per
// user, and only what the dead process had in flight arrives twice.
func TestClusterOfThree(t *testing.T) {
	requirePostgresPass(t)
	t.Parallel()
	bin := buildHerald(t)
	database := newDatabase(t)
	logs := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("herald logs (last 64 KiB):\n%s", logs.tail(64<<10))
		}
	})
	rc := newReceiver(t)
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(3, 4))
	rc.setAnswer(func(int, received) int {
		mu.Lock()
		defer mu.Unlock()
		if rng.IntN(5) == 0 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})

	// Start all three at once: they race to migrate and create the admin.
	var nodes [3]*heraldProcess
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := launchHerald(bin, t.TempDir(), database, logs)
			if err != nil {
				errs <- err
				return
			}
			nodes[i] = p
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, p := range nodes {
		t.Cleanup(func() { p.kill(t) })
	}
	admin := (&testServer{t: t, URL: nodes[0].url}).admin()
	var users []user
	admin.expect(http.StatusOK, "GET", "/api/v1/user", nil, &users)
	if len(users) != 1 || users[0].Username != "admin" {
		t.Fatalf("after three concurrent first starts the users are %+v, want exactly one admin", users)
	}
	var groups []map[string]any
	admin.expect(http.StatusOK, "GET", "/api/v1/group", nil, &groups)
	if len(groups) != 1 {
		t.Fatalf("groups after concurrent first starts: %v", groups)
	}
	api, _, startSeq := crashSetup(t, nodes[0].url, rc.URL)

	// 9 clients, 10 users each, round-robin over the nodes. Node 2 dies
	// when a third of the users exist.
	var created atomic.Int64
	var killOnce sync.Once
	dead := atomic.Bool{}
	var calls sync.WaitGroup
	for c := range 9 {
		calls.Add(1)
		go func() {
			defer calls.Done()
			for i := range 10 {
				name := fmt.Sprintf("c%du%d", c, i)
				try := func(method, path string, body any, want int) bool {
					for attempt := 0; attempt < 6; attempt++ {
						n := (c + i + attempt) % 3
						if n == 2 && dead.Load() {
							continue
						}
						a := api
						a.base = nodes[n].url
						st, _, err := a.call(method, path, body)
						if err == nil && st == want {
							return true
						}
						if err == nil && st != http.StatusServiceUnavailable && st < 500 {
							// A retried call that already committed (the
							// node died after the commit) answers 409.
							return st == http.StatusConflict && method == "POST"
						}
					}
					return false
				}
				if !try("POST", "/api/v1/user", crashNewUser(name), http.StatusCreated) {
					t.Errorf("could not create %s on any node", name)
					return
				}
				if created.Add(1) == 30 {
					killOnce.Do(func() { dead.Store(true); nodes[2].kill(t) })
				}
				for _, ln := range []string{"Once", "Twice"} {
					if !try("PATCH", "/api/v1/user/"+name, map[string]string{"last_name": ln}, http.StatusOK) {
						t.Errorf("could not modify %s", name)
						return
					}
				}
			}
		}()
	}
	calls.Wait()
	if t.Failed() {
		return
	}
	events := api.events(t, startSeq)
	var want []event
	for _, e := range events {
		if e.Type == "user_created" || e.Type == "user_modified" {
			want = append(want, e)
		}
	}
	if len(want) < 270 {
		t.Fatalf("the feed has %d user events, want at least 270 (90 users x 3)", len(want))
	}
	// Every event is accepted by the receiver; the dead node's leases run
	// out after connect + request timeout + 10 s.
	deadline := time.Now().Add(60 * time.Second)
	for {
		accepted := map[string]int{}
		for _, r := range rc.succeeded() {
			accepted[r.id()]++
		}
		missing := 0
		for _, e := range want {
			if accepted[e.ID] == 0 {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events never accepted", missing, len(want))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// In order per user, by first acceptance.
	seqOf := map[string]int64{}
	for _, e := range events {
		seqOf[e.ID] = e.Seq
	}
	last := map[string]int64{}
	seen := map[string]bool{}
	duplicates := 0
	for _, r := range rc.succeeded() {
		if seen[r.id()] {
			duplicates++
			continue
		}
		seen[r.id()] = true
		var body struct {
			Username string `json:"username"`
		}
		_ = json.Unmarshal(r.Body, &body)
		s := seqOf[r.id()]
		if s < last[body.Username] {
			t.Errorf("%s: event %d accepted after event %d", body.Username, s, last[body.Username])
		}
		last[body.Username] = s
	}
	// The dead node had at most its per-webhook cap (16) in flight.
	if duplicates > 16 {
		t.Fatalf("%d events accepted twice; only the dead node's in-flight requests (at most 16) may be", duplicates)
	}
	t.Logf("%d user events over 3 nodes, one killed: all delivered in order, %d duplicates", len(want), duplicates)
}

// launchHerald starts "herald serve" and waits for /api/v1/health; it
// does not touch the test, so it can run in goroutines.
func launchHerald(bin, dir, database string, logs *lockedBuffer) (*heraldProcess, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + port
	cmd := exec.Command(bin, "serve")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"HERALD_ADDR="+addr, "HERALD_DATABASE="+database, "HERALD_SECRET_KEY="+testSecretKey,
		"HERALD_ADMIN_PASSWORD="+adminPassword, "HERALD_REQUEST_TIMEOUT=3s",
		"HERALD_RETRY_SCHEDULE=0,50ms,100ms,200ms,300ms,500ms,500ms,500ms,500ms,500ms,500ms,1s,1s,1s,1s",
	)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &heraldProcess{cmd: cmd, url: "http://" + addr, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	hc := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-p.done:
			return nil, fmt.Errorf("herald on %s exited: %v", addr, cmd.ProcessState)
		default:
		}
		if resp, err := hc.Get(p.url + "/api/v1/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
	}
	_ = cmd.Process.Kill()
	return nil, fmt.Errorf("herald on %s did not answer /api/v1/health in 20 s", addr)
}

// PostgreSQL restarts while deliveries are pending: the API answers 503
// while it is away, then again normally, and every delivery is made.
// Not parallel: the restart cuts every connection to the server.
func TestPostgresRestart(t *testing.T) {
	requirePostgresPass(t)
	versions, err := os.ReadDir("/etc/postgresql")
	if err != nil || len(versions) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatalf("cannot find the local PostgreSQL cluster to restart: %v", err)
		}
		t.Skip("needs a local PostgreSQL cluster (pg_ctlcluster) to restart")
	}
	s := startServer(t)
	admin := s.admin()
	rc := newReceiver(t)
	var mu sync.Mutex
	down := true
	rc.setAnswer(func(int, received) int {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	hook := admin.addWebhook(rc.URL, nil)
	for i := range 20 {
		createUser(admin, fmt.Sprintf("r%d", i))
	}
	rc.waitFor(20, 10*time.Second)
	out, err := exec.Command("pg_ctlcluster", "--skip-systemctl-redirect", versions[0].Name(), "main", "restart").CombinedOutput()
	if err != nil {
		t.Fatalf("pg_ctlcluster restart: %v\n%s", err, out)
	}
	// The first calls after a restart may meet dead pooled connections:
	// they answer 503 with a message, never 500.
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := admin.do("GET", "/api/v1/user", nil)
		if r.Status == http.StatusOK {
			break
		}
		if r.Status != http.StatusServiceUnavailable || !strings.Contains(r.msg(), "database") {
			t.Fatalf("while PostgreSQL restarts: %d %s", r.Status, r.Body)
		}
		if time.Now().After(deadline) {
			t.Fatal("the API did not recover within 30 s of the restart")
		}
		time.Sleep(100 * time.Millisecond)
	}
	createUser(admin, "after-restart")
	mu.Lock()
	down = false
	mu.Unlock()
	admin.waitDeliveries(hook.ID, "succeeded", 21, 30*time.Second)
	if n := len(admin.deliveries(hook.ID, "status=failed")); n != 0 {
		t.Fatalf("%d deliveries failed", n)
	}
}
