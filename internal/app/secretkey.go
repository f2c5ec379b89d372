package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/queue"
	"github.com/heraldhq/herald/internal/secretbox"
	"github.com/heraldhq/herald/internal/store"
)

// The secret key's lifecycle. Webhook tokens and signing secrets are sealed
// under the secret key (secretbox): HERALD_SECRET_KEY, or with SQLite the
// key file beside the database, generated on first start. The database
// records a check value (keyCheckText sealed under the key in use). At
// start Herald refuses a key that cannot open the check value or any
// stored secret: with a lost key file or a mistyped HERALD_SECRET_KEY it
// would otherwise run, fail to read every webhook and let deliveries fail.
// A new key file is made only for a database that holds no secrets yet.
// `herald webhook reset-secrets` is the knowing way out when the key is
// lost for good (ResetSecrets).

// keyCheckText is what the check value seals. It is no secret: AES-GCM
// opens it only under the key that sealed it, which is all it tells.
const keyCheckText = "herald secret key check v1"

// requireSecretKey refuses settings without a usable key before the
// database is touched: PostgreSQL needs HERALD_SECRET_KEY (a key file
// would be one per machine), and a set key must be long enough.
func requireSecretKey(cfg Config) error {
	if store.KindOf(cfg.Database) == store.PostgreSQL && cfg.SecretKey == "" {
		return errors.New("with PostgreSQL, set HERALD_SECRET_KEY or HERALD_SECRET_KEY_FILE to the same secret on every instance, " +
			"e.g. the output of: openssl rand -base64 32")
	}
	if cfg.SecretKey != "" {
		if _, err := secretbox.New(cfg.SecretKey); err != nil {
			return err
		}
	}
	return nil
}

// keyCheck is what Herald found out about its key and the database.
type keyCheck struct {
	explicit bool   // the key is HERALD_SECRET_KEY; else the key file
	file     string // the key file (<database>.key); empty with PostgreSQL
	missing  bool   // no HERALD_SECRET_KEY and no key file (box is nil)
	box      *secretbox.Box

	checkStored bool // the database holds a check value
	checkOpens  bool // ... and box opens it
	webhooks    int  // webhooks with sealed secrets
	unreadable  []int64
}

// checkSecretKey reads the key (without creating a key file) and tries it
// on the database's check value and on every webhook's sealed secrets.
func checkSecretKey(ctx context.Context, db *store.DB, cfg Config) (keyCheck, error) {
	kc := keyCheck{explicit: cfg.SecretKey != ""}
	if store.KindOf(cfg.Database) != store.PostgreSQL {
		kc.file = cfg.Database + ".key"
	}
	key := cfg.SecretKey
	if !kc.explicit {
		var exists bool
		var err error
		if key, exists, err = secretbox.ReadKeyFile(kc.file); err != nil {
			return kc, err
		}
		kc.missing = !exists
	}
	if !kc.missing {
		var err error
		if kc.box, err = secretbox.New(key); err != nil {
			return kc, err
		}
	}
	err := db.View(ctx, func(tx *store.Tx) error {
		check, ok, err := tx.SecretKeyCheck(ctx)
		if err != nil {
			return err
		}
		kc.checkStored = ok
		if ok && kc.box != nil {
			plain, err := kc.box.Open(check)
			kc.checkOpens = err == nil && plain == keyCheckText
		}
		hooks, err := tx.ListWebhooks(ctx)
		if err != nil {
			return err
		}
		for _, w := range hooks {
			sealed := []string{w.Token, w.SigningSecret, w.PreviousSecret}
			if strings.Join(sealed, "") == "" {
				continue
			}
			kc.webhooks++
			for _, s := range sealed {
				if kc.box == nil {
					kc.unreadable = append(kc.unreadable, w.ID)
					break
				}
				if _, err := kc.box.Open(s); err != nil {
					kc.unreadable = append(kc.unreadable, w.ID)
					break
				}
			}
		}
		return nil
	})
	return kc, err
}

// fresh reports whether the database holds nothing sealed under any key:
// then a new key loses nothing.
func (kc keyCheck) fresh() bool { return !kc.checkStored && kc.webhooks == 0 }

