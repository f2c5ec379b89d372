package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

// docs/configuration.md lists every setting with its variable and default.
func TestConfigurationReferenceMatchesCode(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "| `--") {
			cells := strings.Split(line, "|")
			rows[strings.Trim(strings.TrimSpace(cells[1]), "`-")] = line
		}
	}
	for _, s := range settings {
		row, ok := rows[s.name]
		if !ok {
			t.Errorf("docs/configuration.md has no row for --%s", s.name)
			continue
		}
		if !strings.Contains(row, "`"+envName(s.name)+"`") {
			t.Errorf("row of --%s lacks %s", s.name, envName(s.name))
		}
		if !strings.Contains(row, "`"+s.def+"`") {
			t.Errorf("row of --%s does not give the default %q", s.name, s.def)
		}
		delete(rows, s.name)
	}
	for name := range rows {
		t.Errorf("docs/configuration.md lists --%s, which the code does not have", name)
	}
}

// Settings come from flags, then variables, then defaults; bad values are
// refused with the setting's name.
func TestParseConfig(t *testing.T) {
	t.Setenv("HERALD_ADDR", "127.0.0.1:9999")
	t.Setenv("HERALD_REQUEST_TIMEOUT", "3s")
	cfg, err := parseConfig("serve", []string{"--request_timeout", "7s"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:9999" || cfg.RequestTimeout != 7*time.Second || cfg.Database != "herald.db" || len(cfg.RetrySchedule) != 11 {
		t.Fatalf("cfg = %+v", cfg)
	}
	for _, tc := range []struct {
		args []string
		name string
	}{
		{[]string{"--request_timeout", "soon"}, "request_timeout"},
		{[]string{"--retry_schedule", "1s,x"}, "retry_schedule"},
		{[]string{"--webhook_deny_private", "maybe"}, "webhook_deny_private"},
		{[]string{"--log_format", "xml"}, "log_format"},
		{[]string{"--delivery_retention", "-1h"}, "delivery_retention"},
		{[]string{"--database", ""}, "database"},
		{[]string{"--trusted_proxies", "10.0.0.0/8,proxy.example"}, "trusted_proxies"},
		{[]string{"--public_url", "herald.example.com"}, "public_url"},
		{[]string{"extra"}, "unexpected argument"},
	} {
		if _, err := parseConfig("serve", tc.args); err == nil || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%v: err %v, want one naming %s", tc.args, err, tc.name)
		}
	}
}
