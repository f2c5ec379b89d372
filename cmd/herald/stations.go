package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/directory"
)

// The station token commands: what an admin does on /stations or with
// /api/v1/worker/token, from the command line.

// onApp parses a command's settings and flags (extra), checks it got
// exactly the arguments argsUsage names, opens Herald and runs fn.
func onApp(ctx context.Context, cmd, argsUsage string, args []string, extra func(*flag.FlagSet), fn func(a *app.App, rest []string) error) error {
	cfg, rest, err := parseCommand(cmd, argsUsage, args, extra)
	if err != nil {
		return err
	}
	want := 0
	if argsUsage != "" {
		want = 1
	}
	if len(rest) != want {
		return fmt.Errorf("usage: herald %s [flags] %s", cmd, argsUsage)
	}
	a, err := openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(a, rest)
}

func stationTokenCreate(ctx context.Context, args []string) error {
	var expiresAt string
	flags := func(fs *flag.FlagSet) {
		fs.StringVar(&expiresAt, "expires-at", "", "when the token stops working, an RFC 3339 time like 2027-01-02T15:04:05Z (default: never, until revoked)")
	}
	return onApp(ctx, "token station create", "STATION", args, flags, func(a *app.App, rest []string) error {
		var expires *time.Time
		if expiresAt != "" {
			t, err := time.Parse(time.RFC3339, expiresAt)
			if err != nil {
				return fmt.Errorf("--expires-at: %q is not an RFC 3339 time like 2027-01-02T15:04:05Z", expiresAt)
			}
			expires = &t
		}
		t, err := a.Dir.CreateStationToken(ctx, directory.CLI, rest[0], expires)
		if err != nil {
			return err
		}
		// Only the token on standard output, so scripts can capture it.
		fmt.Fprintf(os.Stderr, "station token %d for %s (shown once; the station sends it as Authorization: Bearer <token>):\n", t.ID, t.Station)
		fmt.Println(t.Token)
		return nil
	})
}

func stationTokenList(ctx context.Context, args []string) error {
	return onApp(ctx, "token station list", "", args, nil, func(a *app.App, _ []string) error {
		tokens, err := a.Dir.ListStationTokens(ctx, directory.CLI)
		if err != nil {
			return err
		}
		stamp := func(t *time.Time) string {
			if t == nil {
				return "never"
			}
			return t.UTC().Format(time.RFC3339)
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tSTATION\tCREATED\tEXPIRES\tLAST USED")
		for _, t := range tokens {
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\n", t.ID, t.Station, t.CreatedAt.Format(time.RFC3339), stamp(t.ExpiresAt), stamp(t.LastUsedAt))
		}
		return w.Flush()
	})
}

func stationTokenRevoke(ctx context.Context, args []string) error {
	return onApp(ctx, "token station revoke", "ID", args, nil, func(a *app.App, rest []string) error {
		id, err := strconv.ParseInt(rest[0], 10, 64)
		if err != nil {
			return fmt.Errorf("station token id %q is not a number", rest[0])
		}
		if err := a.Dir.RevokeStationToken(ctx, directory.CLI, id); err != nil {
			return err
		}
		fmt.Printf("station token %d revoked\n", id)
		return nil
	})
}
