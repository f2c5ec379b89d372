package store

import (
	"errors"

	"github.com/heraldhq/herald"
)

var errLocked = errors.New("locked")

// LockEngine reserves the database's deliveries for this handle. On SQLite
// one handle in one process delivers (leases live in its memory), so it
// holds an exclusive lock on "<database file>.lock" until Close. Returns
// ECONFLICT when another process (or handle) holds it. On PostgreSQL it
// does nothing: instances share the work through leases in the database.
// ClaimDue takes the lock itself; calling LockEngine at start-up turns a
// second process into a clear error instead of an engine that cannot claim.
func (db *DB) LockEngine() error {
	if db.Kind() == PostgreSQL {
		return nil
	}
	db.engineMu.Lock()
	defer db.engineMu.Unlock()
	if db.engineLock != nil {
		return nil
	}
	f, err := lockFile(db.path + ".lock")
	if errors.Is(err, errLocked) {
		return herald.Errorf(herald.ECONFLICT, "another Herald process is delivering webhooks from %s; "+
			"only one process may serve a SQLite database (run several instances on PostgreSQL)", db.path)
	}
	if err != nil {
		return herald.Errorf(herald.EINTERNAL, "lock %s.lock: %v", db.path, err)
	}
	db.engineLock = f
	return nil
}

// unlockEngine releases LockEngine's lock, if held.
func (db *DB) unlockEngine() error {
	db.engineMu.Lock()
	defer db.engineMu.Unlock()
	if db.engineLock == nil {
		return nil
	}
	f := db.engineLock
	db.engineLock = nil
	return f.Close()
}