// ok reports whether the key opens everything the database holds sealed.
func (kc keyCheck) ok() bool {
	return !kc.missing && (!kc.checkStored || kc.checkOpens) && len(kc.unreadable) == 0
}

// keyName names the key for messages: the variable or the file.
func (kc keyCheck) keyName() string {
	if kc.explicit {
		return "HERALD_SECRET_KEY"
	}
	return "the secret key file " + kc.file
}

// refusal explains why Herald will not start with this key, and how to
// fix it. It never contains the key.
func (kc keyCheck) refusal() error {
	var what string
	switch {
	case kc.missing && kc.webhooks > 0:
		what = fmt.Sprintf("the secret key file %s is missing, but the database holds the secrets of %s sealed with the key it held",
			kc.file, plural(kc.webhooks, "webhook"))
	case kc.missing:
		what = fmt.Sprintf("the secret key file %s is missing, but the database was set up with a key", kc.file)
	case len(kc.unreadable) > 0 && len(kc.unreadable) < kc.webhooks:
		what = fmt.Sprintf("%s cannot open the secrets of webhooks %s (%d of %d; the others open): they were sealed with another key",
			kc.keyName(), idList(kc.unreadable), len(kc.unreadable), kc.webhooks)
	case len(kc.unreadable) > 0:
		what = fmt.Sprintf("%s cannot open the secrets of %s in the database: they were sealed with another key",
			kc.keyName(), plural(kc.webhooks, "webhook"))
	default:
		what = fmt.Sprintf("%s is not the key the database was set up with", kc.keyName())
	}
	var fix string
	switch {
	case kc.explicit:
		fix = "set HERALD_SECRET_KEY to the key they were sealed with (with PostgreSQL, the same on every instance)"
		if _, err := os.Stat(kc.file); kc.file != "" && err == nil {
			fix += fmt.Sprintf(", or unset it to use the key file %s", kc.file)
		}
	default:
		fix = fmt.Sprintf("restore %s from the backup taken with the database (or set HERALD_SECRET_KEY to the key it held)", kc.file)
	}
	return fmt.Errorf("%s; Herald does not start with another key than the one that sealed the database's secrets.\n"+
		"  To fix: %s, then start Herald again.\n"+
		"  If that key is lost for good: `herald webhook reset-secrets` lists what this key cannot read; "+
		"with --yes it gives those webhooks new signing secrets and clears their tokens, to be set again", what, fix)
}

// useSecretKey runs at start, under the startup lock and after the
// migrations: it returns the box for the key when the key opens
// everything the database holds sealed, and an error naming the key and
// the fix otherwise. On a fresh database it creates the missing key file;
// it records the key's check value when none is stored.
func useSecretKey(ctx context.Context, db *store.DB, cfg Config, log *slog.Logger) (*secretbox.Box, error) {
	kc, err := checkSecretKey(ctx, db, cfg)
	if err != nil {
		return nil, err
	}
	if kc.missing && kc.fresh() {
		key, err := secretbox.CreateKeyFile(kc.file)
		if err != nil {
			return nil, err
		}
		log.Info("generated the secret key for webhook secrets; back it up with the database", "file", kc.file)
		if kc.box, err = secretbox.New(key); err != nil {
			return nil, err
		}
		kc.missing = false
	}
	if !kc.ok() {
		return nil, kc.refusal()
	}
	if !kc.checkStored {
		if err := recordKeyCheck(ctx, db, kc.box); err != nil {
			return nil, err
		}
	}
	return kc.box, nil
}

// recordKeyCheck makes box's key the one the database expects.
func recordKeyCheck(ctx context.Context, db *store.DB, box *secretbox.Box) error {
	return db.Update(ctx, func(tx *store.Tx) error {
		return tx.SetSecretKeyCheck(ctx, box.Seal(keyCheckText))
	})
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// idList shows up to ten ids: "3, 7, 12" or "3, 7, ... (25 in all)".
func idList(ids []int64) string {
	var parts []string
	for i, id := range ids {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("... (%d in all)", len(ids)))
			break
		}
		parts = append(parts, fmt.Sprint(id))
	}
	return strings.Join(parts, ", ")
}

