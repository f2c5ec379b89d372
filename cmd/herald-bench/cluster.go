package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

type clusterResult struct {
	Instances int `json:"instances"`
	Webhooks  int `json:"webhooks"`
	// OnePerSec and ClusterPerSec are deliveries/s at the receiver (first
	// to last arrival) with one instance and with Instances instances on
	// one database, the same load, each the mean of two runs (OneRuns and
	// ClusterRuns); Ratio = ClusterPerSec / OnePerSec.
	OnePerSec     float64   `json:"one_instance_per_sec"`
	ClusterPerSec float64   `json:"cluster_per_sec"`
	Ratio         float64   `json:"ratio"`
	OneRuns       []float64 `json:"one_instance_runs_per_sec"`
	ClusterRuns   []float64 `json:"cluster_runs_per_sec"`
	// P99FromRequestMS is the higher of the cluster runs' 99th
	// percentiles from the API request to the receiver's arrival (under
	// full load: a queue).
	P99FromRequestMS float64 `json:"p99_from_request_ms"`
	// Duplicates counts deliveries that arrived more than once (the same
	// webhook-id at the same webhook), over all four runs: 0 when no
	// process is killed.
	Duplicates int64 `json:"duplicates"`
	// MaxInFlight is the most requests one webhook had open at once over
	// the cluster runs, against the per-webhook cap of one engine (16).
	MaxInFlight int64 `json:"max_in_flight_per_webhook"`
	// OneCPU and ClusterCPU are what each user created cost, from the
	// first request to the last delivery (cpuuse.go), the mean of each
	// kind's two runs: whether three instances spend more for the same
	// work, and whether the machine was left idle.
	OneCPU     *cpuUse `json:"one_instance_cpu,omitempty"`
	ClusterCPU *cpuUse `json:"cluster_cpu,omitempty"`
}

// clusterCap is the engine's per-webhook cap of requests in flight.
const clusterCap = 16

// cluster (PostgreSQL only): 10 webhooks on one receiver; 20,000 users
// created by 32 clients against one Herald, or, on a fresh database, the
// same against three Herald processes sharing it, the clients spread over
// the three APIs. Four runs, in the order one, three, three, one: the
// machine's speed drifts over minutes, and in that order a steady drift
// weighs the same on both kinds, where a single pair minutes apart
// measured the drift as much as the cluster. Reports the mean rate of
// each kind, their ratio, p99 from the request, duplicates and the
// highest number of requests in flight at one webhook.
func (b *bench) cluster() (*clusterResult, error) {
	const hooks, instances = 10, 3
	users := b.scale(20000, 200)
	res := &clusterResult{Instances: instances, Webhooks: hooks}

	var ones, alls []*clusterRunResult
	for i, n := range []int{1, instances, instances, 1} {
		if i > 0 {
			b.settle()
		}
		label := "cluster"
		if n == 1 {
			label = "cluster-one"
		}
		r, err := b.clusterRun(label, n, hooks, users)
		if err != nil {
			return nil, err
		}
		res.Duplicates += r.duplicates
		if n == 1 {
			ones = append(ones, r)
			res.OneRuns = append(res.OneRuns, round(r.perSec, 1))
			continue
		}
		alls = append(alls, r)
		res.ClusterRuns = append(res.ClusterRuns, round(r.perSec, 1))
		res.P99FromRequestMS = max(res.P99FromRequestMS, r.p99FromRequestMS)
		res.MaxInFlight = max(res.MaxInFlight, r.maxInFlight)
	}
	res.OnePerSec = round((ones[0].perSec+ones[1].perSec)/2, 1)
	res.ClusterPerSec = round((alls[0].perSec+alls[1].perSec)/2, 1)
	res.Ratio = ratio(res.ClusterPerSec, res.OnePerSec)
	res.OneCPU = meanCPU(ones[0].cpu, ones[1].cpu)
	res.ClusterCPU = meanCPU(alls[0].cpu, alls[1].cpu)
	b.logf("cluster: one instance %.0f/s (runs %v), %d instances %.0f/s (runs %v): ratio %.2f; p99 from the request %.1f ms; %d duplicates; at most %d in flight at one webhook (one engine's cap: %d)",
		res.OnePerSec, res.OneRuns, instances, res.ClusterPerSec, res.ClusterRuns, res.Ratio, res.P99FromRequestMS, res.Duplicates, res.MaxInFlight, clusterCap)
	return res, nil
}

// meanCPU is the mean of two runs' CPU per user; nil unless both were
// measured (a figure only one run has, PostgreSQL's, is left out).
func meanCPU(a, b *cpuUse) *cpuUse {
	if a == nil || b == nil {
		return nil
	}
	mean := func(x, y float64) float64 { return round((x+y)/2, 3) }
	m := &cpuUse{
		HeraldMS:    mean(a.HeraldMS, b.HeraldMS),
		BenchMS:     mean(a.BenchMS, b.BenchMS),
		MachineBusy: mean(a.MachineBusy, b.MachineBusy),
	}
	if a.PostgresMS != nil && b.PostgresMS != nil {
		pg := mean(*a.PostgresMS, *b.PostgresMS)
		m.PostgresMS = &pg
	}
	return m
}

