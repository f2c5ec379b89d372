package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/secretbox"
	"github.com/heraldhq/herald/internal/store"
)

// sealUnderOtherKey rewrites a webhook's token, signing secret and
// previous signing secret as another Herald with another key would have
// sealed them (through the store, as a running instance's write would
// arrive).
func sealUnderOtherKey(t *testing.T, s *testServer, id int64) {
	t.Helper()
	other, err := secretbox.New("another key, not this server's")
	if err != nil {
		t.Fatal(err)
	}
	err = s.app.DB.Update(context.Background(), func(tx *store.Tx) error {
		w, err := tx.WebhookByID(context.Background(), id)
		if err != nil {
			return err
		}
		w.Token, w.SigningSecret, w.PreviousSecret = other.Seal("token-under-another-key"), other.Seal("whsec_AAAA"), other.Seal("whsec_BBBB")
		return tx.UpdateWebhook(context.Background(), &w)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A webhook whose secrets this server's key cannot open (sealed by an
// instance with another key) is shown as such instead of failing lists
// and pages; its deliveries wait, keeping their retries, with a clear
// error; enabling it keeps the secrets; PUT overwrites the token and
// rotate_secret the signing secret, after which the waiting delivery goes
// out with the new token and signature. Other webhooks are untouched.
func TestUnreadableWebhookSecrets(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *app.Config) { c.Engine.SecretsWait = 100 * time.Millisecond })
	admin := s.admin()
	rc, fine := newReceiver(t), newReceiver(t)
	hook := admin.addWebhook(rc.URL, map[string]any{"token": "token-1", "description": "crm"})
	other := admin.addWebhook(fine.URL, map[string]any{"token": "token-of-the-other"})
	path := fmt.Sprintf("/api/v1/webhook/%d", hook.ID)
	admin.expect(http.StatusOK, "POST", path+"/rotate_secret", nil, nil) // a previous secret too
	sealUnderOtherKey(t, s, hook.ID)

	var list []webhook
	admin.expect(http.StatusOK, "GET", "/api/v1/webhook", nil, &list)
	if len(list) != 2 {
		t.Fatalf("list: %+v", list)
	}
	if w := list[0]; w.ID != hook.ID || w.Token != "" || !w.TokenUnreadable || w.SigningSecret != "" || !w.SigningSecretUnreadable {
		t.Errorf("the unreadable webhook in the list: %+v", w)
	}
	if w := list[1]; w.Token != "token-of-the-other" || w.TokenUnreadable || w.SigningSecret != other.SigningSecret || w.SigningSecretUnreadable {
		t.Errorf("the other webhook in the list: %+v", w)
	}
	var got webhook
	admin.expect(http.StatusOK, "GET", path, nil, &got)
	if !got.TokenUnreadable || !got.SigningSecretUnreadable || got.Token != "" {
		t.Errorf("GET %s: %+v", path, got)
	}
	page := string(admin.expect(http.StatusOK, "GET", "/webhooks", nil, nil).Body)
	if !strings.Contains(page, fmt.Sprintf(`id="secrets-unreadable-%d"`, hook.ID)) || strings.Contains(page, fmt.Sprintf(`id="secrets-unreadable-%d"`, other.ID)) {
		t.Errorf("the Webhooks page does not mark exactly the unreadable webhook:\n%s", page)
	}
	page = string(admin.expect(http.StatusOK, "GET", fmt.Sprintf("/webhooks/%d", hook.ID), nil, nil).Body)
	if !containsAll(page, `id="token-unreadable"`, `id="signing-secret-unreadable"`) {
		t.Errorf("the webhook's page does not say its secrets are unreadable:\n%s", page)
	}
	page = string(admin.expect(http.StatusOK, "GET", fmt.Sprintf("/webhooks/%d/edit", hook.ID), nil, nil).Body)
	if !strings.Contains(page, `id="token-unreadable"`) {
		t.Errorf("the edit form does not say the token is unreadable:\n%s", page)
	}
	var tried struct {
		Error string `json:"error"`
	}
	admin.expect(http.StatusOK, "POST", path+"/test", nil, &tried)
	if !strings.Contains(tried.Error, "cannot decrypt the webhook's secrets") {
		t.Errorf("test request: %+v", tried)
	}

	// Disabling and enabling does not need the secrets, and keeps them as
	// stored (the right key could still open them).
	before := storedSecrets(t, s, hook.ID)
	admin.expect(http.StatusOK, "POST", path, map[string]bool{"enabled": false}, nil)
	admin.expect(http.StatusOK, "POST", path, map[string]bool{"enabled": true}, nil)
	if after := storedSecrets(t, s, hook.ID); after != before {
		t.Errorf("enabling rewrote the unreadable secrets: %q, was %q", after, before)
	}

	// A delivery waits, and keeps its retries: more attempts than the
	// retry schedule has steps, and still retrying.
	createUser(admin, "waits")
	fine.waitFor(1, 10*time.Second)
	retrySteps := len(app.DefaultConfig().RetrySchedule) // more than the tests' schedule
	deadline := time.Now().Add(20 * time.Second)
	var d delivery
	for {
		// The newest is the user's; the test send above is logged too.
		ds := admin.deliveries(hook.ID, "")
		if len(ds) != 2 || ds[1].Event != "webhook_test" || ds[1].Status != "failed" {
			t.Fatalf("deliveries: %+v", ds)
		}
		d = ds[0]
		if d.Status != "retrying" && d.Status != "pending" {
			t.Fatalf("a delivery of a webhook with unreadable secrets is %s: %+v", d.Status, d)
		}
		if d.Attempts > retrySteps {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery after 20 s: %+v", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(d.LastError, "cannot decrypt the webhook's secrets") || !strings.Contains(d.LastError, "keeping its retries") || d.LastStatusCode != 0 {
		t.Errorf("the delivery's last error: %+v", d)
	}
	if n := len(rc.all()); n != 0 {
		t.Fatalf("the receiver got %d requests while the secrets were unreadable", n)
	}

	// PUT overwrites the token (it used to answer 500); the signing
	// secrets stay as stored until a rotation replaces them.
	put := map[string]any{"url": rc.URL, "description": "crm", "token": "token-2", "on_user_created": true}
	admin.expect(http.StatusOK, "PUT", path, put, &got)
	if got.Token != "token-2" || got.TokenUnreadable || !got.SigningSecretUnreadable || got.SigningSecret != "" {
		t.Fatalf("PUT answered %+v", got)
	}
	if after := storedSecrets(t, s, hook.ID); !strings.HasSuffix(after, strings.SplitN(before, " ", 2)[1]) {
		t.Errorf("PUT rewrote the unreadable signing secrets: %q, was %q", after, before)
	}
	admin.expect(http.StatusOK, "POST", path+"/rotate_secret", nil, &got)
	if got.Token != "token-2" || got.SigningSecretUnreadable || !strings.HasPrefix(got.SigningSecret, "whsec_") {
		t.Fatalf("rotate_secret answered %+v", got)
	}
	if after := strings.Fields(storedSecrets(t, s, hook.ID)); len(after) != 2 {
		t.Errorf("after rotate_secret the stored token, signing secret and previous secret are %q; want no previous secret (the unreadable one cannot sign)", after)
	}
	r := rc.waitFor(1, 10*time.Second)[0]
	if r.username() != "waits" || r.Header.Get("Authorization") != "Bearer token-2" {
		t.Errorf("the waiting delivery arrived as %s for %q with Authorization %q", r.event(), r.username(), r.Header.Get("Authorization"))
	}
	if err := verifySignature(got.SigningSecret, r.Header, r.Body); err != nil {
		t.Errorf("signature with the new secret: %v", err)
	}
	if sigs := strings.Fields(r.Header.Get("webhook-signature")); len(sigs) != 1 {
		t.Errorf("signed with %d secrets, want the new one alone: %v", len(sigs), sigs)
	}
	admin.waitDeliveries(hook.ID, "succeeded", 1, 10*time.Second)
	admin.expect(http.StatusOK, "GET", "/api/v1/webhook", nil, &list)
	for _, w := range list {
		if w.TokenUnreadable || w.SigningSecretUnreadable {
			t.Errorf("still unreadable: %+v", w)
		}
	}
}

// storedSecrets is a webhook's sealed token, signing secret and previous
// signing secret as stored, space-separated.
func storedSecrets(t *testing.T, s *testServer, id int64) string {
	t.Helper()
	var out string
	err := s.app.DB.View(context.Background(), func(tx *store.Tx) error {
		w, err := tx.WebhookByID(context.Background(), id)
		out = w.Token + " " + w.SigningSecret + " " + w.PreviousSecret
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The key lost, as an operator meets it with real herald processes: a
// webhook with a token is made, Herald stops, and the key goes (the key
// file replaced, then deleted; with PostgreSQL another HERALD_SECRET_KEY).
// herald serve then exits non-zero naming the key and the fix, and makes
// no key file; reset-secrets lists the webhook and, with --yes, resets
// it; Herald starts, lists work, PUT sets a new token, and deliveries go
// out with it, signed with the new signing secret.
func TestSecretKeyLost(t *testing.T) {
	t.Parallel()
	bin := buildHerald(t)
	dir := t.TempDir()
	database := newDatabase(t)
	logs := &lockedBuffer{}
	// The key file beside the SQLite file; HERALD_SECRET_KEY on PostgreSQL.
	key := []string{"HERALD_SECRET_KEY="}
	if onPostgres() {
		key = []string{"HERALD_SECRET_KEY=" + testSecretKey}
	}
	rc := newReceiver(t)
	p := startHeraldProcess(t, bin, dir, database, logs, key...)
	admin := (&testServer{t: t, URL: p.url}).admin()
	hook := admin.addWebhook(rc.URL, map[string]any{"token": "token-1"})
	p.kill(t)

	// herald runs a command to its end (at most a minute).
	herald := func(env []string, args ...string) (stdout, stderr string, err error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		addr := "127.0.0.1:" + port // if serve started, it would answer here
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "HERALD_DATABASE="+database, "HERALD_ADMIN_PASSWORD="+adminPassword, "HERALD_ADDR="+addr)
		cmd.Env = append(cmd.Env, env...)
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err = cmd.Run()
		fmt.Fprintf(logs, "===== herald %s: %v =====\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
		return out.String(), errOut.String(), err
	}
	// refused wants herald serve to exit with status 1 and say want.
	refused := func(env []string, want ...string) {
		t.Helper()
		_, stderr, err := herald(env, "serve")
		if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 1 {
			t.Fatalf("herald serve with a key that cannot open the secrets: %v, want exit status 1; stderr:\n%s", err, stderr)
		}
		for _, w := range append(want, "herald webhook reset-secrets") {
			if !strings.Contains(stderr, w) {
				t.Errorf("herald serve's message does not say %q:\n%s", w, stderr)
			}
		}
	}

	if onPostgres() {
		key = []string{"HERALD_SECRET_KEY=another key, the first one is lost"}
		refused(key, "HERALD_SECRET_KEY cannot open the secrets of 1 webhook", "the same on every instance")
	} else {
		keyFile := database + ".key"
		if err := os.WriteFile(keyFile, []byte("another key, the first one is lost\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		refused(key, "the secret key file "+keyFile+" cannot open the secrets of 1 webhook", "restore "+keyFile+" from the backup")
		if err := os.Remove(keyFile); err != nil {
			t.Fatal(err)
		}
		refused(key, "the secret key file "+keyFile+" is missing", "restore "+keyFile+" from the backup")
		if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
			t.Fatalf("a refused herald serve made a key file: %v", err)
		}
	}

	out, _, err := herald(key, "webhook", "reset-secrets")
	if err != nil || !containsAll(out, fmt.Sprintf("%d ", hook.ID), "new signing secret, token cleared", "--yes") {
		t.Fatalf("reset-secrets without --yes: %v\n%s", err, out)
	}
	refused(key, "cannot") // the list changed nothing
	if out, _, err = herald(key, "webhook", "reset-secrets", "--yes"); err != nil || !strings.Contains(out, "Herald now starts with this key") {
		t.Fatalf("reset-secrets --yes: %v\n%s", err, out)
	}

	p = startHeraldProcess(t, bin, dir, database, logs, key...)
	admin = (&testServer{t: t, URL: p.url}).admin()
	var list []webhook
	admin.expect(http.StatusOK, "GET", "/api/v1/webhook", nil, &list)
	if len(list) != 1 || list[0].Token != "" || list[0].TokenUnreadable || list[0].SigningSecretUnreadable ||
		!strings.HasPrefix(list[0].SigningSecret, "whsec_") || list[0].SigningSecret == hook.SigningSecret {
		t.Fatalf("webhooks after the reset: %+v (before: %+v)", list, hook)
	}
	put := map[string]any{"url": rc.URL, "description": "test receiver", "token": "token-2", "on_user_created": true}
	var got webhook
	admin.expect(http.StatusOK, "PUT", fmt.Sprintf("/api/v1/webhook/%d", hook.ID), put, &got)
	if got.Token != "token-2" || got.SigningSecret != list[0].SigningSecret {
		t.Fatalf("PUT answered %+v", got)
	}
	createUser(admin, "after-reset")
	r := rc.waitFor(1, 10*time.Second)[0]
	if r.username() != "after-reset" || r.Header.Get("Authorization") != "Bearer token-2" {
		t.Errorf("delivered %s for %q with Authorization %q", r.event(), r.username(), r.Header.Get("Authorization"))
	}
	if err := verifySignature(got.SigningSecret, r.Header, r.Body); err != nil {
		t.Errorf("signature with the new signing secret: %v", err)
	}
	if verifySignature(hook.SigningSecret, r.Header, r.Body) == nil {
		t.Error("still signed with the lost signing secret")
	}
	p.kill(t)
	if onPostgres() {
		// The database now expects the new key: the old one is refused
		// as any other would be.
		refused([]string{"HERALD_SECRET_KEY=" + testSecretKey}, "HERALD_SECRET_KEY cannot open the secrets of 1 webhook")
	}
}
