package store

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// On PostgreSQL a SCIM target's remote ids are written in batches. Up to
// a target's cap of senders (16) call it at once, each waiting for its id
// to be committed before the change's next call (scim.Apply). Written one
// by one, each took a connection of the queue's small pool and waited for
// a WAL flush of its own, and that, not the target, set the pace: the
// bench's scim scenario made 464-485 creations/s with them and 1,012-1,478
// without (docs/benchmarks.md). So one goroutine writes every id queued
// while it wrote the last batch in one statement and one commit, and
// answers each write after that commit, as the group committer does for
// directory writes. On SQLite the group committer already batches them.

// remoteIDWrite is one id to store, or to forget (id "").
type remoteIDWrite struct {
	target     int64
	kind, name string
	id         string
	done       chan error
}

// remoteIDBatcher is the queue of remote id writes and its goroutine.
type remoteIDBatcher struct {
	jobs  chan *remoteIDWrite
	start sync.Once
	// done is closed when the goroutine has ended (or, if it never
	// started, when the database closes).
	done chan struct{}
}

func newRemoteIDBatcher() remoteIDBatcher {
	return remoteIDBatcher{jobs: make(chan *remoteIDWrite, maxBatch), done: make(chan struct{})}
}

// batchRemoteID queues w for the batch writer and waits until it is
// committed (nil) or failed. Once queued it is waited for even if ctx
// ends: it may commit, and the caller must not report failure for it.
func (db *DB) batchRemoteID(ctx context.Context, w *remoteIDWrite) error {
	db.remoteIDs.start.Do(func() { go db.remoteIDLoop() })
	w.done = make(chan error, 1)
	return queueAndWait(ctx, db, db.remoteIDs.jobs, w, w.done, db.remoteIDs.done)
}

// remoteIDLoop writes the queued ids, a batch at a time, until the
// database closes.
func (db *DB) remoteIDLoop() {
	defer close(db.remoteIDs.done)
	for {
		var first *remoteIDWrite
		select {
		case first = <-db.remoteIDs.jobs:
		case <-db.quit:
			return
		}
		db.flushRemoteIDs(fillBatch(db.remoteIDs.jobs, []*remoteIDWrite{first}))
	}
}

// flushRemoteIDs writes batch in one statement and answers each write. If
// the statement fails, each is written again alone, so that one that
// cannot be stored (its target deleted meanwhile) fails alone.
func (db *DB) flushRemoteIDs(batch []*remoteIDWrite) {
	// Bounded, as a sender's wait is: a database that stops answering
	// fails the writes (the changes are retried) rather than holding the
	// senders and Close forever.
	ctx, cancel := context.WithTimeout(context.Background(), flushRemoteIDsTimeout)
	defer cancel()
	write := func(ws []*remoteIDWrite) error {
		return db.runEach(ctx, db.queuePool, false, func(tx *Tx) error { return tx.writeRemoteIDs(ctx, ws) })
	}
	if len(batch) > 1 {
		if err := write(batch); err == nil {
			for _, w := range batch {
				w.done <- nil
			}
			return
		}
	}
	for _, w := range batch {
		w.done <- write([]*remoteIDWrite{w})
	}
}

// flushRemoteIDsTimeout bounds one batch, with its retries id by id.
const flushRemoteIDsTimeout = time.Minute

// writeRemoteIDs stores or forgets the ids of ws in one statement
// (PostgreSQL). Of several writes of one resource, the last is kept. Rows
// are written in key order, so that two instances' batches touching the
// same rows lock them in the same order and cannot deadlock.
func (tx *Tx) writeRemoteIDs(ctx context.Context, ws []*remoteIDWrite) error {
	type key struct {
		target     int64
		kind, name string
	}
	last := make(map[key]int, len(ws))
	for i, w := range ws {
		last[key{w.target, w.kind, w.name}] = i
	}
	keep := make([]*remoteIDWrite, 0, len(last))
	for i, w := range ws {
		if last[key{w.target, w.kind, w.name}] == i {
			keep = append(keep, w)
		}
	}
	slices.SortFunc(keep, func(a, b *remoteIDWrite) int {
		return cmp.Or(cmp.Compare(a.target, b.target), strings.Compare(a.kind, b.kind), strings.Compare(a.name, b.name))
	})
	targets := make([]int64, len(keep))
	kinds, names, ids := make([]string, len(keep)), make([]string, len(keep)), make([]string, len(keep))
	for i, w := range keep {
		targets[i], kinds[i], names[i], ids[i] = w.target, w.kind, w.name, w.id
	}
	// A resource is in the batch once, so the DELETE and the INSERT touch
	// different rows.
	_, err := tx.exec(ctx, `WITH w AS (
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS w(target_id, kind, name, remote_id)
		), forgotten AS (
			DELETE FROM scim_resources r USING w
			WHERE w.remote_id = '' AND r.target_id = w.target_id AND r.kind = w.kind AND r.name = w.name COLLATE "C"
		)
		INSERT INTO scim_resources (target_id, kind, name, remote_id, updated_at)
		SELECT target_id, kind, name, remote_id, $5 FROM w WHERE remote_id <> ''
		ON CONFLICT (target_id, kind, name) DO UPDATE SET remote_id = excluded.remote_id, updated_at = excluded.updated_at`,
		targets, kinds, names, ids, micros(tx.Now))
	return err
}
