// Command herald runs the Herald user directory.
//
//	herald serve     run the server (SQLite herald.db, 127.0.0.1:8080 by default)
//	herald migrate   bring the database schema up to date and exit
//	herald version   print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only on HERALD_PPROF_ADDR
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/store"
)

const usage = `Herald: a user directory that tells other systems about every change.

Usage:
  herald serve [flags]     run the server (web UI and API)
  herald migrate [flags]   bring the database schema up to date and exit
  herald version           print the version
  herald help              show this help

Run "herald serve --help" for the settings; each is also an environment
variable HERALD_<NAME>, e.g. HERALD_ADMIN_PASSWORD.
`

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, log, args[1:])
	case "migrate":
		err = migrate(ctx, log, args[1:])
	case "version", "--version", "-v":
		fmt.Println("herald", herald.Version)
	case "help", "--help", "-h":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "herald: unknown command %q\n\n%s", args[0], usage)
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

func serve(ctx context.Context, log *slog.Logger, args []string) error {
	cfg, err := parseConfig("serve", args)
	if err != nil {
		return err
	}
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
	if err := a.Serve(ctx, ln); err != nil {
		return err
	}
	log.Info("herald stopped")
	return nil
}

func migrate(ctx context.Context, log *slog.Logger, args []string) error {
	cfg, err := parseConfig("migrate", args)
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, cfg.Database)
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

// databaseForLog names the database without a password a URL may carry.
func databaseForLog(dsn string) string {
	if !store.IsPostgres(dsn) {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://(unparseable URL)"
	}
	return u.Redacted()
}
