//go:build linux

package testdb

import (
	"fmt"
	"os"
	"syscall"
	"testing"
)

// SmallDisk mounts a file system of size bytes (tmpfs) on a new temporary
// directory and returns the directory, for tests that fill a disk under a
// database. It is unmounted when the test ends; register it before
// whatever keeps files open in it, so that those close first. Mounting
// needs root (CAP_SYS_ADMIN): without it the test is skipped, except
// under CI, which runs as root and must run it.
func SmallDisk(t testing.TB, size int64) string {
	t.Helper()
	dir := t.TempDir()
	err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, fmt.Sprintf("size=%d,mode=0700", size))
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("mount a %d-byte tmpfs on %s: %v (CI runs as root and must be able to)", size, dir, err)
		}
		t.Skipf("disk-full test skipped: cannot mount a tmpfs (%v); it needs root", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount the test tmpfs %s: %v", dir, err)
		}
	})
	return dir
}
