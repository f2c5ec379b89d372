package directory

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/scim"
	"github.com/heraldhq/herald/internal/store"
)

// SCIM target management (the API: internal/api/openapi.json). A SCIM
// target is stored as a webhook of kind scim (herald.WebhookKindSCIM), so
// it shares the outbox, the queue and the engine; these methods see only
// that kind, and the webhook methods only the other. Every call is for
// admins only.

// SCIMResyncer compares a SCIM target with the directory and says what
// would make them equal (the delivery engine). hook is the target as
// stored, its token sealed; local is every user and group.
type SCIMResyncer interface {
	ResyncSCIM(ctx context.Context, hook herald.Webhook, local scim.Local) (herald.SCIMResync, []scim.Change, error)
}

// SetSCIMResyncer sets what ResyncSCIMTarget asks; until it is set, a
// resync is refused (EUNAVAILABLE). Call it before serving.
func (s *Service) SetSCIMResyncer(r SCIMResyncer) { s.resyncer = r }

// SCIMTargetInput is what an admin sets on a SCIM target. A nil Token
// keeps the stored one on an update (none on a create); "" removes it.
// A nil Enabled is true. An empty Deprovision is "deactivate", the safe
// default: a user who leaves is switched off at the target, not erased.
type SCIMTargetInput struct {
	Name        string
	BaseURL     string
	Token       *string
	Enabled     *bool
	OnlyGroups  []string
	Deprovision string
	SyncGroups  bool
}

// validate checks and normalises the input without the database. Returns
// EINVALID naming each field at fault, all at once (herald.Errors).
func (in *SCIMTargetInput) validate() error {
	var errs herald.Errors
	in.Name = strings.TrimSpace(in.Name)
	switch n := utf8.RuneCountInString(in.Name); {
	case n == 0:
		errs.Add(invalid("name", "is required (which service this is)"))
	case n > 128:
		errs.Add(invalid("name", "must be at most 128 characters"))
	default:
		errs.Add(validateText("name", in.Name, 128))
	}
	in.BaseURL = strings.TrimSpace(in.BaseURL)
	if err := validateURLField("base_url", in.BaseURL, "https://app.example.com/scim/v2"); err != nil {
		errs.Add(err)
	} else if strings.Contains(in.BaseURL, "?") {
		// Herald appends /Users and /Groups to the base URL: after a
		// query they would land in it, and every call would miss.
		errs.Add(invalid("base_url", "must not contain a ?query: Herald appends /Users and /Groups to it"))
	}
	if in.Token != nil {
		if utf8.RuneCountInString(*in.Token) > 4096 {
			errs.Add(invalid("token", "must be at most 4096 characters"))
		} else if strings.ContainsFunc(*in.Token, unicode.IsControl) || strings.ContainsFunc(*in.Token, unicode.IsSpace) {
			errs.Add(invalid("token", "must be one word of printable characters"))
		}
	}
	switch in.Deprovision {
	case "":
		in.Deprovision = scim.DeprovisionDeactivate
	case scim.DeprovisionDelete, scim.DeprovisionDeactivate:
	default:
		errs.Add(invalid("deprovision", "must be %s or %s", scim.DeprovisionDelete, scim.DeprovisionDeactivate))
	}
	var err error
	in.OnlyGroups, err = checkOnlyGroups(in.OnlyGroups)
	errs.Add(err)
	return errs.Err()
}

// checkGroups refuses only_groups that name no group now: a target limited
// to a group that does not exist would be sent nobody. Returns EINVALID.
func checkGroups(ctx context.Context, tx *store.Tx, groups []string) error {
	for _, g := range groups {
		if _, err := tx.GroupIDByName(ctx, g); herald.ErrorCode(err) == herald.ENOTFOUND {
			return invalid("only_groups", "there is no group %q", g)
		} else if err != nil {
			return err
		}
	}
	return nil
}

// apply writes the input onto w as a SCIM target row: the base URL as its
// url, the name as its description; every user event, and group events
// with SyncGroups; the envelope format, POST.
func (in SCIMTargetInput) apply(w *herald.Webhook) {
	w.Kind = herald.WebhookKindSCIM
	w.URL, w.Description, w.OnlyGroups = in.BaseURL, in.Name, in.OnlyGroups
	if in.Token != nil {
		w.Token, w.TokenUnreadable = *in.Token, false
	}
	w.Deprovision, w.SyncGroups = in.Deprovision, in.SyncGroups
	w.Method, w.Format = "POST", herald.FormatEnvelope
	w.Triggers = herald.Triggers{OnUserCreated: true, OnUserModified: true, OnUserDeleted: true}
	w.Events = []string{}
	if in.SyncGroups {
		w.Events = []string{herald.EventGroupCreated, herald.EventGroupModified, herald.EventGroupDeleted}
	}
	w.IgnoreActors = []string{}
	w.Enabled = in.Enabled == nil || *in.Enabled
	if w.Enabled {
		w.DisabledReason = ""
	}
}

