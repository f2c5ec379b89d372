package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// receiver is a webhook receiver on a fixed loopback port that answers 200
// at once. It can be down (nobody listens on its port: connection refused)
// and brought up on the same port. It counts the requests it answers and
// remembers when the first and the last arrived.
type receiver struct {
	addr string
	// onArrival, when set (before up), is called for every request with
	// its body and arrival time.
	onArrival func(body []byte, at time.Time)
	// onRequest, when set (before up), is called as each request arrives,
	// before it is answered; the function it returns is called once the
	// answer is written (to count requests in flight).
	onRequest func(req *http.Request) (answered func())

	count atomic.Int64
	first atomic.Int64 // Unix nanoseconds; 0 = none yet
	last  atomic.Int64

	mu  sync.Mutex
	srv *http.Server
}

// newReceiver picks a free port but does not listen on it yet.
func newReceiver() (*receiver, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	return &receiver{addr: addr}, nil
}

// newReceiverUp is newReceiver, listening already.
func newReceiverUp() (*receiver, error) {
	r, err := newReceiver()
	if err != nil {
		return nil, err
	}
	return r, r.up()
}

// url is the webhook URL of the receiver for webhook n.
func (r *receiver) url(n int) string { return fmt.Sprintf("http://%s/hook/%d", r.addr, n) }

// up starts listening on the receiver's port.
func (r *receiver) up() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.srv != nil {
		return nil
	}
	var ln net.Listener
	var err error
	// The port was free when picked; retry briefly in case it is in use
	// a moment longer.
	for range 50 {
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("receiver: listen on %s: %w", r.addr, err)
	}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 10 * time.Second}
	go r.srv.Serve(ln)
	return nil
}

// down stops listening and closes every connection: Herald's next
// requests get "connection refused".
func (r *receiver) down() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.srv != nil {
		r.srv.Close()
		r.srv = nil
	}
}

// reset forgets the counts and times (call when no request is arriving).
func (r *receiver) reset() {
	r.count.Store(0)
	r.first.Store(0)
	r.last.Store(0)
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	now := time.Now()
	if r.onRequest != nil {
		defer r.onRequest(req)()
	}
	var body []byte
	if r.onArrival != nil {
		body, _ = io.ReadAll(req.Body)
	} else {
		_, _ = io.Copy(io.Discard, req.Body)
	}
	w.WriteHeader(http.StatusOK)
	ns := now.UnixNano()
	r.first.CompareAndSwap(0, ns)
	for {
		l := r.last.Load()
		if ns <= l || r.last.CompareAndSwap(l, ns) {
			break
		}
	}
	if r.onArrival != nil {
		r.onArrival(body, now)
	}
	r.count.Add(1)
}

// span is the time from the first to the last arrival.
func (r *receiver) span() time.Duration {
	f, l := r.first.Load(), r.last.Load()
	if f == 0 || l < f {
		return 0
	}
	return time.Duration(l - f)
}

// firstAt is when the first request arrived (zero time if none did).
func (r *receiver) firstAt() time.Time {
	if f := r.first.Load(); f != 0 {
		return time.Unix(0, f)
	}
	return time.Time{}
}

// waitCount waits until the receiver has answered target requests. It
// fails when no request arrives for stall, or when check fails (herald
// exited). It reports progress every 10 s with label.
func (b *bench) waitCount(r *receiver, target int64, stall time.Duration, label string, check func() error) error {
	lastCount, lastChange, lastReport := r.count.Load(), time.Now(), time.Now()
	return waitFor(context.Background(), func() bool { return r.count.Load() >= target }, func() error {
		if err := check(); err != nil {
			return err
		}
		n := r.count.Load()
		if n != lastCount {
			lastCount, lastChange = n, time.Now()
		} else if time.Since(lastChange) > stall {
			return fmt.Errorf("%s: no delivery for %v; %d of %d arrived", label, stall, n, target)
		}
		if time.Since(lastReport) >= 10*time.Second {
			lastReport = time.Now()
			b.logf("%s: %d of %d arrived", label, n, target)
		}
		return nil
	})
}

// blackhole accepts connections and never answers: a webhook pointing at
// it waits for Herald's request timeout on every attempt.
type blackhole struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newBlackhole() (*blackhole, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	bh := &blackhole{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			bh.mu.Lock()
			bh.conns = append(bh.conns, c)
			bh.mu.Unlock()
			// Read and drop what is sent, so the sender is never blocked
			// on a full buffer: it waits for an answer that never comes.
			go io.Copy(io.Discard, c)
		}
	}()
	return bh, nil
}

func (bh *blackhole) url() string { return "http://" + bh.ln.Addr().String() + "/hook" }

// close closes the listener and every connection, which ends the requests
// Herald still has in flight there (so it can stop at once).
func (bh *blackhole) close() {
	bh.ln.Close()
	bh.mu.Lock()
	defer bh.mu.Unlock()
	for _, c := range bh.conns {
		c.Close()
	}
	bh.conns = nil
}