type clusterRunResult struct {
	perSec           float64
	p99FromRequestMS float64
	duplicates       int64
	maxInFlight      int64
	cpu              *cpuUse
}

// clusterRun starts n Herald processes on one fresh database, subscribes
// hooks webhooks, creates users through all n APIs (32 clients, round
// robin) and waits for every delivery.
func (b *bench) clusterRun(label string, n, hooks, users int) (*clusterRunResult, error) {
	var (
		mu          sync.Mutex
		sent        = make(map[string]time.Time, users)
		fromRequest = make([]time.Duration, 0, users*hooks)
		arrivedAt   = make([]struct {
			name string
			at   time.Time
		}, 0, users*hooks)
		seen        = make(map[string]bool, users*hooks)
		duplicates  atomic.Int64
		inFlight    = make(map[string]*atomic.Int64, hooks)
		maxInFlight atomic.Int64
	)
	rcv, err := newReceiver()
	if err != nil {
		return nil, err
	}
	for i := range hooks {
		inFlight[fmt.Sprintf("/hook/%d", i)] = new(atomic.Int64)
	}
	rcv.onRequest = func(req *http.Request) func() {
		key := req.URL.Path + " " + req.Header.Get("webhook-id")
		mu.Lock()
		if seen[key] {
			duplicates.Add(1)
		}
		seen[key] = true
		mu.Unlock()
		c := inFlight[req.URL.Path]
		if c == nil {
			return func() {}
		}
		now := c.Add(1)
		for {
			m := maxInFlight.Load()
			if now <= m || maxInFlight.CompareAndSwap(m, now) {
				break
			}
		}
		return func() { c.Add(-1) }
	}
	rcv.onArrival = func(body []byte, at time.Time) {
		var u struct {
			Username string `json:"username"`
		}
		_ = json.Unmarshal(body, &u)
		mu.Lock()
		arrivedAt = append(arrivedAt, struct {
			name string
			at   time.Time
		}{u.Username, at})
		mu.Unlock()
	}
	if err := rcv.up(); err != nil {
		return nil, err
	}
	defer rcv.down()

	db, err := b.newDatabase(label)
	if err != nil {
		return nil, err
	}
	procs := make([]*heraldProc, 0, n)
	clients := make([]*client, 0, n)
	for range n {
		h, err := b.startHerald(label, db)
		if err != nil {
			return nil, err
		}
		c, err := newClient(h.url)
		if err != nil {
			return nil, err
		}
		procs = append(procs, h)
		clients = append(clients, c)
	}
	for i := range hooks {
		if err := clients[0].createWebhook(rcv.url(i), fmt.Sprintf("bench receiver %d", i)); err != nil {
			return nil, err
		}
	}
	exited := func() error {
		for _, h := range procs {
			if err := h.exited(); err != nil {
				return err
			}
		}
		return nil
	}

	b.logf("%s: %d instance(s); creating %d users (x %d webhooks) with 32 clients", label, n, users, hooks)
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	pids := make([]int, len(procs))
	for i, h := range procs {
		pids[i] = h.cmd.Process.Pid
	}
	from := b.markCPU(pids...)
	start := time.Now()
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clients[w%n]
			for {
				i := int(next.Add(1)) - 1
				if i >= users {
					return
				}
				name := username("c", i)
				mu.Lock()
				sent[name] = time.Now()
				mu.Unlock()
				if err := c.createUser(name); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	b.logf("%s: created %d users in %v", label, users, time.Since(start).Round(time.Millisecond))
	if err := b.waitCount(rcv, int64(users*hooks), 2*time.Minute, label, exited); err != nil {
		return nil, err
	}
	cpu := cpuBetween(from, b.markCPU(pids...), users)
	// Deliveries that arrive twice would arrive soon after the rest.
	time.Sleep(time.Second)
	for _, h := range procs {
		if err := b.stopHerald(h); err != nil {
			return nil, err
		}
	}

	mu.Lock()
	defer mu.Unlock()
	for _, a := range arrivedAt {
		t0, ok := sent[a.name]
		if !ok {
			return nil, fmt.Errorf("%s: a delivery for %q, which the bench did not create", label, a.name)
		}
		fromRequest = append(fromRequest, a.at.Sub(t0))
	}
	slices.Sort(fromRequest)
	r := &clusterRunResult{
		perSec:           perSec(rcv.count.Load(), rcv.span()),
		p99FromRequestMS: round(float64(percentile(fromRequest, 0.99))/float64(time.Millisecond), 2),
		duplicates:       duplicates.Load(),
		maxInFlight:      maxInFlight.Load(),
		cpu:              cpu,
	}
	b.logf("%s: %d deliveries, %.0f/s; p99 from the request %.1f ms; %d duplicates; at most %d in flight at one webhook; %v",
		label, rcv.count.Load(), r.perSec, r.p99FromRequestMS, r.duplicates, r.maxInFlight, r.cpu)
	return r, nil
}
