package testdb

import (
	"errors"
	"os"
	"syscall"
	"testing"
)

// Fill writes the file path until its file system is full, and returns
// the error that stopped it (ENOSPC, wrapped): the disk is then full for
// everyone else too. Removing the file frees the space.
func Fill(t testing.TB, path string) error {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for size := len(chunk); ; {
		_, err := f.Write(chunk[:size])
		if err == nil {
			continue
		}
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("fill %s: %v", path, err)
		}
		if size == 1 {
			return err
		}
		// Down to the last byte: a smaller write may still fit.
		size = max(size/16, 1)
	}
}
