package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/store"
)

// The admin commands work on the configured database directly, acting
// with an admin's rights, as whoever can read the database file (or the
// PostgreSQL URL) can anyway. Changes go through the directory like API
// calls, so they record their events and reach webhooks the same way.

// openApp opens Herald without serving; logs go to standard error. The
// commands print their result on standard output, so their log shows only
// warnings and errors, unless log_level is debug.
func openApp(ctx context.Context, cfg app.Config) (*app.App, error) {
	cfg.Command = true
	return app.Open(ctx, cfg, commandLogger(cfg))
}

// commandLogger is an admin command's logger: warnings and errors only,
// unless log_level is debug.
func commandLogger(cfg app.Config) *slog.Logger {
	if cfg.LogLevel > slog.LevelDebug {
		cfg.LogLevel = max(cfg.LogLevel, slog.LevelWarn)
	}
	return newLogger(cfg, os.Stderr)
}

// readSecret reads one line (a password) from standard input.
func readSecret(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", errors.New("reading the password from standard input: nothing given")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func userAdd(ctx context.Context, args []string) error {
	var email, first, last string
	var isAdmin, pwStdin bool
	cfg, rest, err := parseCommand("user add", "USERNAME", args, func(fs *flag.FlagSet) {
		fs.StringVar(&email, "email", "", "email address (required)")
		fs.StringVar(&first, "first-name", "", "first name")
		fs.StringVar(&last, "last-name", "", "last name")
		fs.BoolVar(&isAdmin, "admin", false, "put the user in the admin group")
		fs.BoolVar(&pwStdin, "password-stdin", false, "read a password from standard input (else the user cannot log in yet)")
	})
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return errors.New("usage: herald user add [flags] USERNAME")
	}
	var pw string
	if pwStdin {
		if pw, err = readSecret(os.Stdin); err != nil {
			return err
		}
	}
	a, err := openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	u, err := a.Dir.CreateUser(ctx, directory.CLI, directory.NewUser{Username: rest[0], FirstName: first, LastName: last, Email: email, Password: pw})
	if err != nil {
		return err
	}
	if isAdmin {
		if _, err := a.Dir.AddMember(ctx, directory.CLI, "admin", u.Username); err != nil {
			return fmt.Errorf("user %s created, but not made an admin: %w", u.Username, err)
		}
	}
	fmt.Printf("created user %s\n", u.Username)
	return nil
}

func userPasswd(ctx context.Context, args []string) error {
	cfg, rest, err := parseCommand("user passwd", "USERNAME  (the new password is read from standard input)", args, nil)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return errors.New("usage: herald user passwd USERNAME < password-file")
	}
	if term, _ := os.Stdin.Stat(); term != nil && term.Mode()&os.ModeCharDevice != 0 {
		fmt.Fprint(os.Stderr, "New password (shown as you type; at least 8 characters): ")
	}
	pw, err := readSecret(os.Stdin)
	if err != nil {
		return err
	}
	a, err := openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.Dir.SetPassword(ctx, directory.CLI, rest[0], "", pw, netip.Addr{}); err != nil {
		return err
	}
	fmt.Printf("password of %s changed\n", rest[0])
	return nil
}

func userList(ctx context.Context, args []string) error {
	cfg, err := parseConfig("user list", args)
	if err != nil {
		return err
	}
	a, err := openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	users, err := a.Dir.ListUsers(ctx, directory.CLI)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "USERNAME\tNAME\tEMAIL\tGROUPS\tADMIN")
	for _, u := range users {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%v\n", u.Username, strings.TrimSpace(u.FirstName+" "+u.LastName), u.Email, strings.Join(u.Groups, ","), u.IsAdmin)
	}
	return w.Flush()
}

func webhookList(ctx context.Context, args []string) error {
	cfg, err := parseConfig("webhook list", args)
	if err != nil {
		return err
	}
	a, err := openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	hooks, err := a.Dir.ListWebhooks(ctx, directory.CLI)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tENABLED\tMETHOD\tURL\tDESCRIPTION")
	for _, h := range hooks {
		fmt.Fprintf(w, "%d\t%v\t%s\t%s\t%s\n", h.ID, h.Enabled, h.Method, h.URL, h.Description)
	}
	return w.Flush()
}

func webhookTest(ctx context.Context, args []string) error {
	cfg, rest, err := parseCommand("webhook test", "ID", args, nil)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return errors.New("usage: herald webhook test ID")
	}
	id, err := strconv.ParseInt(rest[0], 10, 64)
	if err != nil {
		return fmt.Errorf("webhook id %q is not a number", rest[0])
	}
	a, err := openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	at, err := a.Dir.TestWebhook(ctx, directory.CLI, id)
	if err != nil {
		return err
	}
	if herald.Succeeded(at.StatusCode) {
		fmt.Printf("ok: the receiver answered %d in %d ms\n", at.StatusCode, at.DurationMS)
		return nil
	}
	if at.StatusCode != 0 {
		return fmt.Errorf("the receiver answered %d in %d ms: %s", at.StatusCode, at.DurationMS, at.ResponseBody)
	}
	return fmt.Errorf("the request failed: %s", at.Error)
}

