package store

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/heraldhq/herald"
)

// Storage faults. A database can stop taking writes while it still
// answers reads: its disk is full, it became read-only or Herald lost the
// right to write, its disk fails, or (SQLite) its file was removed or
// replaced under the running process, so that every later write would go
// to a file nobody opens again. A write refused for such a reason answers
// EUNAVAILABLE (503) with a message that says why, not a 500, and DB.Ready
// reports it for /api/v1/ready.
//
// A refused write marks the database not ready until a later write
// commits: a client's, the engine's, or Ready's own probe (a one-page
// write, at most every probeEvery, so that an instance a load balancer
// took out of rotation for not being ready comes back once space is
// freed). A removed or replaced SQLite file is final: every later write is
// refused until Herald is restarted on the file at the path.

// fault is why the database refused a write.
type fault int

const (
	faultNone       fault = iota
	faultSpace            // no space: SQLITE_FULL, ENOSPC, EDQUOT, PostgreSQL 53100 disk_full
	faultPermission       // read-only or not allowed: SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_PERM, EACCES, EPERM, EROFS, PostgreSQL 25006, 42501
	faultIO               // the disk failed: SQLITE_IOERR (also a file system that turned read-only), EIO, PostgreSQL 58030
	faultMoved            // SQLITE_READONLY_DBMOVED: SQLite saw its file moved (checkFile says whether it was)
	faultBusy             // the PostgreSQL server is out of memory or connections (class 53): try again, readiness unchanged
)

// classify returns which fault err is, faultNone for any other error
// (a bad query, a constraint, a lost connection, a herald.Error).
func classify(err error) fault {
	if err == nil {
		return faultNone
	}
	var se *sqlite.Error
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &se):
		switch code := se.Code(); {
		case code == sqlite3.SQLITE_READONLY_DBMOVED:
			return faultMoved
		case code&0xff == sqlite3.SQLITE_FULL:
			return faultSpace
		case code&0xff == sqlite3.SQLITE_READONLY, code&0xff == sqlite3.SQLITE_CANTOPEN, code&0xff == sqlite3.SQLITE_PERM:
			return faultPermission
		case code&0xff == sqlite3.SQLITE_IOERR:
			return faultIO
		}
		return faultNone
	case errors.As(err, &pgErr):
		switch pgErr.Code {
		case "53100": // disk_full
			return faultSpace
		case "25006", "42501": // read_only_sql_transaction (a standby, default_transaction_read_only), insufficient_privilege
			return faultPermission
		case "58030": // io_error
			return faultIO
		case "53000", "53200", "53300": // insufficient_resources, out_of_memory, too_many_connections
			return faultBusy
		}
		return faultNone
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return faultSpace
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EROFS):
		return faultPermission
	case errors.Is(err, syscall.EIO):
		return faultIO
	}
	return faultNone
}

// faultMessages are what clients and /api/v1/ready are told.
var faultMessages = map[fault]string{
	faultSpace: "the database's disk is full: changes cannot be saved until space is freed; try again later",
	faultPermission: "the database refuses writes (it is read-only, or Herald may not write to it): " +
		"changes cannot be saved until that is fixed; try again later",
	faultIO:   "the database could not write to its disk (an I/O error): changes cannot be saved; try again later",
	faultBusy: "the database server is out of resources (memory or connections); try again shortly",
}

// goneMessage is the answer to every write once the SQLite file was
// removed or replaced.
const goneMessage = "the database file was removed or replaced while Herald was running: " +
	"changes are refused so that none is lost; restart Herald"

// How often the write path compares the SQLite file with the one opened
// (Ready always does), and how often Ready tries a write while one was
// refused.
const (
	fileCheckEvery = time.Second
	probeEvery     = 10 * time.Second
)

// storageHealth is what the database knows of its faults.
type storageHealth struct {
	// fault is the refusal of the last write that failed for lack of
	// space, permission or an I/O error; nil once a write commits.
	fault atomic.Pointer[herald.Error]
	// gone is set, for good, once the SQLite file was found removed or
	// replaced.
	gone atomic.Pointer[herald.Error]
	// file is the SQLite file as opened; nil on PostgreSQL.
	file os.FileInfo
	// start is when the database was opened; checkedAt and probedAt are
	// times since then (monotonic) of the last file check and of the
	// last write refused or probe.
	start               time.Time
	checkedAt, probedAt atomic.Int64
	// fileCheckEvery and probeEvery are the constants; tests shorten them.
	fileCheckEvery, probeEvery time.Duration
}

func newStorageHealth(file os.FileInfo) storageHealth {
	return storageHealth{file: file, start: time.Now(), fileCheckEvery: fileCheckEvery, probeEvery: probeEvery}
}

func (h *storageHealth) since() int64 { return int64(time.Since(h.start)) }

