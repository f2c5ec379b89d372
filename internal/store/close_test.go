package store_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// TestWritesDuringClose: writes racing Close (directory changes through
// the group committer, SCIM ids through their batch writer on PostgreSQL)
// each return, committed or refused; none waits forever for a writer that
// has stopped.
func TestWritesDuringClose(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		a := newWebhook(t, db)
		const n = 40
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(2)
			go func() {
				defer wg.Done()
				_ = db.SetRemoteID(ctx, a.ID, "user", fmt.Sprintf("c%02d", i), "id")
			}()
			go func() {
				defer wg.Done()
				_ = db.Update(ctx, func(tx *store.Tx) error { return nil })
			}()
		}
		db.Close()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("writes racing Close had not returned 30 s after it")
		}
	})
}
