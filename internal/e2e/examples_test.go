package e2e

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The example receivers under examples/ run as child processes against a
// real Herald: they print one line per event, in order per subject; they
// refuse forgeries with 401 and print nothing for duplicates.

func TestGoReceiverExample(t *testing.T) {
	t.Parallel()
	goTool := findTool(t, "go", filepath.Join(os.Getenv("GOROOT"), "bin", "go"), "/usr/local/go/bin/go")
	bin := filepath.Join(t.TempDir(), "go-receiver")
	build := exec.Command(goTool, "build", "-o", bin, "./examples/go-receiver")
	build.Dir = repoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/go-receiver: %v\n%s", err, out)
	}
	testReceiverExample(t, bin)
}

func TestPythonReceiverExample(t *testing.T) {
	t.Parallel()
	python := findTool(t, "python3", "/usr/bin/python3", "/root/.pyenv/shims/python3")
	testReceiverExample(t, python, filepath.Join(repoRoot(t), "examples", "python-receiver", "receiver.py"))
}

func TestNodeReceiverExample(t *testing.T) {
	t.Parallel()
	node := findTool(t, "node", "/usr/bin/node", "/usr/local/bin/node")
	testReceiverExample(t, node, filepath.Join(repoRoot(t), "examples", "node-receiver", "receiver.js"))
}

// The worked example of docs/receivers.md is the Standard Webhooks spec's,
// and the signer these tests use agrees with it.
func TestReceiverDocsWorkedExample(t *testing.T) {
	t.Parallel()
	const (
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		id     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		body   = `{"test": 2432232314}`
		want   = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	if got := signExample(secret, id, 1614265330, []byte(body)); got != want {
		t.Fatalf("signature = %s, want %s", got, want)
	}
	doc, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "receivers.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !containsAll(string(doc), secret, id, "1614265330", body, want) {
		t.Fatal("docs/receivers.md does not show the worked example")
	}
}

const exampleToken = "example-receiver-token"

