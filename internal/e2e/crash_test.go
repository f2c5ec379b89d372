package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Herald is killed with SIGKILL three times in a row while webhook requests
// are pending, in flight and half recorded, and while API calls are in
// flight. After the last restart the receiver comes back, and every event
// whose change committed reaches it at least once (docs/receivers.md:
// "Nothing is lost while your receiver is down", "At least once"), events
// about one user in the order they happened ("In order per user").
func TestCrashLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the herald binary")
	}
	t.Parallel()
	start := time.Now()
	bin := buildHerald(t)
	t.Logf("built herald in %v", time.Since(start).Round(time.Millisecond))

	dir := t.TempDir()
	database := newDatabase(t)
	logs := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("herald's stderr (last 64 KiB):\n%s", logs.tail(64<<10))
		}
	})
	rc := newCrashReceiver(t)
	var ops crashOps

	// Each run is killed in a different receiver mode: slow and failing,
	// hanging (requests in flight when the process dies), fast (answers
	// on the wire whose outcome is not yet recorded).
	modes := []string{crashFlaky, crashHang, crashFast}
	var api crashAPI
	var hookID int64
	var startSeq int64
	for run, mode := range modes {
		rc.setMode(mode)
		p := startHeraldProcess(t, bin, dir, database, logs)
		if run == 0 {
			api, hookID, startSeq = crashSetup(t, p.url, rc.url)
		}
		api.base = p.url

		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				crashWorkload(api, fmt.Sprintf("r%dw%d", run, w), &ops, stop)
			}()
		}
		time.Sleep(700*time.Millisecond + rand.N(600*time.Millisecond))
		inflight, arrivals := rc.stats()
		p.kill(t)
		close(stop)
		wg.Wait()
		rc.setMode(crashDown) // releases hung requests; the process is gone
		created, _ := ops.counts()
		t.Logf("run %d (%s): SIGKILL with %d webhook requests in flight, %d arrived so far, %d users created so far",
			run+1, mode, inflight, arrivals, created)
	}

	// Last restart: the receiver is back and accepts everything; more
	// changes come in.
	rc.setMode(crashOK)
	p := startHeraldProcess(t, bin, dir, database, logs)
	api.base = p.url
	for i := range 5 {
		name := fmt.Sprintf("final%d", i)
		if st, body, err := api.call("POST", "/api/v1/user", crashNewUser(name)); err != nil || st != http.StatusCreated {
			t.Fatalf("create %s after the last restart: %d %s %v", name, st, body, err)
		}
		ops.add("user_created", name)
		if st, body, err := api.call("PATCH", "/api/v1/user/"+name, map[string]string{"last_name": "Changed"}); err != nil || st != http.StatusOK {
			t.Fatalf("modify %s after the last restart: %d %s %v", name, st, body, err)
		}
		ops.add("user_modified", name)
	}

	// Wait until every committed event was accepted by the receiver.
	var events []event
	// On PostgreSQL, deliveries the killed process had claimed wait for
	// their lease (connect + request timeout + 10 s) before another
	// process may take them: nothing tells it the claimer is dead.
	deadline := time.Now().Add(20 * time.Second)
	if onPostgres() {
		deadline = time.Now().Add(60 * time.Second)
	}
	for {
		events = api.events(t, startSeq)
		missing := 0
		for _, e := range events {
			if !rc.acceptedID(e.ID) {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, e := range events {
				if !rc.acceptedID(e.ID) {
					fmt.Fprintf(&b, "  seq %d %s %s %s: %d arrivals\n", e.Seq, e.ID, e.Type, e.Subject, len(rc.arrivalsOf(e.ID)))
				}
			}
			t.Fatalf("after the last restart, %d of %d events were never accepted by the receiver:\n%s%s",
				missing, len(events), b.String(), api.deliveryStates(t, hookID))
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Every API call that succeeded left its event in the feed.
	bySubject := map[string][]event{}
	have := map[[2]string]event{}
	for _, e := range events {
		bySubject[e.Subject] = append(bySubject[e.Subject], e)
		have[[2]string{e.Type, e.Subject}] = e
	}
	succeeded := ops.all()
	for _, op := range succeeded {
		if _, ok := have[[2]string{op[0], "user:" + op[1]}]; !ok {
			t.Errorf("%s of %s succeeded (2xx) but the event feed has no such event", op[0], op[1])
		}
	}

	// Each event's arrivals carry it, unchanged on every resend.
	duplicates := 0
	for _, e := range events {
		arr := rc.arrivalsOf(e.ID)
		duplicates += len(arr) - 1
		for _, a := range arr {
			if a.event() != e.Type {
				t.Errorf("event %s (%s) arrived as %q", e.ID, e.Type, a.event())
			}
			if want := strings.TrimPrefix(e.Subject, "user:"); a.username() != want {
				t.Errorf("event %s (%s %s) arrived with body %s", e.ID, e.Type, e.Subject, a.Body)
			}
			if !bytes.Equal(a.Body, arr[0].Body) {
				t.Errorf("event %s was resent with another body:\n%s\n%s", e.ID, arr[0].Body, a.Body)
			}
		}
	}

	// In order per user: the first arrival of each event comes after the
	// first arrival of the user's earlier events.
	for subject, evs := range bySubject {
		prev, prevEv := -1, event{}
		for _, e := range evs {
			first := rc.arrivalsOf(e.ID)[0].n
			if first < prev {
				t.Errorf("%s: %s (seq %d, %s) first arrived as request %d, before %s (seq %d, %s) at request %d",
					subject, e.Type, e.Seq, e.ID, first, prevEv.Type, prevEv.Seq, prevEv.ID, prev)
			}
			prev, prevEv = first, e
		}
	}

	// Nothing ran out of retries: the receiver failed each event at most
	// three times, far from the end of the schedule.
	if failed := api.deliveries(t, hookID, "failed"); len(failed) > 0 {
		t.Errorf("%d deliveries failed: %+v", len(failed), failed)
	}
	p.kill(t)
	created, total := ops.counts()
	t.Logf("%d events (%d users, %d successful API calls, %d uncounted calls that committed anyway) "+
		"delivered across 3 SIGKILLs; %d requests, %d duplicates; %v in all",
		len(events), created, total, len(events)-total, len(rc.all()), duplicates, time.Since(start).Round(time.Millisecond))
}

// buildHerald builds ./cmd/herald into a temporary directory.
func buildHerald(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "herald")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/herald")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/herald: %v\n%s", err, out)
	}
	return bin
}

