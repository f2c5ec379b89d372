package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestCLISendersReadProxyVariables: the admin commands that send requests
// themselves (herald webhook test, herald scim resync) read HTTPS_PROXY as
// herald serve does, so on a network that lets traffic out only through a
// proxy they go through it too; the others ignore it. A SOCKS proxy, which
// Herald cannot use, shows which read it without sending anything: a
// command that reads it refuses to start and names the variable.
func TestCLISendersReadProxyVariables(t *testing.T) {
	t.Parallel()
	bin := buildHerald(t)
	database := newDatabase(t)
	run := func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = t.TempDir()
		cmd.Env = append(os.Environ(), "HERALD_DATABASE="+database, "HERALD_ADMIN_PASSWORD="+adminPassword,
			"HTTPS_PROXY=socks5://proxy-user:proxy-pass@127.0.0.1:1", "HTTP_PROXY=", "NO_PROXY=")
		if onPostgres() {
			cmd.Env = append(cmd.Env, "HERALD_SECRET_KEY="+testSecretKey)
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("user", "list"); err != nil {
		t.Fatalf("herald user list with an unusable HTTPS_PROXY: %v: %s", err, out)
	}
	for _, args := range [][]string{{"webhook", "test", "1"}, {"scim", "resync", "1"}} {
		out, err := run(args...)
		if err == nil || !strings.Contains(out, "HTTPS_PROXY") || strings.Contains(out, "proxy-pass") {
			t.Errorf("herald %s with a SOCKS HTTPS_PROXY: %v: %s\nwant a refusal naming HTTPS_PROXY, without the proxy's password", strings.Join(args, " "), err, out)
		}
	}
}
