package directory

import (
	"net/netip"
	"strconv"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/storetest"
)

// TestSCIMTargetEnableAudited: disabling and enabling a SCIM target each
// write an audit entry naming the target, the admin who did it and their
// address; a non-admin's attempt changes nothing and writes none.
func TestSCIMTargetEnableAudited(t *testing.T) {
	t.Parallel()
	storetest.EachDSN(t, func(t *testing.T, dsn string) {
		f := newLoginFixture(t, dsn, Limits{}) // alice exists
		dir := f.dir
		target, err := dir.CreateSCIMTarget(bg, CLI, SCIMTargetInput{Name: "App", BaseURL: "https://app.example.com/scim/v2"})
		if err != nil {
			t.Fatal(err)
		}
		admin := Actor{UserID: 1, Username: "alice", IsAdmin: true, Client: netip.MustParseAddr("192.0.2.10")}
		bob := Actor{UserID: 5, Username: "bob", Client: netip.MustParseAddr("192.0.2.11")}

		steps := []struct {
			enabled bool
			action  string
		}{
			{false, herald.AuditSCIMTargetDisabled},
			{true, herald.AuditSCIMTargetEnabled},
		}
		for _, s := range steps {
			if _, err := dir.SetSCIMTargetEnabled(bg, bob, target.ID, s.enabled); herald.ErrorCode(err) != herald.EFORBIDDEN {
				t.Errorf("a non-admin's SetSCIMTargetEnabled(%v): %v, want forbidden", s.enabled, err)
			}
			got, err := dir.SetSCIMTargetEnabled(bg, admin, target.ID, s.enabled)
			if err != nil || got.Enabled != s.enabled {
				t.Fatalf("SetSCIMTargetEnabled(%v) = %+v, %v", s.enabled, got, err)
			}
			if read, err := dir.GetSCIMTarget(bg, CLI, target.ID); err != nil || read.Enabled != s.enabled {
				t.Errorf("after SetSCIMTargetEnabled(%v) the target reads enabled %v, %v", s.enabled, read.Enabled, err)
			}
		}

		entries, err := dir.ListAudit(bg, CLI, herald.AuditFilter{Target: scimTargetTarget(target.ID), Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		// The creation (by the command line), then one entry per step.
		if len(entries) != 1+len(steps) || entries[0].Action != herald.AuditSCIMTargetCreated {
			t.Fatalf("audit log for the target: %+v; want created, disabled, enabled", entries)
		}
		wantActor := herald.Actor{Type: herald.ActorUser, Username: "alice"}
		for i, s := range steps {
			e := entries[1+i]
			if e.Action != s.action || e.Target != "scim_target:"+strconv.FormatInt(target.ID, 10) || e.Actor != wantActor ||
				e.Client != "192.0.2.10" || e.Detail != "App" {
				t.Errorf("entry %d: %+v; want %s of scim_target:%d by alice from 192.0.2.10", 1+i, e, s.action, target.ID)
			}
		}
		// Each action is found by its own filter, as the audit page does.
		for _, s := range steps {
			only, err := dir.ListAudit(bg, CLI, herald.AuditFilter{Action: s.action, Actor: "user:alice", Limit: 100})
			if err != nil || len(only) != 1 || only[0].Target != scimTargetTarget(target.ID) {
				t.Errorf("ListAudit(action %s, actor user:alice) = %+v, %v; want the one entry", s.action, only, err)
			}
		}
	})
}
