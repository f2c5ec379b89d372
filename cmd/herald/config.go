package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/web"
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
	{"log_format", "log format: text or json", "text", func(c *app.Config, v string) error {
		if v != "text" && v != "json" {
			return fmt.Errorf("log_format: %q is not text or json", v)
		}
		c.LogFormat = v
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
	{"trusted_proxies", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed", "", func(c *app.Config, v string) error {
		p, err := web.ParseTrustedProxies(v)
		c.TrustedProxies = p
		return err
	}},
	{"public_url", "the URL users reach Herald at, e.g. https://herald.example.com (https: Secure cookies and HSTS)", "", func(c *app.Config, v string) error {
		u, err := app.ParsePublicURL(v)
		c.PublicURL = u
		return err
	}},
}

func envName(name string) string { return "HERALD_" + strings.ToUpper(name) }

// parseConfig reads the settings from args and the environment, for a
// command that takes no arguments.
func parseConfig(cmd string, args []string) (app.Config, error) {
	cfg, rest, err := parseCommand(cmd, "", args, nil)
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("unexpected argument %q", rest[0])
	}
	return cfg, err
}

// parseCommand reads the settings and a command's own flags (added by
// extra) and returns the remaining arguments.
func parseCommand(cmd, argsUsage string, args []string, extra func(*flag.FlagSet)) (app.Config, []string, error) {
	fs := flag.NewFlagSet("herald "+cmd, flag.ContinueOnError)
	if extra != nil {
		extra(fs)
	}
	values := make(map[string]*string, len(settings))
	for _, s := range settings {
		values[s.name] = fs.String(s.name, "", s.usage)
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: herald %s [flags] %s\n\nSettings (each also an environment variable):\n", cmd, argsUsage)
		for _, s := range settings {
			fmt.Fprintf(fs.Output(), "  --%-22s %s: %s (default %q)\n", s.name, envName(s.name), s.usage, s.def)
		}
		if extra != nil {
			fmt.Fprintf(fs.Output(), "\nFlags of this command:\n")
			fs.VisitAll(func(f *flag.Flag) {
				if _, isSetting := values[f.Name]; !isSetting {
					fmt.Fprintf(fs.Output(), "  --%-22s %s\n", f.Name, f.Usage)
				}
			})
		}
	}
	if err := fs.Parse(args); err != nil {
		return app.Config{}, nil, err
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
			return app.Config{}, nil, err
		}
	}
	return cfg, fs.Args(), nil
}
