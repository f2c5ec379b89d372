package directory

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestWebhookInputFormatAndFilters(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      WebhookInput
		field   string // "" for valid
		format  string
		ignore  []string
		only    []string
		message string // part of the message, for an error
	}{
		{name: "defaults", format: "defguard", ignore: []string{}, only: []string{}},
		{name: "envelope", in: WebhookInput{Format: "envelope"}, format: "envelope", ignore: []string{}, only: []string{}},
		{name: "defguard by name", in: WebhookInput{Format: "defguard"}, format: "defguard", ignore: []string{}, only: []string{}},
		{name: "unknown format", in: WebhookInput{Format: "Envelope"}, field: "format", message: "defguard or envelope"},
		{name: "every actor kind, sorted and deduplicated",
			in:     WebhookInput{IgnoreActors: []string{"user:jdoe", "api_token:7", "station:desk-1", "user:jdoe"}},
			format: "defguard", ignore: []string{"api_token:7", "station:desk-1", "user:jdoe"}, only: []string{}},
		{name: "no kind", in: WebhookInput{IgnoreActors: []string{"jdoe"}}, field: "ignore_actors", message: "api_token:<id>, user:<username> or station:<name>"},
		{name: "unknown kind", in: WebhookInput{IgnoreActors: []string{"group:devs"}}, field: "ignore_actors", message: `"group:devs"`},
		{name: "token id not a number", in: WebhookInput{IgnoreActors: []string{"api_token:abc"}}, field: "ignore_actors", message: "positive number"},
		{name: "token id zero", in: WebhookInput{IgnoreActors: []string{"api_token:0"}}, field: "ignore_actors", message: "positive number"},
		{name: "token id with a sign", in: WebhookInput{IgnoreActors: []string{"api_token:+7"}}, field: "ignore_actors", message: "positive number"},
		{name: "bad username", in: WebhookInput{IgnoreActors: []string{"user:J Doe"}}, field: "ignore_actors", message: `"user:J Doe"`},
		{name: "empty station", in: WebhookInput{IgnoreActors: []string{"station:"}}, field: "ignore_actors", message: "required"},
		{name: "a comma cannot sneak in", in: WebhookInput{IgnoreActors: []string{"user:a,user:b"}}, field: "ignore_actors"},
		{name: "groups sorted", in: WebhookInput{OnlyGroups: []string{"ops", "devs", "ops"}}, format: "defguard", ignore: []string{}, only: []string{"devs", "ops"}},
		{name: "bad group", in: WebhookInput{OnlyGroups: []string{"Dev Ops"}}, field: "only_groups", message: `"Dev Ops"`},
		{name: "empty group", in: WebhookInput{OnlyGroups: []string{""}}, field: "only_groups"},
		{name: "too many groups", in: WebhookInput{OnlyGroups: manyNames(maxFilterEntries + 1)}, field: "only_groups", message: "at most"},
		{name: "too many actors", in: WebhookInput{IgnoreActors: prefixed("user:", manyNames(maxFilterEntries+1))}, field: "ignore_actors", message: "at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.URL, in.Description = "https://hooks.example.com/x", "test"
			in.OnUserCreated = true // a webhook needs a trigger
			err := in.validate()
			checkValidation(t, err, tc.field != "", tc.field)
			if tc.field != "" {
				if !strings.Contains(err.Error(), tc.message) {
					t.Errorf("message %q does not say %q", err, tc.message)
				}
				return
			}
			if in.Format != tc.format || !slices.Equal(in.IgnoreActors, tc.ignore) || !slices.Equal(in.OnlyGroups, tc.only) {
				t.Errorf("normalised to format %q, ignore %v, only %v", in.Format, in.IgnoreActors, in.OnlyGroups)
			}
		})
	}
}

func manyNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "g" + itoa(int64(i))
	}
	return out
}

func prefixed(p string, names []string) []string {
	for i := range names {
		names[i] = p + names[i]
	}
	return names
}

func TestThrottledAuditsOncePerMinute(t *testing.T) {
	var ta throttledAudits
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		addr string
		at   time.Duration
		want bool
	}{
		{"a:1.2.3.4", 0, true},
		{"a:1.2.3.4", 10 * time.Second, false},
		{"a:5.6.7.8", 10 * time.Second, true},
		{"a:1.2.3.4", 59 * time.Second, false},
		{"a:1.2.3.4", 61 * time.Second, true},
		{"a:1.2.3.4", 62 * time.Second, false},
	} {
		if got := ta.due(tc.addr, t0.Add(tc.at)); got != tc.want {
			t.Errorf("due(%s, +%v) = %v, want %v", tc.addr, tc.at, got, tc.want)
		}
	}
}
