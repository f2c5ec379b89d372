package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/queue"
	"github.com/heraldhq/herald/internal/scim"
)

// A SCIM target is a webhook of kind scim (herald.WebhookKindSCIM): it is
// claimed, capped, paused and recorded as any webhook, and only its
// sending differs: scim.Apply makes the calls one change needs, through
// scimDoer, over the engine's client (egress guard, proxy, timeouts).

// maxSCIMBody bounds a SCIM answer read: a resync's list pages are larger
// than a webhook answer the log keeps (the log clips what it shows).
const maxSCIMBody = 4 << 20

// scimDoer sends a SCIM target's requests through the engine's client,
// every call of one Apply or Resync over by deadline: together they fit
// in the delivery's lease, as one webhook request does. callsOver frees
// the change's slot under the target's cap (nil: nothing to free).
type scimDoer struct {
	client    *fasthttp.Client
	deadline  time.Time
	callsOver func()
}

// CallsOver is scim.Doer's: the target's cap counts requests in flight,
// as a webhook's does, so a change storing the id the target gave no
// longer holds a slot.
func (d scimDoer) CallsOver() {
	if d.callsOver != nil {
		d.callsOver()
	}
}

// Do sends req with the bearer token and SCIM's media type.
func (d scimDoer) Do(ctx context.Context, t scim.Target, req scim.Request) (scim.Response, error) {
	deadline := d.deadline
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	hreq, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(hreq)
	defer fasthttp.ReleaseResponse(resp)
	hreq.SetRequestURI(req.URL)
	hreq.Header.SetMethod(req.Method)
	hreq.Header.DisableNormalizing()
	if t.Token != "" {
		hreq.Header.Set("Authorization", "Bearer "+t.Token)
	}
	hreq.Header.Set("Accept", "application/scim+json")
	hreq.Header.Set("User-Agent", "Herald/"+herald.Version)
	if req.Body != nil {
		hreq.Header.Set("Content-Type", "application/scim+json")
		hreq.SetBodyRaw(req.Body)
	}
	if err := d.client.DoDeadline(hreq, resp, deadline); err != nil {
		msg, _ := describe(err)
		return scim.Response{}, transportError{msg, err}
	}
	var body []byte
	if stream := resp.BodyStream(); stream != nil {
		var err error
		if body, err = io.ReadAll(io.LimitReader(stream, maxSCIMBody+1)); err != nil {
			return scim.Response{}, err
		}
	}
	out := scim.Response{Status: resp.StatusCode(), Body: body}
	if len(body) > maxSCIMBody {
		out.Body, out.TooLarge = body[:maxSCIMBody], true
	}
	if out.Status == http.StatusTooManyRequests || out.Status == http.StatusServiceUnavailable {
		out.RetryAfter = responseHeader(resp, "Retry-After")
	}
	return out, nil
}

// transportError is a failed request, described as for the delivery log.
type transportError struct {
	msg string
	err error
}

func (e transportError) Error() string { return e.msg }
func (e transportError) Unwrap() error { return e.err }

// Blocked reports whether err is the egress guard's refusal.
func (scimDoer) Blocked(err error) bool {
	var b *BlockedError
	return errors.As(err, &b)
}

// scimTarget is a SCIM target as scim sees it: its settings as stored in
// hook (the claim's webhook, current: the opened target is kept while
// only its URL and secrets stay the same), its URL and token from the
// opened t.
func scimTarget(hook herald.Webhook, t *target) scim.Target {
	return scim.Target{ID: hook.ID, BaseURL: t.uri, Token: t.hook.Token, OnlyGroups: hook.OnlyGroups,
		Deprovision: hook.Deprovision, SyncGroups: hook.SyncGroups}
}

// scimChange reads a claimed delivery's envelope into a scim.Change. A
// payload that is not an envelope is taken as the data itself.
func scimChange(c queue.Claimed) scim.Change {
	var env struct {
		Data     json.RawMessage `json:"data"`
		Previous json.RawMessage `json:"previous"`
	}
	ch := scim.Change{Type: c.EventType, Subject: c.Subject, Data: c.Payload}
	if json.Unmarshal(c.Payload, &env) == nil && len(env.Data) > 0 {
		ch.Data = env.Data
		if string(env.Previous) != "null" {
			ch.Previous = env.Previous
		}
	}
	return ch
}

