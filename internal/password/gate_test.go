package password

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// The gate runs at most n checks at once; a caller that gets no turn
// within the wait is told to come back in a second (ETOOMANY).
func TestGate(t *testing.T) {
	g := NewGate(2, time.Hour)
	var running, most atomic.Int64
	hash := Hash("right")
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g.enter(context.Background(), time.Now().Add(time.Hour)); err != nil {
				t.Error(err)
				return
			}
			n := running.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			Verify(hash, "wrong") // the work of a check
			running.Add(-1)
			g.leave()
		}()
	}
	wg.Wait()
	if m := most.Load(); m != 2 {
		t.Errorf("at most %d ran at once, want 2", m)
	}

	busy := NewGate(1, 20*time.Millisecond)
	if err := busy.enter(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	_, err := busy.Verify(context.Background(), hash, "right")
	var e *herald.Error
	if herald.ErrorCode(err) != herald.ETOOMANY || !errors.As(err, &e) || e.RetryAfter != time.Second {
		t.Errorf("Verify on a full gate: %v, want ETOOMANY with RetryAfter 1s", err)
	}
	// A caller whose budget is spent waits no more, however long the
	// gate would let it.
	patient := NewGate(1, time.Hour)
	if err := patient.enter(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	answer := make(chan error, 1)
	go func() {
		_, err := patient.VerifyBy(context.Background(), time.Now().Add(20*time.Millisecond), hash, "right")
		answer <- err
	}()
	select {
	case err := <-answer:
		if herald.ErrorCode(err) != herald.ETOOMANY {
			t.Errorf("VerifyBy on a full gate past its deadline: %v, want ETOOMANY", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("VerifyBy waited past its deadline for the gate's hour")
	}
	if busy.Checks() != 0 || patient.Checks() != 0 {
		t.Errorf("a check that did not run was counted")
	}
	busy.leave()
	if ok, err := busy.Verify(context.Background(), hash, "right"); !ok || err != nil || busy.Checks() != 1 {
		t.Errorf("Verify = %v, %v; checks %d", ok, err, busy.Checks())
	}
	if h, err := busy.Hash(context.Background(), "pw"); err != nil || !Verify(h, "pw") {
		t.Errorf("Hash = %q, %v", h, err)
	}
}