// scimTarget is w (opened) as a SCIM target, its token withheld.
func scimTarget(w herald.Webhook, last *herald.SCIMResync) herald.SCIMTarget {
	return herald.SCIMTarget{
		ID: w.ID, Name: w.Description, BaseURL: w.URL, TokenSet: w.Token != "" || w.TokenUnreadable, Enabled: w.Enabled,
		OnlyGroups: w.OnlyGroups, Deprovision: w.Deprovision, SyncGroups: w.SyncGroups, CreatedAt: w.CreatedAt,
		DisabledReason: w.DisabledReason, TokenUnreadable: w.TokenUnreadable, LastResync: last,
	}
}

// ListSCIMTargets returns every SCIM target, oldest first.
func (s *Service) ListSCIMTargets(ctx context.Context, a Actor) ([]herald.SCIMTarget, error) {
	if err := RequireAdmin(a); err != nil {
		return nil, err
	}
	out := []herald.SCIMTarget{}
	err := s.db.View(ctx, func(tx *store.Tx) error {
		hooks, err := listWebhooksOfKind(ctx, tx, herald.WebhookKindSCIM)
		if err != nil {
			return err
		}
		reports, err := tx.SCIMResyncs(ctx)
		if err != nil {
			return err
		}
		for _, w := range hooks {
			var last *herald.SCIMResync
			if r, ok := reports[w.ID]; ok {
				last = &r
			}
			out = append(out, scimTarget(s.open(w), last))
		}
		return nil
	})
	return out, err
}

// GetSCIMTarget returns one SCIM target. Returns ENOTFOUND.
func (s *Service) GetSCIMTarget(ctx context.Context, a Actor, id int64) (herald.SCIMTarget, error) {
	if err := RequireAdmin(a); err != nil {
		return herald.SCIMTarget{}, err
	}
	var t herald.SCIMTarget
	err := s.db.View(ctx, func(tx *store.Tx) error {
		w, err := webhookOfKind(ctx, tx, id, herald.WebhookKindSCIM)
		if err != nil {
			return err
		}
		last, err := tx.SCIMResync(ctx, id)
		t = scimTarget(s.open(w), last)
		return err
	})
	return t, err
}

// CreateSCIMTarget adds a SCIM target. Returns EINVALID.
func (s *Service) CreateSCIMTarget(ctx context.Context, a Actor, in SCIMTargetInput) (herald.SCIMTarget, error) {
	if err := RequireAdmin(a); err != nil {
		return herald.SCIMTarget{}, err
	}
	if err := in.validate(); err != nil {
		return herald.SCIMTarget{}, err
	}
	var w herald.Webhook
	in.apply(&w)
	// A signing secret as every webhook row has one (the column is
	// required); SCIM requests are not signed, the bearer token is theirs.
	w.SigningSecret = delivery.NewSigningSecret()
	sealed := s.seal(w)
	err := s.db.Update(ctx, func(tx *store.Tx) error {
		if err := checkGroups(ctx, tx, in.OnlyGroups); err != nil {
			return err
		}
		if err := tx.CreateWebhook(ctx, &sealed); err != nil {
			return err
		}
		return audit(ctx, tx, a, herald.AuditSCIMTargetCreated, scimTargetTarget(sealed.ID), w.Description)
	})
	if err != nil {
		return herald.SCIMTarget{}, err
	}
	w.ID, w.CreatedAt = sealed.ID, sealed.CreatedAt
	s.log.Info("SCIM target created", "scim_target_id", w.ID, "by", a.name())
	return scimTarget(w, nil), nil
}

// UpdateSCIMTarget replaces a SCIM target's settings. Unlike a webhook's
// PUT, a missing token (nil) keeps the stored one, which Herald never
// shows again; "" removes it. Returns ENOTFOUND or EINVALID.
func (s *Service) UpdateSCIMTarget(ctx context.Context, a Actor, id int64, in SCIMTargetInput) (herald.SCIMTarget, error) {
	if err := RequireAdmin(a); err != nil {
		return herald.SCIMTarget{}, err
	}
	if err := in.validate(); err != nil {
		return herald.SCIMTarget{}, err
	}
	return s.changeSCIMTarget(ctx, a, herald.AuditSCIMTargetUpdated, id, func(tx *store.Tx, w *herald.Webhook) error {
		if in.Token == nil && (w.Token != "" || w.TokenUnreadable) && !sameOrigin(w.URL, in.BaseURL) {
			// The kept token would go to a server it was not issued for.
			return herald.Invalid("token", "give the token again when base_url moves to another host: the stored one is not sent to a new address")
		}
		in.apply(w)
		return checkGroups(ctx, tx, in.OnlyGroups)
	})
}