// SecretsReport is what ResetSecrets found, and did when told to.
type SecretsReport struct {
	Key      string // the key's name: HERALD_SECRET_KEY or the key file
	Webhooks int    // webhooks and SCIM targets in the database
	// Unreadable are the webhooks and SCIM targets whose token, signing secret or previous
	// signing secret the key cannot open, as found (their flags say which).
	Unreadable []herald.Webhook
	KeyMissing bool // the key file is missing
	// OtherKey: the database was set up with another key (its check
	// value does not open).
	OtherKey   bool
	KeyCreated bool // the key file was missing and a new one was made
	KeyAdopted bool // the database now expects this key (its check value)
}

// ResetSecrets is `herald webhook reset-secrets`: the knowing way out when
// the key that sealed the webhooks' secrets is lost for good. It reports
// the webhooks whose secrets the configured key cannot open (all of them
// when the key file is missing). With apply it also creates the missing
// key file, gives those webhooks new signing secrets and clears their
// unreadable tokens (directory.ResetUnreadableSecrets; readable secrets
// stay), and records the key's check value, so Herald starts with this
// key. On SQLite it refuses to apply while a Herald process serves the
// database.
func ResetSecrets(ctx context.Context, cfg Config, log *slog.Logger, apply bool) (SecretsReport, error) {
	if err := requireSecretKey(cfg); err != nil {
		return SecretsReport{}, err
	}
	db, err := store.Open(ctx, cfg.Database, log)
	if err != nil {
		return SecretsReport{}, fmt.Errorf("open the database: %w", err)
	}
	defer db.Close()
	if apply {
		q := queue.Open(db, log)
		defer q.Close()
		if err := q.Lock(); err != nil {
			return SecretsReport{}, fmt.Errorf("stop Herald first: %w", err)
		}
	}
	var kc keyCheck
	err = db.StartupLock(ctx, func() error {
		if _, err := db.Migrate(ctx); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		kc, err = checkSecretKey(ctx, db, cfg)
		return err
	})
	if err != nil {
		return SecretsReport{}, err
	}
	rep := SecretsReport{Key: kc.keyName(), KeyMissing: kc.missing, OtherKey: kc.checkStored && !kc.checkOpens}
	box := kc.box
	switch {
	case kc.missing && apply:
		key, err := secretbox.CreateKeyFile(kc.file)
		if err != nil {
			return rep, err
		}
		log.Warn("generated a new secret key for webhook secrets; back it up with the database", "file", kc.file)
		rep.KeyCreated = true
		if box, err = secretbox.New(key); err != nil {
			return rep, err
		}
	case kc.missing:
		// No key yet: one that opens nothing shows what a new key cannot
		// read, without writing a key file.
		if box, err = secretbox.New(rand.Text()); err != nil {
			return rep, err
		}
	}
	dir := directory.New(db, box, nil, log, directory.Limits{})
	// SCIM targets too: their tokens are sealed with the same key, and
	// ResetUnreadableSecrets resets them with the webhooks'.
	hooks, err := dir.ListSealed(ctx, directory.CLI)
	if err != nil {
		return rep, err
	}
	rep.Webhooks = len(hooks)
	if !apply {
		rep.Unreadable = unreadableWebhooks(kc, hooks)
		return rep, nil
	}
	if rep.Unreadable, err = dir.ResetUnreadableSecrets(ctx, directory.CLI); err != nil {
		return rep, err
	}
	if !kc.checkOpens {
		if err := recordKeyCheck(ctx, db, box); err != nil {
			return rep, err
		}
		rep.KeyAdopted = true
	}
	return rep, nil
}

// unreadableWebhooks are the hooks keyCheck found unreadable (which counts
// a previous signing secret too), with their flags.
func unreadableWebhooks(kc keyCheck, hooks []herald.Webhook) []herald.Webhook {
	var out []herald.Webhook
	for _, w := range hooks {
		if kc.missing || slices.Contains(kc.unreadable, w.ID) {
			out = append(out, w)
		}
	}
	return out
}
