package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// packaging/herald.service is a unit systemd accepts without a warning,
// and its sandbox stays tight: systemd's own offline security review rates
// its exposure at most 2.0 ("OK"; 10 is an unsandboxed service).
func TestSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("systemd-analyze is missing; .ci/run installs Debian's systemd package")
		}
		t.Skip("systemd-analyze is not installed (Debian package systemd); cannot check packaging/herald.service")
	}
	unit, err := os.ReadFile("../../packaging/herald.service")
	if err != nil {
		t.Fatal(err)
	}
	// verify checks that ExecStart's program exists: the unit names where
	// the docs install herald, so point it at an executable that is here.
	const installed = "ExecStart=/usr/local/bin/herald serve"
	if !bytes.Contains(unit, []byte(installed)) {
		t.Fatalf("packaging/herald.service has no line %q", installed)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "herald.service")
	if err := os.WriteFile(path, bytes.Replace(unit, []byte(installed), []byte("ExecStart="+self+" serve"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"verify", path},
		{"security", "--offline=yes", "--threshold=20", path}, // in tenths: 2.0
	} {
		cmd := exec.Command(analyze, args...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		// Unknown or misspelt keys are only warnings on stderr: fail on them too.
		if err != nil || strings.TrimSpace(stderr.String()) != "" {
			t.Errorf("systemd-analyze %s: %v\n%s%s", args[0], err, stderr.String(), stdout.String())
		}
	}
}
