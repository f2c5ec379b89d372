// Package e2e drives a real Herald (the same app.Open and Serve that
// "herald serve" uses) on a free loopback port with a temporary SQLite file,
// over HTTP, as a client would.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/testdb"
)

const adminPassword = "admin-password-1"

// testServer is one running Herald.
type testServer struct {
	t      *testing.T
	URL    string
	DBPath string
	app    *app.App
	cancel context.CancelFunc
	done   chan error
	logs   *lockedBuffer

	// GRPCAddr is the provisioning service's address when the test set a
	// grpc_addr (withGRPC); empty otherwise.
	GRPCAddr string
	// MetricsURL is the base URL of metrics_addr when the test set one;
	// empty otherwise.
	MetricsURL string
}

// The suite runs on SQLite, or on PostgreSQL with HERALD_TEST_BACKEND=postgres
// (each test on a database of its own).
func onPostgres() bool { return os.Getenv("HERALD_TEST_BACKEND") == "postgres" }

// testSecretKey is the secret_key the tests use on PostgreSQL.
const testSecretKey = "test-secret-key-0123456789abcdef"

// newDatabase returns the setting for a new, empty database of the
// backend under test.
func newDatabase(t *testing.T) string {
	t.Helper()
	if onPostgres() {
		return testdb.Postgres(t)
	}
	return filepath.Join(t.TempDir(), "herald.db")
}

// startServer starts Herald on a new database; opts change its
// configuration.
func startServer(t *testing.T, opts ...func(*app.Config)) *testServer {
	t.Helper()
	return startServerOn(t, newDatabase(t), opts...)
}

// startServerOn starts Herald on the given database file.
func startServerOn(t *testing.T, dbPath string, opts ...func(*app.Config)) *testServer {
	t.Helper()
	cfg := app.DefaultConfig()
	cfg.Database = dbPath
	cfg.AdminPassword = adminPassword
	if onPostgres() {
		cfg.SecretKey = testSecretKey
	}
	// Retries in milliseconds instead of minutes, so tests see them.
	cfg.RetrySchedule = []time.Duration{0, 20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
		100 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond}
	for _, o := range opts {
		o(&cfg)
	}
	logs := &lockedBuffer{}
	// At debug level, so that tests of the log (no secret in it) read
	// every line Herald writes.
	log := slog.New(slog.NewTextHandler(io.MultiWriter(logs, testLogWriter()), &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := app.Open(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("open herald: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	grpcLn, err := a.ListenGRPC()
	if err != nil {
		t.Fatal(err)
	}
	metricsLn, err := a.ListenMetrics()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &testServer{t: t, URL: "http://" + ln.Addr().String(), DBPath: dbPath, app: a, cancel: cancel, done: make(chan error, 1), logs: logs}
	if grpcLn != nil {
		s.GRPCAddr = grpcLn.Addr().String()
	}
	if metricsLn != nil {
		s.MetricsURL = "http://" + metricsLn.Addr().String()
	}
	go func() { s.done <- a.Serve(ctx, ln) }()
	t.Cleanup(s.stop)
	return s
}

// lockedBuffer collects a server's log (in-process or the stderr of
// herald processes), written while a test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tail returns the last n bytes.
func (b *lockedBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.buf.Bytes()
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return string(out)
}

// testLogWriter shows server logs with -v when HERALD_TEST_LOG is set.
func testLogWriter() io.Writer {
	if os.Getenv("HERALD_TEST_LOG") != "" {
		return os.Stderr
	}
	return io.Discard
}

// stop shuts the server down and closes its database; safe to call twice.
func (s *testServer) stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	if err := <-s.done; err != nil && err != http.ErrServerClosed {
		s.t.Errorf("serve: %v", err)
	}
	if err := s.app.Close(); err != nil {
		s.t.Errorf("close: %v", err)
	}
	s.cancel = nil
}

// client is an HTTP client of one server with its own cookie jar and an
// optional bearer token.
type client struct {
	t      *testing.T
	base   string
	http   *http.Client
	bearer string
	header http.Header
}

func (s *testServer) anon() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: s.t, base: s.URL, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}, header: http.Header{}}
}

// login returns a client logged in with a session cookie.
func (s *testServer) login(username, password string) *client {
	s.t.Helper()
	c := s.anon()
	c.expect(http.StatusOK, "POST", "/api/v1/auth", map[string]string{"username": username, "password": password}, nil)
	return c
}

func (s *testServer) admin() *client {
	s.t.Helper()
	return s.login("admin", adminPassword)
}

// withToken returns a client that authenticates with a bearer token.
func (s *testServer) withToken(token string) *client {
	c := s.anon()
	c.bearer = token
	return c
}

// response is an HTTP answer with its body read.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// msg returns the "msg" of an error body.
func (r response) msg() string {
	var m struct {
		Msg string `json:"msg"`
	}
	_ = json.Unmarshal(r.Body, &m)
	return m.Msg
}

// do sends a request; body is JSON-encoded unless it is a string or nil.
func (c *client) do(method, path string, body any) response {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// expect sends a request, fails the test unless the status is want, and
// decodes the JSON answer into out (if not nil).
func (c *client) expect(want int, method, path string, body, out any) response {
	c.t.Helper()
	r := c.do(method, path, body)
	if r.Status != want {
		c.t.Fatalf("%s %s: status %d, want %d; body: %s", method, path, r.Status, want, r.Body)
	}
	if out != nil {
		if err := json.Unmarshal(r.Body, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, r.Body, err)
		}
	}
	return r
}