// applySCIM applies one claimed change to its SCIM target and returns the
// attempt with its verdict. callsOver is called once its calls are over,
// possibly before it returns.
func (e *Engine) applySCIM(c queue.Claimed, t *target, callsOver func()) (herald.Attempt, scim.Result) {
	start := time.Now()
	a := herald.Attempt{N: c.Attempts + 1, StartedAt: start.UTC()}
	var res scim.Result
	if e.cfg.SCIM == nil {
		res = scim.Result{Verdict: scim.Retry, Error: "this engine has no SCIM store"}
	} else {
		// Cancelling is the deadline's: a shutdown lets the calls finish.
		d := scimDoer{client: e.client, deadline: start.Add(e.cfg.RequestTimeout), callsOver: callsOver}
		res = scim.Apply(context.Background(), d, e.cfg.SCIM, scimTarget(*c.Webhook, t), scimChange(c))
	}
	a.DurationMS = time.Since(start).Milliseconds()
	a.StatusCode, a.ResponseBody, a.Error = res.Status, res.Log, res.Error
	if res.Verdict == scim.Done && !herald.Succeeded(res.Status) {
		// The delivery log and the target's health read a 2xx as
		// success: a change that needed no call, or whose last answer
		// counts as done (a 404 to a DELETE), is recorded as 204; the
		// log shows the real answers.
		a.StatusCode = http.StatusNoContent
	}
	return a, res
}

// judgeSCIM turns a SCIM change's verdict into its delivery's outcome:
// Done succeeds; Retry waits on the retry schedule (a Retry-After
// honoured) and fails after its last step; Failed fails; Gone fails and
// disables the target, as 410 does a webhook.
func (e *Engine) judgeSCIM(c queue.Claimed, a herald.Attempt, res scim.Result) queue.Outcome {
	o := queue.Outcome{DeliveryID: c.ID, WebhookID: c.WebhookID, Attempt: a, RoundAttempts: c.RoundAttempts + 1}
	switch res.Verdict {
	case scim.Done:
		o.State = herald.DeliverySucceeded
		return o
	case scim.Gone:
		o.State = herald.DeliveryFailed
		o.DisableReason = disableReason(c, "the SCIM target answered 410 Gone")
		return o
	case scim.Failed:
		o.State = herald.DeliveryFailed
		return o
	}
	return e.retryLater(o, res.RetryAfter, time.Now())
}

// ResyncSCIM compares the SCIM target hook (as stored: token sealed) with
// the directory (local) through the engine's client, and returns the
// report and the changes that make the target agree (scim.Resync). A
// target whose token cannot be opened, or whose URL is unusable, gets a
// report saying so and no changes. The error is a database's.
func (e *Engine) ResyncSCIM(ctx context.Context, hook herald.Webhook, local scim.Local) (herald.SCIMResync, []scim.Change, error) {
	opened := e.open(hook)
	if opened.err != "" {
		return herald.SCIMResync{At: time.Now().UTC(), Error: opened.err}, nil, nil
	}
	if e.cfg.SCIM == nil {
		return herald.SCIMResync{At: time.Now().UTC(), Error: "this engine has no SCIM store"}, nil, nil
	}
	// A resync reads every page; each call gets the request timeout.
	d := resyncDoer{client: e.client, timeout: e.cfg.RequestTimeout}
	return scim.Resync(ctx, d, e.cfg.SCIM, scimTarget(hook, opened.target), local)
}

// resyncDoer is scimDoer with a deadline per call, for a resync's many
// pages (no lease bounds it).
type resyncDoer struct {
	client  *fasthttp.Client
	timeout time.Duration
}

func (d resyncDoer) Do(ctx context.Context, t scim.Target, req scim.Request) (scim.Response, error) {
	return scimDoer{client: d.client, deadline: time.Now().Add(d.timeout)}.Do(ctx, t, req)
}

func (resyncDoer) Blocked(err error) bool { return scimDoer{}.Blocked(err) }

// CallsOver is scim.Doer's; a resync holds no slot.
func (resyncDoer) CallsOver() {}
