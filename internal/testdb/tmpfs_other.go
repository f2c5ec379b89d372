//go:build !linux

package testdb

import "testing"

// SmallDisk mounts a small tmpfs on Linux (tmpfs_linux.go); elsewhere the
// test is skipped.
func SmallDisk(t testing.TB, size int64) string {
	t.Helper()
	t.Skip("disk-full test skipped: it mounts a tmpfs, which needs Linux")
	return ""
}
