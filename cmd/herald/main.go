// Command herald runs the Herald user directory.
//
//	herald serve     run the server (SQLite herald.db, 127.0.0.1:8080 by default)
//	herald migrate   bring the database schema up to date and exit
//	herald version   print the version
//
// "herald help" lists the admin commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only on HERALD_PPROF_ADDR
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/store"
)

const usage = `Herald: a user directory that tells other systems about every change.

Usage:
  herald serve                      run the server (web UI, API, webhook delivery)
  herald migrate                    bring the database schema up to date and exit
  herald user add USERNAME          add a user (--email, --first-name, --last-name,
                                    --admin; password from --password-stdin)
  herald user passwd USERNAME       set a user's password (read from standard input)
  herald user list                  list users
  herald webhook list               list webhooks
  herald webhook test ID            send a webhook_test request now and show the outcome
  herald webhook reset-secrets      list webhook secrets the secret key cannot open; with --yes,
                                    new signing secrets and cleared tokens (the key is lost)
  herald token create USERNAME NAME create an API token (printed once)
  herald token station create NAME  create a provisioning station token (printed
                                    once; --expires-at RFC 3339 time)
  herald token station list         list station tokens (no secrets)
  herald token station revoke ID    revoke a station token at once
  herald scim list                  list SCIM targets (no tokens)
  herald scim add NAME              add a SCIM target (--base-url; --deprovision
                                    deactivate|delete, --sync-groups, --only-groups,
                                    --disabled; bearer token from --token-stdin)
  herald scim remove ID             remove a SCIM target
  herald scim resync ID             compare a SCIM target with the directory and
                                    queue what makes them equal
  herald backup FILE                write a consistent copy of the SQLite database to FILE
  herald healthcheck                exit 0 when the server on --addr is ready (for containers)
  herald version                    print the version
  herald help                       show this help

Every command works on the configured database. Settings are flags,
environment variables HERALD_<NAME>, or files named by HERALD_<NAME>_FILE,
e.g. --admin-password, HERALD_ADMIN_PASSWORD or HERALD_ADMIN_PASSWORD_FILE;
"herald COMMAND --help" lists those the command reads.
`

func main() {
	os.Exit(run(os.Args[1:]))
}

// commands are the commands main runs, by name ("user add"). Each but
// serve names the settings it reads in commandSettings (config.go).
var commands = map[string]func(context.Context, []string) error{
	"serve":                serve,
	"migrate":              migrate,
	"user add":             userAdd,
	"user passwd":          userPasswd,
	"user list":            userList,
	"webhook list":         webhookList,
	"webhook test":         webhookTest,
	"token create":         tokenCreate,
	"backup":               backup,
	"healthcheck":          healthcheck,
	"token station create": stationTokenCreate,
	"token station list":   stationTokenList,
	"token station revoke": stationTokenRevoke,
	"scim list":            scimList,
	"scim add":             scimAdd,
	"scim remove":          scimRemove,
	"scim resync":          scimResync,

	// When the secret key is lost for good (docs/backup.md).
	"webhook reset-secrets": webhookResetSecrets,
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cmd, rest := args[0], args[1:]
	if (cmd == "user" || cmd == "webhook" || cmd == "token" || cmd == "scim") && len(rest) > 0 {
		cmd, rest = cmd+" "+rest[0], rest[1:]
	}
	if cmd == "token station" && len(rest) > 0 {
		cmd, rest = cmd+" "+rest[0], rest[1:]
	}
	var err error
	switch f, ok := commands[cmd]; {
	case ok:
		err = f(ctx, rest)
	case cmd == "version" || cmd == "--version" || cmd == "-v":
		fmt.Println("herald", herald.Version)
	case cmd == "help" || cmd == "--help" || cmd == "-h":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "herald: unknown command %q\n\n%s", strings.Join(args[:min(2, len(args))], " "), usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "herald:", err)
		return 1
	}
	return 0
}

// newLogger writes structured logs to w from cfg.LogLevel up. With no
// format chosen it writes text when w is a terminal (a person reads it),
// else JSON (a collector does).
func newLogger(cfg app.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	format := cfg.LogFormat
	if format == "" {
		format = "json"
		if isTerminal(w) {
			format = "text"
		}
	}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// tuneGC trades memory for CPU unless the operator tuned the collector.
// Herald's live heap is small (the engine holds only what it has in
// flight), and every delivery allocates its request and response: running
// the collector at a quarter of the default frequency costs some tens of
// MiB and saves a noticeable share of the CPU under load. The soft limit
// makes it collect sooner before the heap nears it.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(192 << 20)
	}
}

func serve(ctx context.Context, args []string) error {
	cfg, err := parseConfig("serve", args)
	if err != nil {
		return err
	}
	log := newLogger(cfg, os.Stderr)
	tuneGC()
	a, err := app.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	if addr := os.Getenv("HERALD_PPROF_ADDR"); addr != "" {
		// Profiling on a separate, opt-in listener (e.g. 127.0.0.1:6060),
		// never on the public address.
		go func() { log.Warn("pprof listener stopped", "err", http.ListenAndServe(addr, nil)) }()
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (set --addr or HERALD_ADDR to use another address)", cfg.Addr, err)
	}
	log.Info("herald is serving", "version", herald.Version, "addr", "http://"+ln.Addr().String(), "database", databaseForLog(cfg.Database))
	grpcLn, err := a.ListenGRPC()
	if err != nil {
		ln.Close()
		return err
	}
	if grpcLn != nil {
		log.Info("serving the provisioning service (gRPC)", "grpc_addr", grpcLn.Addr().String(), "tls", cfg.GRPCTLSCert != "")
	}
	metricsLn, err := a.ListenMetrics()
	if err != nil {
		ln.Close()
		return err
	}
	if metricsLn != nil {
		log.Info("serving /metrics on its own address", "metrics_addr", "http://"+metricsLn.Addr().String()+"/metrics")
	}
	if err := a.Serve(ctx, ln); err != nil {
		return err
	}
	log.Info("herald stopped")
	return nil
}

func migrate(ctx context.Context, args []string) error {
	cfg, err := parseConfig("migrate", args)
	if err != nil {
		return err
	}
	log := newLogger(cfg, os.Stderr)
	db, err := store.Open(ctx, cfg.Database, log)
	if err != nil {
		return err
	}
	defer db.Close()
	var applied []int
	err = db.StartupLock(ctx, func() (err error) {
		applied, err = db.Migrate(ctx)
		return err
	})
	if err != nil {
		return err
	}
	v, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	log.Info("database is up to date", "applied", applied, "version", v)
	return nil
}

// databaseForLog names the database without a password a URL may carry,
// in its user info or in a query parameter.
func databaseForLog(dsn string) string { return store.Redact(dsn) }
