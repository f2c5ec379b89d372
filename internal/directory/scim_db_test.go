package directory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/scim"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/storetest"
)

// targetStub stands in for a remote SCIM service provider: it reports a
// fixed comparison and remembers what the directory asked it.
type targetStub struct {
	hook    herald.Webhook
	local   scim.Local
	changes []scim.Change
	err     error
}

func (r *targetStub) ResyncSCIM(_ context.Context, hook herald.Webhook, local scim.Local) (herald.SCIMResync, []scim.Change, error) {
	r.hook, r.local = hook, local
	if r.err != nil {
		return herald.SCIMResync{}, nil, r.err
	}
	return herald.SCIMResync{Users: herald.SCIMResyncCounts{Created: 1, Deprovisioned: 1}}, r.changes, nil
}

// TestSCIMTargetLifecycle: a SCIM target is created, read without its
// token, kept apart from webhooks, updated keeping its token, resynced
// (its changes queued for it alone, the report stored) and deleted, each
// step audited.
func TestSCIMTargetLifecycle(t *testing.T) {
	t.Parallel()
	storetest.EachDSN(t, func(t *testing.T, dsn string) {
		f := newLoginFixture(t, dsn, Limits{}) // alice exists
		dir := f.dir
		if _, err := dir.CreateGroup(bg, CLI, herald.Group{Name: "staff"}); err != nil {
			t.Fatal(err)
		}
		token := "s3cret-bearer"
		in := SCIMTargetInput{Name: "App", BaseURL: "https://app.example.com/scim/v2", Token: &token, OnlyGroups: []string{"staff"}, SyncGroups: true}

		if _, err := dir.CreateSCIMTarget(bg, Actor{UserID: 5, Username: "bob"}, in); herald.ErrorCode(err) != herald.EFORBIDDEN {
			t.Errorf("a non-admin's create: %v, want forbidden", err)
		}
		bad := in
		bad.OnlyGroups = []string{"nobody"}
		if _, err := dir.CreateSCIMTarget(bg, CLI, bad); herald.ErrorCode(err) != herald.EINVALID || !strings.HasPrefix(err.Error(), "only_groups:") {
			t.Errorf("only_groups naming no group: %v, want only_groups invalid", err)
		}
		created, err := dir.CreateSCIMTarget(bg, CLI, in)
		if err != nil {
			t.Fatal(err)
		}
		if created.Token != "" || !created.TokenSet || created.Deprovision != "deactivate" || !created.Enabled {
			t.Errorf("created %+v: want no token shown, token_set, deactivate, enabled", created)
		}
		body, _ := json.Marshal(created)
		if strings.Contains(string(body), token) {
			t.Errorf("the target's JSON shows its token: %s", body)
		}

		// Apart from webhooks.
		if hooks, err := dir.ListWebhooks(bg, CLI); err != nil || len(hooks) != 0 {
			t.Errorf("ListWebhooks = %d, %v; want none (a SCIM target is no webhook)", len(hooks), err)
		}
		if _, err := dir.GetWebhook(bg, CLI, created.ID); herald.ErrorCode(err) != herald.ENOTFOUND {
			t.Errorf("GetWebhook(the target) = %v, want not found", err)
		}
		if err := dir.DeleteWebhook(bg, CLI, created.ID); herald.ErrorCode(err) != herald.ENOTFOUND {
			t.Errorf("DeleteWebhook(the target) = %v, want not found", err)
		}
		targets, err := dir.ListSCIMTargets(bg, CLI)
		if err != nil || len(targets) != 1 || targets[0].Name != "App" || targets[0].LastResync != nil {
			t.Fatalf("ListSCIMTargets = %+v, %v", targets, err)
		}

		// The row the engine reads: every user event and the group events,
		// the token sealed.
		var w herald.Webhook
		storetest.View(t, f.db, func(tx *store.Tx) (err error) { w, err = tx.WebhookByID(bg, created.ID); return err })
		if !w.OnUserCreated || !w.OnUserModified || !w.OnUserDeleted || w.OnHWKeyProvision || len(w.Events) != 3 ||
			w.Kind != herald.WebhookKindSCIM || w.Token == token || w.SigningSecret == "" {
			t.Errorf("stored row %+v", w)
		}

		// An update without a token keeps it; "" removes it.
		in.Token, in.Deprovision, in.SyncGroups = nil, "delete", false
		got, err := dir.UpdateSCIMTarget(bg, CLI, created.ID, in)
		if err != nil || !got.TokenSet || got.Deprovision != "delete" || got.SyncGroups {
			t.Errorf("update without a token: %+v, %v; want the token kept", got, err)
		}
		storetest.View(t, f.db, func(tx *store.Tx) (err error) { w, err = tx.WebhookByID(bg, created.ID); return err })
		if len(w.Events) != 0 {
			t.Errorf("without sync_groups the row lists events %v", w.Events)
		}

		// Resync: refused without a resyncer, then queued for the target.
		if _, err := dir.ResyncSCIMTarget(bg, CLI, created.ID); herald.ErrorCode(err) != herald.EUNAVAILABLE {
			t.Errorf("resync without a resyncer: %v, want unavailable", err)
		}
		stub := &targetStub{changes: []scim.Change{
			{Type: scim.ChangeSync, Subject: "user:alice", Data: []byte(`{"username":"alice"}`)},
			{Type: scim.ChangeRemove, Subject: "user:gone", Data: []byte(`{"username":"gone"}`)},
		}}
		dir.SetSCIMResyncer(stub)
		report, err := dir.ResyncSCIMTarget(bg, CLI, created.ID)
		if err != nil || report.Users.Created != 1 || report.At.IsZero() {
			t.Fatalf("resync = %+v, %v", report, err)
		}
		if len(stub.local.Users) != 1 || stub.local.Users[0].Name != "alice" || !strings.Contains(string(stub.local.Users[0].Data), `"username":"alice"`) ||
			len(stub.local.Groups) != 1 || stub.local.Groups[0].Name != "staff" {
			t.Errorf("the resyncer was given %+v", stub.local)
		}
		ds, err := dir.ListSCIMDeliveries(bg, CLI, created.ID, "", 0, 100)
		if err != nil || len(ds) != 2 || ds[0].Event != scim.ChangeRemove || ds[1].Event != scim.ChangeSync || ds[0].Subject != "user:gone" {
			t.Errorf("the target's deliveries after the resync: %+v, %v", ds, err)
		}
		if len(ds) > 0 {
			detail, err := dir.GetSCIMDelivery(bg, CLI, created.ID, ds[0].ID)
			if err != nil || detail.Request.Method != "SCIM" || detail.Request.URL != in.BaseURL || strings.Contains(fmt.Sprint(detail.Request.Headers), token) {
				t.Errorf("the resync's delivery: %+v, %v", detail.Request, err)
			}
			if _, err := dir.GetDelivery(bg, CLI, created.ID, ds[0].ID); herald.ErrorCode(err) != herald.ENOTFOUND {
				t.Errorf("the target's delivery through the webhook log: %v, want not found", err)
			}
		}
		if evs, err := dir.ListEvents(bg, CLI, 0, 100); err == nil {
			for _, ev := range evs {
				if herald.Targeted(ev.Type) {
					t.Errorf("the event feed shows %s", ev.Type)
				}
			}
		}
		got, err = dir.GetSCIMTarget(bg, CLI, created.ID)
		if err != nil || got.LastResync == nil || got.LastResync.Users.Deprovisioned != 1 {
			t.Errorf("last resync = %+v, %v", got.LastResync, err)
		}

		// A target that cannot be read: nothing queued, the report says why.
		stub.err = errors.New("401 Unauthorized")
		report, err = dir.ResyncSCIMTarget(bg, CLI, created.ID)
		if err != nil || !strings.Contains(report.Error, "401") {
			t.Errorf("failed resync = %+v, %v; want a report with the error", report, err)
		}
		if ds, _ := dir.ListSCIMDeliveries(bg, CLI, created.ID, "", 0, 100); len(ds) != 2 {
			t.Errorf("a failed resync queued %d deliveries", len(ds)-2)
		}

		// A disabled target is not resynced.
		if _, err := dir.SetSCIMTargetEnabled(bg, CLI, created.ID, false); err != nil {
			t.Fatal(err)
		}
		if _, err := dir.ResyncSCIMTarget(bg, CLI, created.ID); herald.ErrorCode(err) != herald.EINVALID || !strings.Contains(err.Error(), "disabled") {
			t.Errorf("resync of a disabled target: %v, want invalid naming it disabled", err)
		}

		if err := dir.DeleteSCIMTarget(bg, CLI, created.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := dir.GetSCIMTarget(bg, CLI, created.ID); herald.ErrorCode(err) != herald.ENOTFOUND {
			t.Errorf("after delete: %v, want not found", err)
		}
		entries, err := dir.ListAudit(bg, CLI, herald.AuditFilter{Target: scimTargetTarget(created.ID), Limit: 100})
		var actions []string
		for _, e := range entries {
			actions = append(actions, e.Action)
		}
		want := "scim_target_created scim_target_updated scim_target_resynced scim_target_resynced scim_target_disabled scim_target_deleted"
		if err != nil || strings.Join(actions, " ") != want {
			t.Errorf("audit log: %v, %v; want %s", actions, err, want)
		}
	})
}
