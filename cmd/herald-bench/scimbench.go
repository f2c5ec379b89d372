package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type scimResult struct {
	// Changes is the number of users created through the API, each one
	// SCIM creation at the endpoint.
	Changes int64 `json:"changes"`
	// ChangesPerSec: creations at the SCIM endpoint over the time from
	// the first POST /Users to the last.
	ChangesPerSec float64 `json:"changes_per_sec"`
	// P99FromRequestMS: a creation's POST /Users arrival minus the moment
	// the API request that caused it was sent.
	P99FromRequestMS float64 `json:"p99_from_request_ms"`
	// WebhookDeliveriesPerSec: the same number of users, created the same
	// way on a fresh Herald with one webhook instead of the SCIM target,
	// in the same run: deliveries/s from the first arrival to the last.
	WebhookDeliveriesPerSec float64 `json:"webhook_deliveries_per_sec"`
	// RatioToWebhook = ChangesPerSec / WebhookDeliveriesPerSec.
	RatioToWebhook float64 `json:"ratio_to_webhook"`
}

// scim: 20,000 users (200 with -quick) created by 32 clients, first on a
// Herald with one webhook (the receiver), then on a fresh Herald with one
// SCIM target instead, the bench's own SCIM endpoint (scimEndpoint). Both
// rates run from the first arrival to the last, so ratio_to_webhook reads
// SCIM provisioning against webhooks on the same machine in the same run.
func (b *bench) scim() (*scimResult, error) {
	const concurrency = 32
	users := b.scale(20000, 200)

	// Webhooks first: one webhook, the same users.
	rcv, err := newReceiverUp()
	if err != nil {
		return nil, err
	}
	defer rcv.down()
	h, c, err := b.heraldWithWebhooks("scim-webhook", rcv, 1)
	if err != nil {
		return nil, err
	}
	b.logf("webhook: creating %d users with %d clients, one webhook", users, concurrency)
	if _, err := c.createUsers("w", users, concurrency, nil); err != nil {
		return nil, err
	}
	if err := b.waitCount(rcv, int64(users), 2*time.Minute, "scim (webhook)", h.exited); err != nil {
		return nil, err
	}
	res := &scimResult{WebhookDeliveriesPerSec: perSec(rcv.count.Load(), rcv.span())}
	b.logf("webhook: %d deliveries in %v: %.0f/s", rcv.count.Load(), rcv.span().Round(time.Millisecond), res.WebhookDeliveriesPerSec)
	if err := b.stopHerald(h); err != nil {
		return nil, err
	}
	b.settle()

	// Then SCIM: one target, the same users.
	ep, err := newSCIMEndpoint()
	if err != nil {
		return nil, err
	}
	defer ep.close()
	db, err := b.newDatabase("scim")
	if err != nil {
		return nil, err
	}
	if h, err = b.startHerald("scim", db); err != nil {
		return nil, err
	}
	if c, err = newClient(h.url); err != nil {
		return nil, err
	}
	target := map[string]any{"name": "bench", "base_url": ep.url(), "token": ep.token, "enabled": true,
		"only_groups": []string{}, "deprovision": "delete", "sync_groups": false}
	if err := c.call("POST", "/api/v1/scim_target", target, http.StatusCreated, nil); err != nil {
		return nil, err
	}
	// The first admin may be provisioned too when the target is made;
	// only the bench's users are counted.
	b.logf("scim: creating %d users with %d clients, one SCIM target", users, concurrency)
	sent, err := c.createUsersTimed("s", users, concurrency)
	if err != nil {
		return nil, err
	}
	if err := b.waitSCIM(ep, users, h.exited); err != nil {
		return nil, err
	}
	if err := b.stopHerald(h); err != nil {
		return nil, err
	}

	created := ep.creations("s")
	var first, last time.Time
	fromRequest := make([]time.Duration, 0, len(created))
	for name, at := range created {
		t0, ok := sent[name]
		if !ok {
			return nil, fmt.Errorf("scim: a creation of %q, which the bench did not create", name)
		}
		fromRequest = append(fromRequest, at.Sub(t0))
		if first.IsZero() || at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	slices.Sort(fromRequest)
	res.Changes = int64(len(created))
	res.ChangesPerSec = perSec(res.Changes, last.Sub(first))
	res.P99FromRequestMS = round(float64(percentile(fromRequest, 0.99))/float64(time.Millisecond), 2)
	res.RatioToWebhook = ratio(res.ChangesPerSec, res.WebhookDeliveriesPerSec)
	b.logf("scim: %d creations in %v: %.0f/s, p99 from the request %.2f ms; %d SCIM requests in all; ratio to the webhook %.3f",
		res.Changes, last.Sub(first).Round(time.Millisecond), res.ChangesPerSec, res.P99FromRequestMS, ep.requests.Load(), res.RatioToWebhook)
	return res, nil
}

// waitSCIM waits until the endpoint has seen n creations of the bench's
// users, failing when none comes for a minute or herald exits.
func (b *bench) waitSCIM(ep *scimEndpoint, n int, exited func() error) error {
	count := func() int64 { return int64(len(ep.creations("s"))) }
	last, lastChange, lastReport := count(), time.Now(), time.Now()
	return waitFor(context.Background(), func() bool { return count() >= int64(n) }, func() error {
		if err := exited(); err != nil {
			return err
		}
		got := count()
		if got != last {
			last, lastChange = got, time.Now()
		} else if time.Since(lastChange) > time.Minute {
			return fmt.Errorf("scim: no creation for a minute; %d of %d arrived (%d SCIM requests, %d refused)",
				got, n, ep.requests.Load(), ep.refused.Load())
		}
		if time.Since(lastReport) >= 10*time.Second {
			lastReport = time.Now()
			b.logf("scim: %d of %d created", got, n)
		}
		return nil
	})
}

// createUsersTimed is createUsers, returning when each user's API request
// was sent.
func (c *client) createUsersTimed(prefix string, n, concurrency int) (map[string]time.Time, error) {
	var mu sync.Mutex
	sent := make(map[string]time.Time, n)
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				name := username(prefix, i)
				t0 := time.Now()
				mu.Lock()
				sent[name] = t0
				mu.Unlock()
				if err := c.createUser(name); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return sent, firstErr
}

// scimEndpoint is the smallest SCIM service provider Herald's SCIM sender
// can provision: POST /Users answers 201 with a new id, a filtered GET an
// empty list (nobody to adopt), PUT and PATCH 200, DELETE 204. It checks
// the bearer token and records when each userName's POST /Users arrived.
type scimEndpoint struct {
	ln    net.Listener
	srv   *http.Server
	token string

	requests atomic.Int64
	refused  atomic.Int64 // wrong token, unknown path

	mu      sync.Mutex
	created map[string]time.Time // userName -> first POST /Users
	ids     atomic.Int64
}

func newSCIMEndpoint() (*scimEndpoint, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ep := &scimEndpoint{ln: ln, token: "bench-" + rand.Text(), created: map[string]time.Time{}}
	ep.srv = &http.Server{Handler: http.HandlerFunc(ep.serve), ReadHeaderTimeout: 10 * time.Second}
	go ep.srv.Serve(ln)
	return ep, nil
}

// url is the SCIM base URL a target is given.
func (ep *scimEndpoint) url() string { return "http://" + ep.ln.Addr().String() + "/scim/v2" }

func (ep *scimEndpoint) close() { ep.srv.Close() }

// creations returns the arrival of each POST /Users whose userName has
// the prefix.
func (ep *scimEndpoint) creations(prefix string) map[string]time.Time {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	out := make(map[string]time.Time, len(ep.created))
	for name, at := range ep.created {
		if strings.HasPrefix(name, prefix) {
			out[name] = at
		}
	}
	return out
}

const scimJSON = "application/scim+json"

func (ep *scimEndpoint) serve(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	ep.requests.Add(1)
	body, _ := io.ReadAll(r.Body)
	if r.Header.Get("Authorization") != "Bearer "+ep.token {
		ep.refused.Add(1)
		scimAnswer(w, http.StatusUnauthorized, map[string]any{
			"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:Error"}, "status": "401", "detail": "bad token"})
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/scim/v2/")
	if !ok {
		ep.refused.Add(1)
		http.NotFound(w, r)
		return
	}
	kind, id, _ := strings.Cut(rest, "/")
	if kind != "Users" && kind != "Groups" {
		ep.refused.Add(1)
		http.NotFound(w, r)
		return
	}
	var res map[string]any
	_ = json.Unmarshal(body, &res)
	if res == nil {
		res = map[string]any{}
	}
	switch {
	case r.Method == http.MethodGet && id == "":
		scimAnswer(w, http.StatusOK, map[string]any{
			"schemas":      []string{"urn:ietf:params:scim:api:messages:2.0:ListResponse"},
			"totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []any{}})
	case r.Method == http.MethodPost && id == "":
		res["id"] = fmt.Sprintf("b%d", ep.ids.Add(1))
		if name, ok := res["userName"].(string); ok && kind == "Users" {
			ep.mu.Lock()
			if _, seen := ep.created[name]; !seen {
				ep.created[name] = now
			}
			ep.mu.Unlock()
		}
		scimAnswer(w, http.StatusCreated, res)
	case (r.Method == http.MethodPut || r.Method == http.MethodPatch) && id != "":
		res["id"] = id
		scimAnswer(w, http.StatusOK, res)
	case r.Method == http.MethodDelete && id != "":
		w.WriteHeader(http.StatusNoContent)
	default:
		ep.refused.Add(1)
		scimAnswer(w, http.StatusNotFound, map[string]any{
			"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:Error"}, "status": "404", "detail": "not here"})
	}
}

func scimAnswer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", scimJSON)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
