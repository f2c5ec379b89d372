package store

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heraldhq/herald"
)

// TestNewEventID: ids are unique, start with evt_, and later ones sort
// later (so their index grows at its end).
func TestNewEventID(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	prev := ""
	seen := map[string]bool{}
	for i := range 1000 {
		id := newEventID(t0.Add(time.Duration(i) * time.Microsecond))
		if !strings.HasPrefix(id, "evt_") || len(id) != 31 || seen[id] || id <= prev {
			t.Fatalf("id %d = %q after %q", i, id, prev)
		}
		seen[id], prev = true, id
	}
}

// TestUnstorableTextIsInvalid: PostgreSQL's refusals of text it cannot hold
// are bad input (EINVALID), however wrapped; its other errors are not.
func TestUnstorableTextIsInvalid(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&pgconn.PgError{Code: "22021"}, herald.EINVALID}, // character_not_in_repertoire (NUL, not UTF-8)
		{&pgconn.PgError{Code: "22P05"}, herald.EINVALID}, // untranslatable_character
		{fmt.Errorf("select: %w", &pgconn.PgError{Code: "22021"}), herald.EINVALID},
		{&pgconn.PgError{Code: "23505"}, herald.EINTERNAL}, // unique_violation: mapped where it happens
		{&pgconn.PgError{Code: "42601"}, herald.EINTERNAL}, // syntax_error: a bug
		{errors.New("boom"), herald.EINTERNAL},
		{herald.Errorf(herald.ENOTFOUND, "no user"), herald.ENOTFOUND},
	}
	for _, tt := range tests {
		if got := herald.ErrorCode(unavailable(tt.err)); got != tt.want {
			t.Errorf("unavailable(%v) has code %q, want %q", tt.err, got, tt.want)
		}
	}
}
