package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/heraldhq/herald"
)

// maxResponseBody is how much of a receiver's answer the delivery log keeps.
const maxResponseBody = 16 << 10

// Message is one request to send: an event for one webhook.
type Message struct {
	EventID   string
	EventType string
	Payload   []byte
}

// NewRequest builds the request of CONTRACT 1 for msg to hook (whose
// secrets are in the clear), stamped with now.
func NewRequest(ctx context.Context, hook herald.Webhook, msg Message, now time.Time) (*http.Request, error) {
	method := hook.Method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, hook.URL, bytes.NewReader(msg.Payload))
	if err != nil {
		return nil, err
	}
	ts := now.Unix()
	secrets := []string{hook.SigningSecret}
	if hook.PreviousSecret != "" && now.Before(hook.PreviousSecretUntil) {
		secrets = append(secrets, hook.PreviousSecret)
	}
	sig, err := Sign(secrets, msg.EventID, ts, msg.Payload)
	if err != nil {
		return nil, err
	}
	h := req.Header
	h.Set("X-Defguard-Event", msg.EventType)
	if hook.Token != "" {
		h.Set("Authorization", "Bearer "+hook.Token)
	}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Herald/"+herald.Version)
	// Standard Webhooks header names are lower case; set them verbatim.
	h["webhook-id"] = []string{msg.EventID}
	h["webhook-timestamp"] = []string{strconv.FormatInt(ts, 10)}
	h["webhook-signature"] = []string{sig}
	return req, nil
}

// result is what one attempt produced.
type result struct {
	attempt herald.Attempt
	header  http.Header
	blocked bool
}

// send makes one attempt and reports it. It never returns an error: every
// failure is part of the attempt.
func send(ctx context.Context, client *http.Client, hook herald.Webhook, msg Message, n int) result {
	start := time.Now()
	r := result{attempt: herald.Attempt{N: n, StartedAt: start.UTC()}}
	req, err := NewRequest(ctx, hook, msg, start)
	if err != nil {
		r.attempt.Error = "cannot build the request: " + err.Error()
		return r
	}
	resp, err := client.Do(req)
	if err != nil {
		r.attempt.DurationMS = time.Since(start).Milliseconds()
		r.attempt.Error, r.blocked = describe(err)
		return r
	}
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	// Read a little more so the connection can be reused, then let go.
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	resp.Body.Close()
	r.attempt.DurationMS = time.Since(start).Milliseconds()
	r.attempt.StatusCode = resp.StatusCode
	r.attempt.ResponseBody = string(body)
	r.header = resp.Header
	if readErr != nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
		// The status counts; a broken body after it is only noted.
		r.attempt.Error = "reading the response: " + readErr.Error()
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		r.attempt.Error = fmt.Sprintf("redirect to %q not followed: a webhook URL must answer directly", resp.Header.Get("Location"))
	}
	return r
}

// describe turns a transport error into a message for the delivery log.
func describe(err error) (msg string, blocked bool) {
	var b *BlockedError
	if errors.As(err, &b) {
		return b.Error(), true
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return "timed out: " + err.Error(), false
	}
	return err.Error(), false
}
