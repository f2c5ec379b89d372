package delivery

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/queue"
	"github.com/heraldhq/herald/internal/secretbox"
)

// The example of the Standard Webhooks spec: this secret, id, timestamp
// and body sign to this signature.
func TestSignSpecExample(t *testing.T) {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	id := "msg_p5jXN8AQM9LWM0D4loKWxJek"
	body := []byte(`{"test": 2432232314}`)
	got, err := Sign([]string{secret}, id, 1614265330, body)
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
	two, _ := Sign([]string{secret, NewSigningSecret()}, id, 1614265330, body)
	if len(two) <= len(got) || two[:len(got)+1] != got+" " {
		t.Fatalf("rotation signature %q should start with the new secret's and a space", two)
	}
	if _, err := Sign([]string{"whsec_!!!"}, id, 1, body); err == nil {
		t.Fatal("a malformed secret signed")
	}
}

// A target's signer is reused for every request to its webhook, by all
// the engine's senders at once: a reset HMAC must sign as a new one does,
// whatever it signed before.
func TestSignerReused(t *testing.T) {
	key, err := decodeSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	s := newSigner(key)
	const want = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				// Something else first, so a state left over would show.
				other := strings.Repeat("x", g*i)
				_ = s.sign("msg_other", "1", []byte(other))
				if got := s.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", []byte(`{"test": 2432232314}`)); got != want {
					errs <- got
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for got := range errs {
		t.Fatalf("a reused signer signed %q, want %q", got, want)
	}
}

func TestNextDelay(t *testing.T) {
	schedule := []time.Duration{0, 10 * time.Second, time.Minute}
	tests := []struct {
		round  int
		ok     bool
		lo, hi time.Duration
	}{
		{1, true, 8 * time.Second, 12 * time.Second},
		{2, true, 48 * time.Second, 72 * time.Second},
		{3, false, 0, 0},
	}
	for _, tt := range tests {
		for range 50 {
			d, ok := nextDelay(schedule, tt.round)
			if ok != tt.ok || d < tt.lo || d > tt.hi {
				t.Fatalf("nextDelay(round %d) = %v, %v; want %v in [%v, %v]", tt.round, d, ok, tt.ok, tt.lo, tt.hi)
			}
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
		ok    bool
	}{
		{"", 0, false},
		{"120", 2 * time.Minute, true},
		{"0", 0, true},
		{"-5", 0, true},
		{"999999", time.Hour, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		got, ok := retryAfter(tt.value, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tt.value, got, ok, tt.want, tt.ok)
		}
	}
}

// TestOpenKeepsTargets: the engine opens a webhook's secrets and parses its
// URL once, and opens it anew when the URL, method, token or a secret
// changes; the request it builds is signed with both secrets during a
// rotation and then with the new one only.
func TestOpenKeepsTargets(t *testing.T) {
	box, err := secretbox.New(strings.Repeat("k", 32))
	if err != nil {
		t.Fatal(err)
	}
	e := New(nil, box, Config{RetrySchedule: []time.Duration{0}}, slog.New(slog.DiscardHandler))
	secret, previous := NewSigningSecret(), NewSigningSecret()
	hook := herald.Webhook{ID: 1, URL: "http://a.example/hook", Method: "POST", Token: box.Seal("tok"),
		SigningSecret: box.Seal(secret)}
	first := e.open(hook)
	if first.err != "" || first.target.hook.Token != "tok" || first.target.uri != "http://a.example/hook" {
		t.Fatalf("open = %+v", first)
	}
	if again := e.open(hook); again.target != first.target {
		t.Error("an unchanged webhook was opened anew")
	}
	changed := hook
	changed.URL = "http://b.example/hook"
	if o := e.open(changed); o.target == first.target || o.target.uri != "http://b.example/hook" {
		t.Errorf("after a URL change the target is %+v", o.target)
	}

	now := time.Now()
	rotated := changed
	rotated.SigningSecret, rotated.PreviousSecret = box.Seal(secret), box.Seal(previous)
	rotated.PreviousSecretUntil = now.Add(time.Hour)
	o := e.open(rotated)
	msg := Message{EventID: "evt_1", EventType: herald.EventUserCreated, Payload: []byte(`{}`)}
	for _, tc := range []struct {
		at   time.Time
		want []string
	}{
		{now, []string{secret, previous}},
		{now.Add(2 * time.Hour), []string{secret}},
	} {
		want, _ := Sign(tc.want, "evt_1", tc.at.Unix(), msg.Payload)
		if got := headerValue(o.target.headers(msg, tc.at), "webhook-signature"); got != want {
			t.Errorf("signature at %v = %q, want %q", tc.at, got, want)
		}
		if o.target.uri != "http://b.example/hook" || o.target.method != "POST" {
			t.Errorf("request %s %s", o.target.method, o.target.uri)
		}
	}

	broken := hook
	broken.SigningSecret = "not sealed"
	if o := e.open(broken); o.err == "" || o.target != nil {
		t.Errorf("a webhook whose secret cannot be opened: %+v", o)
	}
}

// headerValue returns the value of the header named exactly name.
func headerValue(hs []header, name string) string {
	for _, h := range hs {
		if h.name == name {
			return h.value
		}
	}
	return ""
}

// A target's URL as sent: an empty port dropped, an internationalised host
// name in its ASCII form (as net/http sent it), the rest as written.
func TestTargetURI(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"http://a.example:/hook", "http://a.example/hook"},
		{"http://bücher.example/x?q=1", "http://xn--bcher-kva.example/x?q=1"},
		{"https://bücher.example:8443/x", "https://xn--bcher-kva.example:8443/x"},
		{"http://[::1]:9000/a%2Fb//c", "http://[::1]:9000/a%2Fb//c"},
	} {
		tg, err := newTarget(herald.Webhook{URL: tc.url, SigningSecret: NewSigningSecret()})
		if err != nil || tg.uri != tc.want {
			t.Errorf("newTarget(%q).uri = %q, %v; want %q", tc.url, tg.uri, err, tc.want)
		}
	}
}

