package delivery

import (
	"bytes"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/queue"
)

// TestConfigDefaults: zero settings take their defaults; Unrecorded below
// Senders takes four times Senders; a lease outlasts a whole request.
func TestConfigDefaults(t *testing.T) {
	// defaults are the tuning of a zero Config.
	defaults := Config{RequestTimeout: 15 * time.Second, ConnectTimeout: 5 * time.Second, PerWebhook: 16, Senders: 256, BatchSize: 256,
		Unrecorded: 1024, Retention: 30 * 24 * time.Hour, SecretsWait: time.Minute}
	with := func(change func(*Config)) Config {
		c := defaults
		change(&c)
		return c
	}
	set := Config{RequestTimeout: time.Second, ConnectTimeout: 2 * time.Second, PerWebhook: 3, Senders: 10, BatchSize: 7,
		Unrecorded: 10, Retention: time.Hour, SecretsWait: time.Second}
	tests := []struct {
		name     string
		in, want Config
	}{
		{"zero", Config{}, defaults},
		{"set", set, set},
		{"Unrecorded below Senders", Config{Senders: 10, Unrecorded: 9}, with(func(c *Config) { c.Senders, c.Unrecorded = 10, 40 })},
		{"Unrecorded above Senders", Config{Senders: 10, Unrecorded: 11}, with(func(c *Config) { c.Senders, c.Unrecorded = 10, 11 })},
		{"negative", Config{PerWebhook: -1, Senders: -1, RequestTimeout: -time.Second, Retention: -time.Hour}, defaults},
	}
	for _, tt := range tests {
		e := New(nil, nil, tt.in, slog.New(slog.DiscardHandler))
		got := e.cfg
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %+v\nwant %+v", tt.name, got, tt.want)
		}
		if lease := e.lease(); lease <= got.ConnectTimeout+got.RequestTimeout {
			t.Errorf("%s: a lease of %v does not outlast a request (%v to connect, %v in all)", tt.name, lease, got.ConnectTimeout, got.RequestTimeout)
		}
		if cap(e.outcomes) != got.Unrecorded {
			t.Errorf("%s: room for %d outcomes, want Unrecorded (%d): a sender never waits to hand one over", tt.name, cap(e.outcomes), got.Unrecorded)
		}
	}
}

// TestFirstAttemptAndJitter: a schedule starting at 0 sends at once
// (no jitter on nothing); every other step stays within ±20 % and varies.
func TestFirstAttemptAndJitter(t *testing.T) {
	if d, ok := nextDelay([]time.Duration{0, time.Minute}, 0); d != 0 || !ok {
		t.Errorf("first attempt: %v, %v; want 0, true", d, ok)
	}
	if d, ok := nextDelay(nil, 0); ok {
		t.Errorf("an empty schedule gave %v", d)
	}
	seen := map[time.Duration]bool{}
	for range 100 {
		d := jitter(100 * time.Second)
		if d < 80*time.Second || d > 120*time.Second {
			t.Fatalf("jitter(100 s) = %v, outside ±20 %%", d)
		}
		seen[d] = true
	}
	if len(seen) < 10 {
		t.Errorf("jitter gave only %d different delays in 100: retries would arrive together", len(seen))
	}
	if d := jitter(-time.Second); d != 0 {
		t.Errorf("jitter(-1 s) = %v, want 0", d)
	}
}

// TestSettle: recorded outcomes free their capacity (the next claim asks
// for it again), and a webhook failing breakerThreshold times in a row is
// left out of claims for its pause, with a warning; a 410 is logged as
// the webhook disabled. The log line of an outcome names the delivery,
// never the receiver's answer beyond its status and error.
func TestSettle(t *testing.T) {
	var logs bytes.Buffer
	e := New(nil, nil, Config{RetrySchedule: []time.Duration{0}, Senders: 20, Unrecorded: 20, BatchSize: 20, PerWebhook: 20},
		slog.New(slog.NewTextHandler(&logs, nil)))
	fail := func(webhook, delivery int64) queue.Outcome {
		return queue.Outcome{DeliveryID: delivery, WebhookID: webhook, State: herald.DeliveryRetrying,
			Attempt: herald.Attempt{N: 1, StatusCode: 500, ResponseBody: "body of the answer"}}
	}
	// Claimed: 10 deliveries of webhook 1, 2 of webhook 2, all sent and
	// waiting for their outcomes to be recorded.
	e.total = 12
	if req, ok := e.claimRequest(time.Now()); !ok || req.Limit != 8 {
		t.Fatalf("claim with 12 of 20 unrecorded: %+v, %v; want a claim of 8", req, ok)
	}

	var batch []queue.Outcome
	for i := range int64(breakerThreshold) {
		batch = append(batch, fail(1, 100+i))
	}
	batch = append(batch, queue.Outcome{DeliveryID: 200, WebhookID: 2, State: herald.DeliverySucceeded, Attempt: herald.Attempt{N: 1, StatusCode: 204}},
		queue.Outcome{DeliveryID: 201, WebhookID: 2, State: herald.DeliveryFailed, DisableReason: "the receiver answered 410 Gone",
			Attempt: herald.Attempt{N: 1, StatusCode: 410}})
	e.settle(batch)

	if e.total != 0 {
		t.Errorf("after recording every outcome: %d claimed and unrecorded, want 0", e.total)
	}
	req, ok := e.claimRequest(time.Now())
	if !ok || req.Limit != 20 {
		t.Fatalf("claim after the outcomes: %+v, %v; want a claim of 20", req, ok)
	}
	if !req.Paused[1] || req.Paused[2] || len(req.Paused) != 1 {
		t.Errorf("paused %v, want webhook 1 (%d failures in a row) only", req.Paused, breakerThreshold)
	}
	if req, _ := e.claimRequest(time.Now().Add(breakerBase)); req.Paused[1] {
		t.Errorf("webhook 1 still paused after %v", breakerBase)
	}
	log := logs.String()
	for _, want := range []string{"webhook paused after consecutive failures", "webhook_id=1 pause=2s",
		"webhook disabled", "410 Gone", "delivery_id=201 outcome=failed", "delivery_id=109 outcome=retrying"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "delivery_id=200") {
		t.Errorf("a success was logged at info level:\n%s", log)
	}
	if strings.Contains(log, "body of the answer") {
		t.Errorf("a receiver's answer reached the log:\n%s", log)
	}
}

// TestLogOutcome: a delivery's line is at debug level for a success, at
// info for a retry and a failure; each names the delivery and its
// outcome.
func TestLogOutcome(t *testing.T) {
	for _, tc := range []struct {
		state      string
		level      slog.Level
		wantLogged bool
	}{
		{herald.DeliverySucceeded, slog.LevelInfo, false},
		{herald.DeliverySucceeded, slog.LevelDebug, true},
		{herald.DeliveryRetrying, slog.LevelInfo, true},
		{herald.DeliveryFailed, slog.LevelInfo, true},
		{herald.DeliveryFailed, slog.LevelWarn, false},
	} {
		var logs bytes.Buffer
		logOutcome(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: tc.level})),
			queue.Outcome{DeliveryID: 7, WebhookID: 3, State: tc.state, Attempt: herald.Attempt{N: 1, StatusCode: 500}})
		want := "msg=delivery webhook_id=3 delivery_id=7 outcome=" + tc.state + " attempt=1 status=500"
		if got := strings.Contains(logs.String(), want); got != tc.wantLogged {
			t.Errorf("%s at %v: logged %v, want %v:\n%s", tc.state, tc.level, got, tc.wantLogged, logs.String())
		}
	}
}
