package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
)

// docs/configuration.md lists every setting with its flag, variable and
// default.
func TestConfigurationReferenceMatchesCode(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "| `--") {
			cells := strings.Split(line, "|")
			rows[strings.TrimPrefix(strings.Trim(strings.TrimSpace(cells[1]), "`"), "--")] = line
		}
	}
	for _, s := range settings {
		row, ok := rows[flagName(s.name)]
		if !ok {
			t.Errorf("docs/configuration.md has no row for --%s", flagName(s.name))
			continue
		}
		if !strings.Contains(row, "`"+envName(s.name)+"`") {
			t.Errorf("row of --%s lacks %s", flagName(s.name), envName(s.name))
		}
		if !strings.Contains(row, "`"+s.def+"`") {
			t.Errorf("row of --%s does not give the default %q", flagName(s.name), s.def)
		}
		delete(rows, flagName(s.name))
	}
	for name := range rows {
		t.Errorf("docs/configuration.md lists --%s, which the code does not have", name)
	}
}

// Settings come from a flag, else the variable or the file its _FILE
// variable names, else the default. Bad values, unreadable files and
// conflicting sources are refused with a message naming them; the old
// snake_case flags still work, with a warning.
func TestParseSettings(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	pwFile := file("admin_password", "pass word 1\n")
	crlfFile := file("crlf", "pass word 2\r\n")
	twoLines := file("two_newlines", "pass word 3\n\n")
	noNewline := file("no_newline", "7s")
	badTimeout := file("bad_timeout", "soon\n")
	missing := filepath.Join(dir, "missing")
	unreadable := dir // a directory cannot be read as a file

	defaults := app.DefaultConfig()
	for _, tc := range []struct {
		name    string
		cmd     string // default serve
		args    []string
		env     map[string]string
		extra   func(*flag.FlagSet)
		check   func(t *testing.T, cfg app.Config, rest []string)
		wantErr []string // substrings of the error
		warns   []string // substrings of the warning output
	}{
		{
			name: "no settings: the defaults",
			check: func(t *testing.T, cfg app.Config, _ []string) {
				if cfg.Addr != defaults.Addr || cfg.Database != "herald.db" || len(cfg.RetrySchedule) != 11 ||
					cfg.RequestTimeout != 15*time.Second || cfg.LogLevel != slog.LevelInfo || cfg.LogFormat != "" || cfg.WebhookDenyPrivate {
					t.Errorf("cfg = %+v", cfg)
				}
			},
		},
		{
			name: "a variable, and a flag over a variable",
			args: []string{"--request-timeout", "7s"},
			env:  map[string]string{"HERALD_ADDR": "127.0.0.1:9999", "HERALD_REQUEST_TIMEOUT": "3s"},
			check: func(t *testing.T, cfg app.Config, _ []string) {
				if cfg.Addr != "127.0.0.1:9999" || cfg.RequestTimeout != 7*time.Second {
					t.Errorf("addr %q, request timeout %v", cfg.Addr, cfg.RequestTimeout)
				}
			},
		},
		{
			name: "_FILE: the file's content without its trailing newline",
			env:  map[string]string{"HERALD_ADMIN_PASSWORD_FILE": pwFile},
			check: func(t *testing.T, cfg app.Config, _ []string) {
				if cfg.AdminPassword != "pass word 1" {
					t.Errorf("admin password %q", cfg.AdminPassword)
				}
			},
		},
		{
			name: "_FILE: a CRLF line ending is trimmed too",
			env:  map[string]string{"HERALD_SECRET_KEY_FILE": crlfFile},
			check: func(t *testing.T, cfg app.Config, _ []string) {
				if cfg.SecretKey != "pass word 2" {
					t.Errorf("secret key %q", cfg.SecretKey)
				}
			},
		},
		{
			name: "_FILE: only one newline is trimmed",
			env:  map[string]string{"HERALD_ADMIN_PASSWORD_FILE": twoLines},
			check: func(t *testing.T, cfg app.Config, _ []string) {
				if cfg.AdminPassword != "pass word 3\n" {
					t.Errorf("admin password %q", cfg.AdminPassword)
				}
			},
		},
		{
			name: "_FILE: any setting, with or without a newline",
			env:  map[string]string{"HERALD_REQUEST_TIMEOUT_FILE": noNewline},
			check: func(t *testing.T, cfg app.Config, _ []string) {
				if cfg.RequestTimeout != 7*time.Second {
					t.Errorf("request timeout %v", cfg.RequestTimeout)
				}
			},
		},
		{
			name: "a flag wins over _FILE, which is then not read",
			args: []string{"--admin-password", "from-the-flag"},
			env:  map[string]string{"HERALD_ADMIN_PASSWORD_FILE": missing},
			check: func(t *testing.T, cfg app.Config, _ []string) {
				if cfg.AdminPassword != "from-the-flag" {
					t.Errorf("admin password %q", cfg.AdminPassword)
				}
			},
		},
		{
			name:    "both the variable and _FILE",
			env:     map[string]string{"HERALD_ADMIN_PASSWORD": "x", "HERALD_ADMIN_PASSWORD_FILE": pwFile},
			wantErr: []string{"HERALD_ADMIN_PASSWORD and HERALD_ADMIN_PASSWORD_FILE", "only one"},
		},
		{
			name: "an empty variable beside _FILE counts as unset",
			env:  map[string]string{"HERALD_ADMIN_PASSWORD": "", "HERALD_ADMIN_PASSWORD_FILE": pwFile},
			check: func(t *testing.T, cfg app.Config, _ []string) {
				if cfg.AdminPassword != "pass word 1" {
					t.Errorf("admin password %q", cfg.AdminPassword)
				}
			},
		},
		{
			name:    "_FILE names a missing file",
			env:     map[string]string{"HERALD_SECRET_KEY_FILE": missing},
			wantErr: []string{"HERALD_SECRET_KEY_FILE", missing, "no such file"},
		},
		{
			name:    "_FILE names something that cannot be read",
			env:     map[string]string{"HERALD_DATABASE_FILE": unreadable},
			wantErr: []string{"HERALD_DATABASE_FILE", unreadable},
		},
		{
			name:    "_FILE set but empty",
			env:     map[string]string{"HERALD_ADMIN_PASSWORD_FILE": ""},
			wantErr: []string{"HERALD_ADMIN_PASSWORD_FILE", "empty"},
		},
		{
			name:    "a bad value from a file names the setting and the file",
			env:     map[string]string{"HERALD_REQUEST_TIMEOUT_FILE": badTimeout},
			wantErr: []string{"request_timeout", `"soon"`, "HERALD_REQUEST_TIMEOUT_FILE"},
		},
		{
			name:    "a bad value from a variable names the variable",
			env:     map[string]string{"HERALD_WEBHOOK_DENY_PRIVATE": "maybe"},
			wantErr: []string{"webhook_deny_private", "HERALD_WEBHOOK_DENY_PRIVATE"},
		},
		{name: "bad request timeout", args: []string{"--request-timeout", "soon"}, wantErr: []string{"request_timeout", "--request-timeout"}},
		{name: "bad retry schedule", args: []string{"--retry-schedule", "1s,x"}, wantErr: []string{"retry_schedule"}},
		{name: "bad delivery retention", args: []string{"--delivery-retention", "-1h"}, wantErr: []string{"delivery_retention"}},
		{name: "empty database", args: []string{"--database", ""}, wantErr: []string{"database"}},
		{name: "a trusted proxy that is not a CIDR", args: []string{"--trusted-proxies", "10.0.0.0/8,proxy.example"}, wantErr: []string{"trusted_proxies"}},
		{name: "a public URL without a scheme", args: []string{"--public-url", "herald.example.com"}, wantErr: []string{"public_url"}},
		{name: "an argument serve does not take", args: []string{"extra"}, wantErr: []string{"unexpected argument"}},
		{
			name: "log level and format",
			args: []string{"--log-level", "debug", "--log-format", "json"},
			check: func(t *testing.T, cfg app.Config, _ []string) {
				if cfg.LogLevel != slog.LevelDebug || cfg.LogFormat != "json" {
					t.Errorf("level %v, format %q", cfg.LogLevel, cfg.LogFormat)
				}
			},
		},
		{
			name: "log level warn, format text from the variables",
			env:  map[string]string{"HERALD_LOG_LEVEL": "warn", "HERALD_LOG_FORMAT": "text"},
			check: func(t *testing.T, cfg app.Config, _ []string) {
				if cfg.LogLevel != slog.LevelWarn || cfg.LogFormat != "text" {
					t.Errorf("level %v, format %q", cfg.LogLevel, cfg.LogFormat)
				}
			},
		},
		{
			name: "log level error",
			args: []string{"--log-level", "error"},
			check: func(t *testing.T, cfg app.Config, _ []string) {
				if cfg.LogLevel != slog.LevelError {
					t.Errorf("level %v", cfg.LogLevel)
				}
			},
		},
		{name: "unknown log level", args: []string{"--log-level", "verbose"}, wantErr: []string{"log_level", `"verbose"`}},
		{name: "log level in capitals", env: map[string]string{"HERALD_LOG_LEVEL": "INFO"}, wantErr: []string{"log_level", "HERALD_LOG_LEVEL"}},
		{name: "unknown log format", args: []string{"--log-format", "xml"}, wantErr: []string{"log_format", `"xml"`}},
		{
			name:  "old snake_case spelling of a setting: works, with a warning",
			args:  []string{"--admin_password", "old-spelling", "--request_timeout", "9s"},
			warns: []string{"--admin_password", "--admin-password", "--request_timeout", "--request-timeout", "next release"},
			check: func(t *testing.T, cfg app.Config, _ []string) {
				if cfg.AdminPassword != "old-spelling" || cfg.RequestTimeout != 9*time.Second {
					t.Errorf("admin password %q, request timeout %v", cfg.AdminPassword, cfg.RequestTimeout)
				}
			},
		},
		{
			name:    "both spellings of one flag",
			args:    []string{"--admin_password", "a", "--admin-password", "b"},
			wantErr: []string{"--admin_password and --admin-password", "only --admin-password"},
		},
		{
			name: "old spelling of a command's own flag",
			cmd:  "user add",
			args: []string{"--first_name", "Jane", "jdoe"},
			extra: func(fs *flag.FlagSet) {
				fs.String("first-name", "", "first name")
				fs.Bool("password-stdin", false, "")
			},
			warns: []string{"--first_name", "--first-name"},
			check: func(t *testing.T, cfg app.Config, rest []string) {
				if !slices.Equal(rest, []string{"jdoe"}) {
					t.Errorf("arguments %q", rest)
				}
			},
		},
		{
			name:    "a flag that never had a snake_case spelling has none now",
			cmd:     "user add",
			args:    []string{"--password_stdin", "jdoe"},
			extra:   func(fs *flag.FlagSet) { fs.Bool("password-stdin", false, "") },
			wantErr: []string{"not defined", "password_stdin"},
		},
		{
			name: "an admin command ignores the server's settings, even invalid",
			cmd:  "user list",
			env: map[string]string{"HERALD_RETRY_SCHEDULE": "x", "HERALD_ADDR_FILE": missing,
				"HERALD_DATABASE": "other.db"},
			check: func(t *testing.T, cfg app.Config, _ []string) {
				if cfg.Database != "other.db" || cfg.Addr != defaults.Addr {
					t.Errorf("database %q, addr %q", cfg.Database, cfg.Addr)
				}
			},
		},
		{name: "an admin command refuses a server's flag", cmd: "user list", args: []string{"--addr", "127.0.0.1:1"}, wantErr: []string{"not defined", "addr"}},
		{
			name: "healthcheck reads the address only",
			cmd:  "healthcheck",
			env:  map[string]string{"HERALD_ADDR": "0.0.0.0:8080", "HERALD_DATABASE_FILE": missing},
			check: func(t *testing.T, cfg app.Config, _ []string) {
				if cfg.Addr != "0.0.0.0:8080" {
					t.Errorf("addr %q", cfg.Addr)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := tc.cmd
			if cmd == "" {
				cmd = "serve"
			}
			var stderr bytes.Buffer
			p := parser{getenv: func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }, stderr: &stderr}
			cfg, rest, err := p.parseCommand(cmd, "", tc.args, tc.extra)
			if err == nil && tc.extra == nil && len(rest) > 0 {
				err = errors.New("unexpected argument " + rest[0])
			}
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("no error, want one naming %q", tc.wantErr)
				}
				for _, want := range tc.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not name %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.warns {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("warnings %q lack %q", stderr.String(), want)
				}
			}
			if tc.warns == nil && stderr.Len() > 0 {
				t.Errorf("unexpected output: %q", stderr.String())
			}
			tc.check(t, cfg, rest)
		})
	}
}

