package store

import (
	"context"
	"database/sql"
)

// KeyedPool is the pool of UpdateQueueByKey, for tests of the pools.
func KeyedPool(db *DB) *sql.DB { return db.keyedPool }

// QueuedWrites is the number of changes waiting for the group committer,
// for tests that need several changes in one batch.
func QueuedWrites(db *DB) int { return len(db.writes) }

// RemoteIDWrite is one write of WriteRemoteIDBatch: an id to store, or
// to forget (ID "").
type RemoteIDWrite struct {
	Target     int64
	Kind, Name string
	ID         string
}

// WriteRemoteIDBatch writes ws in one statement, as the batch writer does
// with the ids queued together (PostgreSQL only).
func WriteRemoteIDBatch(db *DB, ws []RemoteIDWrite) error {
	batch := make([]*remoteIDWrite, len(ws))
	for i, w := range ws {
		batch[i] = &remoteIDWrite{target: w.Target, kind: w.Kind, name: w.Name, id: w.ID}
	}
	return db.runEach(context.Background(), db.queuePool, false, func(tx *Tx) error {
		return tx.writeRemoteIDs(context.Background(), batch)
	})
}
