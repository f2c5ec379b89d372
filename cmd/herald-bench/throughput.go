package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

type throughputResult struct {
	Webhooks               int     `json:"webhooks"`
	Delivering             int     `json:"delivering"` // the webhooks the events pass (-filters)
	Deliveries             int64   `json:"deliveries"`
	DeliveriesPerSec       float64 `json:"deliveries_per_sec"`
	BaselineRequestsPerSec float64 `json:"baseline_requests_per_sec"`
	Ratio                  float64 `json:"ratio"`
}

// throughput: 10 webhooks (-webhooks) to the receiver (up), 20,000 users created by 32
// clients as fast as Herald answers; Herald's deliveries/s is the number of
// deliveries over the time from the first to the last arrival. Then Herald
// is stopped and a plain Go client sends as many requests of the same kind
// (body, headers, signature), 16 in flight per webhook like Herald's
// engine, to the same receiver, timed the same way.
func (b *bench) throughput() (*throughputResult, error) {
	hooks := b.scenarioHooks()
	delivering := b.delivering(hooks)
	users := b.scale(20000, 200)
	total := int64(users * delivering)

	rcv, err := newReceiverUp()
	if err != nil {
		return nil, err
	}
	defer rcv.down()
	h, c, err := b.heraldWithWebhooks("throughput", rcv, hooks)
	if err != nil {
		return nil, err
	}

	b.logf("creating %d users (x %d delivering webhooks of %d = %d deliveries) with 32 clients", users, delivering, hooks, total)
	took, err := c.createUsers("t", users, 32, func(n int) {
		b.logf("created %d users, %d deliveries arrived", n, rcv.count.Load())
	})
	if err != nil {
		return nil, err
	}
	b.logf("created %d users in %v (%.0f/s)", users, took.Round(time.Millisecond), float64(users)/took.Seconds())
	if err := b.waitCount(rcv, total, 2*time.Minute, "throughput", h.exited); err != nil {
		return nil, err
	}
	got, span := rcv.count.Load(), rcv.span()
	res := &throughputResult{Webhooks: hooks, Delivering: delivering, Deliveries: got, DeliveriesPerSec: perSec(got, span)}
	b.logf("herald: %d deliveries in %v (first to last arrival): %.0f/s", got, span.Round(time.Millisecond), res.DeliveriesPerSec)
	if err := b.stopHerald(h); err != nil {
		return nil, err
	}

	rcv.reset()
	// As many URLs and requests in flight as Herald had webhooks to send to.
	b.logf("baseline: %d requests by a plain Go client, %d in flight", total, 16*delivering)
	if err := baseline(rcv, delivering, int(total), 16*delivering); err != nil {
		return nil, err
	}
	res.BaselineRequestsPerSec = perSec(rcv.count.Load(), rcv.span())
	res.Ratio = ratio(res.DeliveriesPerSec, res.BaselineRequestsPerSec)
	b.logf("baseline: %d requests in %v: %.0f/s; ratio %.3f", rcv.count.Load(), rcv.span().Round(time.Millisecond),
		res.BaselineRequestsPerSec, res.Ratio)
	return res, nil
}

// baseline sends n requests like Herald's (POST, a user_created body,
// Herald's headers with a fresh Standard Webhooks signature each) to the
// receiver's hooks webhook URLs from senders goroutines sharing one
// keep-alive client, as Herald's senders do.
func baseline(rcv *receiver, hooks, n, senders int) error {
	hc := &http.Client{
		Timeout: 15 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        senders,
			MaxIdleConnsPerHost: senders,
			IdleConnTimeout:     90 * time.Second,
		},
	}
	defer hc.CloseIdleConnections()
	key := make([]byte, 32)
	rand.Read(key)
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := baselineRequest(hc, rcv.url(i%hooks), key, username("b", i)); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// userBody is the user_created body Herald sends (docs/receivers.md, Events), with the
// fields the bench's users have.
func userBody(name string) []byte {
	body, _ := json.Marshal(map[string]any{
		"email": name + "@bench.example.com", "first_name": "Bench", "last_name": "User " + name,
		"groups": []string{}, "is_admin": false, "pgp_cert_id": "", "pgp_key": "", "phone": "", "ssh_key": "",
		"username": name,
	})
	return body
}

func baselineRequest(hc *http.Client, url string, key []byte, name string) error {
	body := userBody(name)
	id := "evt_" + rand.Text()
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	h := req.Header
	h.Set("X-Defguard-Event", "user_created")
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Herald/bench")
	h["webhook-id"] = []string{id}
	h["webhook-timestamp"] = []string{ts}
	h["webhook-signature"] = []string{"v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("baseline request: %s", resp.Status)
	}
	return nil
}