// --help of each command in main's table lists the settings it reads and
// no others, with the new spellings only. A command added to the table
// fails here until its settings are stated.
func TestHelpListsTheCommandsSettings(t *testing.T) {
	openApp := []string{"database", "admin-password", "secret-key", "log-level", "log-format"}
	want := map[string][]string{
		"serve":                 {"addr", "database", "admin-password", "secret-key", "retry-schedule", "request-timeout", "delivery-retention", "log-level", "log-format", "grpc-addr", "grpc-tls-cert", "grpc-tls-key", "metrics-addr", "webhook-deny-private", "trusted-proxies", "public-url"},
		"migrate":               {"database", "log-level", "log-format"},
		"user add":              openApp,
		"user passwd":           openApp,
		"user list":             openApp,
		"webhook list":          openApp,
		"webhook test":          append(slices.Clone(openApp), "request-timeout", "webhook-deny-private"),
		"webhook reset-secrets": {"database", "secret-key", "log-level", "log-format"},
		"token create":          openApp,
		"token station create":  openApp,
		"token station list":    openApp,
		"token station revoke":  openApp,
		"scim list":             openApp,
		"scim add":              openApp,
		"scim remove":           openApp,
		"scim resync":           append(slices.Clone(openApp), "request-timeout", "webhook-deny-private"),
		"backup":                {"database"},
		"healthcheck":           {"addr"},
	}
	for _, cmd := range slices.Sorted(maps.Keys(commands)) {
		if _, listed := commandSettings[cmd]; !listed && cmd != "serve" {
			t.Errorf("herald %s is not in commandSettings: it would read (and check) every setting", cmd)
		}
	}
	for _, cmd := range slices.Sorted(maps.Keys(want)) {
		if commands[cmd] == nil {
			t.Errorf("herald %s is not a command", cmd)
		}
	}
	for _, cmd := range slices.Sorted(maps.Keys(commands)) {
		tc := struct {
			cmd  string
			want []string
		}{cmd, want[cmd]}
		if tc.want == nil {
			t.Errorf("herald %s: this test does not say which settings it reads", cmd)
			continue
		}
		t.Run(tc.cmd, func(t *testing.T) {
			var out bytes.Buffer
			p := parser{getenv: func(string) (string, bool) { return "", false }, stderr: &out}
			_, _, err := p.parseCommand(tc.cmd, "", []string{"--help"}, nil)
			if !errors.Is(err, flag.ErrHelp) {
				t.Fatalf("--help: %v", err)
			}
			help := out.String()
			for _, s := range settings {
				listed := strings.Contains(help, "--"+flagName(s.name)+" ") && strings.Contains(help, envName(s.name))
				if want := slices.Contains(tc.want, flagName(s.name)); listed != want {
					t.Errorf("--%s listed: %v, want %v\n%s", flagName(s.name), listed, want, help)
				}
				if strings.Contains(s.name, "_") && strings.Contains(help, "--"+s.name) {
					t.Errorf("help shows the old spelling --%s", s.name)
				}
			}
		})
	}
}

