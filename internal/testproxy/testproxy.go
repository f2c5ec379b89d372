// Package testproxy starts a real forward proxy, Debian's tinyproxy, on
// loopback for a test. It is imported by tests only.
package testproxy

import (
	"bytes"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Source is the address the proxy connects to receivers from. A process
// on loopback connects from 127.0.0.1, so a receiver tells by its peer's
// address whether a request came through the proxy.
const Source = "127.0.0.2"

// Proxy is a running tinyproxy.
type Proxy struct {
	Addr    string // host:port, on 127.0.0.1
	logFile string
}

// Start starts tinyproxy for the test, allowing CONNECT to ports (and
// only to them); conf adds configuration lines (e.g. "BasicAuth user
// password"). It stops with the test. Without tinyproxy the test is
// skipped, except under CI, where it is a failure (.ci/run installs it).
func Start(t testing.TB, ports []string, conf ...string) *Proxy {
	t.Helper()
	bin, err := exec.LookPath("tinyproxy")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tinyproxy is not installed, and CI must run the proxy tests (.ci/run installs it with apt-get)")
		}
		t.Skip("tinyproxy is not installed (apt-get install tinyproxy): the proxy tests need a real forward proxy")
	}
	dir := t.TempDir()
	p := &Proxy{logFile: filepath.Join(dir, "tinyproxy.log")}
	lines := []string{"Listen 127.0.0.1", "Bind " + Source, "Allow 127.0.0.1", "Timeout 30", "MaxClients 100",
		fmt.Sprintf("LogFile %q", p.logFile), "LogLevel Connect"}
	for _, port := range ports {
		lines = append(lines, "ConnectPort "+port)
	}
	lines = append(lines, conf...)
	// The free port found may be taken before tinyproxy listens on it:
	// then another.
	var out bytes.Buffer
	for range 5 {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		confFile := filepath.Join(dir, "tinyproxy.conf")
		text := "Port " + port + "\n" + strings.Join(lines, "\n") + "\n"
		if err := os.WriteFile(confFile, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		out.Reset()
		cmd := exec.Command(bin, "-d", "-c", confFile)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		p.Addr = "127.0.0.1:" + port
		if listening(p.Addr, exited) {
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
			})
			return p
		}
		_ = cmd.Process.Kill()
		<-exited
	}
	t.Fatalf("tinyproxy did not start: %s", out.String())
	return nil
}

// URL is the proxy's URL, with userinfo ("user:password", URL-encoded)
// unless it is empty.
func (p *Proxy) URL(userinfo string) *url.URL {
	if userinfo != "" {
		userinfo += "@"
	}
	u, err := url.Parse("http://" + userinfo + p.Addr)
	if err != nil {
		panic(err)
	}
	return u
}

// Tunnels counts the tunnels the proxy was asked for to addr (host:port),
// from its log.
func (p *Proxy) Tunnels(t testing.TB, addr string) int {
	t.Helper()
	b, err := os.ReadFile(p.logFile)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "CONNECT "+addr+" HTTP/1.1")
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, err := net.SplitHostPort(ln.Addr().String())
	return port, err
}

// listening reports whether addr accepts connections within 5 s, before
// exited is closed.
func listening(addr string, exited chan struct{}) bool {
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return true
		}
		select {
		case <-exited:
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
	return false
}