// webhookResetSecrets is the knowing way out when the secret key that
// sealed the webhooks' secrets is lost for good: without --yes it lists
// what the configured key cannot open; with --yes it gives those webhooks
// new signing secrets, clears their tokens, and makes the database expect
// this key (app.ResetSecrets).
func webhookResetSecrets(ctx context.Context, args []string) error {
	var yes bool
	cfg, rest, err := parseCommand("webhook reset-secrets", "", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&yes, "yes", false, "reset them (without it, only list what the key cannot open)")
	})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return errors.New("usage: herald webhook reset-secrets [--yes]")
	}
	rep, err := app.ResetSecrets(ctx, cfg, commandLogger(cfg), yes)
	if err != nil {
		return err
	}
	if !yes {
		printUnreadable(rep)
		return nil
	}
	for _, h := range rep.Unreadable {
		fmt.Printf("%s %d (%s): %s\n", kindName(h), h.ID, h.Description, resetWhat(h))
	}
	if rep.KeyCreated {
		fmt.Printf("Created a new key: %s. Back it up with the database.\n", rep.Key)
	}
	if len(rep.Unreadable) == 0 && !rep.KeyAdopted {
		fmt.Printf("Nothing to reset: %s opens the secrets of every webhook (%d).\n", rep.Key, rep.Webhooks)
		return nil
	}
	fmt.Println("Herald now starts with this key.")
	if len(rep.Unreadable) > 0 {
		fmt.Println("Next: set each token again (PUT /api/v1/webhook/ID, or the webhook's Edit page), and give each receiver\n" +
			"its new signing secret (GET /api/v1/webhook/ID, or the webhook's page). Deliveries go out signed with it.\n" +
			"Set each SCIM target's token again (PUT /api/v1/scim_target/ID, or the target's Edit page).")
	}
	return nil
}

// printUnreadable is reset-secrets without --yes: what the key cannot open.
func printUnreadable(rep app.SecretsReport) {
	switch {
	case len(rep.Unreadable) == 0 && !rep.OtherKey && !rep.KeyMissing:
		fmt.Printf("Nothing to reset: %s opens the secrets of every webhook (%d).\n", rep.Key, rep.Webhooks)
		return
	case len(rep.Unreadable) == 0 && rep.KeyMissing:
		fmt.Printf("%s is missing, and no webhook has secrets to reset.\n"+
			"Run again with --yes to create a new key and make the database expect it.\n", rep.Key)
		return
	case len(rep.Unreadable) == 0:
		fmt.Printf("No webhook has secrets to reset, but the database was set up with another key than %s.\n"+
			"Run again with --yes to make the database expect this key.\n", rep.Key)
		return
	case rep.KeyMissing:
		fmt.Printf("%s is missing: a new key cannot open the secrets of these webhooks (%d of %d):\n", rep.Key, len(rep.Unreadable), rep.Webhooks)
	default:
		fmt.Printf("%s cannot open the secrets of these webhooks (%d of %d):\n", rep.Key, len(rep.Unreadable), rep.Webhooks)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tKIND\tDESCRIPTION\tWITH --yes")
	for _, h := range rep.Unreadable {
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", h.ID, kindName(h), h.Description, resetWhat(h))
	}
	w.Flush()
	fmt.Println("If the key that sealed them can still be found (a backup of the key file, another instance's\n" +
		"HERALD_SECRET_KEY), put it back instead: nothing is lost then. Otherwise run again with --yes,\n" +
		"then set each token again and give each receiver its new signing secret. This cannot be undone.")
}

// kindName is what people call h: a webhook or a SCIM target.
func kindName(h herald.Webhook) string {
	if h.Kind == herald.WebhookKindSCIM {
		return "SCIM target"
	}
	return "webhook"
}

// resetWhat says what reset-secrets does to a webhook it cannot read.
func resetWhat(h herald.Webhook) string {
	var parts []string
	if h.SigningSecretUnreadable {
		parts = append(parts, "new signing secret")
	}
	if h.TokenUnreadable {
		parts = append(parts, "token cleared")
	}
	if len(parts) == 0 {
		return "previous signing secret (still signing after a rotation) dropped"
	}
	return strings.Join(parts, ", ")
}

func tokenCreate(ctx context.Context, args []string) error {
	cfg, rest, err := parseCommand("token create", "USERNAME NAME", args, nil)
	if err != nil {
		return err
	}
	if len(rest) != 2 {
		return errors.New("usage: herald token create USERNAME NAME")
	}
	a, err := openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	t, err := a.Dir.CreateAPIToken(ctx, directory.CLI, rest[0], rest[1])
	if err != nil {
		return err
	}
	// Only the token on standard output, so scripts can capture it.
	fmt.Fprintf(os.Stderr, "API token %q for %s (shown once; send it as Authorization: Bearer <token>):\n", t.Name, rest[0])
	fmt.Println(t.Token)
	return nil
}

func backup(ctx context.Context, args []string) error {
	cfg, rest, err := parseCommand("backup", "FILE", args, nil)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return errors.New("usage: herald backup FILE")
	}
	if store.KindOf(cfg.Database) == store.PostgreSQL {
		return errors.New("herald backup copies a SQLite database; for PostgreSQL use pg_dump")
	}
	db, err := store.Open(ctx, cfg.Database, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Backup(ctx, rest[0]); err != nil {
		return err
	}
	fmt.Printf("backed up %s to %s; keep %s.key with it\n", cfg.Database, rest[0], cfg.Database)
	return nil
}