// SetSCIMTargetEnabled turns a SCIM target on or off. A disabled target
// gets no new changes but finishes those it was given. Returns ENOTFOUND.
func (s *Service) SetSCIMTargetEnabled(ctx context.Context, a Actor, id int64, enabled bool) (herald.SCIMTarget, error) {
	if err := RequireAdmin(a); err != nil {
		return herald.SCIMTarget{}, err
	}
	action := herald.AuditSCIMTargetDisabled
	if enabled {
		action = herald.AuditSCIMTargetEnabled
	}
	return s.changeSCIMTarget(ctx, a, action, id, func(_ *store.Tx, w *herald.Webhook) error {
		w.Enabled, w.DisabledReason = enabled, ""
		return nil
	})
}

// changeSCIMTarget changes a SCIM target as changeWebhook does a webhook,
// with the check change makes in the same transaction.
func (s *Service) changeSCIMTarget(ctx context.Context, a Actor, action string, id int64, change func(*store.Tx, *herald.Webhook) error) (herald.SCIMTarget, error) {
	w, err := s.changeWebhookTx(ctx, a, action, herald.WebhookKindSCIM, id, change)
	if err != nil {
		return herald.SCIMTarget{}, err
	}
	var last *herald.SCIMResync
	err = s.db.View(ctx, func(tx *store.Tx) (err error) {
		last, err = tx.SCIMResync(ctx, id)
		return err
	})
	return scimTarget(w, last), err
}

// DeleteSCIMTarget deletes a SCIM target; its unfinished deliveries are
// dropped. What it provisioned at the target stays there. Returns
// ENOTFOUND.
func (s *Service) DeleteSCIMTarget(ctx context.Context, a Actor, id int64) error {
	return s.deleteWebhookOfKind(ctx, a, herald.WebhookKindSCIM, id)
}

// ListSCIMDeliveries, FindSCIMDeliveries and GetSCIMDelivery are the
// webhook's delivery log for a SCIM target. Returns ENOTFOUND or EINVALID.
func (s *Service) ListSCIMDeliveries(ctx context.Context, a Actor, id int64, status string, before int64, limit int) ([]herald.Delivery, error) {
	return s.listDeliveries(ctx, a, herald.WebhookKindSCIM, id, status, before, limit)
}

// FindSCIMDeliveries: see ListSCIMDeliveries.
func (s *Service) FindSCIMDeliveries(ctx context.Context, a Actor, id int64, f store.DeliveryFilter) ([]herald.Delivery, int, error) {
	return s.findDeliveries(ctx, a, herald.WebhookKindSCIM, id, f)
}

// GetSCIMDelivery: see ListSCIMDeliveries.
func (s *Service) GetSCIMDelivery(ctx context.Context, a Actor, id, deliveryID int64) (DeliveryDetail, error) {
	return s.getDelivery(ctx, a, herald.WebhookKindSCIM, id, deliveryID)
}

// RedeliverSCIM queues one of a SCIM target's deliveries again with a
// fresh retry schedule (after fixing what the target refused).
// Returns ENOTFOUND or ECONFLICT (being sent right now).
func (s *Service) RedeliverSCIM(ctx context.Context, a Actor, id, deliveryID int64) error {
	return s.redeliver(ctx, a, herald.WebhookKindSCIM, id, deliveryID)
}

