//go:build unix

package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A new SQLite database, its WAL (and shared memory) file, the generated
// key and a backup are readable by their owner only, even under the usual
// umask of 022 that would make new files world-readable.
func TestNewFilesArePrivate(t *testing.T) {
	if onPostgres() {
		t.Skip("file modes are about the SQLite files; the PostgreSQL pass creates none")
	}
	old := syscall.Umask(0o022) // process-wide; only loosens what others create
	t.Cleanup(func() { syscall.Umask(old) })
	dir := t.TempDir()
	db := filepath.Join(dir, "herald.db")
	s := startServerOn(t, db)
	// A write, so the WAL holds something.
	s.admin().expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "modes"}, nil)
	for _, name := range []string{"herald.db", "herald.db-wal", "herald.db-shm", "herald.db.key"} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s is %v, want -rw-------", name, st.Mode().Perm())
		}
	}
	backup := filepath.Join(dir, "copy.db")
	if err := s.app.DB.Backup(context.Background(), backup); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(backup); err != nil || st.Mode().Perm() != 0o600 || st.Size() == 0 {
		t.Errorf("backup: %v %v, want a non-empty -rw------- file", st, err)
	}
}
