package queue_test

import (
	"context"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/testdb"
)

// TestClaimOutlivesItsContext: on PostgreSQL a claim's statement commits
// by itself, so a claim whose caller's context ends (a shutdown) runs to
// its end and returns what it leased, for the caller to send. Cut short,
// it could lease rows nobody sends, which would wait out their lease: a
// restarted Herald found about a hundred deliveries held back for 30 s.
func TestClaimOutlivesItsContext(t *testing.T) {
	t.Parallel()
	db := openMigrated(t, testdb.Postgres(t))
	q := queueOf(t, db)
	w := newWebhook(t, db, allUser)
	d := deliveryID(t, db, w.ID, emit(t, db, herald.EventUserCreated, "alice"))
	ended, cancel := context.WithCancel(ctx)
	cancel()
	cs, err := q.Claim(ended, claimAll)
	if err != nil {
		t.Fatalf("a claim with an ended context: %v, want the deliveries it leased", err)
	}
	wantClaimed(t, "with an ended context", cs, d)
	wantClaimed(t, "again (leased)", claim(t, q, claimAll))
}
