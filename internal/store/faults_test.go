package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/testdb"
)

// realSQLiteError runs setup and then stmt on a SQLite connection of its
// own, opened with dsn's parameters on a new file, and returns the error
// SQLite gave.
func realSQLiteError(t *testing.T, path, params string, setup []string, stmt string) error {
	t.Helper()
	pool, err := sql.Open("sqlite", "file:"+path+params)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	pool.SetMaxOpenConns(1) // pragmas hold per connection
	for _, s := range setup {
		if _, err := pool.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	_, err = pool.Exec(stmt)
	if err == nil {
		t.Fatalf("%s succeeded; the test needs it to fail", stmt)
	}
	return err
}

// The classification of errors into storage faults: real SQLite errors,
// made for real, and the operating system's and PostgreSQL's by their
// codes (a test cannot take the shared PostgreSQL's disk, nor refuse root
// a file).
func TestClassify(t *testing.T) {
	dir := t.TempDir()
	created := filepath.Join(dir, "made.db")
	if _, err := os.Create(created); err != nil {
		t.Fatal(err)
	}
	// A database that may grow to 20 pages: SQLite answers SQLITE_FULL
	// as it would on a full disk.
	full := realSQLiteError(t, filepath.Join(dir, "full.db"), "", []string{
		"CREATE TABLE t (v BLOB)", "PRAGMA max_page_count = 20",
	}, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 100) INSERT INTO t SELECT randomblob(4000) FROM n")
	readOnly := realSQLiteError(t, created, "?mode=ro", nil, "CREATE TABLE t (v INTEGER)")
	cantOpen := realSQLiteError(t, filepath.Join(dir, "no-such-dir", "x.db"), "", nil, "CREATE TABLE t (v INTEGER)")
	constraint := realSQLiteError(t, filepath.Join(dir, "unique.db"), "", []string{
		"CREATE TABLE t (v INTEGER UNIQUE)", "INSERT INTO t VALUES (1)",
	}, "INSERT INTO t VALUES (1)")
	syntax := realSQLiteError(t, filepath.Join(dir, "syntax.db"), "", nil, "INSERT INTO")
	// The operating system's own ENOSPC from a full disk: TestDiskFull.
	enospc := &fs.PathError{Op: "write", Path: "f", Err: syscall.ENOSPC}

	pg := func(code string) error { return fmt.Errorf("commit: %w", &pgconn.PgError{Code: code, Message: "test"}) }
	for _, tc := range []struct {
		name string
		err  error
		want fault
	}{
		{"SQLITE_FULL (max_page_count)", full, faultSpace},
		{"SQLITE_READONLY (read-only connection)", readOnly, faultPermission},
		{"SQLITE_CANTOPEN (missing directory)", cantOpen, faultPermission},
		{"ENOSPC", enospc, faultSpace},
		{"ENOSPC wrapped", fmt.Errorf("commit: %w", enospc), faultSpace},
		{"EDQUOT", &fs.PathError{Op: "write", Path: "f", Err: syscall.EDQUOT}, faultSpace},
		{"EACCES", &fs.PathError{Op: "open", Path: "f", Err: syscall.EACCES}, faultPermission},
		{"EROFS", &fs.PathError{Op: "open", Path: "f", Err: syscall.EROFS}, faultPermission},
		{"EIO", &fs.PathError{Op: "write", Path: "f", Err: syscall.EIO}, faultIO},
		{"PostgreSQL disk_full", pg("53100"), faultSpace},
		{"PostgreSQL out_of_memory", pg("53200"), faultBusy},
		{"PostgreSQL too_many_connections", pg("53300"), faultBusy},
		{"PostgreSQL read_only_sql_transaction", pg("25006"), faultPermission},
		{"PostgreSQL insufficient_privilege", pg("42501"), faultPermission},
		{"PostgreSQL io_error", pg("58030"), faultIO},
		// Not storage faults: the error passes, or is a lost connection.
		{"SQLite unique constraint", constraint, faultNone},
		{"SQLite syntax error", syntax, faultNone},
		{"PostgreSQL unique_violation", pg("23505"), faultNone},
		{"PostgreSQL admin_shutdown", pg("57P01"), faultNone},
		{"a herald.Error", herald.Errorf(herald.ECONFLICT, "already exists"), faultNone},
		{"context canceled", context.Canceled, faultNone},
		{"nil", nil, faultNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(tc.err); got != tc.want {
				t.Fatalf("classify(%v) = %d, want %d", tc.err, got, tc.want)
			}
			// What a client is answered: a fault is a 503 with its
			// reason, never a 500.
			if tc.want != faultNone {
				answer := unavailable(tc.err)
				if herald.ErrorCode(answer) != herald.EUNAVAILABLE || herald.ErrorMessage(answer) != faultMessages[tc.want] {
					t.Fatalf("answered %q (%s), want EUNAVAILABLE %q", herald.ErrorMessage(answer), herald.ErrorCode(answer), faultMessages[tc.want])
				}
			}
		})
	}
}