// ResyncSCIMTarget compares an enabled SCIM target with the directory
// (through the SCIMResyncer) and, in one transaction, queues for it alone
// what makes them equal and stores the report, which it returns. A resync
// that could not read the target queues nothing; its report says why in
// Error and is stored and returned too (no error: the resync ran, the
// target failed it). Returns ENOTFOUND, EINVALID (the target is disabled)
// or EUNAVAILABLE (no resyncer).
func (s *Service) ResyncSCIMTarget(ctx context.Context, a Actor, id int64) (herald.SCIMResync, error) {
	if err := RequireAdmin(a); err != nil {
		return herald.SCIMResync{}, err
	}
	var hook herald.Webhook
	var local scim.Local
	err := s.db.View(ctx, func(tx *store.Tx) (err error) {
		if hook, err = webhookOfKind(ctx, tx, id, herald.WebhookKindSCIM); err != nil {
			return err
		}
		if !hook.Enabled {
			return invalid("enabled", "the SCIM target is disabled; enable it before a resync")
		}
		local, err = localDirectory(ctx, tx)
		return err
	})
	if err != nil {
		return herald.SCIMResync{}, err
	}
	if s.resyncer == nil {
		return herald.SCIMResync{}, herald.Errorf(herald.EUNAVAILABLE, "resync is not available in this process")
	}
	report, changes, rerr := s.resyncer.ResyncSCIM(ctx, hook, local)
	if rerr != nil {
		changes = nil
		if report.Error == "" {
			report.Error = rerr.Error()
		}
	}
	if report.At.IsZero() {
		report.At = s.db.Now().UTC()
	}
	err = s.db.Update(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		now, err := localDirectory(ctx, tx)
		if err != nil {
			return err
		}
		for _, c := range current(local, now, changes) {
			ev := herald.Event{Type: c.Type, Subject: c.Subject, Actor: a.Event(), Payload: c.Data, Previous: c.Previous}
			if err := tx.AppendTargetedEvent(ctx, id, &ev); err != nil {
				return err
			}
		}
		if err := tx.SaveSCIMResync(ctx, id, report); err != nil {
			return err
		}
		return audit(ctx, tx, a, herald.AuditSCIMTargetResynced, scimTargetTarget(id), resyncDetail(report, len(changes)))
	})
	if err != nil {
		return herald.SCIMResync{}, err
	}
	s.log.Info("SCIM target resynced", "scim_target_id", id, "queued", len(changes), "by", a.name(), "failed", report.Error != "")
	return report, nil
}

// current brings a resync's changes, computed from the directory as it
// was read (then), up to date with the directory now, in the transaction
// that queues them: a user or group changed or deleted while the target
// was read has its own event queued already, and a change queued after it
// must not put back the state the resync started from. A subject as it
// was is left as the resync decided; one that changed is synced as it is
// now (Apply decides from its data whether it is in scope), and one that
// is gone is removed.
func current(then, now scim.Local, changes []scim.Change) []scim.Change {
	before, after := byName(then), byName(now)
	out := make([]scim.Change, 0, len(changes))
	for _, c := range changes {
		kind, name, _ := strings.Cut(c.Subject, ":")
		was, is := before[kind][name], after[kind][name]
		switch {
		case bytes.Equal(was, is):
			out = append(out, c)
		case is != nil:
			out = append(out, scim.Change{Type: scim.ChangeSync, Subject: c.Subject, Data: is})
		default:
			key := "username"
			if kind == scim.KindGroup {
				key = "name"
			}
			data, _ := json.Marshal(map[string]string{key: name}) // strings: cannot fail
			out = append(out, scim.Change{Type: scim.ChangeRemove, Subject: c.Subject, Data: data})
		}
	}
	return out
}

// byName indexes a directory's bodies by kind ("user", "group") and name.
func byName(l scim.Local) map[string]map[string][]byte {
	m := map[string]map[string][]byte{scim.KindUser: {}, scim.KindGroup: {}}
	for _, u := range l.Users {
		m[scim.KindUser][u.Name] = u.Data
	}
	for _, g := range l.Groups {
		m[scim.KindGroup][g.Name] = g.Data
	}
	return m
}

// resyncDetail sums a resync up for the audit log.
func resyncDetail(r herald.SCIMResync, queued int) string {
	if r.Error != "" {
		return "failed: " + r.Error
	}
	return fmt.Sprintf("%d changes queued; users: %d created, %d updated, %d deprovisioned; groups: %d created, %d updated, %d deprovisioned",
		queued, r.Users.Created, r.Users.Updated, r.Users.Deprovisioned, r.Groups.Created, r.Groups.Updated, r.Groups.Deprovisioned)
}

// localDirectory is every user and group as their user_modified and
// group_modified events would carry them now.
func localDirectory(ctx context.Context, tx *store.Tx) (scim.Local, error) {
	local := scim.Local{Users: []scim.LocalResource{}, Groups: []scim.LocalResource{}}
	users, err := tx.ListUsers(ctx)
	if err != nil {
		return local, err
	}
	for _, u := range users {
		local.Users = append(local.Users, scim.LocalResource{Name: u.Username, Data: renderUser(u)})
	}
	groups, err := tx.ListGroups(ctx)
	if err != nil {
		return local, err
	}
	for _, g := range groups {
		local.Groups = append(local.Groups, scim.LocalResource{Name: g.Name, Data: renderGroup(g)})
	}
	return local, nil
}

// sameOrigin reports whether two URLs have the same scheme, host and port
// (a SCIM target's token stays with its origin).
func sameOrigin(a, b string) bool {
	ua, errA := url.Parse(a)
	ub, errB := url.Parse(b)
	return errA == nil && errB == nil && strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Host, ub.Host)
}