// heraldProcess is a "herald serve" child process.
type heraldProcess struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
}

// startHeraldProcess runs "herald serve" in dir on the database and a free
// port and waits until it answers /api/v1/health. env (NAME=value) adds to
// or replaces its environment.
func startHeraldProcess(t *testing.T, bin, dir, database string, logs *lockedBuffer, env ...string) *heraldProcess {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	fmt.Fprintf(logs, "===== herald serve on %s =====\n", addr)
	cmd := exec.Command(bin, "serve")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"HERALD_ADDR="+addr,
		"HERALD_DATABASE="+database,
		"HERALD_SECRET_KEY="+testSecretKey,
		"HERALD_ADMIN_PASSWORD="+adminPassword,
		"HERALD_RETRY_SCHEDULE=0,50ms,100ms,200ms,300ms,500ms,500ms,500ms,500ms,500ms,500ms",
		"HERALD_REQUEST_TIMEOUT="+crashRequestTimeout(),
	)
	cmd.Env = append(cmd.Env, env...) // the last of a name wins
	cmd.Stdout = logs
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start herald: %v", err)
	}
	p := &heraldProcess{cmd: cmd, url: "http://" + addr, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill(t) })
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-p.done:
			t.Fatalf("herald exited before answering /api/v1/health: %v", cmd.ProcessState)
		default:
		}
		resp, err := hc.Get(p.url + "/api/v1/health")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("herald did not answer /api/v1/health in 10 s (last error %v)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *heraldProcess) kill(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Logf("kill herald: %v", err)
	}
	<-p.done
}

