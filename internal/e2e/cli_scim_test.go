package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// herald scim add, list, resync and remove work on the configured
// database; the token is read from standard input and never printed.
func TestCLISCIM(t *testing.T) {
	t.Parallel()
	bin := buildHerald(t)
	database := newDatabase(t)
	herald := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = t.TempDir()
		cmd.Env = append(os.Environ(), "HERALD_DATABASE="+database, "HERALD_ADMIN_PASSWORD="+adminPassword)
		if onPostgres() {
			cmd.Env = append(cmd.Env, "HERALD_SECRET_KEY="+testSecretKey)
		}
		cmd.Stdin = strings.NewReader(stdin)
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			return out.String() + errOut.String(), fmt.Errorf("%v: %s", err, errOut.String())
		}
		return out.String() + errOut.String(), nil
	}
	out, err := herald("cli-scim-token\n", "scim", "add", "--base-url", "http://127.0.0.1:9/scim/v2", "--token-stdin",
		"--deprovision", "delete", "--sync-groups", "--only-groups", "admin", "Ticketing")
	if err != nil || !strings.Contains(out, "SCIM target 1 added") {
		t.Fatalf("scim add: %q %v", out, err)
	}
	if out, err := herald("", "scim", "add", "--base-url", "ftp://x.example", "Bad"); err == nil || !strings.Contains(err.Error(), "base_url") {
		t.Fatalf("scim add with an ftp base URL: %q %v", out, err)
	}
	if out, err := herald("", "scim", "add", "--base-url", "https://x.example", "--only-groups", "ghosts", "Bad"); err == nil || !strings.Contains(err.Error(), "only_groups") {
		t.Fatalf("scim add for a missing group: %q %v", out, err)
	}
	list, err := herald("", "scim", "list")
	if err != nil || !containsAll(list, "ID", "NAME", "Ticketing", "http://127.0.0.1:9/scim/v2", "set", "delete", "admin", "never") ||
		strings.Contains(list, "cli-scim-token") {
		t.Fatalf("scim list: %q %v", list, err)
	}
	// The target refuses connections: the resync reports it and fails.
	out, err = herald("", "scim", "resync", "1")
	if err == nil || !strings.Contains(out, "SCIM target 1 resynced") || !strings.Contains(out, "failed") {
		t.Fatalf("scim resync of a target that refuses connections: %q %v", out, err)
	}
	if list, _ := herald("", "scim", "list"); !strings.Contains(list, "failed") {
		t.Fatalf("scim list after a failed resync: %q", list)
	}
	if out, err := herald("", "scim", "remove", "1"); err != nil || !strings.Contains(out, "removed") {
		t.Fatalf("scim remove: %q %v", out, err)
	}
	if out, err := herald("", "scim", "remove", "1"); err == nil || !strings.Contains(err.Error(), "no SCIM target") {
		t.Fatalf("scim remove twice: %q %v", out, err)
	}
	if out, err := herald("", "scim", "remove", "x"); err == nil || !strings.Contains(err.Error(), "not a number") {
		t.Fatalf("scim remove x: %q %v", out, err)
	}
}
