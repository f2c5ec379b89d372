package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/heraldhq/herald/internal/app"
)

// clientFrom returns an HTTP client whose connections come from the
// loopback address local: all of 127.0.0.0/8 is loopback, so a test can be
// several clients.
func clientFrom(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	return &http.Client{
		Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 64},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// loginAnswer is what a login got.
type loginAnswer struct {
	status     int
	retryAfter string
	body       string
}

// loginAs posts a login from hc, with X-Forwarded-For set when xff is not
// empty.
func loginAs(t *testing.T, hc *http.Client, base, username, password, xff string) loginAnswer {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": username, "password": password})
	req, err := http.NewRequest("POST", base+"/api/v1/auth", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Errorf("login: %v", err)
		return loginAnswer{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return loginAnswer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: string(b)}
}

// passwordChecks reads herald_password_checks_total from /metrics: how many
// passwords the server has checked against their hash.
func passwordChecks(t *testing.T, base string) int64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "herald_password_checks_total "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("herald_password_checks_total %q: %v", v, err)
			}
			return int64(n)
		}
	}
	t.Fatal("/metrics has no herald_password_checks_total")
	return 0
}

// burst sends n logins, at most parallel at once (all at once when
// parallel is n), and returns their answers.
func burst(n, parallel int, login func(i int) loginAnswer) []loginAnswer {
	answers := make([]loginAnswer, n)
	start := make(chan struct{})
	slots := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			slots <- struct{}{}
			defer func() { <-slots }()
			answers[i] = login(i)
		}()
	}
	close(start)
	wg.Wait()
	return answers
}

// checkBurst fails unless every answer is 401 or a 429 with Retry-After,
// at most limit were 401, and the server checked exactly as many passwords
// as it answered 401 (a 429 checked none). It returns the number of 401s.
func checkBurst(t *testing.T, answers []loginAnswer, checked int64, limit int) int {
	t.Helper()
	wrong := 0
	for i, a := range answers {
		switch a.status {
		case http.StatusUnauthorized:
			wrong++
		case http.StatusTooManyRequests:
			if n, err := strconv.Atoi(a.retryAfter); err != nil || n < 1 {
				t.Errorf("attempt %d: 429 with Retry-After %q, want whole seconds", i, a.retryAfter)
			}
		default:
			t.Errorf("attempt %d: status %d, want 401 or 429; body %s", i, a.status, a.body)
		}
	}
	if wrong > limit || wrong == 0 {
		t.Errorf("%d of %d wrong passwords were checked (answered 401), want 1 to %d", wrong, len(answers), limit)
	}
	if checked != int64(wrong) {
		t.Errorf("the server checked %d passwords for %d answers of 401", checked, wrong)
	}
	t.Logf("%d attempts: %d checked and refused, %d throttled", len(answers), wrong, len(answers)-wrong)
	return wrong
}

// TestLoginBurst: 40 wrong passwords for admin sent at once from one
// client get at most 5 password checks (the per username and address
// limit), however they race; the rest are throttled (429 with
// Retry-After) without a check. The right password from another address
// then logs in at once, while the burst's address stays throttled. The
// same holds behind a trusted proxy, with the addresses it gives in
// X-Forwarded-For; a client that is not a trusted proxy cannot escape by
// forging X-Forwarded-For.
func TestLoginBurst(t *testing.T) {
	t.Parallel()
	const attempts, perUser = 40, 5
	proxy := func(c *app.Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} }
	cases := []struct {
		name  string
		opts  []func(*app.Config)
		burst func(i int) (from, xff string)
		other func() (from, xff string) // a client that has not failed
	}{
		{
			name:  "direct",
			burst: func(int) (string, string) { return "127.0.0.2", "" },
			other: func() (string, string) { return "127.0.0.1", "" },
		},
		{
			name: "behind a trusted proxy",
			opts: []func(*app.Config){proxy},
			// The proxy (127.0.0.1) appends the client it saw; what the
			// client claimed before it is not believed.
			burst: func(i int) (string, string) { return "127.0.0.1", fmt.Sprintf("127.0.1.%d, 127.0.0.2", i) },
			other: func() (string, string) { return "127.0.0.1", "127.0.0.3" },
		},
		{
			name: "forged X-Forwarded-For from an untrusted peer",
			opts: []func(*app.Config){proxy},
			// 127.0.0.2 is no proxy: a new address in every request
			// changes nothing.
			burst: func(i int) (string, string) { return "127.0.0.2", fmt.Sprintf("127.0.1.%d", i) },
			other: func() (string, string) { return "127.0.0.3", "" },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, tc.opts...)
			before := passwordChecks(t, s.URL)
			clients := map[string]*http.Client{}
			for _, from := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
				clients[from] = clientFrom(from)
			}
			answers := burst(attempts, attempts, func(i int) loginAnswer {
				from, xff := tc.burst(i)
				return loginAs(t, clients[from], s.URL, "admin", "not-the-password", xff)
			})
			wrong := checkBurst(t, answers, passwordChecks(t, s.URL)-before, perUser)
			// On a busy machine a check may wait past its deadline for
			// room and be refused (429) before the limit is full of
			// failures: fill it, one at a time.
			for ; wrong < perUser; wrong++ {
				from, xff := tc.burst(0)
				if a := loginAs(t, clients[from], s.URL, "admin", "not-the-password", xff); a.status != http.StatusUnauthorized {
					t.Fatalf("wrong password %d after the burst: status %d, want 401", wrong+1, a.status)
				}
			}

			from, xff := tc.other()
			if a := loginAs(t, clients[from], s.URL, "admin", adminPassword, xff); a.status != http.StatusOK {
				t.Errorf("the right password from a client that has not failed: status %d, want 200; body %s", a.status, a.body)
			}
			from, xff = tc.burst(0)
			a := loginAs(t, clients[from], s.URL, "admin", adminPassword, xff)
			if n, _ := strconv.Atoi(a.retryAfter); a.status != http.StatusTooManyRequests || n < 1 || n > 15*60 {
				t.Errorf("the right password from the throttled client: status %d, Retry-After %q; want 429 within 15 minutes", a.status, a.retryAfter)
			}
		})
	}
}

