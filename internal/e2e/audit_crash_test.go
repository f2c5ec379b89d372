package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Herald is killed with SIGKILL while admins create and revoke API tokens
// and the audit stream's receiver is down; after a restart every audit
// entry that committed reaches the receiver as an audit_entry event, like
// any other event.
func TestAuditStreamSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the herald binary")
	}
	t.Parallel()
	bin := buildHerald(t)
	dir, database, logs := t.TempDir(), newDatabase(t), &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("herald's stderr (last 32 KiB):\n%s", logs.tail(32<<10))
		}
	})
	rc := newReceiver(t)
	var up atomic.Bool
	rc.setAnswer(func(n int, r received) int {
		if up.Load() {
			return http.StatusOK
		}
		return http.StatusServiceUnavailable
	})
	p := startHeraldProcess(t, bin, dir, database, logs)
	admin := (&testServer{t: t, URL: p.url}).admin()
	admin.addWebhook(rc.URL, map[string]any{"on_user_created": false, "on_user_modified": false, "on_user_deleted": false,
		"on_hwkey_provision": false, "events": []string{"audit"}, "method": "POST"})

	// Token churn from four goroutines until the kill; calls cut short by
	// it may or may not have committed.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Timeout: 2 * time.Second, Jar: admin.http.Jar}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c := &client{t: t, base: p.url, http: hc, header: http.Header{}}
				r, err := tryDo(c, "POST", "/api/v1/user/admin/api_token", map[string]string{"name": fmt.Sprintf("w%d-%d", w, i)})
				if err != nil || r.Status != http.StatusCreated {
					continue
				}
				var tok struct {
					ID int64 `json:"id"`
				}
				_ = json.Unmarshal(r.Body, &tok)
				_, _ = tryDo(c, "DELETE", fmt.Sprintf("/api/v1/user/admin/api_token/%d", tok.ID), nil)
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	p.kill(t)
	close(stop)
	wg.Wait()

	up.Store(true)
	p = startHeraldProcess(t, bin, dir, database, logs)
	admin = (&testServer{t: t, URL: p.url}).admin()
	entries := admin.audit("")
	if len(entries) < 10 {
		t.Fatalf("only %d audit entries: the workload did not run", len(entries))
	}
	// Every entry from the webhook's creation on (entry 2) arrives.
	want := map[int64]bool{}
	for _, e := range entries[1:] {
		want[e.ID] = true
	}
	deadline := time.Now().Add(30 * time.Second)
	if onPostgres() {
		deadline = time.Now().Add(60 * time.Second) // leases of the killed process run out first
	}
	for {
		got := map[int64]bool{}
		for _, r := range rc.succeeded() {
			var e auditEntry
			if r.event() == "audit_entry" && json.Unmarshal(r.Body, &e) == nil {
				got[e.ID] = true
			}
		}
		missing := 0
		for id := range want {
			if !got[id] {
				missing++
			}
		}
		if missing == 0 {
			t.Logf("%d audit entries, all streamed", len(want))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d audit entries never reached the receiver", missing, len(want))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tryDo is client.do that reports a transport error instead of failing
// the test: the server may be killed mid-request.
func tryDo(c *client, method, path string, body any) (response, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Body: data}, err
}
