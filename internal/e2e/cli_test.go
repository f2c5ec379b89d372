package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The admin commands work on the configured database: add a user with a
// password, change it, list users, create a token, list and test webhooks,
// back up; each change is an event like an API call.
func TestCLICommands(t *testing.T) {
	t.Parallel()
	bin := buildHerald(t)
	database := newDatabase(t)
	dir := t.TempDir()
	herald := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "HERALD_DATABASE="+database, "HERALD_ADMIN_PASSWORD="+adminPassword)
		if onPostgres() {
			cmd.Env = append(cmd.Env, "HERALD_SECRET_KEY="+testSecretKey)
		}
		cmd.Stdin = strings.NewReader(stdin)
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		if err != nil {
			return out.String(), fmt.Errorf("%v: %s", err, errOut.String())
		}
		return out.String(), nil
	}
	must := func(stdin string, args ...string) string {
		t.Helper()
		out, err := herald(stdin, args...)
		if err != nil {
			t.Fatalf("herald %s: %v", strings.Join(args, " "), err)
		}
		return out
	}
	if out := must("cli-pass-1\n", "user", "add", "--email", "cli@example.com", "--first-name", "Cli", "--admin", "--password-stdin", "cliuser"); !strings.Contains(out, "created user cliuser") {
		t.Fatalf("user add: %q", out)
	}
	if out, err := herald("", "user", "add", "--email", "bad", "x"); err == nil || !strings.Contains(err.Error(), "email") {
		t.Fatalf("user add with a bad email: %q %v", out, err)
	}
	list := must("", "user", "list")
	if !containsAll(list, "USERNAME", "cliuser", "cli@example.com", "admin", "true") {
		t.Fatalf("user list: %s", list)
	}
	// admin_password is for the first start only: once users exist, one
	// that would be refused (too short) does not stop a command.
	env := []string{"HERALD_DATABASE=" + database, "HERALD_ADMIN_PASSWORD=short"}
	if onPostgres() {
		env = append(env, "HERALD_SECRET_KEY="+testSecretKey)
	}
	if out, stderr, code := runHerald(t, bin, env, "user", "list"); code != 0 || !strings.Contains(out, "cliuser") {
		t.Fatalf("user list with a short HERALD_ADMIN_PASSWORD on a database with users: exit %d, %q, %s", code, out, stderr)
	}
	must("cli-pass-2\n", "user", "passwd", "cliuser")
	token := strings.TrimSpace(must("", "token", "create", "cliuser", "ci"))
	if !strings.HasPrefix(token, "hrld_") {
		t.Fatalf("token create printed %q", token)
	}
	// Station tokens: made, listed (without secrets), one revoked.
	expires := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
	station1 := strings.TrimSpace(must("", "token", "station", "create", "--expires-at", expires, "station1"))
	station2 := strings.TrimSpace(must("", "token", "station", "create", "station2"))
	for _, tok := range []string{station1, station2} {
		if !strings.HasPrefix(tok, "hrldw_") {
			t.Fatalf("token station create printed %q", tok)
		}
	}
	stations := must("", "token", "station", "list")
	if !containsAll(stations, "ID", "STATION", "EXPIRES", "LAST USED", "station1", expires, "station2", "never") ||
		strings.Contains(stations, station1) || strings.Contains(stations, station2) {
		t.Fatalf("token station list: %s", stations)
	}
	if out, err := herald("", "token", "station", "create", "--expires-at", "2001-01-01T00:00:00Z", "station3"); err == nil || !strings.Contains(err.Error(), "expires_at") {
		t.Fatalf("a station token expiring in the past: %q %v", out, err)
	}
	var station2ID string
	for _, line := range strings.Split(stations, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == "station2" {
			station2ID = f[0]
		}
	}
	if out := must("", "token", "station", "revoke", station2ID); !strings.Contains(out, "revoked") {
		t.Fatalf("token station revoke: %q", out)
	}
	if _, err := herald("", "token", "station", "revoke", station2ID); err == nil || !strings.Contains(err.Error(), "no station token") {
		t.Fatalf("revoking twice: %v", err)
	}

	// The server sees what the commands did.
	s := startServerOn(t, database)
	s.login("cliuser", "cli-pass-2")
	s.anon().expect(http.StatusUnauthorized, "POST", "/api/v1/auth", map[string]string{"username": "cliuser", "password": "cli-pass-1"}, nil)
	s.withToken(station1).expect(http.StatusNoContent, "GET", "/api/v1/worker/job?worker=station1", nil, nil)
	s.withToken(station2).expect(http.StatusUnauthorized, "GET", "/api/v1/worker/job?worker=station2", nil, nil)
	var me user
	s.withToken(token).expect(http.StatusOK, "GET", "/api/v1/me", nil, &me)
	if me.Username != "cliuser" || !me.IsAdmin {
		t.Fatalf("token acts as %+v", me)
	}
	var evs []event
	s.admin().expect(http.StatusOK, "GET", "/api/v1/event?limit=1000", nil, &evs)
	var cli []string
	for _, e := range evs {
		// The command line acts as the system, like Herald's own first
		// start, whose events (user admin, group admin) are left out.
		firstStart := e.Subject == "user:admin" || e.Type == "group_created"
		if e.Actor == (actor{Type: "system"}) && !firstStart {
			cli = append(cli, e.Type)
		}
	}
	if strings.Join(cli, ",") != "user_created,group_modified,user_modified" {
		t.Fatalf("events by the CLI: %v", cli)
	}
	rc := newReceiver(t)
	hook := s.admin().addWebhook(rc.URL, nil)
	s.stop()

	if out := must("", "webhook", "list"); !containsAll(out, fmt.Sprint(hook.ID), rc.URL, "test receiver") {
		t.Fatalf("webhook list: %s", out)
	}
	if out := must("", "webhook", "test", fmt.Sprint(hook.ID)); !strings.Contains(out, "ok: the receiver answered 200") {
		t.Fatalf("webhook test: %s", out)
	}
	if got := rc.waitFor(1, 0); got[0].event() != "webhook_test" {
		t.Fatalf("receiver got %s", got[0].event())
	}
	if _, err := herald("", "webhook", "test", "999"); err == nil || !strings.Contains(err.Error(), "no webhook") {
		t.Fatalf("webhook test 999: %v", err)
	}
	if !onPostgres() {
		copyPath := filepath.Join(dir, "backup.db")
		must("", "backup", copyPath)
		if err := os.Link(database+".key", copyPath+".key"); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "user", "list")
		cmd.Env = append(os.Environ(), "HERALD_DATABASE="+copyPath)
		out, err := cmd.Output()
		if err != nil || !strings.Contains(string(out), "cliuser") {
			t.Fatalf("the backup does not hold the users: %s %v", out, err)
		}
	}
	if _, err := herald("", "user", "frobnicate"); err == nil {
		t.Fatal("an unknown command succeeded")
	}
}
