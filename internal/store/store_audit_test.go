package store_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/queue"
	"github.com/heraldhq/herald/internal/store"
)

// The audit log: entries and their audit_entry events commit or roll back
// with the change; filters; pruning by age.
func TestAudit(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		c := useClock(db)
		sink := newWebhook(t, db, func(w *herald.Webhook) { w.Events = []string{"audit"} })
		jdoe := herald.Actor{Type: herald.ActorAPIToken, Username: "jdoe", TokenID: 4}
		add := func(e herald.AuditEntry) herald.AuditEntry {
			update(t, db, func(tx *store.Tx) error { return tx.AppendAudit(ctx, &e) })
			c.Advance(time.Hour)
			return e
		}
		e1 := add(herald.AuditEntry{Action: herald.AuditLoginFailed, Client: "10.0.0.1", Target: "user:jdoe"})
		e2 := add(herald.AuditEntry{Action: herald.AuditWebhookCreated, Actor: jdoe, Client: "10.0.0.2", Target: "webhook:1", Detail: "x ÄRZTE-Sync"})
		e3 := add(herald.AuditEntry{Action: herald.AuditLogout, Actor: herald.Actor{Type: herald.ActorUser, Username: "ann"}, Target: "user:ann"})
		// A change that rolls back takes its entry with it.
		err := db.Update(ctx, func(tx *store.Tx) error {
			if err := tx.AppendAudit(ctx, &herald.AuditEntry{Action: herald.AuditLogout}); err != nil {
				return err
			}
			return herald.Errorf(herald.EINVALID, "no")
		})
		wantCode(t, "rolled back", err, herald.EINVALID)

		list := func(f herald.AuditFilter) []int64 {
			t.Helper()
			if f.Limit == 0 {
				f.Limit = 100
			}
			var out []herald.AuditEntry
			view(t, db, func(tx *store.Tx) (err error) { out, err = tx.ListAudit(ctx, f); return err })
			ids := []int64{}
			for _, e := range out {
				ids = append(ids, e.ID)
			}
			return ids
		}
		for name, tc := range map[string]struct {
			f    herald.AuditFilter
			want []int64
		}{
			"all":                 {herald.AuditFilter{}, []int64{e1.ID, e2.ID, e3.ID}},
			"after":               {herald.AuditFilter{After: e1.ID}, []int64{e2.ID, e3.ID}},
			"limit":               {herald.AuditFilter{Limit: 1}, []int64{e1.ID}},
			"newest first":        {herald.AuditFilter{NewestFirst: true}, []int64{e3.ID, e2.ID, e1.ID}},
			"before":              {herald.AuditFilter{NewestFirst: true, Before: e3.ID}, []int64{e2.ID, e1.ID}},
			"action":              {herald.AuditFilter{Action: herald.AuditLogout}, []int64{e3.ID}},
			"token":               {herald.AuditFilter{Actor: "api_token:4"}, []int64{e2.ID}},
			"token's user":        {herald.AuditFilter{Actor: "user:jdoe"}, []int64{e2.ID}},
			"not a prefix":        {herald.AuditFilter{Actor: "user:jdo"}, []int64{}},
			"system":              {herald.AuditFilter{Actor: herald.ActorSystem}, []int64{e1.ID}},
			"target":              {herald.AuditFilter{Target: "user:ann"}, []int64{e3.ID}},
			"action & target":     {herald.AuditFilter{Action: herald.AuditLogout, Target: "user:jdoe"}, []int64{}},
			"words: client":       {herald.AuditFilter{Q: "10.0.0."}, []int64{e1.ID, e2.ID}},
			"words: any case":     {herald.AuditFilter{Q: "WEBHOOK_created"}, []int64{e2.ID}},
			"words: actor":        {herald.AuditFilter{Q: "user:ann"}, []int64{e3.ID}},
			"words: detail":       {herald.AuditFilter{Q: "x", Target: "webhook:1"}, []int64{e2.ID}},
			"words: % is text":    {herald.AuditFilter{Q: "10%"}, []int64{}},
			"words: _ is text":    {herald.AuditFilter{Q: "user_ann"}, []int64{}},
			"words: system":       {herald.AuditFilter{Q: "SYSTEM"}, []int64{e1.ID}},
			"words: any order":    {herald.AuditFilter{Q: " webhook:1   10.0.0.2 "}, []int64{e2.ID}},
			"words: all needed":   {herald.AuditFilter{Q: "10.0.0.1 webhook"}, []int64{}},
			"words: Unicode case": {herald.AuditFilter{Q: "ärzte-sync"}, []int64{e2.ID}},
			"words & before":      {herald.AuditFilter{Q: "10.0.0", NewestFirst: true, Before: e2.ID}, []int64{e1.ID}},
		} {
			if got := list(tc.f); !slices.Equal(got, tc.want) {
				t.Errorf("%s: %v, want %v", name, got, tc.want)
			}
			// The count is of the whole log: paging and limits do not count.
			f := tc.f
			f.After, f.Before, f.Limit, f.NewestFirst = 0, 0, 0, false
			var n int
			view(t, db, func(tx *store.Tx) (err error) { n, err = tx.CountAudit(ctx, tc.f); return err })
			if want := len(list(f)); n != want {
				t.Errorf("%s: counted %d, want %d", name, n, want)
			}
		}
		// Each entry went out as an audit_entry event whose body is the entry.
		ds := deliveries(t, db, sink.ID)
		if len(ds) != 3 || ds[0].Event != herald.EventAuditEntry {
			t.Fatalf("sink deliveries: %+v", ds)
		}
		view(t, db, func(tx *store.Tx) error {
			_, ev, err := tx.DeliveryByID(ctx, sink.ID, ds[1].ID)
			var got herald.AuditEntry
			if err == nil {
				err = json.Unmarshal(ev.Payload, &got)
			}
			if err != nil || got != e2 || ev.Actor != jdoe {
				t.Errorf("audit_entry of e2: %s (actor %+v), %v; want %+v", ev.Payload, ev.Actor, err, e2)
			}
			return nil
		})
		var n int64
		update(t, db, func(tx *store.Tx) (err error) { n, err = tx.PruneAudit(ctx, e2.At); return err })
		if got := list(herald.AuditFilter{}); n != 1 || !slices.Equal(got, []int64{e2.ID, e3.ID}) {
			t.Errorf("after pruning before e2 (%d gone): %v", n, got)
		}
	})
}

