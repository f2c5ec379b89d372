package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

type latencyResult struct {
	EventsPerSec int     `json:"events_per_sec"`
	Webhooks     int     `json:"webhooks"`
	P50MS        float64 `json:"p50_ms"`
	P99MS        float64 `json:"p99_ms"`
	MaxMS        float64 `json:"max_ms"`
	// From the moment the API request was sent: what a person clicking
	// "create" experiences, including the commit itself.
	P50FromRequestMS float64 `json:"p50_from_request_ms"`
	P99FromRequestMS float64 `json:"p99_from_request_ms"`
	MaxFromRequestMS float64 `json:"max_from_request_ms"`
}

// latency: 3 webhooks; users are created at a steady 500/s for 20 s (1 s
// with -quick), each API call in its own goroutine started on schedule, so
// the rate holds even when calls slow down. A delivery's latency is its
// arrival at the receiver minus the moment the API call that caused it
// returned (matched by the username in the body); a delivery that arrives
// before the API answer counts as 0. The same deliveries are also measured
// from the moment the API request was sent (the _from_request figures),
// which includes the commit and is never negative.
func (b *bench) latency() (*latencyResult, error) {
	const hooks, rate = 3, 500
	duration := 20 * time.Second
	if b.quick {
		duration = time.Second
	}
	users := int(duration.Seconds() * rate)
	total := int64(users * hooks)

	type arrival struct {
		name string
		at   time.Time
	}
	var mu sync.Mutex
	returned := make(map[string]time.Time, users)
	sent := make(map[string]time.Time, users)
	arrivals := make([]arrival, 0, total)
	rcv, err := newReceiver()
	if err != nil {
		return nil, err
	}
	rcv.onArrival = func(body []byte, at time.Time) {
		var u struct {
			Username string `json:"username"`
		}
		_ = json.Unmarshal(body, &u)
		mu.Lock()
		arrivals = append(arrivals, arrival{u.Username, at})
		mu.Unlock()
	}
	if err := rcv.up(); err != nil {
		return nil, err
	}
	defer rcv.down()
	h, c, err := b.heraldWithWebhooks("latency", rcv, hooks)
	if err != nil {
		return nil, err
	}

	b.logf("creating %d users at %d/s for %v (%d webhooks)", users, rate, duration, hooks)
	var wg sync.WaitGroup
	var firstErr error
	calls := make([]time.Duration, users)
	interval := time.Second / rate
	start := time.Now()
	for i := range users {
		time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := username("l", i)
			t0 := time.Now()
			err := c.createUser(name)
			now := time.Now()
			mu.Lock()
			defer mu.Unlock()
			calls[i] = now.Sub(t0)
			sent[name] = t0
			if err != nil && firstErr == nil {
				firstErr = err
			}
			returned[name] = now
		}()
	}
	scheduled := time.Since(start)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	slices.Sort(calls)
	answered := time.Since(start)
	b.logf("started %d calls in %v, all answered after %v (%.0f/s achieved); API call p50 %v, p99 %v, max %v", users,
		scheduled.Round(time.Millisecond), answered.Round(time.Millisecond), float64(users)/answered.Seconds(),
		percentile(calls, 0.50).Round(time.Microsecond), percentile(calls, 0.99).Round(time.Microsecond),
		calls[len(calls)-1].Round(time.Microsecond))
	if err := b.waitCount(rcv, total, 2*time.Minute, "latency", h.exited); err != nil {
		return nil, err
	}
	if err := b.stopHerald(h); err != nil {
		return nil, err
	}

	mu.Lock()
	defer mu.Unlock()
	lat := make([]time.Duration, 0, len(arrivals))
	fromRequest := make([]time.Duration, 0, len(arrivals))
	// Latencies by tenth of the run (by when the API call returned, from
	// the first call to the last answer), to show whether a queue built up.
	var tenths [10][]time.Duration
	var runTime time.Duration // until the last API call returned
	for _, ret := range returned {
		runTime = max(runTime, ret.Sub(start)+1)
	}
	early := 0
	for _, a := range arrivals {
		ret, ok := returned[a.name]
		if !ok {
			return nil, fmt.Errorf("latency: a delivery for %q, which the bench did not create", a.name)
		}
		d := a.at.Sub(ret)
		if d < 0 {
			early++
			d = 0
		}
		lat = append(lat, d)
		fromRequest = append(fromRequest, a.at.Sub(sent[a.name]))
		k := min(int(10*ret.Sub(start)/runTime), 9)
		tenths[k] = append(tenths[k], d)
	}
	slices.Sort(lat)
	slices.Sort(fromRequest)
	var byTenth []string
	for _, t := range tenths {
		slices.Sort(t)
		byTenth = append(byTenth, fmt.Sprintf("%.1f", float64(percentile(t, 0.5))/float64(time.Millisecond)))
	}
	b.logf("p50 latency (ms) by tenth of the run: %s", strings.Join(byTenth, " "))
	ms := func(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 2) }
	res := &latencyResult{
		EventsPerSec: rate, Webhooks: hooks,
		P50MS: ms(percentile(lat, 0.50)), P99MS: ms(percentile(lat, 0.99)), MaxMS: ms(lat[len(lat)-1]),
		P50FromRequestMS: ms(percentile(fromRequest, 0.50)), P99FromRequestMS: ms(percentile(fromRequest, 0.99)),
		MaxFromRequestMS: ms(fromRequest[len(fromRequest)-1]),
	}
	b.logf("%d deliveries: p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d arrived before their API call returned)",
		len(lat), res.P50MS, res.P99MS, res.MaxMS, early)
	b.logf("from the request: p50 %.2f ms, p99 %.2f ms, max %.2f ms",
		res.P50FromRequestMS, res.P99FromRequestMS, res.MaxFromRequestMS)
	return res, nil
}

// percentile returns the p-quantile (0..1) of sorted values, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
