package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/store"
)

// With PostgreSQL every instance must share one secret key, so Herald
// refuses to start without it and says what to set.
func TestPostgresRequiresSecretKey(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Database = "postgres://postgres@127.0.0.1:5432/test"
	_, err := Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	// A secret: the variable or its file, not a flag (which ps shows).
	if err == nil || !strings.Contains(err.Error(), "HERALD_SECRET_KEY or HERALD_SECRET_KEY_FILE") || strings.Contains(err.Error(), "--") {
		t.Fatalf("Open without a secret key = %v, want an error naming HERALD_SECRET_KEY or HERALD_SECRET_KEY_FILE, no flag", err)
	}
}

func TestParseRetrySchedule(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"0,5s,30s", 3, true},
		{"1m", 1, true},
		{" 0 , 2s ", 2, true},
		{"", 0, false},
		{"5s,,1m", 0, false},
		{"-1s", 0, false},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseRetrySchedule(tt.in)
		if (err == nil) != tt.ok || len(got) != tt.want {
			t.Errorf("ParseRetrySchedule(%q) = %v, %v", tt.in, got, err)
		}
	}
}

// TestParsePublicURL: a public URL's scheme and host are read without
// regard to case (an https one in capitals still means Secure cookies and
// HSTS); anything but an absolute http(s) URL is refused.
func TestParsePublicURL(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		https    bool
		ok       bool
	}{
		{"", "", false, true},
		{"https://herald.example.com", "https://herald.example.com", true, true},
		{"HTTPS://Herald.Example.com", "https://herald.example.com", true, true},
		{"Https://HERALD.example.com:8443/Herald/", "https://herald.example.com:8443/Herald/", true, true},
		{"http://herald.example.com", "http://herald.example.com", false, true},
		{"HTTP://Herald.Example.com", "http://herald.example.com", false, true},
		{"herald.example.com", "", false, false},
		{"ftp://herald.example.com", "", false, false},
		{"https://", "", false, false},
		{"https//herald.example.com", "", false, false},
	} {
		got, err := ParsePublicURL(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParsePublicURL(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if err == nil && publicHTTPS(got) != tc.https {
			t.Errorf("public URL %q: https %v, want %v", tc.in, publicHTTPS(got), tc.https)
		}
		if err == nil && publicHTTPS(tc.in) != tc.https {
			t.Errorf("public URL %q as given: https %v, want %v", tc.in, publicHTTPS(tc.in), tc.https)
		}
	}
}

// SIGTERM does not wait on a client's spare connection that never sent a
// request (net/http alone would hold shutdown 5 s for it).
func TestShutdownIsPrompt(t *testing.T) {
	a := openTestApp(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/api/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	idle, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	time.Sleep(50 * time.Millisecond) // let the server accept it
	start := time.Now()
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("shutdown took %v with an idle new connection open", took.Round(time.Millisecond))
		}
	case <-time.After(8 * time.Second):
		t.Fatal("Serve did not return within 8 s of shutdown")
	}
}

// A second server on the same SQLite file refuses to serve and says why,
// while the admin commands (which open the file without serving) work
// beside the first; once the first has stopped, another serves.
func TestOneServerPerSQLiteFile(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Database = filepath.Join(t.TempDir(), "herald.db")
	cfg.AdminPassword = "correct horse battery staple"
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	serve := func(a *App) (stop func() error, err error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Serve(ctx, ln) }()
		select {
		case err := <-done: // refused at once
			cancel()
			return nil, err
		case <-time.After(300 * time.Millisecond):
		}
		return func() error { cancel(); return <-done }, nil
	}
	first, err := Open(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	stopFirst, err := serve(first)
	if err != nil {
		t.Fatalf("first Serve: %v", err)
	}

	second, err := Open(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("Open beside a running server (as an admin command does): %v", err)
	}
	defer second.Close()
	if _, err := second.Dir.CreateUser(context.Background(), directory.CLI, directory.NewUser{Username: "beside", Email: "beside@example.com"}); err != nil {
		t.Errorf("an admin command's change beside a running server: %v", err)
	}
	if _, err := serve(second); err == nil || !strings.Contains(err.Error(), "another Herald process") || !strings.Contains(err.Error(), "PostgreSQL") {
		t.Fatalf("second Serve = %v, want a refusal that points to PostgreSQL", err)
	}

	if err := stopFirst(); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	stopSecond, err := serve(second)
	if err != nil {
		t.Fatalf("Serve after the first stopped: %v", err)
	}
	if err := stopSecond(); err != nil {
		t.Error(err)
	}
}

