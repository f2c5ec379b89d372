package store

import (
	"errors"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect holds everything that differs between the databases Herald runs
// on. Queries elsewhere in this package use $1-style placeholders and plain
// SQL that both SQLite and PostgreSQL understand; what they do not share
// lives here and in the per-dialect migrations.
type dialect struct {
	kind Kind
	// name is the folder of the dialect's migrations.
	name string
	// prepares: statements are prepared once per connection and reused
	// (SQLite, where parsing costs more than running them; pgx caches
	// statements per connection itself).
	prepares bool
	// isUniqueViolation reports whether err is a unique constraint failure.
	isUniqueViolation func(error) bool
	// skipLocked ends the claim query so that concurrent claimers skip
	// rows another has locked ("" where there is one writer).
	skipLocked string
	// serializeWrites, if set, runs first in every directory write
	// transaction so such writes commit in order (the write lock). Its one row
	// is how long it waited for the lock, in microseconds.
	serializeWrites string
	// notifies: a transaction that queued deliveries NOTIFYs every
	// instance at its commit (notifyStmt), to wake their engines; one
	// that changed webhooks too (notifyWebhooksStmt), so that they read
	// the webhook list again.
	notifies bool
	// strpos is the function that finds a string in another, 0 if it is
	// not there: strpos(haystack, needle). Not LIKE: names may hold "_".
	strpos string
	// jsonTexts turns a parameter holding a JSON array of strings into a
	// table with one column, value (%s is the parameter).
	jsonTexts string
}

var sqliteDialect = dialect{
	kind:      SQLite,
	name:      "sqlite",
	prepares:  true,
	strpos:    "instr",
	jsonTexts: "json_each(%s)",
	isUniqueViolation: func(err error) bool {
		var e *sqlite.Error
		if errors.As(err, &e) {
			return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
		}
		return false
	},
}

// sqliteDSN builds the driver's connection string for a database file:
// WAL so readers never block the writer, synchronous=FULL so an acknowledged
// change survives power loss, foreign keys on, and a busy timeout so brief
// contention waits instead of failing. Temporary storage stays in memory:
// group commit runs each change in a savepoint, whose sub-journal would
// otherwise be written to a temporary file page by page.
func sqliteDSN(path string, readOnly bool) string {
	var b strings.Builder
	b.WriteString("file:")
	b.WriteString(path)
	b.WriteString("?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_pragma=temp_store(MEMORY)")
	if readOnly {
		// mode=ro: a reader connection opened after the file was removed
		// fails, instead of creating an empty database at the path.
		b.WriteString("&mode=ro&_pragma=query_only(1)")
	} else {
		// Take the write lock at BEGIN so a transaction never fails half-way
		// when upgrading from a read lock.
		b.WriteString("&_txlock=immediate")
	}
	return b.String()
}
