//go:build !unix

package queue

import "os"

// lockFile opens path; without flock the lock is not enforced.
func lockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}
