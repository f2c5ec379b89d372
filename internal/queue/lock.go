package queue

import (
	"errors"

	"github.com/heraldhq/herald"
)

// errLocked: another open file holds the lock (lockFile).
var errLocked = errors.New("locked")

// lock takes the lock on "<database file>.lock" (see Queue.Lock), or
// finds it held already by this queue.
func (q *sqliteQueue) lock() error {
	q.lockMu.Lock()
	defer q.lockMu.Unlock()
	if q.lockFile != nil {
		return nil
	}
	path := q.db.Path()
	f, err := lockFile(path + ".lock")
	if errors.Is(err, errLocked) {
		return herald.Errorf(herald.ECONFLICT, "another Herald process is delivering webhooks from %s; "+
			"only one process may serve a SQLite database (run several instances on PostgreSQL)", path)
	}
	if err != nil {
		return herald.Errorf(herald.EINTERNAL, "lock %s.lock: %v", path, err)
	}
	q.lockFile = f
	return nil
}

// close releases lock's lock, if held.
func (q *sqliteQueue) close() error {
	q.lockMu.Lock()
	defer q.lockMu.Unlock()
	if q.lockFile == nil {
		return nil
	}
	f := q.lockFile
	q.lockFile = nil
	return f.Close()
}