// TestLoginAddressBudget: one address gets 30 password checks in 15
// minutes over all usernames (here 4 at a time, as many as are checked at
// once, so none is told to come back for that); after that even the right
// password from it waits, while another address logs in at once.
func TestLoginAddressBudget(t *testing.T) {
	t.Parallel()
	const attempts, perAddress = 36, 30
	s := startServer(t)
	spray, other := clientFrom("127.0.0.4"), clientFrom("127.0.0.5")
	before := passwordChecks(t, s.URL)
	answers := burst(attempts, 4, func(i int) loginAnswer {
		return loginAs(t, spray, s.URL, fmt.Sprintf("user%d", i), "not-the-password", "")
	})
	if n := checkBurst(t, answers, passwordChecks(t, s.URL)-before, perAddress); n != perAddress {
		t.Errorf("%d wrong passwords checked, want the address's budget of %d", n, perAddress)
	}
	if a := loginAs(t, spray, s.URL, "admin", adminPassword, ""); a.status != http.StatusTooManyRequests || a.retryAfter == "" {
		t.Errorf("the right password from the spraying address: %d (Retry-After %q), want 429", a.status, a.retryAfter)
	}
	if a := loginAs(t, other, s.URL, "admin", adminPassword, ""); a.status != http.StatusOK {
		t.Errorf("the right password from another address: %d, want 200; %s", a.status, a.body)
	}
}

// TestLoginBurstAcrossInstances: two instances on one PostgreSQL database
// count attempts in the database, so 40 wrong passwords spread over both
// still get at most 5 checks between them.
func TestLoginBurstAcrossInstances(t *testing.T) {
	requirePostgresPass(t)
	t.Parallel()
	const attempts, perUser = 40, 5
	database := newDatabase(t)
	servers := []*testServer{startServerOn(t, database), startServerOn(t, database)}
	var before int64
	for _, s := range servers {
		before += passwordChecks(t, s.URL)
	}
	hc := clientFrom("127.0.0.2")
	answers := burst(attempts, attempts, func(i int) loginAnswer {
		return loginAs(t, hc, servers[i%2].URL, "admin", "not-the-password", "")
	})
	var after int64
	for _, s := range servers {
		after += passwordChecks(t, s.URL)
	}
	checkBurst(t, answers, after-before, perUser)
	if a := loginAs(t, clientFrom("127.0.0.1"), servers[1].URL, "admin", adminPassword, ""); a.status != http.StatusOK {
		t.Errorf("the right password from another address: %d, want 200; %s", a.status, a.body)
	}
}

// TestOwnPasswordGuessesThrottled: a session guessing its user's password
// through the password change (API, then the web UI's form) is counted as
// logins are: five wrong old passwords, then 429 with Retry-After, and the
// login from that address is throttled too.
func TestOwnPasswordGuessesThrottled(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.admin().expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
		"username": "alice", "first_name": "A", "last_name": "L", "email": "alice@example.com", "password": "alice-password-1",
	}, nil)
	stolen := s.login("alice", "alice-password-1")
	for i := range 5 {
		r := stolen.do("PUT", "/api/v1/user/alice/password", map[string]string{"old_password": fmt.Sprintf("guess-%d-xyz", i), "new_password": "mine-now-123"})
		if r.Status != http.StatusBadRequest || !strings.Contains(r.msg(), "old_password") {
			t.Fatalf("wrong guess %d: status %d, msg %q; want 400 about old_password", i+1, r.Status, r.msg())
		}
	}
	r := stolen.do("PUT", "/api/v1/user/alice/password", map[string]string{"old_password": "alice-password-1", "new_password": "mine-now-123"})
	if n, _ := strconv.Atoi(r.Header.Get("Retry-After")); r.Status != http.StatusTooManyRequests || n < 1 || n > 15*60 {
		t.Errorf("the right old password after five wrong guesses: status %d, Retry-After %q; want 429 within 15 minutes", r.Status, r.Header.Get("Retry-After"))
	}
	f := stolen.postForm("/users/alice/password", url.Values{"old_password": {"alice-password-1"}, "new_password": {"mine-now-123"}})
	if n, _ := strconv.Atoi(f.Header.Get("Retry-After")); f.Status != http.StatusTooManyRequests || n < 1 {
		t.Errorf("the web UI's form after five wrong guesses: status %d, Retry-After %q; want 429", f.Status, f.Header.Get("Retry-After"))
	}
	if a := loginAs(t, clientFrom("127.0.0.1"), s.URL, "alice", "alice-password-1", ""); a.status != http.StatusTooManyRequests {
		t.Errorf("a login from the guessing address: status %d, want 429", a.status)
	}
}