// Provisioning service settings that cannot work stop Serve at once with a
// message naming them: TLS files without grpc_addr, a grpc_addr in use, a
// certificate without its key.
func TestServeRefusesBadGRPCSettings(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tc := range []struct {
		name string
		set  func(*Config)
		want string
	}{
		{"TLS without grpc_addr", func(c *Config) { c.GRPCTLSCert, c.GRPCTLSKey = "cert.pem", "key.pem" }, "set --grpc-addr or HERALD_GRPC_ADDR too"},
		{"grpc_addr in use", func(c *Config) { c.GRPCAddr = taken.Addr().String() }, "set --grpc-addr or HERALD_GRPC_ADDR"},
		{"certificate without key", func(c *Config) { c.GRPCAddr, c.GRPCTLSCert = "127.0.0.1:0", "cert.pem" }, "grpc_tls_cert and grpc_tls_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Database = filepath.Join(t.TempDir(), "herald.db")
			cfg.AdminPassword = "correct horse battery staple"
			tc.set(&cfg)
			a, err := Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			done := make(chan error, 1)
			go func() { done <- a.Serve(context.Background(), ln) }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Serve = %v, want an error containing %q", err, tc.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Serve started despite the bad settings")
			}
		})
	}
}

// The proxy variables are read at start: a value Herald cannot use stops
// it before anything is created, with the variable named and its password
// not shown; a usable one is logged without its credentials.
func TestOpenReadsProxyVariables(t *testing.T) {
	for _, name := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"} {
		t.Setenv(name, "")
	}
	cfg := DefaultConfig()
	cfg.Database = filepath.Join(t.TempDir(), "herald.db")
	cfg.AdminPassword = "correct horse battery staple"
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))

	t.Setenv("HTTPS_PROXY", "socks5://herald:pa55word@proxy.example:1080")
	if _, err := Open(context.Background(), cfg, log); err == nil || !strings.Contains(err.Error(), "HTTPS_PROXY") || strings.Contains(err.Error(), "pa55word") {
		t.Fatalf("Open with a SOCKS proxy = %v, want an error naming HTTPS_PROXY without the password", err)
	}
	if _, err := os.Stat(cfg.Database); !os.IsNotExist(err) {
		t.Fatalf("the refused start created the database (%v)", err)
	}
	// The admin commands send nothing: the same variable does not stop them.
	admin := cfg
	admin.SendsNothing = true
	admin.Database = filepath.Join(t.TempDir(), "admin.db")
	if a, err := Open(context.Background(), admin, log); err != nil {
		t.Fatalf("Open for an admin command with an unusable HTTPS_PROXY: %v", err)
	} else {
		a.Close()
	}

	t.Setenv("HTTPS_PROXY", "http://herald:pa55word@proxy.example:3128")
	t.Setenv("NO_PROXY", "hooks.internal.example")
	a, err := Open(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if !strings.Contains(logs.String(), "https_proxy=http://proxy.example:3128") || !strings.Contains(logs.String(), "no_proxy=hooks.internal.example") ||
		strings.Contains(logs.String(), "pa55word") {
		t.Fatalf("start log: %s", logs.String())
	}
}

// TestBroadTrustedProxiesWarned: a trusted proxy network wide enough to
// hold clients is warned about at start (its clients could choose their
// address); a proxy's own address is not.
func TestBroadTrustedProxiesWarned(t *testing.T) {
	var logs strings.Builder
	openTestApp(t, &logs, func(c *Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	})
	var warned []string
	for line := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, "trusted_proxies") {
			warned = append(warned, line)
		}
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "network=10.0.0.0/8") {
		t.Errorf("warnings about trusted_proxies: %q; want one, naming 10.0.0.0/8", warned)
	}
}

// TestServePrunesLoginCounts: a serving Herald forgets login throttling
// counts whose window is over from the start, with no login to set it off.
func TestServePrunesLoginCounts(t *testing.T) {
	a := openTestApp(t, nil)
	// A failed login an hour ago.
	a.DB.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	if _, _, err := a.Dir.Login(context.Background(), "admin", "not-the-password", netip.MustParseAddr("203.0.113.9")); err == nil {
		t.Fatal("a wrong password logged in")
	}
	a.DB.Now = time.Now
	counts := func() int {
		var n int
		err := a.DB.View(context.Background(), func(tx *store.Tx) error {
			return tx.QueryRow(context.Background(), `SELECT count(*) FROM login_attempts`).Scan(&n)
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := counts(); n != 2 {
		t.Fatalf("%d login counts after one failed login, want 2", n)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for counts() != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := counts(); n != 0 {
		t.Errorf("%d login counts from an hour ago remain while serving, want none", n)
	}
}

// openTestApp opens Herald on a new SQLite file, with cfg changed by mods
// and its log written to log (nil: discarded); closed when the test ends.
func openTestApp(t *testing.T, log io.Writer, mods ...func(*Config)) *App {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Database = filepath.Join(t.TempDir(), "herald.db")
	cfg.AdminPassword = "correct horse battery staple"
	for _, m := range mods {
		m(&cfg)
	}
	if log == nil {
		log = io.Discard
	}
	a, err := Open(context.Background(), cfg, slog.New(slog.NewTextHandler(log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}
