package app

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/testdb"
)

// Two keys of the tests, as HERALD_SECRET_KEY would give them.
const (
	keyA = "key-A-0123456789abcdef0123456789"
	keyB = "key-B-0123456789abcdef0123456789"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// sqliteConfig is a configuration on a new SQLite file, with the key file
// beside it unless key is set.
func sqliteConfig(t *testing.T, key string) Config {
	cfg := DefaultConfig()
	cfg.Database = filepath.Join(t.TempDir(), "herald.db")
	cfg.AdminPassword = "correct horse battery staple"
	cfg.SecretKey = key
	return cfg
}

// openWithWebhook opens Herald, adds a webhook with a token and closes it
// again, as a first run would leave the database.
func openWithWebhook(t *testing.T, cfg Config) int64 {
	t.Helper()
	a, err := Open(context.Background(), cfg, quietLog())
	if err != nil {
		t.Fatalf("first start: %v", err)
	}
	defer a.Close()
	w, err := a.Dir.CreateWebhook(context.Background(), directory.CLI, directory.WebhookInput{
		URL: "http://127.0.0.1:9/hook", Description: "crm", Token: "token-of-the-crm", Triggers: herald.Triggers{OnUserCreated: true}})
	if err != nil {
		t.Fatal(err)
	}
	return w.ID
}

// refused opens Herald and wants the refusal to name want (the key) and
// the fixes.
func refused(t *testing.T, cfg Config, want ...string) {
	t.Helper()
	a, err := Open(context.Background(), cfg, quietLog())
	if err == nil {
		a.Close()
		t.Fatal("Herald started with a key that cannot open the stored secrets")
	}
	for _, w := range append(want, "herald webhook reset-secrets", "start Herald again") {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("the refusal does not say %q:\n%v", w, err)
		}
	}
	if cfg.SecretKey != "" && strings.Contains(err.Error(), cfg.SecretKey) {
		t.Errorf("the refusal shows the key: %v", err)
	}
}