// Pruning the audit log takes the entries' audit_entry events with it once
// delivered, and a replay never sends a pruned entry again.
func TestAuditPruneTakesEvents(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		c := useClock(db)
		sink := newWebhook(t, db, func(w *herald.Webhook) { w.Events = []string{"audit"} })
		var entries []herald.AuditEntry
		for range 3 {
			e := herald.AuditEntry{Action: herald.AuditLogout, Target: "user:ann"}
			update(t, db, func(tx *store.Tx) error { return tx.AppendAudit(ctx, &e) })
			entries = append(entries, e)
			c.Advance(time.Hour)
		}
		finish := func(max int) {
			for i := 0; i < max; i++ {
				cs := claim(t, db, claimAll)
				if len(cs) == 0 {
					return
				}
				var outs []queue.Outcome
				for _, cl := range cs {
					outs = append(outs, outcome(cl, herald.DeliverySucceeded, 200, c.Now()))
				}
				record(t, db, outs...)
			}
		}
		auditEvents := func() (n int) {
			t.Helper()
			if err := db.ReadPool().QueryRowContext(ctx, `SELECT count(*) FROM events WHERE type = 'audit_entry'`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		finish(1) // the first entry's delivery is done, the second's pending
		prune := func() {
			update(t, db, func(tx *store.Tx) error { _, err := tx.PruneAudit(ctx, entries[2].At); return err })
		}
		prune()
		if n := auditEvents(); n != 2 {
			t.Errorf("after pruning two entries, one delivered: %d audit_entry events, want 2 (the pending one and the kept one)", n)
		}
		var queued int
		update(t, db, func(tx *store.Tx) (err error) { queued, err = tx.Replay(ctx, sink.ID, t0.Add(-time.Hour)); return err })
		if queued != 1 {
			t.Errorf("replay after pruning queued %d, want 1 (the entry kept)", queued)
		}
		finish(10)
		prune()
		if n := auditEvents(); n != 1 {
			t.Errorf("after every delivery finished: %d audit_entry events, want 1", n)
		}
	})
}

// TestDeliveryEventIndexes: what finds deliveries by their event. On
// PostgreSQL only the audit log's deliveries are indexed by it (PruneAudit
// is the one lookup, and no foreign key checks deliveries there); SQLite
// keeps the index of every delivery, which its foreign key checks with
// when an event is deleted: without it, pruning the audit log would read
// every delivery for each event it deletes.
func TestDeliveryEventIndexes(t *testing.T) {
	eachBackendDSN(t, func(t *testing.T, dsn string) {
		db := openMigrated(t, dsn)
		query := `SELECT indexname FROM pg_indexes WHERE tablename = 'deliveries' AND indexname IN ('deliveries_event', 'deliveries_audit_event')`
		want := "deliveries_audit_event"
		if db.Kind() == store.SQLite {
			query = `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'deliveries' AND name IN ('deliveries_event', 'deliveries_audit_event')`
			want = "deliveries_event"
		}
		rows, err := db.ReadPool().QueryContext(ctx, query)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			got = append(got, name)
		}
		if len(got) != 1 || got[0] != want {
			t.Errorf("deliveries' indexes by event: %v, want %s alone", got, want)
		}
	})
}
