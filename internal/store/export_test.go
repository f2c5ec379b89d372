package store

// QueuedWrites is the number of changes waiting for the group committer,
// for tests that need several changes in one batch.
func QueuedWrites(db *DB) int { return len(db.writes) }