// logBuffer collects a store's log.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// openLogged opens and migrates a SQLite database at path, logging to the
// returned buffer.
func openLogged(t *testing.T, path string) (*DB, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	db, err := Open(context.Background(), path, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db, logs
}

func createGroup(db *DB, name string) error {
	return db.Update(context.Background(), func(tx *Tx) error {
		_, err := tx.CreateGroup(context.Background(), name, false)
		return err
	})
}

// A full disk under a SQLite database: a write is refused with
// EUNAVAILABLE saying the disk is full (the file system's own ENOSPC is
// classified so too), Ready says so while reads go on, and once space is
// freed Ready's own probe finds the database writable again, without any
// other write.
func TestDiskFull(t *testing.T) {
	dir := testdb.SmallDisk(t, 4<<20)
	ctx := context.Background()
	db, logs := openLogged(t, filepath.Join(dir, "herald.db"))
	db.health.probeEvery = 0 // probe at every Ready call
	if err := createGroup(db, "before"); err != nil {
		t.Fatal(err)
	}
	if err := db.Ready(ctx); err != nil {
		t.Fatalf("ready before the disk filled up: %v", err)
	}
	filler := filepath.Join(dir, "filler")
	if err := testdb.Fill(t, filler); classify(err) != faultSpace {
		t.Fatalf("the file system's own error on a full disk, %v, is not classified as lack of space", err)
	}

	// Writes that need new pages soon find none.
	var refused error
	for i := 0; i < 2000 && refused == nil; i++ {
		refused = createGroup(db, fmt.Sprintf("group-%04d-%s", i, strings.Repeat("x", 1000)))
	}
	if refused == nil {
		t.Fatal("2000 writes of 1 kB succeeded on a full 4 MiB disk")
	}
	if herald.ErrorCode(refused) != herald.EUNAVAILABLE || herald.ErrorMessage(refused) != faultMessages[faultSpace] {
		t.Fatalf("a write on a full disk failed with %q (%s), want EUNAVAILABLE %q",
			herald.ErrorMessage(refused), herald.ErrorCode(refused), faultMessages[faultSpace])
	}
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("reads stopped with the disk full: %v", err)
	}
	// Ready's probe (here at every call) needs a page too: while the disk
	// stays full, Ready keeps saying why.
	for range 3 {
		if err := db.Ready(ctx); herald.ErrorMessage(err) != faultMessages[faultSpace] {
			t.Fatalf("ready with the disk still full = %v, want %q", err, faultMessages[faultSpace])
		}
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "disk is full") {
		t.Fatalf("the log does not say the disk is full:\n%s", logs)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := db.Ready(ctx); err != nil {
		t.Fatalf("ready after space was freed: %v", err)
	}
	if !strings.Contains(logs.String(), "accepts writes again") {
		t.Fatalf("the log does not say the database recovered:\n%s", logs)
	}
	if err := createGroup(db, "after"); err != nil {
		t.Fatalf("a write after space was freed: %v", err)
	}
}

// A write refused for lack of space marks the database not ready until a
// write commits; without a probe (not due yet) Ready keeps saying why.
func TestReadyAfterRefusedWrite(t *testing.T) {
	db, _ := openLogged(t, filepath.Join(t.TempDir(), "herald.db"))
	ctx := context.Background()
	// What the group committer does with a write SQLite refused.
	answer := db.writeFailed(fmt.Errorf("commit: %w", &fs.PathError{Op: "write", Path: "herald.db-wal", Err: syscall.ENOSPC}))
	if herald.ErrorCode(answer) != herald.EUNAVAILABLE {
		t.Fatalf("answer %v, want EUNAVAILABLE", answer)
	}
	if err := db.Ready(ctx); herald.ErrorMessage(err) != faultMessages[faultSpace] {
		t.Fatalf("ready = %v, want %q", err, faultMessages[faultSpace])
	}
	// A change that fails for its own reason proves nothing.
	if err := createGroup(db, "dup"); err != nil {
		t.Fatal(err)
	}
	db.writeFailed(&fs.PathError{Op: "write", Path: "herald.db-wal", Err: syscall.ENOSPC})
	if err := createGroup(db, "dup"); herald.ErrorCode(err) != herald.ECONFLICT {
		t.Fatalf("second dup: %v, want ECONFLICT", err)
	}
	if err := db.Ready(ctx); err == nil {
		t.Fatal("ready after a batch that committed nothing")
	}
	if err := createGroup(db, "fine"); err != nil {
		t.Fatal(err)
	}
	if err := db.Ready(ctx); err != nil {
		t.Fatalf("ready after a write committed: %v", err)
	}
}

// The SQLite file removed, or replaced by another, under an open
// database: Ready says so at once, every write is refused (it would go
// to a file nobody opens again), reads go on on the open connections, and
// the log says it once.
func TestFileRemovedOrReplaced(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, path string)
		logged string
	}{
		{"removed", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, "file was removed while"},
		{"replaced", func(t *testing.T, path string) {
			other := path + ".other"
			if err := os.WriteFile(other, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(other, path); err != nil {
				t.Fatal(err)
			}
		}, "file was replaced by another file while"},
		{"moved away", func(t *testing.T, path string) {
			if err := os.Rename(path, path+".moved"); err != nil {
				t.Fatal(err)
			}
		}, "file was removed while"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "herald.db")
			db, logs := openLogged(t, path)
			if err := createGroup(db, "before"); err != nil {
				t.Fatal(err)
			}
			read := func() error {
				return db.View(ctx, func(tx *Tx) error {
					_, err := tx.GroupByName(ctx, "before")
					return err
				})
			}
			// A running server has reader connections open.
			if err := read(); err != nil {
				t.Fatal(err)
			}
			// The read prepares its statement in the background, on a
			// connection of its own if the read's is busy: let it finish,
			// or the read below may need a new connection, which cannot
			// open a file that is gone.
			db.prepares.Wait()
			tc.change(t, path)
			for range 3 {
				if err := db.Ready(ctx); herald.ErrorCode(err) != herald.EUNAVAILABLE || herald.ErrorMessage(err) != goneMessage {
					t.Fatalf("ready = %v, want EUNAVAILABLE %q", err, goneMessage)
				}
				if err := createGroup(db, "after"); herald.ErrorCode(err) != herald.EUNAVAILABLE || herald.ErrorMessage(err) != goneMessage {
					t.Fatalf("a write = %v, want EUNAVAILABLE %q", err, goneMessage)
				}
			}
			// Reads go on on the connections open (a new one could not
			// open the file).
			if err := read(); err != nil {
				t.Fatalf("a read after the file went: %v", err)
			}
			if n := strings.Count(logs.String(), tc.logged); n != 1 || !strings.Contains(logs.String(), "level=ERROR") {
				t.Fatalf("the log says %q %d times, want once at ERROR:\n%s", tc.logged, n, logs)
			}
		})
	}
}

// The write path finds a removed file by itself, within fileCheckEvery,
// without a Ready call.
func TestWriteFindsRemovedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	db, _ := openLogged(t, path)
	db.health.fileCheckEvery = 0 // at every batch
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	err := createGroup(db, "lost")
	if herald.ErrorMessage(err) != goneMessage {
		t.Fatalf("a write after the file was removed: %v, want %q", err, goneMessage)
	}
	if !errors.Is(db.Ready(context.Background()), db.health.gone.Load()) {
		t.Fatal("ready does not report the removed file")
	}
}
