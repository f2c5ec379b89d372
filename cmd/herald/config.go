package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/app"
)

// setting is one configuration value: a flag --NAME and a variable
// HERALD_NAME (CONTRACT 3). A flag on the command line wins over the
// variable, which wins over the default.
type setting struct {
	name  string
	usage string
	def   string
	apply func(cfg *app.Config, v string) error
}

var settings = []setting{
	{"addr", "address to listen on", "127.0.0.1:8080", func(c *app.Config, v string) error {
		c.Addr = v
		return nil
	}},
	{"database", "SQLite file path, or a postgres:// URL", "herald.db", func(c *app.Config, v string) error {
		if v == "" {
			return fmt.Errorf("database: must not be empty")
		}
		c.Database = v
		return nil
	}},
	{"admin_password", "password of the first admin (random and printed once when unset)", "", func(c *app.Config, v string) error {
		c.AdminPassword = v
		return nil
	}},
	{"secret_key", "key for secrets at rest (generated beside the SQLite file when unset; required with PostgreSQL)", "", func(c *app.Config, v string) error {
		c.SecretKey = v
		return nil
	}},
	{"retry_schedule", "comma-separated delays between webhook attempts", "0,5s,30s,2m,10m,30m,1h,3h,6h,12h,24h", func(c *app.Config, v string) error {
		s, err := app.ParseRetrySchedule(v)
		c.RetrySchedule = s
		return err
	}},
	{"request_timeout", "timeout of one webhook request", "15s", func(c *app.Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("request_timeout: %q is not a positive duration like 15s", v)
		}
		c.RequestTimeout = d
		return nil
	}},
	{"delivery_retention", "how long the delivery log keeps attempts and finished deliveries", "720h", func(c *app.Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("delivery_retention: %q is not a positive duration like 720h", v)
		}
		c.DeliveryRetention = d
		return nil
	}},
	{"webhook_deny_private", "refuse webhook requests to loopback and private addresses too", "false", func(c *app.Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("webhook_deny_private: %q is not true or false", v)
		}
		c.WebhookDenyPrivate = b
		return nil
	}},
}

func envName(name string) string { return "HERALD_" + strings.ToUpper(name) }

// parseConfig reads the settings from args and the environment.
func parseConfig(cmd string, args []string) (app.Config, error) {
	fs := flag.NewFlagSet("herald "+cmd, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: herald %s [flags]\n\nEvery flag can also be set with its environment variable.\n\n", cmd)
		for _, s := range settings {
			fmt.Fprintf(fs.Output(), "  --%-22s %s %s (default %q)\n", s.name, envName(s.name), s.usage, s.def)
		}
	}
	values := make(map[string]*string, len(settings))
	for _, s := range settings {
		values[s.name] = fs.String(s.name, "", s.usage)
	}
	if err := fs.Parse(args); err != nil {
		return app.Config{}, err
	}
	if fs.NArg() > 0 {
		return app.Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	cfg := app.DefaultConfig()
	for _, s := range settings {
		v := s.def
		if env, ok := os.LookupEnv(envName(s.name)); ok {
			v = env
		}
		if set[s.name] {
			v = *values[s.name]
		}
		if err := s.apply(&cfg, v); err != nil {
			return app.Config{}, err
		}
	}
	return cfg, nil
}
