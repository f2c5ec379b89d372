package app

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// With PostgreSQL every instance must share one secret key, so Herald
// refuses to start without it and says what to set.
func TestPostgresRequiresSecretKey(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Database = "postgres://postgres@127.0.0.1:5432/test"
	_, err := Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "HERALD_SECRET_KEY") {
		t.Fatalf("Open without a secret key = %v, want an error naming HERALD_SECRET_KEY", err)
	}
}

func TestParseRetrySchedule(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"0,5s,30s", 3, true},
		{"1m", 1, true},
		{" 0 , 2s ", 2, true},
		{"", 0, false},
		{"5s,,1m", 0, false},
		{"-1s", 0, false},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseRetrySchedule(tt.in)
		if (err == nil) != tt.ok || len(got) != tt.want {
			t.Errorf("ParseRetrySchedule(%q) = %v, %v", tt.in, got, err)
		}
	}
}
