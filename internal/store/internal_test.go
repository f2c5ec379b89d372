package store

import (
	"strings"
	"testing"
	"time"
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