// The log shows what log_level lets through, as log_format says; with no
// format it is JSON when standard error is not a terminal.
func TestNewLogger(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      app.Config
		wantJSON bool
		shown    []string // of debug, info, warn, error
	}{
		{"defaults: info, and JSON off a terminal", app.Config{}, true, []string{"info", "warn", "error"}},
		{"text, debug", app.Config{LogFormat: "text", LogLevel: slog.LevelDebug}, false, []string{"debug", "info", "warn", "error"}},
		{"json, warn", app.Config{LogFormat: "json", LogLevel: slog.LevelWarn}, true, []string{"warn", "error"}},
		{"text, error", app.Config{LogFormat: "text", LogLevel: slog.LevelError}, false, []string{"error"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := newLogger(tc.cfg, &buf)
			log.Debug("debug")
			log.Info("info")
			log.Warn("warn")
			log.Error("error")
			var shown []string
			for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				var rec struct{ Msg string }
				isJSON := json.Unmarshal([]byte(line), &rec) == nil
				if isJSON != tc.wantJSON {
					t.Errorf("line %q: JSON %v, want %v", line, isJSON, tc.wantJSON)
				}
				if isJSON {
					shown = append(shown, rec.Msg)
				} else if _, msg, ok := strings.Cut(line, "msg="); ok {
					shown = append(shown, msg)
				}
			}
			if !slices.Equal(shown, tc.shown) {
				t.Errorf("shown %q, want %q", shown, tc.shown)
			}
		})
	}
}

// The commands that send requests themselves read the proxy variables
// (app.Config.SendsNothing false), as serve does; the others do not, so a
// proxy setting only a sender can use never stops them.
func TestProxyVariablesReadBySenders(t *testing.T) {
	senders := map[string]bool{"serve": true, "webhook test": true, "scim resync": true}
	for _, cmd := range slices.Sorted(maps.Keys(commands)) {
		p := parser{getenv: func(string) (string, bool) { return "", false }, stderr: io.Discard}
		cfg, err := p.parseConfig(cmd, nil)
		if err != nil {
			t.Fatalf("herald %s: %v", cmd, err)
		}
		if got := !cfg.SendsNothing; got != senders[cmd] {
			t.Errorf("herald %s reads the proxy variables: %v, want %v", cmd, got, senders[cmd])
		}
	}
}
