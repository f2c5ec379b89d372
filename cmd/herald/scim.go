package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/directory"
)

// The SCIM target commands: what an admin does on /scim or with
// /api/v1/scim_target, from the command line. The bearer token is read
// from standard input, never from a flag, so it stays out of process
// listings and shell history.

func scimList(ctx context.Context, args []string) error {
	return onApp(ctx, "scim list", "", args, nil, func(a *app.App, _ []string) error {
		targets, err := a.Dir.ListSCIMTargets(ctx, directory.CLI)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tNAME\tBASE URL\tENABLED\tTOKEN\tDEPROVISION\tGROUPS\tONLY GROUPS\tLAST RESYNC")
		for _, t := range targets {
			fmt.Fprintf(w, "%d\t%s\t%s\t%v\t%s\t%s\t%v\t%s\t%s\n", t.ID, t.Name, t.BaseURL, t.Enabled, tokenState(t), t.Deprovision,
				t.SyncGroups, orDash(strings.Join(t.OnlyGroups, ",")), resyncSummary(t.LastResync))
		}
		return w.Flush()
	})
}

// tokenState says whether a target has a token, never what it is.
func tokenState(t herald.SCIMTarget) string {
	switch {
	case t.TokenUnreadable:
		return "unreadable"
	case t.TokenSet:
		return "set"
	}
	return "none"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// resyncSummary is a resync report on one line.
func resyncSummary(r *herald.SCIMResync) string {
	switch {
	case r == nil:
		return "never"
	case r.Error != "":
		return r.At.UTC().Format("2006-01-02T15:04:05Z") + " failed: " + r.Error
	}
	return fmt.Sprintf("%s users %d created %d updated %d deprovisioned %d unchanged; groups %d created %d updated %d deprovisioned",
		r.At.UTC().Format("2006-01-02T15:04:05Z"), r.Users.Created, r.Users.Updated, r.Users.Deprovisioned, r.Users.Unchanged,
		r.Groups.Created, r.Groups.Updated, r.Groups.Deprovisioned)
}

func scimAdd(ctx context.Context, args []string) error {
	var in directory.SCIMTargetInput
	var tokenStdin, disabled bool
	var only string
	flags := func(fs *flag.FlagSet) {
		fs.StringVar(&in.BaseURL, "base-url", "", "the SCIM 2.0 base URL, e.g. https://app.example.com/scim/v2 (required)")
		fs.BoolVar(&tokenStdin, "token-stdin", false, "read the bearer token from standard input (else none is sent)")
		fs.StringVar(&in.Deprovision, "deprovision", "deactivate", "what a user who leaves becomes at the target: deactivate (active: false) or delete")
		fs.BoolVar(&in.SyncGroups, "sync-groups", false, "provision groups too, with their members")
		fs.StringVar(&only, "only-groups", "", "comma-separated groups: only their members are provisioned (default: every user)")
		fs.BoolVar(&disabled, "disabled", false, "add it disabled")
	}
	return onApp(ctx, "scim add", "NAME", args, flags, func(a *app.App, rest []string) error {
		in.Name = rest[0]
		in.OnlyGroups = listArg(only)
		enabled := !disabled
		in.Enabled = &enabled
		if tokenStdin {
			token, err := readSecret(os.Stdin)
			if err != nil {
				return err
			}
			in.Token = &token
		}
		t, err := a.Dir.CreateSCIMTarget(ctx, directory.CLI, in)
		if err != nil {
			return err
		}
		fmt.Printf("SCIM target %d added: %s (%s); run herald scim resync %d to provision the users who exist already\n", t.ID, t.Name, t.BaseURL, t.ID)
		return nil
	})
}

// listArg splits a comma-separated flag value.
func listArg(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func scimTargetID(arg string) (int64, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id < 1 {
		return 0, fmt.Errorf("SCIM target id %q is not a number", arg)
	}
	return id, nil
}

func scimRemove(ctx context.Context, args []string) error {
	return onApp(ctx, "scim remove", "ID", args, nil, func(a *app.App, rest []string) error {
		id, err := scimTargetID(rest[0])
		if err != nil {
			return err
		}
		if err := a.Dir.DeleteSCIMTarget(ctx, directory.CLI, id); err != nil {
			return err
		}
		fmt.Printf("SCIM target %d removed\n", id)
		return nil
	})
}

// scimResync compares the target with the directory now and queues what
// makes them equal; a running server's engine sends it (this process only
// queues).
func scimResync(ctx context.Context, args []string) error {
	return onApp(ctx, "scim resync", "ID", args, nil, func(a *app.App, rest []string) error {
		id, err := scimTargetID(rest[0])
		if err != nil {
			return err
		}
		r, err := a.Dir.ResyncSCIMTarget(ctx, directory.CLI, id)
		if err != nil {
			return err
		}
		fmt.Printf("SCIM target %d resynced: %s\n", id, resyncSummary(&r))
		if r.Error != "" {
			return fmt.Errorf("resync failed: %s", r.Error)
		}
		return nil
	})
}
