package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/heraldhq/herald"
)

// The ids SCIM targets gave Herald's users and groups (the remote ids,
// table scim_resources). *DB implements scim.Store with these; the store
// does not import internal/scim, so kinds are plain strings ("user",
// "group"). The engine's senders write them; they are no directory change
// (no event, no order to keep with events), so on PostgreSQL they need not
// wait for the directory writes' advisory lock: they go to a batch writer
// of their own on the queue's pool (scimidbatch.go), one statement and one
// commit for all the ids queued meanwhile. On SQLite the group committer
// takes them as it takes every write (UpdateQueueEach).

// RemoteID returns the id target gave the resource of kind named name;
// ok is false when there is none.
func (db *DB) RemoteID(ctx context.Context, target int64, kind, name string) (id string, ok bool, err error) {
	err = db.View(ctx, func(tx *Tx) error {
		err := tx.queryRow(ctx, `SELECT remote_id FROM scim_resources WHERE target_id = $1 AND kind = $2 AND name = $3`,
			target, kind, name).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		ok = err == nil
		return err
	})
	return id, ok, err
}

// SetRemoteID stores id as the id target gave the resource of kind named
// name, replacing any it had. It returns an error (a foreign key failure)
// when the target no longer exists. An empty id is refused (EINVALID):
// on PostgreSQL the batch writer takes it for "forget".
func (db *DB) SetRemoteID(ctx context.Context, target int64, kind, name, id string) error {
	if id == "" {
		return herald.Errorf(herald.EINVALID, "a SCIM target's id for %s %q is empty", kind, name)
	}
	if db.queuePool != nil {
		return db.batchRemoteID(ctx, &remoteIDWrite{target: target, kind: kind, name: name, id: id}) // scimidbatch.go
	}
	return db.UpdateQueueEach(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `INSERT INTO scim_resources (target_id, kind, name, remote_id, updated_at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (target_id, kind, name) DO UPDATE SET remote_id = excluded.remote_id, updated_at = excluded.updated_at`,
			target, kind, name, id, micros(tx.Now))
		return err
	})
}

// DeleteRemoteID forgets the id target gave the resource of kind named
// name; forgetting one it does not have is no error.
func (db *DB) DeleteRemoteID(ctx context.Context, target int64, kind, name string) error {
	if db.queuePool != nil {
		return db.batchRemoteID(ctx, &remoteIDWrite{target: target, kind: kind, name: name})
	}
	return db.UpdateQueueEach(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `DELETE FROM scim_resources WHERE target_id = $1 AND kind = $2 AND name = $3`, target, kind, name)
		return err
	})
}

// ListRemoteIDs returns every id target gave resources of kind, by name
// (for a resync's comparison).
func (db *DB) ListRemoteIDs(ctx context.Context, target int64, kind string) (map[string]string, error) {
	ids := map[string]string{}
	err := db.View(ctx, func(tx *Tx) error {
		rows, err := tx.query(ctx, `SELECT name, remote_id FROM scim_resources WHERE target_id = $1 AND kind = $2`, target, kind)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var name, id string
			if err := rows.Scan(&name, &id); err != nil {
				return err
			}
			ids[name] = id
		}
		return rows.Err()
	})
	return ids, err
}

// UserIDs returns, in one read, what provisioning a user starts from: the
// id target gave the user named username (mapped is false when there is
// none; "user" is scim.KindUser) and Herald's id of that user (0 when
// there is no such user now).
func (db *DB) UserIDs(ctx context.Context, target int64, username string) (remoteID string, mapped bool, userID int64, err error) {
	err = db.View(ctx, func(tx *Tx) error {
		var rid sql.NullString
		var uid sql.NullInt64
		err := tx.queryRow(ctx, `SELECT
				(SELECT remote_id FROM scim_resources WHERE target_id = $1 AND kind = 'user' AND name = $2),
				(SELECT id FROM users WHERE username = $2)`, target, username).Scan(&rid, &uid)
		remoteID, mapped, userID = rid.String, rid.Valid, uid.Int64
		return err
	})
	return remoteID, mapped, userID, err
}

// UserID returns Herald's id of the user named username; ok is false when
// there is no such user.
func (db *DB) UserID(ctx context.Context, username string) (id int64, ok bool, err error) {
	err = db.View(ctx, func(tx *Tx) error {
		err := tx.queryRow(ctx, `SELECT id FROM users WHERE username = $1`, username).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		ok = err == nil
		return err
	})
	return id, ok, err
}

// GroupExists reports whether there is a group named name.
func (db *DB) GroupExists(ctx context.Context, name string) (bool, error) {
	var n int
	err := db.View(ctx, func(tx *Tx) error {
		return tx.queryRow(ctx, `SELECT count(*) FROM groups WHERE name = $1`, name).Scan(&n)
	})
	return n > 0, err
}