// testReceiverExample drives the receiver that command starts.
func testReceiverExample(t *testing.T, command ...string) {
	s := startServer(t)
	admin := s.admin()
	tap := newTap(t)
	hook := admin.addWebhook(tap.URL+"/hook", map[string]any{"token": exampleToken,
		"events": []string{"group_created", "group_modified", "group_deleted"}})
	if hook.Method != "GET" {
		t.Fatalf("webhook method %q, want the default GET", hook.Method)
	}
	ex := startExample(t, hook.SigningSecret, command...)
	tap.forwardTo(ex.URL)

	// Every event type, sent by Herald (with GET and a body).
	admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
		"username": "jdoe", "first_name": "jane", "last_name": "doe", "email": "janedoe@email.pl", "phone": "123456789",
	}, nil)
	admin.expect(http.StatusOK, "PATCH", "/api/v1/user/jdoe", map[string]string{"last_name": "Doe"}, nil)
	var tok struct {
		Token string `json:"token"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/worker/token", map[string]string{"worker": "st"}, &tok)
	var job struct {
		ID int64 `json:"id"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/worker/job", map[string]string{"username": "jdoe", "worker": "st"}, &job)
	station := s.withToken(tok.Token)
	station.expect(http.StatusOK, "GET", "/api/v1/worker/job?worker=st", nil, nil)
	station.expect(http.StatusOK, "POST", fmt.Sprintf("/api/v1/worker/job/%d/done", job.ID),
		map[string]any{"success": true, "ssh_key": testdata(t, "ssh_ed25519.pub"), "serial": "42"}, nil)
	admin.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "devs", "members": []string{"jdoe"}}, nil)
	admin.expect(http.StatusOK, "PUT", "/api/v1/group/devs", map[string]any{"members": []string{"jdoe"}, "is_admin": true}, nil)
	admin.expect(http.StatusNoContent, "DELETE", "/api/v1/group/devs", nil, nil)
	admin.expect(http.StatusNoContent, "DELETE", "/api/v1/user/jdoe", nil, nil)

	// Order is promised per subject only, so compare per subject.
	wantJdoe := []string{"user_created jdoe", "user_modified jdoe", "user_keys jdoe",
		"user_modified jdoe", "user_modified jdoe", "user_modified jdoe", "user_deleted jdoe"}
	wantDevs := []string{"group_created devs", "group_modified devs", "group_deleted devs"}
	lines := ex.waitLines(t, len(wantJdoe)+len(wantDevs), 20*time.Second)
	bySubject := map[string][]string{}
	for _, l := range lines {
		_, subject, _ := strings.Cut(l, " ")
		bySubject[subject] = append(bySubject[subject], l)
	}
	if !slices.Equal(bySubject["jdoe"], wantJdoe) || !slices.Equal(bySubject["devs"], wantDevs) || len(bySubject) != 2 {
		t.Fatalf("receiver printed\n%s\nwant, in this order per subject,\n%s\n%s",
			strings.Join(lines, "\n"), strings.Join(wantJdoe, "\n"), strings.Join(wantDevs, "\n"))
	}

	// The test action is synchronous and reports the receiver's answer.
	var outcome map[string]any
	admin.expect(http.StatusOK, "POST", fmt.Sprintf("/api/v1/webhook/%d/test", hook.ID), nil, &outcome)
	if outcome["success"] != true || outcome["status_code"] != float64(200) {
		t.Fatalf("test outcome = %v", outcome)
	}
	testLine := fmt.Sprintf("webhook_test %d", hook.ID)
	ex.waitFor(t, testLine, 10*time.Second)

	// The receiver accepted every genuine request the first time (ten
	// events and the test send, which is logged too).
	admin.waitDeliveries(hook.ID, "succeeded", 11, 10*time.Second)
	for _, d := range admin.deliveries(hook.ID, "") {
		if d.Status != "succeeded" || d.Attempts != 1 {
			t.Errorf("delivery %s %s: %s after %d attempts (%d %s)", d.Event, d.Subject, d.Status, d.Attempts, d.LastStatusCode, d.LastError)
		}
	}
	captured := tap.waitFor(t, 11, 10*time.Second)
	for _, r := range captured {
		if r.Method != "GET" || r.Status != http.StatusOK {
			t.Errorf("%s %s %s: receiver answered %d", r.Method, r.event(), r.id(), r.Status)
		}
	}
	var created received
	for _, r := range captured {
		if r.event() == "user_created" {
			created = r
		}
	}

	// Forgeries get 401, whatever their webhook-id.
	key := func() string {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return "whsec_" + base64.StdEncoding.EncodeToString(b)
	}
	now := time.Now().Unix()
	fresh := func(secret, id string, ts int64, body string) received {
		r := received{Method: "POST", Body: []byte(body), Header: created.Header.Clone()}
		r.Header.Set("webhook-id", id)
		r.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
		r.Header.Set("webhook-signature", signExample(secret, id, ts, r.Body))
		return r
	}
	forgeries := []struct {
		name string
		req  received
	}{
		{"body changed, signature kept", withBody(created, strings.Replace(string(created.Body), "jdoe", "mallory", 1))},
		{"signature changed", withHeader(created, "webhook-signature", signExample(key(), created.id(), now, created.Body))},
		{"timestamp changed", withHeader(created, "webhook-timestamp", strconv.FormatInt(now+1, 10))},
		{"no signature", withHeader(created, "webhook-signature", "")},
		{"v2 signature", withHeader(created, "webhook-signature", "v2,"+strings.TrimPrefix(created.Header.Get("webhook-signature"), "v1,"))},
		{"no webhook-id", withHeader(created, "webhook-id", "")},
		{"wrong token", withHeader(created, "Authorization", "Bearer wrong-token")},
		{"no token", withHeader(created, "Authorization", "")},
		{"another secret", fresh(key(), "msg_forged_1", now, `{"username":"mallory"}`)},
		{"timestamp 6 minutes old", fresh(hook.SigningSecret, "msg_forged_2", now-360, `{"username":"mallory"}`)},
		{"timestamp 6 minutes ahead", fresh(hook.SigningSecret, "msg_forged_3", now+360, `{"username":"mallory"}`)},
	}
	for _, f := range forgeries {
		if status, body := sendTo(t, ex.URL, f.req); status != http.StatusUnauthorized {
			t.Errorf("%s: receiver answered %d (%s), want 401", f.name, status, body)
		}
	}
	if status, body := sendTo(t, ex.URL, withMethod(created, "PUT")); status != http.StatusMethodNotAllowed {
		t.Errorf("PUT: receiver answered %d (%s), want 405", status, body)
	}

	// Duplicates get 2xx and are not handled twice: a captured genuine
	// request sent again, Herald's own redelivery, a POST sent twice.
	if status, body := sendTo(t, ex.URL, created); status < 200 || status > 299 {
		t.Errorf("captured user_created sent again: receiver answered %d (%s), want 2xx", status, body)
	}
	var createdDelivery int64
	for _, d := range admin.deliveries(hook.ID, "") {
		if d.EventID == created.id() {
			createdDelivery = d.ID
		}
	}
	admin.expect(http.StatusAccepted, "POST", fmt.Sprintf("/api/v1/webhook/%d/delivery/%d/redeliver", hook.ID, createdDelivery), nil, nil)
	again := tap.waitFor(t, len(captured)+1, 10*time.Second)[len(captured)]
	if again.id() != created.id() || again.Status < 200 || again.Status > 299 {
		t.Errorf("redelivery of %s: got %s, receiver answered %d", created.id(), again.id(), again.Status)
	}
	post := fresh(hook.SigningSecret, "msg_example_post", time.Now().Unix(), `{"name":"viapost","members":[],"is_admin":false}`)
	post.Header.Set("X-Defguard-Event", "group_created")
	for i := range 2 {
		if status, body := sendTo(t, ex.URL, post); status < 200 || status > 299 {
			t.Errorf("POST %d: receiver answered %d (%s), want 2xx", i+1, status, body)
		}
	}
	// A webhook of format "envelope": the example reads data.
	env := fresh(hook.SigningSecret, "msg_example_envelope", time.Now().Unix(), `{"id":"msg_example_envelope","type":"user_modified",`+
		`"occurred_at":"2026-01-01T00:00:00Z","actor":{"type":"api_token","username":"admin","token_id":7},`+
		`"data":{"email":"e@example.com","first_name":"e","last_name":"e","groups":[],"is_admin":false,"pgp_cert_id":"","pgp_key":"","phone":"2","ssh_key":"","username":"envjdoe"},`+
		`"previous":{"email":"e@example.com","first_name":"e","last_name":"e","groups":[],"is_admin":false,"pgp_cert_id":"","pgp_key":"","phone":"1","ssh_key":"","username":"envjdoe"},`+
		`"changed":["phone"]}`)
	env.Header.Set("X-Defguard-Event", "user_modified")
	if status, body := sendTo(t, ex.URL, env); status != http.StatusOK {
		t.Errorf("envelope: receiver answered %d (%s), want 200", status, body)
	}
	// An envelope webhook's test send is an envelope too: the example reads
	// webhook_id from data.
	envTest := fresh(hook.SigningSecret, "msg_example_envelope_test", time.Now().Unix(), `{"id":"msg_example_envelope_test","type":"webhook_test",`+
		`"occurred_at":"2026-01-01T00:00:00Z","actor":{"type":"user","username":"admin"},`+
		`"data":{"webhook_id":4242,"message":"test event from Herald"},"previous":null,"changed":[]}`)
	envTest.Header.Set("X-Defguard-Event", "webhook_test")
	if status, body := sendTo(t, ex.URL, envTest); status != http.StatusOK {
		t.Errorf("envelope webhook_test: receiver answered %d (%s), want 200", status, body)
	}
	// A last event marks the end: whatever the receiver printed for the
	// requests above is before it.
	last := fresh(hook.SigningSecret, "msg_example_last", time.Now().Unix(), `{"name":"viapost","members":[],"is_admin":false}`)
	last.Header.Set("X-Defguard-Event", "group_deleted")
	if status, body := sendTo(t, ex.URL, last); status != http.StatusOK {
		t.Fatalf("last event: receiver answered %d (%s), want 200", status, body)
	}
	all := ex.waitFor(t, "group_deleted viapost", 10*time.Second)
	want := append(slices.Clone(lines), testLine, "group_created viapost", "user_modified envjdoe", "webhook_test 4242", "group_deleted viapost")
	if !slices.Equal(all, want) {
		t.Fatalf("receiver printed\n%s\nwant\n%s", strings.Join(all, "\n"), strings.Join(want, "\n"))
	}
}

