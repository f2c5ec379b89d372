package main

import (
	"time"
)

type isolationResult struct {
	HealthyAlonePerSec         float64 `json:"healthy_alone_per_sec"`
	HealthyWithBlackholePerSec float64 `json:"healthy_with_blackhole_per_sec"`
	Ratio                      float64 `json:"ratio"`
}

// isolation: a healthy webhook's deliveries/s (first to last arrival) for
// 20,000 users created by 32 clients, alone; then on a fresh Herald and
// database where a webhook to a blackhole (accepts connections, never
// answers, so every attempt waits for Herald's 15 s request timeout) was
// created first, beside the healthy one. ratio = with / alone.
func (b *bench) isolation() (*isolationResult, error) {
	users := b.scale(20000, 200)
	alone, err := b.isolationRun("isolation-alone", users, false)
	if err != nil {
		return nil, err
	}
	b.settle()
	with, err := b.isolationRun("isolation-blackhole", users, true)
	if err != nil {
		return nil, err
	}
	res := &isolationResult{HealthyAlonePerSec: alone, HealthyWithBlackholePerSec: with, Ratio: ratio(with, alone)}
	b.logf("isolation: healthy alone %.0f/s, beside a blackhole %.0f/s, ratio %.3f", alone, with, res.Ratio)
	return res, nil
}

func (b *bench) isolationRun(name string, users int, withBlackhole bool) (float64, error) {
	rcv, err := newReceiverUp()
	if err != nil {
		return 0, err
	}
	defer rcv.down()
	db, err := b.newDatabase(name)
	if err != nil {
		return 0, err
	}
	h, err := b.startHerald(name, db)
	if err != nil {
		return 0, err
	}
	c, err := newClient(h.url)
	if err != nil {
		return 0, err
	}
	if withBlackhole {
		bh, err := newBlackhole()
		if err != nil {
			return 0, err
		}
		defer bh.close()
		if err := c.createWebhook(bh.url(), "blackhole"); err != nil {
			return 0, err
		}
	}
	if err := c.createWebhook(rcv.url(0), "healthy"); err != nil {
		return 0, err
	}
	b.logf("%s: creating %d users with 32 clients", name, users)
	took, err := c.createUsers("i", users, 32, func(n int) {
		b.logf("created %d users, %d healthy deliveries arrived", n, rcv.count.Load())
	})
	if err != nil {
		return 0, err
	}
	b.logf("created %d users in %v (%.0f/s)", users, took.Round(time.Millisecond), float64(users)/took.Seconds())
	if err := b.waitCount(rcv, int64(users), 2*time.Minute, name, h.exited); err != nil {
		return 0, err
	}
	got, span := rcv.count.Load(), rcv.span()
	rate := perSec(got, span)
	b.logf("%s: %d healthy deliveries in %v: %.0f/s", name, got, span.Round(time.Millisecond), rate)
	// Kill rather than stop: with a blackhole, a graceful stop would wait
	// for the requests in flight there. Nothing more is measured here.
	h.kill()
	return rate, nil
}
