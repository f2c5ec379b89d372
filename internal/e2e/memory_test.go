package e2e

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
)

// vmHWM returns the peak resident memory of process pid, in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read the process status (Linux /proc): %v", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// TestConcurrentLoginsMemory: 150 logins at once, each from an address of
// its own (so no throttling spares a password check), keep a real "herald
// serve" under 400 MiB resident at its peak: password checks (19 MiB each)
// run a few at a time, and the rest wait or are told to come back.
func TestConcurrentLoginsMemory(t *testing.T) {
	t.Parallel()
	const logins, limit = 150, 400 << 20
	bin := buildHerald(t)
	logs := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("herald logs (last 16 KiB):\n%s", logs.tail(16<<10))
		}
	})
	p := startHeraldProcess(t, bin, t.TempDir(), newDatabase(t), logs)
	clients := make([]*http.Client, logins)
	for i := range clients {
		clients[i] = clientFrom(fmt.Sprintf("127.0.2.%d", i+1))
	}
	idle := vmHWM(t, p.cmd.Process.Pid)
	answers := burst(logins, logins, func(i int) loginAnswer {
		return loginAs(t, clients[i], p.url, "admin", adminPassword, "")
	})
	peak := vmHWM(t, p.cmd.Process.Pid)
	ok, later := 0, 0
	for i, a := range answers {
		switch a.status {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			later++
			if n, err := strconv.Atoi(a.retryAfter); err != nil || n < 1 {
				t.Errorf("login %d: 429 with Retry-After %q", i, a.retryAfter)
			}
		default:
			t.Errorf("login %d: status %d, want 200 or 429; body %s", i, a.status, a.body)
		}
	}
	t.Logf("%d logins at once: %d logged in, %d told to come back; peak RSS %d MiB (%d MiB before)",
		logins, ok, later, peak>>20, idle>>20)
	if ok < 4 {
		t.Errorf("only %d of %d logins were checked and logged in", ok, logins)
	}
	if peak >= limit {
		t.Errorf("peak resident memory %d MiB, want under %d MiB", peak>>20, limit>>20)
	}
}
