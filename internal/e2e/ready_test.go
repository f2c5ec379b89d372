package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/testdb"
)

// The messages of storage faults, as a client reads them.
const (
	diskFullMsg = "the database's disk is full"
	goneMsg     = "the database file was removed or replaced while Herald was running"
)

// The disk under the SQLite file fills up: a write answers 503 saying the
// disk is full (never a 500), /api/v1/ready answers 503 with that reason
// while /api/v1/health and reads go on; once space is freed a write
// succeeds and Herald is ready again.
func TestReadyDiskFull(t *testing.T) {
	if onPostgres() {
		t.Skip("fills the disk under a SQLite file; PostgreSQL's disk_full is classified in internal/store's TestClassify")
	}
	t.Parallel()
	dir := testdb.SmallDisk(t, 8<<20)
	s := startServerOn(t, filepath.Join(dir, "herald.db"))
	admin := s.admin() // logging in writes too
	anon := s.anon()
	anon.expect(http.StatusOK, "GET", "/api/v1/ready", nil, nil)
	admin.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "before"}, nil)

	filler := filepath.Join(dir, "filler")
	testdb.Fill(t, filler)
	var refused response
	for i := 0; i < 2000; i++ {
		r := admin.do("POST", "/api/v1/group", map[string]any{"name": fmt.Sprintf("g%04d-%s", i, strings.Repeat("x", 58))})
		if r.Status == http.StatusCreated {
			continue
		}
		refused = r
		break
	}
	if refused.Status != http.StatusServiceUnavailable || !strings.Contains(refused.msg(), diskFullMsg) {
		t.Fatalf("a write on a full disk answered %d %s, want 503 saying %q", refused.Status, refused.Body, diskFullMsg)
	}
	r := anon.do("GET", "/api/v1/ready", nil)
	if r.Status != http.StatusServiceUnavailable || !strings.Contains(r.msg(), diskFullMsg) {
		t.Fatalf("/api/v1/ready on a full disk answered %d %s, want 503 saying %q", r.Status, r.Body, diskFullMsg)
	}
	anon.expect(http.StatusOK, "GET", "/api/v1/health", nil, nil)
	admin.expect(http.StatusOK, "GET", "/api/v1/group/before", nil, nil)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "after"}, nil)
	anon.expect(http.StatusOK, "GET", "/api/v1/ready", nil, nil)
	if !strings.Contains(s.logs.String(), "accepts writes again") {
		t.Fatal("the log does not say the database accepts writes again")
	}
}

// The SQLite file is removed, or replaced by another (a backup moved into
// its place), under a running Herald: until then writes answer 201;
// after, /api/v1/ready and every write answer 503 saying the file was
// removed or replaced and Herald must be restarted (a write is never
// acknowledged into a file nobody will open again), reads and
// /api/v1/health go on, and the log says it once, at ERROR. Restarted on
// the file now at the path, Herald serves it.
func TestReadyFileRemovedOrReplaced(t *testing.T) {
	if onPostgres() {
		t.Skip("removes the SQLite file; the PostgreSQL pass has none")
	}
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, s *testServer)
		logged string
	}{
		{"removed", func(t *testing.T, s *testServer) {
			if err := os.Remove(s.DBPath); err != nil {
				t.Fatal(err)
			}
		}, "file was removed while"},
		{"replaced by a backup", func(t *testing.T, s *testServer) {
			backup := s.DBPath + ".backup"
			if err := s.app.DB.Backup(context.Background(), backup); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(backup, s.DBPath); err != nil {
				t.Fatal(err)
			}
		}, "file was replaced by another file while"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t)
			admin := s.admin()
			anon := s.anon()
			admin.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "kept"}, nil)
			anon.expect(http.StatusOK, "GET", "/api/v1/ready", nil, nil)

			tc.change(t, s)
			// The write path itself finds it (it looks at most once a
			// second), without a call to /api/v1/ready.
			time.Sleep(1100 * time.Millisecond)
			r := admin.do("POST", "/api/v1/group", map[string]any{"name": "lost"})
			if r.Status != http.StatusServiceUnavailable || !strings.Contains(r.msg(), goneMsg) || !strings.Contains(r.msg(), "restart Herald") {
				t.Fatalf("a write after the file went answered %d %s, want 503 saying %q and to restart", r.Status, r.Body, goneMsg)
			}
			for range 2 {
				r = anon.do("GET", "/api/v1/ready", nil)
				if r.Status != http.StatusServiceUnavailable || !strings.Contains(r.msg(), goneMsg) {
					t.Fatalf("/api/v1/ready answered %d %s, want 503 saying %q", r.Status, r.Body, goneMsg)
				}
				r = admin.do("DELETE", "/api/v1/group/kept", nil)
				if r.Status != http.StatusServiceUnavailable || !strings.Contains(r.msg(), goneMsg) {
					t.Fatalf("a write answered %d %s, want 503 saying %q", r.Status, r.Body, goneMsg)
				}
			}
			anon.expect(http.StatusOK, "GET", "/api/v1/health", nil, nil)
			admin.expect(http.StatusOK, "GET", "/api/v1/group/kept", nil, nil)
			logs := s.logs.String()
			if n := strings.Count(logs, tc.logged); n != 1 {
				t.Fatalf("the log says %q %d times, want once", tc.logged, n)
			}
			for _, line := range strings.Split(logs, "\n") {
				if strings.Contains(line, tc.logged) && !strings.Contains(line, "level=ERROR") {
					t.Fatalf("not at ERROR: %s", line)
				}
			}

			// Restarted, Herald serves the file at the path: a new
			// database where the file was removed, the backup where it
			// was replaced.
			s.stop()
			s = startServerOn(t, s.DBPath)
			admin = s.admin()
			s.anon().expect(http.StatusOK, "GET", "/api/v1/ready", nil, nil)
			admin.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "after-restart"}, nil)
			kept := admin.do("GET", "/api/v1/group/kept", nil).Status
			if want := map[bool]int{true: http.StatusNotFound, false: http.StatusOK}[tc.name == "removed"]; kept != want {
				t.Fatalf("after the restart the group made before answers %d, want %d", kept, want)
			}
		})
	}
}