// A fresh database starts and gets a key file; after the key file is lost
// or replaced Herald refuses to start, says which file and what to do, and
// does not write a new key file over the problem.
func TestKeyFileLostOrChanged(t *testing.T) {
	cfg := sqliteConfig(t, "")
	keyFile := cfg.Database + ".key"
	openWithWebhook(t, cfg)
	original, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatalf("the first start made no key file: %v", err)
	}

	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	refused(t, cfg, "the secret key file "+keyFile+" is missing", "1 webhook", "restore "+keyFile)
	if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
		t.Fatalf("a refused start wrote a key file: %v", err)
	}

	if err := os.WriteFile(keyFile, []byte(keyB+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	refused(t, cfg, "the secret key file "+keyFile+" cannot open the secrets of 1 webhook", "restore "+keyFile)

	// A wrong HERALD_SECRET_KEY is named as such, with the key file as
	// the other way.
	wrong := cfg
	wrong.SecretKey = keyA
	refused(t, wrong, "HERALD_SECRET_KEY cannot open", "or unset it to use the key file "+keyFile)

	// The key file from the backup puts everything right.
	if err := os.WriteFile(keyFile, original, 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := Open(context.Background(), cfg, quietLog())
	if err != nil {
		t.Fatalf("start with the restored key file: %v", err)
	}
	defer a.Close()
	hooks, err := a.Dir.ListWebhooks(context.Background(), directory.CLI)
	if err != nil || len(hooks) != 1 || hooks[0].Token != "token-of-the-crm" || hooks[0].TokenUnreadable {
		t.Fatalf("webhooks after the restore: %+v %v", hooks, err)
	}
}

// A database that was set up with a key refuses another one even before
// any webhook exists (on PostgreSQL, an instance with another key would
// seal secrets the others cannot read); a database that never held
// anything sealed starts as before.
func TestKeyCheckWithoutWebhooks(t *testing.T) {
	cfg := sqliteConfig(t, "")
	a, err := Open(context.Background(), cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	if err := os.Remove(cfg.Database + ".key"); err != nil {
		t.Fatal(err)
	}
	refused(t, cfg, "the secret key file "+cfg.Database+".key is missing, but the database was set up with a key")
	cfg.SecretKey = keyA
	refused(t, cfg, "HERALD_SECRET_KEY is not the key the database was set up with")
}

// A database from before the check value (migration 0007) gets one at
// its first start if the key opens its secrets, and is refused if not.
func TestKeyCheckRecordedOnUpgrade(t *testing.T) {
	cfg := sqliteConfig(t, keyA)
	openWithWebhook(t, cfg)
	forgetKeyCheck(t, cfg.Database)
	wrong := cfg
	wrong.SecretKey = keyB
	refused(t, wrong, "HERALD_SECRET_KEY cannot open the secrets of 1 webhook")
	a, err := Open(context.Background(), cfg, quietLog())
	if err != nil {
		t.Fatalf("start with the right key: %v", err)
	}
	a.Close()
	// Recorded: another key is refused now even with no webhook left.
	a, err = Open(context.Background(), cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	hooks, _ := a.Dir.ListWebhooks(context.Background(), directory.CLI)
	for _, w := range hooks {
		if err := a.Dir.DeleteWebhook(context.Background(), directory.CLI, w.ID); err != nil {
			t.Fatal(err)
		}
	}
	a.Close()
	refused(t, wrong, "HERALD_SECRET_KEY is not the key the database was set up with")
}

// forgetKeyCheck removes the check value, as in a database from before it.
func forgetKeyCheck(t *testing.T, database string) {
	t.Helper()
	db, err := sql.Open("sqlite", database) // the driver store registers
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM secret_key_check`); err != nil {
		t.Fatal(err)
	}
}

// With PostgreSQL every instance must use the same HERALD_SECRET_KEY: an
// instance with another one refuses to start, before and after webhooks
// exist, and the right one still starts.
func TestPostgresOtherSecretKey(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Database = testdb.Postgres(t)
	cfg.AdminPassword = "correct horse battery staple"
	cfg.SecretKey = keyA
	a, err := Open(context.Background(), cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	other := cfg
	other.SecretKey = keyB
	refused(t, other, "HERALD_SECRET_KEY is not the key the database was set up with", "the same on every instance")
	openWithWebhook(t, cfg)
	refused(t, other, "HERALD_SECRET_KEY cannot open the secrets of 1 webhook", "the same on every instance")
	if strings.Contains(refusalOf(t, other), ".key") {
		t.Error("the refusal on PostgreSQL mentions a key file")
	}
	a, err = Open(context.Background(), cfg, quietLog())
	if err != nil {
		t.Fatalf("the right key: %v", err)
	}
	a.Close()
}

func refusalOf(t *testing.T, cfg Config) string {
	a, err := Open(context.Background(), cfg, quietLog())
	if err == nil {
		a.Close()
		return ""
	}
	return err.Error()
}

// Knowingly starting over: reset-secrets without --yes only tells what a
// new key cannot read and writes nothing; with --yes it makes the key file,
// gives the webhook a new signing secret, clears its token, and Herald
// starts with the new key.
func TestResetSecrets(t *testing.T) {
	cfg := sqliteConfig(t, "")
	id := openWithWebhook(t, cfg)
	keyFile := cfg.Database + ".key"
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	rep, err := ResetSecrets(context.Background(), cfg, quietLog(), false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Webhooks != 1 || len(rep.Unreadable) != 1 || rep.Unreadable[0].ID != id || rep.KeyCreated || rep.KeyAdopted {
		t.Fatalf("dry run: %+v", rep)
	}
	if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
		t.Fatalf("the dry run wrote a key file: %v", err)
	}
	refused(t, cfg, "is missing")

	rep, err = ResetSecrets(context.Background(), cfg, quietLog(), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Unreadable) != 1 || !rep.Unreadable[0].TokenUnreadable || !rep.Unreadable[0].SigningSecretUnreadable || !rep.KeyCreated || !rep.KeyAdopted {
		t.Fatalf("reset: %+v", rep)
	}
	a, err := Open(context.Background(), cfg, quietLog())
	if err != nil {
		t.Fatalf("start after the reset: %v", err)
	}
	defer a.Close()
	w, err := a.Dir.GetWebhook(context.Background(), directory.CLI, id)
	if err != nil {
		t.Fatal(err)
	}
	if w.Token != "" || w.TokenUnreadable || w.SigningSecretUnreadable || !strings.HasPrefix(w.SigningSecret, "whsec_") || w.PreviousSecret != "" {
		t.Fatalf("webhook after the reset: %+v", w)
	}
	// The reset is in the audit log, by the system (the command line).
	log, err := a.Dir.ListAudit(context.Background(), directory.CLI, herald.AuditFilter{Action: herald.AuditSecretRotated})
	if err != nil || len(log) != 1 || log[0].Target != fmt.Sprintf("webhook:%d", id) || log[0].Detail != "reset: secret key lost" ||
		log[0].Actor.Type != herald.ActorSystem {
		t.Fatalf("audit log after the reset: %+v, %v", log, err)
	}
	// Nothing left to do.
	a.Close()
	rep, err = ResetSecrets(context.Background(), cfg, quietLog(), true)
	if err != nil || len(rep.Unreadable) != 0 || rep.KeyCreated || rep.KeyAdopted {
		t.Fatalf("second reset: %+v %v", rep, err)
	}
}

// A SCIM target's token is sealed with the same key: reset-secrets
// without --yes lists it with the webhooks, as --yes then clears it, and
// the reset is audited under the SCIM target.
func TestResetSecretsSCIMTarget(t *testing.T) {
	cfg := sqliteConfig(t, "")
	hook := openWithWebhook(t, cfg)
	a, err := Open(context.Background(), cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	token := "bearer-of-the-app"
	target, err := a.Dir.CreateSCIMTarget(context.Background(), directory.CLI, directory.SCIMTargetInput{
		Name: "App", BaseURL: "http://127.0.0.1:9/scim/v2", Token: &token})
	a.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(cfg.Database + ".key"); err != nil {
		t.Fatal(err)
	}
	rep, err := ResetSecrets(context.Background(), cfg, quietLog(), false)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, w := range rep.Unreadable {
		ids = append(ids, w.ID)
	}
	if rep.Webhooks != 2 || !slices.Contains(ids, hook) || !slices.Contains(ids, target.ID) {
		t.Fatalf("dry run: %d webhooks, unreadable %v; want the webhook %d and the SCIM target %d", rep.Webhooks, ids, hook, target.ID)
	}
	rep, err = ResetSecrets(context.Background(), cfg, quietLog(), true)
	if err != nil || len(rep.Unreadable) != 2 {
		t.Fatalf("reset: %+v, %v", rep, err)
	}
	a, err = Open(context.Background(), cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	got, err := a.Dir.GetSCIMTarget(context.Background(), directory.CLI, target.ID)
	if err != nil || got.TokenSet || got.TokenUnreadable {
		t.Errorf("SCIM target after the reset: %+v, %v; want its token cleared", got, err)
	}
	log, err := a.Dir.ListAudit(context.Background(), directory.CLI, herald.AuditFilter{Action: herald.AuditSecretRotated})
	var targets []string
	for _, e := range log {
		targets = append(targets, e.Target)
	}
	if err != nil || !slices.Contains(targets, fmt.Sprintf("scim_target:%d", target.ID)) {
		t.Errorf("audit targets %v, %v; want the SCIM target's", targets, err)
	}
}