// Receiver modes.
const (
	crashDown  = "down"  // 503 at once (between runs, when nobody sends)
	crashFlaky = "flaky" // slow; half the answers 503
	crashHang  = "hang"  // never answers until the mode changes
	crashFast  = "fast"  // 200 at once, a few 503
	crashOK    = "ok"    // 200 at once
)

// crashFailCap bounds the 503s one event gets, so that no delivery runs
// out of its eleven attempts and everything must arrive in the end.
const crashFailCap = 3

type crashArrival struct {
	received
	n int // arrival order over all requests
}

// crashReceiver is a webhook receiver whose behaviour changes per run; it
// remembers which event ids it accepted with a 200 on a live connection.
type crashReceiver struct {
	url string

	mu       sync.Mutex
	mode     string
	release  chan struct{} // closed when the mode changes
	got      []crashArrival
	byID     map[string][]int
	fails    map[string]int
	accepted map[string]bool
	inflight int
}

func newCrashReceiver(t *testing.T) *crashReceiver {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rc := &crashReceiver{url: "http://" + ln.Addr().String() + "/hook", mode: crashDown, release: make(chan struct{}),
		byID: map[string][]int{}, fails: map[string]int{}, accepted: map[string]bool{}}
	srv := &http.Server{Handler: rc}
	go srv.Serve(ln)
	t.Cleanup(func() {
		rc.setMode(crashOK)
		srv.Close()
		rc.mu.Lock()
		got := make([]received, len(rc.got))
		for i, a := range rc.got {
			got[i] = a.received
		}
		rc.mu.Unlock()
		checkAgainstWebhookDoc(t, got)
	})
	return rc
}

func (rc *crashReceiver) setMode(m string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.mode = m
	close(rc.release)
	rc.release = make(chan struct{})
}

func (rc *crashReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	req := received{Method: r.Method, Header: r.Header.Clone(), Body: body, At: time.Now(), readErr: err}
	id := req.id()
	rc.mu.Lock()
	n := len(rc.got)
	rc.got = append(rc.got, crashArrival{received: req, n: n})
	rc.byID[id] = append(rc.byID[id], n)
	mode, release := rc.mode, rc.release
	rc.inflight++
	rc.mu.Unlock()
	defer func() {
		rc.mu.Lock()
		rc.inflight--
		rc.mu.Unlock()
	}()

	ctx := r.Context()
	fail := func(p float64) int {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if rc.fails[id] < crashFailCap && rand.Float64() < p {
			rc.fails[id]++
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}
	status := http.StatusServiceUnavailable
	switch mode {
	case crashFlaky:
		select {
		case <-time.After(rand.N(150 * time.Millisecond)):
		case <-ctx.Done():
		case <-release:
		}
		status = fail(0.5)
	case crashHang:
		select {
		case <-ctx.Done():
		case <-release:
		}
	case crashFast:
		status = fail(0.2)
	case crashOK:
		status = http.StatusOK
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, "answer %d to request %d", status, n)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	if status == http.StatusOK && ctx.Err() == nil {
		rc.mu.Lock()
		rc.accepted[id] = true
		rc.mu.Unlock()
	}
}

func (rc *crashReceiver) stats() (inflight, arrivals int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.inflight, len(rc.got)
}

func (rc *crashReceiver) acceptedID(id string) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.accepted[id]
}

// arrivalsOf returns every arrival of an event id, in arrival order.
func (rc *crashReceiver) arrivalsOf(id string) []crashArrival {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []crashArrival
	for _, n := range rc.byID[id] {
		out = append(out, rc.got[n])
	}
	return out
}

func (rc *crashReceiver) all() []crashArrival {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]crashArrival(nil), rc.got...)
}

// crashOps records the API calls that succeeded: [event type, username].
type crashOps struct {
	mu  sync.Mutex
	ops [][2]string
}

func (o *crashOps) add(typ, username string) {
	o.mu.Lock()
	o.ops = append(o.ops, [2]string{typ, username})
	o.mu.Unlock()
}

