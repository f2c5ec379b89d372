package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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
	t, err := newTarget(hook)
	if err != nil {
		return nil, err
	}
	return t.request(ctx, msg, now)
}

// target is a webhook made ready to send to: its URL parsed and its
// signing keys decoded once, not for every request (the engine keeps one
// per webhook).
type target struct {
	hook herald.Webhook // secrets in the clear
	url  url.URL
	// key signs every request; previousKey too until
	// hook.PreviousSecretUntil (a rotation).
	key, previousKey []byte
}

func newTarget(hook herald.Webhook) (*target, error) {
	u, err := url.Parse(hook.URL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http or https URL with a host", hook.URL)
	}
	t := &target{hook: hook, url: *u}
	if t.key, err = decodeSecret(hook.SigningSecret); err != nil {
		return nil, err
	}
	if hook.PreviousSecret != "" {
		if t.previousKey, err = decodeSecret(hook.PreviousSecret); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// request builds the request for msg, stamped with now.
func (t *target) request(ctx context.Context, msg Message, now time.Time) (*http.Request, error) {
	method := t.hook.Method
	if method == "" {
		method = http.MethodGet
	}
	// The URL was parsed once; the request gets its own copy.
	req, err := http.NewRequestWithContext(ctx, method, "", bytes.NewReader(msg.Payload))
	if err != nil {
		return nil, err
	}
	u := t.url
	// As http.NewRequest does: "host:" (an empty port) means host.
	req.URL, req.Host = &u, strings.TrimSuffix(u.Host, ":")
	ts := now.Unix()
	keys := [][]byte{t.key}
	if t.previousKey != nil && now.Before(t.hook.PreviousSecretUntil) {
		keys = append(keys, t.previousKey)
	}
	h := req.Header
	h.Set("X-Defguard-Event", msg.EventType)
	if t.hook.Token != "" {
		h.Set("Authorization", "Bearer "+t.hook.Token)
	}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Herald/"+herald.Version)
	// Standard Webhooks header names are lower case; set them verbatim.
	h["webhook-id"] = []string{msg.EventID}
	h["webhook-timestamp"] = []string{strconv.FormatInt(ts, 10)}
	h["webhook-signature"] = []string{signWith(keys, msg.EventID, ts, msg.Payload)}
	return req, nil
}

// result is what one attempt produced.
type result struct {
	attempt herald.Attempt
	header  http.Header
	blocked bool
}

// send makes one attempt at msg to t and reports it. It never returns an
// error: every failure is part of the attempt.
func send(ctx context.Context, client *http.Client, t *target, msg Message, n int) result {
	start := time.Now()
	r := result{attempt: herald.Attempt{N: n, StartedAt: start.UTC()}}
	req, err := t.request(ctx, msg, start)
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
