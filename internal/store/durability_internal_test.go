package store

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/heraldhq/herald/internal/testdb"
)

// TestQueueCommitDurability: on PostgreSQL the delivery queue's commits
// do not wait for the disk (synchronous_commit off on its connections),
// directory writes do, and a queue transaction that asks to be durable
// (the SCIM ids') does too.
func TestQueueCommitDurability(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := Open(ctx, testdb.Postgres(t), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.queuePool.SetMaxOpenConns(1) // so the last check reuses the durable transaction's connection
	setting := func(run func(context.Context, func(*Tx) error) error, durable bool) string {
		t.Helper()
		var v string
		err := run(ctx, func(tx *Tx) error {
			if durable {
				if err := tx.durableQueueWrite(ctx); err != nil {
					return err
				}
			}
			return tx.queryRow(ctx, `SHOW synchronous_commit`).Scan(&v)
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		name    string
		run     func(context.Context, func(*Tx) error) error
		durable bool
		want    string
	}{
		{"a directory write", db.Update, false, "on"},
		{"a queue transaction", db.UpdateQueue, false, "off"},
		{"a queue statement", db.UpdateQueueEach, false, "off"},
		{"a durable queue transaction", db.UpdateQueue, true, "on"},
	} {
		if got := setting(c.run, c.durable); got != c.want {
			t.Errorf("%s runs with synchronous_commit %s, want %s", c.name, got, c.want)
		}
	}
	// The setting asked for ends with its transaction.
	if got := setting(db.UpdateQueue, false); got != "off" {
		t.Errorf("after a durable queue transaction the next runs with synchronous_commit %s, want off", got)
	}
}