// withHeader returns a copy of r with a header set, or removed if value is "".
func withHeader(r received, name, value string) received {
	r.Header = r.Header.Clone()
	if value == "" {
		r.Header.Del(name)
	} else {
		r.Header.Set(name, value)
	}
	return r
}

func withBody(r received, body string) received {
	r.Body = []byte(body)
	return r
}

func withMethod(r received, method string) received {
	r.Method = method
	return r
}

// signExample signs like the Standard Webhooks spec, independently of
// Herald's code.
func signExample(secret, id string, ts int64, body []byte) string {
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, ts)
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// wireHeader is h as Herald puts it on the wire: the Standard Webhooks
// headers with lower-case names.
func wireHeader(h http.Header) http.Header {
	out := http.Header{}
	for k, v := range h {
		if strings.HasPrefix(k, "Webhook-") {
			k = strings.ToLower(k)
		}
		out[k] = slices.Clone(v)
	}
	return out
}

var exampleClient = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
	return http.ErrUseLastResponse
}}

// sendTo sends r to base+"/hook" and returns the answer.
func sendTo(t *testing.T, base string, r received) (int, string) {
	t.Helper()
	req, err := http.NewRequest(r.Method, base+"/hook", bytes.NewReader(r.Body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = wireHeader(r.Header)
	resp, err := exampleClient.Do(req)
	if err != nil {
		t.Fatalf("%s to the example receiver: %v", r.Method, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// tap sits between Herald and an example receiver: it forwards every
// request unchanged and records it with the receiver's answer, so the
// test can send genuine requests again.
type tap struct {
	URL  string
	recv *receiver // records; its answer is the target's status
	mu   sync.Mutex
	to   string
}

func newTap(t *testing.T) *tap {
	tp := &tap{}
	tp.recv = &receiver{t: t, signal: make(chan struct{}, 1)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp.URL = "http://" + ln.Addr().String()
	srv := &http.Server{Handler: tp}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		checkAgainstWebhookDoc(t, tp.recv.all())
	})
	return tp
}

func (tp *tap) forwardTo(url string) {
	tp.mu.Lock()
	tp.to = url
	tp.mu.Unlock()
}

func (tp *tap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, readErr := io.ReadAll(r.Body)
	tp.mu.Lock()
	to := tp.to
	tp.mu.Unlock()
	status, answer := http.StatusBadGateway, "no receiver yet"
	if to != "" {
		req, err := http.NewRequest(r.Method, to+r.URL.RequestURI(), bytes.NewReader(body))
		if err == nil {
			req.Header = wireHeader(r.Header)
			var resp *http.Response
			if resp, err = exampleClient.Do(req); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				status, answer = resp.StatusCode, string(b)
			}
		}
		if err != nil {
			answer = err.Error()
		}
	}
	rc := tp.recv
	rc.mu.Lock()
	rc.got = append(rc.got, received{Status: status, Method: r.Method, Header: r.Header.Clone(), Body: body, At: time.Now(), readErr: readErr})
	rc.mu.Unlock()
	select {
	case rc.signal <- struct{}{}:
	default:
	}
	w.WriteHeader(status)
	io.WriteString(w, answer)
}

// waitFor waits until the tap has recorded n requests, each with the
// example receiver's status.
func (tp *tap) waitFor(t *testing.T, n int, timeout time.Duration) []received {
	t.Helper()
	return tp.recv.waitFor(n, timeout)
}

// example is a running example receiver.
type example struct {
	URL    string
	mu     sync.Mutex
	lines  []string // its stdout, line by line
	stderr bytes.Buffer
	more   chan struct{}
	exited chan struct{}
}

// startExample starts command as a receiver on a free port and waits until
// it accepts connections.
func startExample(t *testing.T, secret string, command ...string) *example {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + port
	ex := &example{URL: "http://" + addr, more: make(chan struct{}, 1), exited: make(chan struct{})}
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Env = append(os.Environ(), "RECEIVER_ADDR="+addr, "HERALD_TOKEN="+exampleToken, "HERALD_SIGNING_SECRET="+secret)
	cmd.Stderr = &lockedWriter{mu: &ex.mu, w: &ex.stderr}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", command, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			ex.mu.Lock()
			ex.lines = append(ex.lines, sc.Text())
			ex.mu.Unlock()
			select {
			case ex.more <- struct{}{}:
			default:
			}
		}
		_ = cmd.Wait()
		close(ex.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-ex.exited
		if t.Failed() {
			t.Logf("%s stderr:\n%s", filepath.Base(command[len(command)-1]), ex.stderrText())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return ex
		}
		select {
		case <-ex.exited:
			t.Fatalf("%v exited before listening on %s; stderr:\n%s", command, addr, ex.stderrText())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v is not listening on %s after 30s; stderr:\n%s", command, addr, ex.stderrText())
		}
	}
}

func (ex *example) stderrText() string {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	return ex.stderr.String()
}

// waitLines waits until the receiver has printed n lines and returns them.
func (ex *example) waitLines(t *testing.T, n int, timeout time.Duration) []string {
	t.Helper()
	return ex.wait(t, timeout, fmt.Sprintf("%d lines", n), func(lines []string) bool { return len(lines) >= n })
}

// waitFor waits until the receiver has printed line and returns every line.
func (ex *example) waitFor(t *testing.T, line string, timeout time.Duration) []string {
	t.Helper()
	return ex.wait(t, timeout, fmt.Sprintf("%q", line), func(lines []string) bool { return slices.Contains(lines, line) })
}

func (ex *example) wait(t *testing.T, timeout time.Duration, what string, done func([]string) bool) []string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		ex.mu.Lock()
		lines := slices.Clone(ex.lines)
		ex.mu.Unlock()
		if done(lines) {
			return lines
		}
		select {
		case <-ex.more:
		case <-ex.exited:
			t.Fatalf("the receiver exited; it printed\n%s\nstderr:\n%s", strings.Join(lines, "\n"), ex.stderrText())
		case <-deadline:
			t.Fatalf("waited %v for %s; the receiver printed\n%s\nstderr:\n%s", timeout, what, strings.Join(lines, "\n"), ex.stderrText())
		}
	}
}

// lockedWriter writes to w under mu.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (lw *lockedWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.w.Write(p)
}

// findTool returns the path of a program: on PATH, or at one of fallbacks.
// Without it the test is skipped, except under CI=true, where it must be.
func findTool(t *testing.T, name string, fallbacks ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, p := range fallbacks {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	where := "on PATH"
	if len(fallbacks) > 0 {
		where += " (nor at " + strings.Join(fallbacks, ", ") + ")"
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not %s; CI must have it for this test", name, where)
	}
	t.Skipf("%s is not %s: skipping this test, which needs it (under CI=true it fails instead)", name, where)
	return ""
}

// repoRoot is the module's root directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}
