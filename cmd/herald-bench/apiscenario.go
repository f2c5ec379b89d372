package main

import (
	"time"
)

type apiScenarioResult struct {
	Webhooks          int     `json:"webhooks"`
	Concurrency       int     `json:"concurrency"`
	UserCreatesPerSec float64 `json:"user_creates_per_sec"`
	// CPU is what the creations cost, per user (cpuuse.go).
	CPU *cpuUse `json:"cpu,omitempty"`
}

// apiScenario: 10 webhooks (-webhooks) subscribed (the receiver up, so Herald delivers
// while it answers), 32 clients create 10,000 users as fast as Herald
// answers: users created / the time from the first call to the last answer,
// and the CPU each user cost meanwhile (cpuuse.go).
func (b *bench) apiScenario() (*apiScenarioResult, error) {
	const concurrency = 32
	hooks := b.scenarioHooks()
	users := b.scale(10000, 100)

	rcv, err := newReceiverUp()
	if err != nil {
		return nil, err
	}
	defer rcv.down()
	h, c, err := b.heraldWithWebhooks("api", rcv, hooks)
	if err != nil {
		return nil, err
	}
	b.logf("creating %d users with %d clients (%d webhooks)", users, concurrency, hooks)
	from := b.markCPU(h.cmd.Process.Pid)
	took, err := c.createUsers("a", users, concurrency, func(n int) { b.logf("created %d users", n) })
	if err != nil {
		return nil, err
	}
	res := &apiScenarioResult{Webhooks: hooks, Concurrency: concurrency, UserCreatesPerSec: perSec(int64(users), took),
		CPU: cpuBetween(from, b.markCPU(h.cmd.Process.Pid), users)}
	b.logf("api: %d users in %v: %.0f/s (%d deliveries arrived meanwhile); %v", users, took.Round(time.Millisecond),
		res.UserCreatesPerSec, rcv.count.Load(), res.CPU)
	if err := b.stopHerald(h); err != nil {
		return nil, err
	}
	return res, nil
}