// Ready reports whether the database accepts writes. It returns
// EUNAVAILABLE, with the reason, when the database does not answer; when
// the last write was refused for lack of space or permission or an I/O
// error (until a write commits again; Ready tries one itself every
// probeEvery); and when the SQLite file was removed or replaced (until
// restart).
func (db *DB) Ready(ctx context.Context) error {
	if err := db.checkFile(); err != nil {
		return err
	}
	if err := db.Ping(ctx); err != nil {
		return err
	}
	if db.health.fault.Load() == nil {
		return nil
	}
	if prev := db.health.probedAt.Load(); db.health.since()-prev >= int64(db.health.probeEvery) &&
		db.health.probedAt.CompareAndSwap(prev, db.health.since()) {
		// A commit clears the fault; a refusal keeps it (writeFailed).
		_ = db.Update(ctx, db.probe)
	}
	if e := db.health.fault.Load(); e != nil {
		return e
	}
	return nil
}

// probe is the smallest write that needs the disk: SQLite writes the page
// holding user_version (unused by Herald) even when its value is the same;
// PostgreSQL writes a new version of a schema_migrations row.
func (db *DB) probe(tx *Tx) error {
	ctx := context.Background()
	if db.Kind() == PostgreSQL {
		_, err := tx.execRaw(ctx, `UPDATE schema_migrations SET applied_at = applied_at
			WHERE version = (SELECT max(version) FROM schema_migrations)`)
		return err
	}
	var v int64
	if err := tx.tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return err
	}
	_, err := tx.tx.ExecContext(ctx, `PRAGMA user_version = `+strconv.FormatInt(v, 10))
	return err
}

// writeFailed returns what to answer for a write that failed with err, and
// marks the database not ready when err is a storage fault. Other errors
// pass through unavailable.
func (db *DB) writeFailed(err error) error {
	f := classify(err)
	if f == faultMoved {
		if gone := db.checkFile(); gone != nil {
			return gone
		}
		f = faultPermission
	}
	switch f {
	case faultNone:
		return unavailable(err)
	case faultBusy:
		return &herald.Error{Code: herald.EUNAVAILABLE, Message: faultMessages[f]}
	}
	// Was the file removed? A write to a removed file fails only
	// sometimes; the answer then should say so.
	if gone := db.checkFile(); gone != nil {
		return gone
	}
	e := &herald.Error{Code: herald.EUNAVAILABLE, Message: faultMessages[f]}
	db.health.probedAt.Store(db.health.since())
	if prev := db.health.fault.Swap(e); prev == nil || prev.Message != e.Message {
		db.log.Error("the database refused a write; not ready until a write succeeds", "reason", e.Message, "err", err)
	}
	return e
}

// readFailed returns what to answer for a read that failed with err: the
// removed or replaced SQLite file when that is why (a new connection
// cannot open it), else what unavailable says.
func (db *DB) readFailed(err error) error {
	if classify(err) != faultNone {
		if gone := db.checkFile(); gone != nil {
			return gone
		}
	}
	return unavailable(err)
}

// writeSucceeded clears a fault once a write commits. It costs one atomic
// load when there is none.
func (db *DB) writeSucceeded() {
	if db.health.fault.Load() != nil && db.health.fault.Swap(nil) != nil {
		db.log.Info("the database accepts writes again")
	}
}

// checkFile compares the file at the SQLite database's path with the one
// opened (device and inode, or what the system has for them). When it was
// removed or replaced it returns the gone error, set for good and logged
// once. It returns nil on PostgreSQL, and when the path cannot be checked
// for another reason (the writes themselves tell then).
func (db *DB) checkFile() error {
	if e := db.health.gone.Load(); e != nil {
		return e
	}
	if db.health.file == nil {
		return nil
	}
	db.health.checkedAt.Store(db.health.since())
	st, err := os.Stat(db.path)
	var what string
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		what = "removed"
	case err != nil:
		return nil
	case !os.SameFile(db.health.file, st):
		what = "replaced by another file"
	default:
		return nil
	}
	e := &herald.Error{Code: herald.EUNAVAILABLE, Message: goneMessage}
	if db.health.gone.CompareAndSwap(nil, e) {
		db.log.Error("the database file was "+what+" while Herald was running: every change is refused until Herald is restarted, "+
			"so that none is written to a file that is no longer the database; restore the file if it was not meant to go, then restart",
			"database", db.path)
	}
	return db.health.gone.Load()
}

// checkFileSometimes is checkFile at most once per fileCheckEvery, for the
// write path: a stat for every write would cost more than it is worth,
// and a removal is found within fileCheckEvery (at once by Ready).
func (db *DB) checkFileSometimes() error {
	if e := db.health.gone.Load(); e != nil {
		return e
	}
	if db.health.file == nil || db.health.since()-db.health.checkedAt.Load() < int64(db.health.fileCheckEvery) {
		return nil
	}
	return db.checkFile()
}
