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
		// Moving to another host without the token again is refused: the
		// kept token would go to a server it was not issued for.
		moved := in
		moved.BaseURL = "https://elsewhere.example.net/scim/v2"
		if _, err := dir.UpdateSCIMTarget(bg, CLI, created.ID, moved); herald.ErrorCode(err) != herald.EINVALID || !strings.HasPrefix(err.Error(), "token:") {
			t.Errorf("a new host without a token: %v, want token invalid", err)
		}
		if got, _ := dir.GetSCIMTarget(bg, CLI, created.ID); got.BaseURL != in.BaseURL {
			t.Errorf("the refused update changed base_url to %q", got.BaseURL)
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

// changingStub is a resync during which the directory changes (the target
// is read over the network, which takes its time): it returns the
// changes a comparison with the snapshot it was given makes.
type changingStub struct {
	change  func()
	changes func(local scim.Local) []scim.Change
}

func (r *changingStub) ResyncSCIM(_ context.Context, _ herald.Webhook, local scim.Local) (herald.SCIMResync, []scim.Change, error) {
	r.change()
	return herald.SCIMResync{}, r.changes(local), nil
}

// TestSCIMResyncDuringChanges: a user changed or deleted while a resync
// reads the target has its own event queued already; the resync's change,
// queued after it, must not put back the state the resync started from.
func TestSCIMResyncDuringChanges(t *testing.T) {
	t.Parallel()
	storetest.EachDSN(t, func(t *testing.T, dsn string) {
		f := newLoginFixture(t, dsn, Limits{}) // alice exists
		dir := f.dir
		if _, err := dir.CreateUser(bg, CLI, NewUser{Username: "dave", FirstName: "Dave", LastName: "D",
			Email: "dave@example.com", Password: alicePassword}); err != nil {
			t.Fatal(err)
		}
		// Someone stays admin when dave goes.
		if _, err := dir.CreateGroup(bg, CLI, herald.Group{Name: "admins", IsAdmin: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := dir.UpdateUser(bg, CLI, "alice", UserChange{Groups: &[]string{"admins"}}); err != nil {
			t.Fatal(err)
		}
		target, err := dir.CreateSCIMTarget(bg, CLI, SCIMTargetInput{Name: "App", BaseURL: "https://app.example.com/scim/v2"})
		if err != nil {
			t.Fatal(err)
		}
		newEmail := "alice@new.example.com"
		dir.SetSCIMResyncer(&changingStub{
			change: func() {
				if _, err := dir.UpdateUser(bg, CLI, "alice", UserChange{Email: &newEmail}); err != nil {
					t.Error(err)
				}
				if err := dir.DeleteUser(bg, CLI, "dave"); err != nil {
					t.Error(err)
				}
			},
			changes: func(local scim.Local) []scim.Change {
				// Both differ at the target: synced as they were read.
				var out []scim.Change
				for _, u := range local.Users {
					out = append(out, scim.Change{Type: scim.ChangeSync, Subject: "user:" + u.Name, Data: u.Data})
				}
				return out
			},
		})
		if _, err := dir.ResyncSCIMTarget(bg, CLI, target.ID); err != nil {
			t.Fatal(err)
		}
		// The last delivery for each user is what the target ends with.
		ds, err := dir.ListSCIMDeliveries(bg, CLI, target.ID, "", 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		last := map[string]DeliveryDetail{}
		for i := len(ds) - 1; i >= 0; i-- { // oldest first
			d, err := dir.GetSCIMDelivery(bg, CLI, target.ID, ds[i].ID)
			if err != nil {
				t.Fatal(err)
			}
			last[ds[i].Subject] = d
		}
		if a := last["user:alice"]; !strings.Contains(string(a.Request.Body), newEmail) {
			t.Errorf("alice's last change (%s) sends %s: not her new email", a.Event, a.Request.Body)
		}
		if d := last["user:dave"]; d.Event == scim.ChangeSync {
			t.Errorf("dave, deleted during the resync, is synced back by his last change: %s", d.Request.Body)
		}
	})
}

// TestSCIMRedeliverStale: a SCIM change is the state of its user then:
// redelivering one after a later change of the same user would put the
// older state back at the target, so it is refused (a resync makes the
// target agree instead); the latest one may be redelivered.
func TestSCIMRedeliverStale(t *testing.T) {
	t.Parallel()
	storetest.EachDSN(t, func(t *testing.T, dsn string) {
		f := newLoginFixture(t, dsn, Limits{}) // alice exists
		dir := f.dir
		target, err := dir.CreateSCIMTarget(bg, CLI, SCIMTargetInput{Name: "App", BaseURL: "https://app.example.com/scim/v2"})
		if err != nil {
			t.Fatal(err)
		}
		for _, email := range []string{"alice@old.example.com", "alice@new.example.com"} {
			if _, err := dir.UpdateUser(bg, CLI, "alice", UserChange{Email: &email}); err != nil {
				t.Fatal(err)
			}
		}
		ds, err := dir.ListSCIMDeliveries(bg, CLI, target.ID, "", 0, 100)
		if err != nil || len(ds) != 2 {
			t.Fatalf("deliveries %+v, %v; want alice's two changes", ds, err)
		}
		newest, older := ds[0], ds[1]
		err = dir.RedeliverSCIM(bg, CLI, target.ID, older.ID)
		if herald.ErrorCode(err) != herald.ECONFLICT || !strings.Contains(err.Error(), "resync") {
			t.Errorf("redeliver the older change: %v, want a conflict pointing to a resync", err)
		}
		if err := dir.RedeliverSCIM(bg, CLI, target.ID, newest.ID); err != nil {
			t.Errorf("redeliver the latest change: %v", err)
		}
	})
}
