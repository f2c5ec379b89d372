package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/web"
)

// setting is one configuration value: a flag --NAME (kebab-case), a
// variable HERALD_NAME, or a file named by HERALD_NAME_FILE
// (docs/configuration.md). A flag on the command line wins over the variable or file, which
// wins over the default. name is the snake_case form of the variable.
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
	{"database", "SQLite file path, or a postgres:// URL (one with a password: prefer the variable, a flag shows in ps)", "herald.db", func(c *app.Config, v string) error {
		if v == "" {
			return fmt.Errorf("database: must not be empty")
		}
		c.Database = v
		return nil
	}},
	{"admin_password", "password of the first admin (random and printed once when unset); prefer the variable, a flag shows in ps", "", func(c *app.Config, v string) error {
		c.AdminPassword = v
		return nil
	}},
	{"secret_key", "key for secrets at rest (generated beside the SQLite file when unset; required with PostgreSQL); prefer the variable, a flag shows in ps", "", func(c *app.Config, v string) error {
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
	{"log_level", "least severe log level shown: debug, info, warn or error", "info", func(c *app.Config, v string) error {
		l, ok := logLevels[v]
		if !ok {
			return fmt.Errorf("log_level: %q is not debug, info, warn or error", v)
		}
		c.LogLevel = l
		return nil
	}},
	{"log_format", "log format: text or json (empty: text when standard error is a terminal, else json)", "", func(c *app.Config, v string) error {
		if v != "" && v != "text" && v != "json" {
			return fmt.Errorf("log_format: %q is not text or json", v)
		}
		c.LogFormat = v
		return nil
	}},
	{"grpc_addr", "address of the provisioning service for Defguard's YubiKey provisioner (gRPC); empty: off", "", func(c *app.Config, v string) error {
		c.GRPCAddr = v
		return nil
	}},
	{"grpc_tls_cert", "PEM certificate file: the provisioning service speaks TLS (with --grpc-tls-key)", "", func(c *app.Config, v string) error {
		c.GRPCTLSCert = v
		return nil
	}},
	{"grpc_tls_key", "PEM private key file of --grpc-tls-cert", "", func(c *app.Config, v string) error {
		c.GRPCTLSKey = v
		return nil
	}},
	{"metrics_addr", "address of a listener serving only /metrics, for Prometheus, e.g. 127.0.0.1:9090; empty: /metrics is served on addr", "", func(c *app.Config, v string) error {
		c.MetricsAddr = v
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
	{"trusted_proxies", "comma-separated addresses (CIDRs) of the reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed: the proxies themselves (/32, /128), never client networks", "", func(c *app.Config, v string) error {
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

var logLevels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}

// openAppSettings are what a command that opens Herald without serving
// reads: the database and its key, the first admin's password (the first
// command on an empty database creates the admin), and the log.
var openAppSettings = []string{"database", "secret_key", "admin_password", "log_level", "log_format"}

// commandSettings names the settings each command reads; a command not
// listed (herald serve) reads them all. A command ignores the others, even
// when their variables are set or invalid, and --help lists only its own.
var commandSettings = map[string][]string{
	"migrate":      {"database", "log_level", "log_format"},
	"user add":     openAppSettings,
	"user passwd":  openAppSettings,
	"user list":    openAppSettings,
	"webhook list": openAppSettings,
	"webhook test": append(slices.Clone(openAppSettings), "request_timeout", "webhook_deny_private"),
	"token create": openAppSettings,
	"backup":       {"database"},
	"healthcheck":  {"addr"},

	"token station create": openAppSettings,
	"token station list":   openAppSettings,
	"token station revoke": openAppSettings,
	"scim list":            openAppSettings,
	"scim add":             openAppSettings,
	"scim remove":          openAppSettings,
	// A resync reads the target as a request does.
	"scim resync": append(slices.Clone(openAppSettings), "request_timeout", "webhook_deny_private"),
	// It opens the database alone (app.ResetSecrets): no admin is made.
	"webhook reset-secrets": {"database", "secret_key", "log_level", "log_format"},
}

// sendsRequests reports whether cmd sends webhook or SCIM requests
// itself, and so reads the proxy variables (HTTPS_PROXY, HTTP_PROXY,
// NO_PROXY) as herald serve does: the commands that read request_timeout
// (herald webhook test, herald scim resync), and serve, which reads every
// setting.
func sendsRequests(cmd string) bool {
	settings, listed := commandSettings[cmd]
	return !listed || slices.Contains(settings, "request_timeout")
}

// renamedFlags are the commands' own flags (besides the settings) whose
// snake_case spelling was replaced by kebab-case.
var renamedFlags = []string{"first-name", "last-name"}

// settingsOf returns the settings cmd reads, in the table's order.
func settingsOf(cmd string) []setting {
	names, listed := commandSettings[cmd]
	if !listed {
		return settings
	}
	var out []setting
	for _, s := range settings {
		if slices.Contains(names, s.name) {
			out = append(out, s)
		}
	}
	return out
}

func envName(name string) string  { return "HERALD_" + strings.ToUpper(name) }
func flagName(name string) string { return strings.ReplaceAll(name, "_", "-") }

// parser reads settings: main from the process's environment, with
// warnings on standard error; tests from their own.
type parser struct {
	getenv func(string) (string, bool)
	stderr io.Writer
}

var osParser = parser{getenv: os.LookupEnv, stderr: os.Stderr}

// parseConfig reads the settings from args and the environment, for a
// command that takes no arguments.
func parseConfig(cmd string, args []string) (app.Config, error) {
	return osParser.parseConfig(cmd, args)
}

// parseCommand reads the settings and a command's own flags (added by
// extra) and returns the remaining arguments.
func parseCommand(cmd, argsUsage string, args []string, extra func(*flag.FlagSet)) (app.Config, []string, error) {
	return osParser.parseCommand(cmd, argsUsage, args, extra)
}

func (p parser) parseConfig(cmd string, args []string) (app.Config, error) {
	cfg, rest, err := p.parseCommand(cmd, "", args, nil)
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("unexpected argument %q", rest[0])
	}
	return cfg, err
}

func (p parser) parseCommand(cmd, argsUsage string, args []string, extra func(*flag.FlagSet)) (app.Config, []string, error) {
	used := settingsOf(cmd)
	fs := flag.NewFlagSet("herald "+cmd, flag.ContinueOnError)
	fs.SetOutput(p.stderr)
	if extra != nil {
		extra(fs)
	}
	values := make(map[string]*string, len(used))
	for _, s := range used {
		values[s.name] = fs.String(flagName(s.name), "", s.usage)
	}
	// The snake_case spellings of before work for one more release; they
	// share the kebab-case flag's value and are left out of --help.
	oldSpelling := map[string]string{} // old -> new
	fs.VisitAll(func(f *flag.Flag) {
		if old := strings.ReplaceAll(f.Name, "-", "_"); old != f.Name && (values[old] != nil || slices.Contains(renamedFlags, f.Name)) {
			oldSpelling[old] = f.Name
		}
	})
	for old, name := range oldSpelling {
		fs.Var(fs.Lookup(name).Value, old, "deprecated spelling of --"+name)
	}
	fs.Usage = func() { p.usage(fs, cmd, argsUsage, used, oldSpelling) }
	if err := fs.Parse(args); err != nil {
		return app.Config{}, nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var deprecated []string
	for _, old := range slices.Sorted(maps.Keys(oldSpelling)) {
		if !set[old] {
			continue
		}
		name := oldSpelling[old]
		if set[name] {
			return app.Config{}, nil, fmt.Errorf("--%s and --%s are the same flag; give only --%s", old, name, name)
		}
		set[name] = true
		deprecated = append(deprecated, old)
	}
	cfg := app.DefaultConfig()
	for _, s := range used {
		v, from := s.def, "the default"
		if set[flagName(s.name)] {
			v, from = *values[s.name], "--"+flagName(s.name)
		} else {
			env, source, err := p.lookupEnv(s.name)
			if err != nil {
				return app.Config{}, nil, err
			}
			if source != "" {
				v, from = env, source
			}
		}
		if err := s.apply(&cfg, v); err != nil {
			return app.Config{}, nil, fmt.Errorf("%w (from %s)", err, from)
		}
	}
	cfg.SendsNothing = !sendsRequests(cmd)
	// Warned through the configured log, so a JSON log stays JSON.
	log := newLogger(cfg, p.stderr)
	for _, old := range deprecated {
		log.Warn("a flag's old spelling is deprecated and goes in the next release", "flag", "--"+old, "use", "--"+oldSpelling[old])
	}
	return cfg, fs.Args(), nil
}

// lookupEnv reads a setting from HERALD_NAME or from the file named by
// HERALD_NAME_FILE (without its trailing newline), and says which one it
// used; source is empty when neither is set. Setting both is an error,
// except that an empty HERALD_NAME beside HERALD_NAME_FILE counts as unset:
// a container's environment can empty a variable its image sets but not
// remove it.
func (p parser) lookupEnv(name string) (v, source string, err error) {
	env := envName(name)
	v, inEnv := p.getenv(env)
	path, inFile := p.getenv(env + "_FILE")
	if inEnv && inFile && v == "" {
		inEnv = false
	}
	switch {
	case inEnv && inFile:
		return "", "", fmt.Errorf("both %s and %s_FILE are set; set only one", env, env)
	case inEnv:
		return v, env, nil
	case !inFile:
		return "", "", nil
	case path == "":
		return "", "", fmt.Errorf("%s_FILE is set but empty; it must name a file", env)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", fmt.Errorf("%s_FILE: %w", env, err)
	}
	v = strings.TrimSuffix(string(b), "\n")
	return strings.TrimSuffix(v, "\r"), env + "_FILE", nil
}

// usage prints a command's --help: its own flags and the settings it reads.
func (p parser) usage(fs *flag.FlagSet, cmd, argsUsage string, used []setting, oldSpelling map[string]string) {
	w := fs.Output()
	fmt.Fprintln(w, strings.TrimSpace(fmt.Sprintf("Usage: herald %s [flags] %s", cmd, argsUsage)))
	isSetting := map[string]bool{}
	for _, s := range used {
		isSetting[flagName(s.name)] = true
	}
	own := false
	fs.VisitAll(func(f *flag.Flag) {
		if isSetting[f.Name] || oldSpelling[f.Name] != "" {
			return
		}
		if !own {
			fmt.Fprintf(w, "\nFlags of this command:\n")
			own = true
		}
		fmt.Fprintf(w, "  --%-22s %s\n", f.Name, f.Usage)
	})
	if len(used) == 0 {
		return
	}
	fmt.Fprintf(w, "\nSettings it reads (each a flag, a variable, or the variable + _FILE naming a file that holds the value):\n")
	for _, s := range used {
		def := ""
		if s.def != "" {
			def = fmt.Sprintf(" (default %s)", s.def)
		}
		fmt.Fprintf(w, "  --%-22s %s\n        %s%s\n", flagName(s.name), envName(s.name), s.usage, def)
	}
}
