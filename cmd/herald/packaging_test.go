package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

// The image keeps its database in the /data volume through its working
// directory, and sets no setting besides the listen address: a variable
// the image sets cannot be removed by docker run, so setting
// HERALD_DATABASE there would rule out HERALD_DATABASE_FILE.
func TestDockerfileLeavesSettingsToTheOperator(t *testing.T) {
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var workdir string
	var env []string
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if strings.HasPrefix(line, "#") {
			continue
		}
		for strings.HasSuffix(line, `\`) && i+1 < len(lines) { // continued on the next line
			i++
			line = strings.TrimSuffix(line, `\`) + " " + strings.TrimSpace(lines[i])
		}
		switch fields := strings.Fields(line); {
		case len(fields) == 0:
		case fields[0] == "FROM":
			workdir, env = "", nil // only the last stage is the image
		case fields[0] == "WORKDIR":
			workdir = fields[1]
		case fields[0] == "ENV":
			env = append(env, fields[1:]...)
		}
	}
	if workdir != "/data" {
		t.Errorf("the image's working directory is %q; want /data, where the default herald.db then lands", workdir)
	}
	if !slices.Equal(env, []string{"HERALD_ADDR=0.0.0.0:8080"}) {
		t.Errorf("the image sets %q; want only HERALD_ADDR=0.0.0.0:8080", env)
	}
	if def := settingsOf("serve"); !slices.ContainsFunc(def, func(s setting) bool { return s.name == "database" && s.def == "herald.db" }) {
		t.Error(`the database setting's default is no longer the relative path "herald.db"`)
	}
}
