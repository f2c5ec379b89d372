package delivery

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
	"golang.org/x/net/idna"

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

// target is a webhook made ready to send to: its URL parsed and its
// signing keys decoded once, not for every request (the engine keeps one
// per webhook).
type target struct {
	hook herald.Webhook // secrets in the clear
	// uri is the URL as sent; method the request's method.
	uri, method string
	// current signs every request; previous too until
	// hook.PreviousSecretUntil (a rotation).
	current, previous *signer
}

func newTarget(hook herald.Webhook) (*target, error) {
	u, err := url.Parse(hook.URL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http or https URL with a host", hook.URL)
	}
	// "host:" (an empty port) means host, as in net/http.
	u.Host = strings.TrimSuffix(u.Host, ":")
	// An internationalised name is dialled and sent in its ASCII form, as
	// net/http does (the client would send the UTF-8 bytes).
	if host := u.Hostname(); !isASCII(host) {
		ascii, err := idna.Lookup.ToASCII(host)
		if err != nil {
			return nil, fmt.Errorf("host %q: %w", host, err)
		}
		if port := u.Port(); port != "" {
			ascii = net.JoinHostPort(ascii, port)
		}
		u.Host = ascii
	}
	t := &target{hook: hook, uri: u.String(), method: hook.Method}
	if t.method == "" {
		t.method = http.MethodGet
	}
	if hook.Kind == herald.WebhookKindSCIM {
		return t, nil // it signs nothing
	}
	key, err := decodeSecret(hook.SigningSecret)
	if err != nil {
		return nil, err
	}
	t.current = newSigner(key)
	if hook.PreviousSecret != "" {
		if key, err = decodeSecret(hook.PreviousSecret); err != nil {
			return nil, err
		}
		t.previous = newSigner(key)
	}
	return t, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// header is one request header, its name exactly as sent.
type header struct{ name, value string }

// headers returns the headers of a webhook request (docs/receivers.md) for msg, stamped with now. The
// Standard Webhooks names are lower case and sent so.
func (t *target) headers(msg Message, now time.Time) []header {
	ts := strconv.FormatInt(now.Unix(), 10)
	signers := []*signer{t.current}
	if t.previous != nil && now.Before(t.hook.PreviousSecretUntil) {
		signers = append(signers, t.previous)
	}
	hs := make([]header, 0, 7)
	hs = append(hs, header{"X-Defguard-Event", msg.EventType})
	if t.hook.Token != "" {
		hs = append(hs, header{"Authorization", "Bearer " + t.hook.Token})
	}
	return append(hs,
		header{"Content-Type", "application/json"},
		header{"User-Agent", "Herald/" + herald.Version},
		header{"webhook-id", msg.EventID},
		header{"webhook-timestamp", ts},
		header{"webhook-signature", signWith(signers, msg.EventID, ts, msg.Payload)})
}

// result is what one attempt produced.
type result struct {
	attempt herald.Attempt
	// retryAfter is the response's Retry-After header on a 429 or 503
	// (docs/receivers.md, Answering), the only answers it is honoured on.
	retryAfter string
	blocked    bool
	unreadable bool // no request: the key cannot open the webhook's secrets
}

// send makes one attempt at msg to t, over by deadline, and reports it. It
// never returns an error: every failure is part of the attempt.
func send(client *fasthttp.Client, deadline time.Time, t *target, msg Message, n int) result {
	start := time.Now()
	r := result{attempt: herald.Attempt{N: n, StartedAt: start.UTC()}}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(t.uri)
	req.Header.SetMethod(t.method)
	// Names go out as headers gives them (the client's setting covers
	// only answers).
	req.Header.DisableNormalizing()
	for _, h := range t.headers(msg, start) {
		req.Header.Set(h.name, h.value)
	}
	// Sent as is: the payload is never changed once stored.
	req.SetBodyRaw(msg.Payload)
	if err := client.DoDeadline(req, resp, deadline); err != nil {
		r.attempt.DurationMS = time.Since(start).Milliseconds()
		r.attempt.Error, r.blocked = describe(err)
		return r
	}
	var body []byte
	var readErr error
	if stream := resp.BodyStream(); stream != nil {
		body, readErr = io.ReadAll(io.LimitReader(stream, maxResponseBody))
		// Read a little more so the connection can be reused; a longer
		// answer closes it when the response is released.
		_, _ = io.CopyN(io.Discard, stream, 64<<10)
	}
	r.attempt.DurationMS = time.Since(start).Milliseconds()
	code := resp.StatusCode()
	r.attempt.StatusCode = code
	r.attempt.ResponseBody = string(body)
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		// Looked up only here: finding a header by name in any case
		// goes through them all.
		r.retryAfter = responseHeader(resp, "Retry-After")
	}
	if readErr != nil && herald.Succeeded(code) {
		// The status counts; a broken body after it is only noted.
		r.attempt.Error = "reading the response: " + readErr.Error()
	}
	if code >= 300 && code < 400 {
		r.attempt.Error = fmt.Sprintf("redirect to %q not followed: a webhook URL must answer directly", responseHeader(resp, "Location"))
	}
	return r
}

// responseHeader returns the value of a response header, its name matched
// in any case (the client keeps names as they came).
func responseHeader(resp *fasthttp.Response, name string) string {
	for k, v := range resp.Header.All() {
		if strings.EqualFold(string(k), name) {
			return string(v)
		}
	}
	return ""
}

// describe turns a transport error into a message for the delivery log.
func describe(err error) (msg string, blocked bool) {
	var b *BlockedError
	if errors.As(err, &b) {
		return b.Error(), true
	}
	if errors.Is(err, fasthttp.ErrConnectionClosed) {
		return "the receiver closed the connection without answering", false
	}
	if errors.Is(err, fasthttp.ErrTimeout) {
		// The whole request's deadline (its own message says only
		// "timeout").
		return "timed out: no complete answer within the request timeout", false
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return "timed out: " + err.Error(), false
	}
	return err.Error(), false
}
