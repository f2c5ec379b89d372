package queue

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/testdb"
)

// TestPGWebhookList: a claim that takes handoffs uses the webhook list it
// kept, and reads it again when it may have changed: at once after this
// instance changed a webhook, once another instance's notification
// arrives, and when a handoff waits for a webhook the list does not hold
// (here one inserted where no notification tells of it: dropped, the
// handoff would wait out its lease).
func TestPGWebhookList(t *testing.T) {
	ctx := context.Background()
	dsn := testdb.Postgres(t)
	dbA, qA, _ := pgInstance(t, dsn)
	dbB, _, _ := pgInstance(t, dsn)
	// A fixed clock: no look at every webhook falls due (pgRecheck), which
	// would read the list whatever happened.
	t0 := time.Now()
	dbA.Now = func() time.Time { return t0 }
	pa := qA.driver.(*postgresQueue)
	version := func() uint64 { pa.handoff.mu.Lock(); defer pa.handoff.mu.Unlock(); return pa.handoff.webhooksVersion }
	w := createHook(t, dbA)
	req := Request{Limit: 100, Lease: time.Minute, PerWebhook: 100}
	users := 0
	// handedURLs commits a new user's event on A and returns the URLs of
	// the webhooks A's next claim hands its deliveries, by webhook id.
	handedURLs := func(what string) map[int64]string {
		t.Helper()
		users++
		appendEvent(t, dbA, userEvent(herald.EventUserCreated, "user"+string(rune('a'+users))))
		cs, err := qA.Claim(ctx, req)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		urls := map[int64]string{}
		for _, c := range cs {
			if !c.handedOff {
				t.Errorf("%s: delivery %d claimed from the database, want handed off", what, c.ID)
			}
			urls[c.WebhookID] = c.Webhook.URL
		}
		return urls
	}
	setURL := func(db *store.DB, url string) {
		t.Helper()
		w.URL = url
		if err := db.Update(ctx, func(tx *store.Tx) error { return tx.UpdateWebhook(ctx, &w) }); err != nil {
			t.Fatal(err)
		}
	}
	if got := handedURLs("first"); got[w.ID] != w.URL {
		t.Fatalf("first claim: %v, want %s", got, w.URL)
	}
	// Kept: a change the database made without telling (no notification)
	// is not seen, which shows the claim did not read the list.
	if _, err := dbA.QueuePool().ExecContext(ctx, `UPDATE webhooks SET description = 'untold' WHERE id = $1`, w.ID); err != nil {
		t.Fatal(err)
	}
	// (A's listener, connecting, says it may have missed a change, which
	// makes a claim read the list: a step it spoiled is taken again.)
	for tries := 1; ; tries++ {
		v, kept := version(), pa.hooks.hooks
		handedURLs("kept")
		if version() != v && tries < 5 {
			continue
		}
		if len(pa.hooks.hooks) == 0 || &pa.hooks.hooks[0] != &kept[0] {
			t.Error("the claim read the webhook list again, with nothing telling it to")
		}
		break
	}

	setURL(dbA, "http://127.0.0.1:1/own-change")
	if got := handedURLs("after A's change"); got[w.ID] != w.URL {
		t.Errorf("after this instance changed the webhook's URL, its next claim handed %v, want %s", got, w.URL)
	}

	before := version()
	setURL(dbB, "http://127.0.0.1:1/other-instance")
	for deadline := time.Now().Add(10 * time.Second); version() == before; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("A never heard of B's change of a webhook")
		}
	}
	if got := handedURLs("after B's change"); got[w.ID] != w.URL {
		t.Errorf("after another instance changed the webhook's URL, a claim handed %v, want %s", got, w.URL)
	}

	var untold int64
	if err := dbA.QueuePool().QueryRowContext(ctx, `INSERT INTO webhooks OVERRIDING SYSTEM VALUE
		SELECT (jsonb_populate_record(w, jsonb_build_object('id', (SELECT max(id) + 1 FROM webhooks), 'url', 'http://127.0.0.1:1/untold'))).*
		FROM webhooks w WHERE id = $1 RETURNING id`, w.ID).Scan(&untold); err != nil {
		t.Fatal(err)
	}
	if got := handedURLs("a webhook not in the list"); got[untold] != "http://127.0.0.1:1/untold" || got[w.ID] != w.URL {
		t.Errorf("with a handoff of a webhook created untold, the claim handed %v, want it and %d", got, w.ID)
	}

	// Deleted by another instance while A holds a handoff of it: once A
	// hears of it, the handoff is dropped, not sent (its deliveries went
	// with the webhook).
	appendEvent(t, dbA, userEvent(herald.EventUserCreated, "before-delete"))
	before = version()
	if err := dbB.Update(ctx, func(tx *store.Tx) error { _, err := tx.DeleteWebhook(ctx, w.ID); return err }); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); version() == before; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("A never heard of B's deletion of a webhook")
		}
	}
	cs, err := qA.Claim(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.WebhookID == w.ID {
			t.Errorf("after another instance deleted webhook %d, A's claim handed its delivery %d", w.ID, c.ID)
		}
	}
	if len(cs) != 1 || cs[0].WebhookID != untold {
		t.Errorf("after the deletion A's claim handed %d deliveries, want the other webhook's one", len(cs))
	}
}
