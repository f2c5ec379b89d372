package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// received is one request a receiver got.
type received struct {
	Status int // what the receiver answered
	Method string
	Header http.Header
	Body   []byte
	At     time.Time
	// readErr is set when the body could not be read whole (the sender
	// went away mid-request).
	readErr error
}

func (r received) event() string { return r.Header.Get("X-Defguard-Event") }
func (r received) id() string    { return r.Header.Get("webhook-id") }

// username is the "username" of a user event's body.
func (r received) username() string {
	var b struct {
		Username string `json:"username"`
	}
	_ = json.Unmarshal(r.Body, &b)
	return b.Username
}

// receiver is a real HTTP server on loopback that records what it gets and
// answers as its answer function says (200 by default). When the test
// ends, everything it got is checked against openapi.json's webhooks.
type receiver struct {
	t   *testing.T
	URL string
	ln  net.Listener

	mu     sync.Mutex
	got    []received
	answer func(n int, r received) int
	signal chan struct{}
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{t: t, URL: "http://" + ln.Addr().String() + "/hook", ln: ln, signal: make(chan struct{}, 1)}
	srv := &http.Server{Handler: rc}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		checkAgainstWebhookDoc(t, rc.all())
	})
	return rc
}

// setAnswer sets the status for the n-th request (0-based, counting all).
func (rc *receiver) setAnswer(f func(n int, r received) int) {
	rc.mu.Lock()
	rc.answer = f
	rc.mu.Unlock()
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	req := received{Method: r.Method, Header: r.Header.Clone(), Body: body, At: time.Now(), readErr: err}
	rc.mu.Lock()
	n := len(rc.got)
	rc.got = append(rc.got, req)
	answer := rc.answer
	rc.mu.Unlock()
	status := http.StatusOK
	if answer != nil {
		status = answer(n, req)
	}
	rc.mu.Lock()
	rc.got[n].Status = status
	rc.mu.Unlock()
	select {
	case rc.signal <- struct{}{}:
	default:
	}
	if status == http.StatusFound {
		w.Header().Set("Location", "https://example.com/elsewhere")
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, "answer %d to request %d", status, n)
}

// all returns every request so far.
func (rc *receiver) all() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// succeeded returns the requests that were answered 2xx, in arrival order.
func (rc *receiver) succeeded() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []received
	for _, r := range rc.got {
		if r.Status >= 200 && r.Status < 300 {
			out = append(out, r)
		}
	}
	return out
}

// waitFor waits until at least n requests arrived, or fails after timeout.
func (rc *receiver) waitFor(n int, timeout time.Duration) []received {
	rc.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := rc.all()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			rc.t.Fatalf("receiver got %d requests in %v, want %d", len(got), timeout, n)
		}
		select {
		case <-rc.signal:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitForEvents waits until the receiver has had a request of every event
// type in want, and returns all it got.
func (rc *receiver) waitForEvents(want []string, timeout time.Duration) []received {
	rc.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := rc.all()
		have := map[string]bool{}
		for _, r := range got {
			have[r.event()] = true
		}
		var missing []string
		for _, ev := range want {
			if !have[ev] {
				missing = append(missing, ev)
			}
		}
		if len(missing) == 0 {
			return got
		}
		if time.Now().After(deadline) {
			rc.t.Fatalf("receiver got no %v in %v", missing, timeout)
		}
		select {
		case <-rc.signal:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// verifySignature checks a webhook-signature header the way the Standard
// Webhooks spec describes it, independently of Herald's code: HMAC-SHA256
// keyed with the base64-decoded part of "whsec_...", over
// "<webhook-id>.<webhook-timestamp>.<body>", base64, prefixed "v1,"; any
// one of the space-separated signatures may match.
func verifySignature(secret string, h http.Header, body []byte) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return fmt.Errorf("secret %q is not whsec_<base64>", secret)
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp %q is not Unix seconds", ts)
	}
	if d := time.Since(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("webhook-timestamp %d is %v away from now", sec, d)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		v, b64, ok := strings.Cut(sig, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("no valid v1 signature in %q", h.Get("webhook-signature"))
}

// webhook is the webhook object of the management API (the Webhook schema
// of internal/api/openapi.json).
type webhook struct {
	ID               int64    `json:"id"`
	URL              string   `json:"url"`
	Description      string   `json:"description"`
	Token            string   `json:"token"`
	Enabled          bool     `json:"enabled"`
	OnUserCreated    bool     `json:"on_user_created"`
	OnUserDeleted    bool     `json:"on_user_deleted"`
	OnUserModified   bool     `json:"on_user_modified"`
	OnHWKeyProvision bool     `json:"on_hwkey_provision"`
	Method           string   `json:"method"`
	Events           []string `json:"events"`
	Format           string   `json:"format"`
	IgnoreActors     []string `json:"ignore_actors"`
	OnlyGroups       []string `json:"only_groups"`
	SigningSecret    string   `json:"signing_secret"`
	CreatedAt        string   `json:"created_at"`

	TokenUnreadable         bool `json:"token_unreadable"`
	SigningSecretUnreadable bool `json:"signing_secret_unreadable"`
}

// addWebhook creates a webhook on all four seed triggers plus body's fields.
func (c *client) addWebhook(url string, fields map[string]any) webhook {
	c.t.Helper()
	body := map[string]any{"url": url, "description": "test receiver", "on_user_created": true,
		"on_user_modified": true, "on_user_deleted": true, "on_hwkey_provision": true}
	for k, v := range fields {
		body[k] = v
	}
	var w webhook
	c.expect(http.StatusCreated, "POST", "/api/v1/webhook", body, &w)
	return w
}

// delivery is an entry of the delivery log.
type delivery struct {
	ID             int64  `json:"id"`
	Event          string `json:"event"`
	EventID        string `json:"event_id"`
	Subject        string `json:"subject"`
	Status         string `json:"status"`
	Attempts       int    `json:"attempts"`
	LastStatusCode int    `json:"last_status_code"`
	LastError      string `json:"last_error"`
}

func (c *client) deliveries(hookID int64, query string) []delivery {
	c.t.Helper()
	var ds []delivery
	c.expect(http.StatusOK, "GET", fmt.Sprintf("/api/v1/webhook/%d/delivery?limit=1000&%s", hookID, query), nil, &ds)
	return ds
}

// waitDeliveries waits until the webhook has n deliveries in status.
func (c *client) waitDeliveries(hookID int64, status string, n int, timeout time.Duration) []delivery {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ds := c.deliveries(hookID, "status="+status)
		if len(ds) >= n {
			return ds
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("webhook %d has %d %s deliveries after %v, want %d; all: %+v", hookID, len(ds), status, timeout, n, c.deliveries(hookID, ""))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
