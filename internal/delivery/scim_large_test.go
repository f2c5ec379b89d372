package delivery

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/scim"
)

// An answer larger than the engine reads (a page of groups with tens of
// thousands of members) is not taken for a cut-off list: the resync
// reports that the answer was too large, and groups are asked for a few
// at a time, so one large group leaves the others readable.
func TestSCIMResyncLargeAnswer(t *testing.T) {
	s := newSCIMEnv(t)
	s.hook.SyncGroups = true
	members := make([]any, 0, 50000)
	for i := range cap(members) {
		members = append(members, map[string]any{"value": fmt.Sprintf("member-%090d", i)})
	}
	s.p.AddGroup(map[string]any{"displayName": "everyone", "members": members})
	rep, changes, err := s.e.ResyncSCIM(context.Background(), s.hook, scim.Local{})
	if err != nil || changes != nil {
		t.Fatalf("resync: %v, %v", changes, err)
	}
	if !strings.Contains(rep.Error, "larger than") {
		t.Errorf("report error %q: want it to say the answer was too large", rep.Error)
	}
	if calls := s.p.Calls(); !slices.Contains(calls, "GET /Groups?startIndex=1&count=10") {
		t.Errorf("calls %q: want groups asked for 10 at a time", calls)
	}
}