// What an attempt means (docs/receivers.md, "Answering"): any 2xx succeeds; 410 fails and
// disables the webhook; an address the egress policy refuses fails; a
// Retry-After on 429 or 503 replaces the schedule's delay; every other
// answer or error is retried on the schedule, and fails after its last
// step. An attempt that sent nothing because the key cannot open the
// webhook's secrets neither fails nor uses a step: it waits SecretsWait.
func TestJudge(t *testing.T) {
	e := New(nil, nil, Config{RetrySchedule: []time.Duration{0, 10 * time.Second, 10 * time.Second}, SecretsWait: 30 * time.Second}, slog.New(slog.DiscardHandler))
	scheduled := [2]time.Duration{8 * time.Second, 12 * time.Second} // 10 s ± 20 %
	tests := []struct {
		name    string
		status  int
		after   string
		blocked bool
		// unreadable: the key could not open the webhook's secrets
		unreadable bool
		round      int  // attempts before this one, this round
		off        bool // the webhook was disabled when claimed
		state      string
		delay      [2]time.Duration // for retrying
		disable    bool
	}{
		{name: "204", status: 204, state: herald.DeliverySucceeded},
		{name: "410", status: 410, state: herald.DeliveryFailed, disable: true},
		// Off already (a delivery queued before): nothing to disable.
		{name: "410 of a webhook that is off", status: 410, off: true, state: herald.DeliveryFailed},
		{name: "blocked", blocked: true, state: herald.DeliveryFailed},
		{name: "503 with Retry-After", status: 503, after: "120", state: herald.DeliveryRetrying, delay: [2]time.Duration{2 * time.Minute, 2 * time.Minute}},
		{name: "429 without", status: 429, state: herald.DeliveryRetrying, delay: scheduled},
		{name: "500", status: 500, state: herald.DeliveryRetrying, delay: scheduled},
		{name: "302", status: 302, state: herald.DeliveryRetrying, delay: scheduled},
		{name: "connection error", status: 0, state: herald.DeliveryRetrying, delay: scheduled},
		{name: "500 after the last step", status: 500, round: 2, state: herald.DeliveryFailed},
		// Nothing was sent: it waits SecretsWait and keeps its retries.
		{name: "secrets unreadable", unreadable: true, state: herald.DeliveryRetrying, delay: [2]time.Duration{30 * time.Second, 30 * time.Second}},
		{name: "secrets unreadable after the last step", unreadable: true, round: 2, state: herald.DeliveryRetrying, delay: [2]time.Duration{30 * time.Second, 30 * time.Second}},
	}
	for _, tt := range tests {
		before := time.Now()
		r := result{attempt: herald.Attempt{StatusCode: tt.status}, retryAfter: tt.after, blocked: tt.blocked, unreadable: tt.unreadable}
		o := e.judge(queue.Claimed{ID: 1, WebhookID: 2, RoundAttempts: tt.round, Webhook: &herald.Webhook{ID: 2, Enabled: !tt.off}}, r)
		round := tt.round + 1
		if tt.unreadable {
			round = tt.round
		}
		if o.State != tt.state || (o.DisableReason != "") != tt.disable || o.RoundAttempts != round {
			t.Errorf("%s: state %s, disable %q, round %d", tt.name, o.State, o.DisableReason, o.RoundAttempts)
			continue
		}
		if tt.state == herald.DeliveryRetrying {
			if d := o.NextAttemptAt.Sub(before); d < tt.delay[0] || d > tt.delay[1]+time.Second {
				t.Errorf("%s: retried after %v, want %v to %v", tt.name, d, tt.delay[0], tt.delay[1])
			}
		}
	}
}