func (o *crashOps) all() [][2]string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([][2]string(nil), o.ops...)
}

func (o *crashOps) counts() (created, total int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, op := range o.ops {
		if op[0] == "user_created" {
			created++
		}
	}
	return created, len(o.ops)
}

// crashAPI calls Herald with an API token and never fails the test on a
// transport error: the server may be killed under it.
type crashAPI struct {
	base  string
	token string
	http  *http.Client
}

func (a crashAPI) call(method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(j)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, data, nil
}

// get calls and decodes, failing the test on anything but 200.
func (a crashAPI) get(t *testing.T, path string, out any) {
	t.Helper()
	st, body, err := a.call("GET", path, nil)
	if err != nil || st != http.StatusOK {
		t.Fatalf("GET %s: %d %s %v", path, st, body, err)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// events returns every event after seq, page by page.
func (a crashAPI) events(t *testing.T, after int64) []event {
	t.Helper()
	var all []event
	for {
		var page []event
		a.get(t, fmt.Sprintf("/api/v1/event?after=%d&limit=1000", after), &page)
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		after = page[len(page)-1].Seq
	}
}

func (a crashAPI) deliveries(t *testing.T, hookID int64, status string) []delivery {
	t.Helper()
	var ds []delivery
	a.get(t, fmt.Sprintf("/api/v1/webhook/%d/delivery?limit=1000&status=%s", hookID, status), &ds)
	return ds
}

// deliveryStates summarises the delivery log, for failure messages.
func (a crashAPI) deliveryStates(t *testing.T, hookID int64) string {
	t.Helper()
	var b strings.Builder
	for _, st := range []string{"pending", "retrying", "failed"} {
		ds := a.deliveries(t, hookID, st)
		fmt.Fprintf(&b, "%d %s deliveries", len(ds), st)
		for i, d := range ds {
			if i == 10 {
				b.WriteString(" ...")
				break
			}
			fmt.Fprintf(&b, "\n  %+v", d)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// crashSetup logs in on a fresh Herald, makes an API token that survives
// restarts and a webhook to the receiver; it returns the seq before it.
func crashSetup(t *testing.T, base, hookURL string) (crashAPI, int64, int64) {
	t.Helper()
	admin := (&testServer{t: t, URL: base}).admin()
	var tok struct {
		Token string `json:"token"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/user/admin/api_token", map[string]string{"name": "crash-test"}, &tok)
	seq := admin.lastSeq()
	hook := admin.addWebhook(hookURL, nil)
	api := crashAPI{base: base, token: tok.Token, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
	return api, hook.ID, seq
}

func crashNewUser(name string) map[string]string {
	return map[string]string{"username": name, "first_name": "F" + name, "last_name": "L" + name, "email": name + "@example.com"}
}

// crashWorkload creates, modifies and sometimes deletes users until stop,
// recording the calls that succeeded. A user whose creation did not
// succeed is left alone.
func crashWorkload(api crashAPI, prefix string, ops *crashOps, stop chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-time.After(time.Duration(5+rand.IntN(20)) * time.Millisecond):
		}
		name := fmt.Sprintf("%su%d", prefix, i)
		if st, _, err := api.call("POST", "/api/v1/user", crashNewUser(name)); err != nil || st != http.StatusCreated {
			continue
		}
		ops.add("user_created", name)
		if st, _, err := api.call("PATCH", "/api/v1/user/"+name, map[string]string{"last_name": "Changed"}); err != nil || st != http.StatusOK {
			continue
		}
		ops.add("user_modified", name)
		if i%3 != 0 {
			continue
		}
		if st, _, err := api.call("DELETE", "/api/v1/user/"+name, nil); err != nil || (st != http.StatusNoContent && st != http.StatusOK) {
			continue
		}
		ops.add("user_deleted", name)
	}
}

// crashRequestTimeout keeps leases short on PostgreSQL, where a restarted
// process must wait for the dead one's leases to run out.
func crashRequestTimeout() string {
	if onPostgres() {
		return "3s"
	}
	return "15s"
}
