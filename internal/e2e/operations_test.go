package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// runHerald runs the herald binary with extra environment variables and
// returns its standard output, standard error and exit status.
func runHerald(t *testing.T, bin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), env...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run herald %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), code
}

// herald healthcheck, as a container runtime runs it: exit status 0 when
// the server on addr is ready, else non-zero with a one-line reason.
func TestHealthcheck(t *testing.T) {
	t.Parallel()
	bin := buildHerald(t)
	s := startServer(t)
	_, port, err := net.SplitHostPort(mustURL(t, s.URL).Host)
	if err != nil {
		t.Fatal(err)
	}
	closedPort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	unavailable := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// What a server that cannot write to its database answers.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"msg":"the database is unavailable;\ntry again shortly"}`)
	}))
	defer unavailable.Close()
	hang := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	defer hanging.Close()
	defer close(hang)

	for _, tc := range []struct {
		name   string
		env    []string
		args   []string
		ready  bool
		reason []string // in the one line of standard error
	}{
		{name: "ready server, HERALD_ADDR", env: []string{"HERALD_ADDR=127.0.0.1:" + port}, ready: true},
		{name: "ready server listening on every interface: asked on loopback", env: []string{"HERALD_ADDR=0.0.0.0:" + port}, ready: true},
		{name: "ready server, --addr with no host", args: []string{"--addr", ":" + port}, ready: true},
		{name: "ready server, HERALD_ADDR_FILE", env: []string{"HERALD_ADDR_FILE=" + writeFile(t, "127.0.0.1:"+port+"\n")}, ready: true},
		{
			name:   "nothing listening",
			env:    []string{"HERALD_ADDR=127.0.0.1:" + closedPort},
			reason: []string{"not ready", "127.0.0.1:" + closedPort, "connection refused"},
		},
		{
			name:   "server answering 503",
			env:    []string{"HERALD_ADDR=" + mustURL(t, unavailable.URL).Host},
			reason: []string{"not ready", "503", "the database is unavailable; try again shortly"},
		},
		{
			name:   "server not answering in time",
			env:    []string{"HERALD_ADDR=" + mustURL(t, hanging.URL).Host},
			args:   []string{"--timeout", "300ms"},
			reason: []string{"not ready", "deadline exceeded"},
		},
		{name: "addr without a port", env: []string{"HERALD_ADDR=localhost"}, reason: []string{`addr "localhost"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runHerald(t, bin, tc.env, append([]string{"healthcheck"}, tc.args...)...)
			if tc.ready {
				if code != 0 || !strings.Contains(stdout, "ready") {
					t.Fatalf("exit %d, stdout %q, stderr %q; want 0 and ready", code, stdout, stderr)
				}
				return
			}
			if code == 0 {
				t.Fatalf("exit 0 (stdout %q), want non-zero", stdout)
			}
			if strings.Count(stderr, "\n") != 1 {
				t.Errorf("stderr is not one line: %q", stderr)
			}
			for _, want := range tc.reason {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr %q lacks %q", stderr, want)
				}
			}
		})
	}
}

// writeFile writes content to a new file readable by its owner only and
// returns its path.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "setting")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// "herald serve" as an operator runs it in a container or under systemd:
// secrets from files, JSON logs, an old flag spelling. The secrets work,
// never reach the log, every log line is JSON, the old spelling warns, and
// herald healthcheck finds the server ready.
func TestServeAsOperated(t *testing.T) {
	t.Parallel()
	bin := buildHerald(t)
	dir := t.TempDir()
	database := newDatabase(t)
	const filePassword = "password-from-a-file"
	const fileKey = "secret-key-from-a-file-0123456789"
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + port
	logs := &lockedBuffer{}
	cmd := exec.Command(bin, "serve", "--request_timeout", "3s")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"HERALD_ADDR="+addr,
		"HERALD_DATABASE="+database,
		"HERALD_ADMIN_PASSWORD_FILE="+writeFile(t, filePassword+"\n"),
		"HERALD_SECRET_KEY_FILE="+writeFile(t, fileKey+"\n"),
		"HERALD_LOG_FORMAT=json",
		"HERALD_LOG_LEVEL=info",
	)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &heraldProcess{cmd: cmd, url: "http://" + addr, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill(t) })

	// herald healthcheck waits for it, as a container runtime would.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, stderr, code := runHerald(t, bin, []string{"HERALD_ADDR=" + addr}, "healthcheck")
		if code == 0 {
			break
		}
		select {
		case <-p.done:
			t.Fatalf("herald serve exited: %v\n%s", cmd.ProcessState, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("herald healthcheck still fails after 20 s: %s\nserver log:\n%s", stderr, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	s := &testServer{t: t, URL: p.url, logs: logs}
	admin := s.login("admin", filePassword)
	// Webhook secrets are encrypted with the key from the file.
	hook := admin.addWebhook("http://127.0.0.1:9/hook", map[string]any{"token": "hook-token-1"})
	var got webhook
	admin.expect(http.StatusOK, "GET", fmt.Sprintf("/api/v1/webhook/%d", hook.ID), nil, &got)
	if got.Token != "hook-token-1" || got.SigningSecret == "" {
		t.Errorf("the webhook reads back with token %q, signing secret %q", got.Token, got.SigningSecret)
	}
	if !onPostgres() {
		if _, err := os.Stat(database + ".key"); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a key file was generated beside the database (%v) although HERALD_SECRET_KEY_FILE was set", err)
		}
	}
	p.kill(t)

	var serving, warned bool
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line is not JSON: %q", line)
			continue
		}
		serving = serving || rec["msg"] == "herald is serving"
		warned = warned || (rec["level"] == "WARN" && rec["flag"] == "--request_timeout" && rec["use"] == "--request-timeout")
	}
	if !serving || !warned {
		t.Errorf("log has the serving line: %v, the deprecation warning: %v\n%s", serving, warned, logs.String())
	}
	for _, secret := range []string{filePassword, fileKey} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log shows the secret %q", secret)
		}
	}
}
