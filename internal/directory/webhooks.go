package directory

import (
	"context"
	"fmt"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/store"
)

// Webhook management (the API: internal/api/openapi.json). Every call is for admins only.

// rotationOverlap is how long the previous signing secret keeps signing
// after a rotation.
const rotationOverlap = 24 * time.Hour

// seal returns w with its secrets encrypted for the store.
func (s *Service) seal(w herald.Webhook) herald.Webhook {
	w.Token, w.SigningSecret, w.PreviousSecret = s.box.Seal(w.Token), s.box.Seal(w.SigningSecret), s.box.Seal(w.PreviousSecret)
	return w
}

// open returns w with its secrets decrypted for an admin. A secret the key
// cannot open (sealed under another key) is left empty and flagged, so one
// such webhook never fails a list or blocks a change that overwrites it;
// an unreadable previous secret is dropped (it only signs beside the
// current one for a while, and cannot sign at all now).
func (s *Service) open(w herald.Webhook) herald.Webhook {
	var err error
	if w.Token, err = s.box.Open(w.Token); err != nil {
		w.Token, w.TokenUnreadable = "", true
	}
	if w.SigningSecret, err = s.box.Open(w.SigningSecret); err != nil {
		w.SigningSecret, w.SigningSecretUnreadable = "", true
	}
	if w.PreviousSecret, err = s.box.Open(w.PreviousSecret); err != nil {
		w.PreviousSecret, w.PreviousSecretUntil = "", time.Time{}
	}
	return w
}

// ListWebhooks returns every webhook with its secrets (flagged where the
// key cannot open them).
func (s *Service) ListWebhooks(ctx context.Context, a Actor) ([]herald.Webhook, error) {
	if err := RequireAdmin(a); err != nil {
		return nil, err
	}
	var hooks []herald.Webhook
	err := s.db.View(ctx, func(tx *store.Tx) (err error) {
		hooks, err = listWebhooksOfKind(ctx, tx, herald.WebhookKindHTTP)
		return err
	})
	for i := range hooks {
		hooks[i] = s.open(hooks[i])
	}
	return hooks, err
}

// ListSealed returns every webhook and SCIM target (herald.Webhook.Kind
// tells which) with its secrets, flagged where the key cannot open them:
// what the secret key seals, for `herald webhook reset-secrets`.
func (s *Service) ListSealed(ctx context.Context, a Actor) ([]herald.Webhook, error) {
	if err := RequireAdmin(a); err != nil {
		return nil, err
	}
	var hooks []herald.Webhook
	err := s.db.View(ctx, func(tx *store.Tx) (err error) {
		hooks, err = tx.ListWebhooks(ctx)
		return err
	})
	for i := range hooks {
		hooks[i] = s.open(hooks[i])
	}
	return hooks, err
}

// listWebhooksOfKind returns the webhooks of one kind (herald.Webhook.Kind),
// oldest first: people see webhooks and SCIM targets apart.
func listWebhooksOfKind(ctx context.Context, tx *store.Tx, kind string) ([]herald.Webhook, error) {
	all, err := tx.ListWebhooks(ctx)
	out := []herald.Webhook{}
	for _, w := range all {
		if w.Kind == kind {
			out = append(out, w)
		}
	}
	return out, err
}

// webhookOfKind returns webhook id if it is of kind. Returns ENOTFOUND, as
// for none, for one of the other kind: a SCIM target is not a webhook to
// the webhook API, nor the other way round.
func webhookOfKind(ctx context.Context, tx *store.Tx, id int64, kind string) (herald.Webhook, error) {
	w, err := tx.WebhookByID(ctx, id)
	if (err == nil && w.Kind != kind) || herald.ErrorCode(err) == herald.ENOTFOUND {
		return herald.Webhook{}, notFoundOfKind(kind, id)
	}
	return w, err
}

func notFoundOfKind(kind string, id int64) error {
	if kind == herald.WebhookKindSCIM {
		return herald.Errorf(herald.ENOTFOUND, "no SCIM target with id %d", id)
	}
	return herald.Errorf(herald.ENOTFOUND, "no webhook with id %d", id)
}

// GetWebhook returns one webhook. Returns ENOTFOUND.
func (s *Service) GetWebhook(ctx context.Context, a Actor, id int64) (herald.Webhook, error) {
	if err := RequireAdmin(a); err != nil {
		return herald.Webhook{}, err
	}
	var w herald.Webhook
	err := s.db.View(ctx, func(tx *store.Tx) (err error) {
		w, err = webhookOfKind(ctx, tx, id, herald.WebhookKindHTTP)
		return err
	})
	if err != nil {
		return w, err
	}
	return s.open(w), nil
}

// CreateWebhook adds a webhook with a new signing secret. Returns EINVALID.
func (s *Service) CreateWebhook(ctx context.Context, a Actor, in WebhookInput) (herald.Webhook, error) {
	if err := RequireAdmin(a); err != nil {
		return herald.Webhook{}, err
	}
	if err := in.validate(); err != nil {
		return herald.Webhook{}, err
	}
	var w herald.Webhook
	in.apply(&w)
	w.SigningSecret = delivery.NewSigningSecret()
	sealed := s.seal(w)
	err := s.db.Update(ctx, func(tx *store.Tx) error {
		if err := tx.CreateWebhook(ctx, &sealed); err != nil {
			return err
		}
		return audit(ctx, tx, a, herald.AuditWebhookCreated, webhookTarget(sealed.ID), w.Description)
	})
	w.ID, w.CreatedAt = sealed.ID, sealed.CreatedAt
	if err == nil {
		s.log.Info("webhook created", "webhook_id", w.ID, "by", a.name())
	}
	return w, err
}

// UpdateWebhook replaces a webhook's settings, its token included (an
// unreadable one too); its signing secret stays. Returns ENOTFOUND or
// EINVALID.
func (s *Service) UpdateWebhook(ctx context.Context, a Actor, id int64, in WebhookInput) (herald.Webhook, error) {
	if err := RequireAdmin(a); err != nil {
		return herald.Webhook{}, err
	}
	if err := in.validate(); err != nil {
		return herald.Webhook{}, err
	}
	return s.changeWebhook(ctx, a, herald.AuditWebhookUpdated, herald.WebhookKindHTTP, id, func(w *herald.Webhook) {
		in.apply(w)
		w.TokenUnreadable = false
	})
}

// SetWebhookEnabled turns a webhook on or off. A disabled webhook gets no
// new deliveries but finishes those it was given. Returns ENOTFOUND.
func (s *Service) SetWebhookEnabled(ctx context.Context, a Actor, id int64, enabled bool) (herald.Webhook, error) {
	if err := RequireAdmin(a); err != nil {
		return herald.Webhook{}, err
	}
	action := herald.AuditWebhookDisabled
	if enabled {
		action = herald.AuditWebhookEnabled
	}
	return s.changeWebhook(ctx, a, action, herald.WebhookKindHTTP, id, func(w *herald.Webhook) {
		w.Enabled = enabled
		w.DisabledReason = ""
	})
}

// RotateSecret gives a webhook a new signing secret; the old one keeps
// signing beside it for 24 hours, unless the key cannot open it (then the
// new one signs alone). Returns ENOTFOUND.
func (s *Service) RotateSecret(ctx context.Context, a Actor, id int64) (herald.Webhook, error) {
	if err := RequireAdmin(a); err != nil {
		return herald.Webhook{}, err
	}
	return s.changeWebhook(ctx, a, herald.AuditSecretRotated, herald.WebhookKindHTTP, id, func(w *herald.Webhook) { s.rotate(w) })
}

func (s *Service) rotate(w *herald.Webhook) {
	w.PreviousSecret, w.PreviousSecretUntil = w.SigningSecret, s.db.Now().Add(rotationOverlap)
	if w.SigningSecretUnreadable {
		w.PreviousSecret, w.PreviousSecretUntil = "", time.Time{}
	}
	w.SigningSecret, w.SigningSecretUnreadable = delivery.NewSigningSecret(), false
}

// changeWebhook reads, changes and writes a webhook of kind in one
// transaction, with an audit log entry of action by a. A
// secret the key cannot open is written back as it was stored unless
// change overwrote it (and cleared its flag): it may open again with the
// right key.
func (s *Service) changeWebhook(ctx context.Context, a Actor, action, kind string, id int64, change func(*herald.Webhook)) (herald.Webhook, error) {
	return s.changeWebhookTx(ctx, a, action, kind, id, func(_ *store.Tx, w *herald.Webhook) error {
		change(w)
		return nil
	})
}

// changeWebhookTx is changeWebhook whose change may read tx and refuse.
func (s *Service) changeWebhookTx(ctx context.Context, a Actor, action, kind string, id int64, change func(*store.Tx, *herald.Webhook) error) (herald.Webhook, error) {
	var out herald.Webhook
	err := s.db.Update(ctx, func(tx *store.Tx) error {
		stored, err := webhookOfKind(ctx, tx, id, kind)
		if err != nil {
			return err
		}
		w := s.open(stored)
		opened := w
		if err := change(tx, &w); err != nil {
			return err
		}
		sealed := s.seal(w)
		if w.TokenUnreadable {
			sealed.Token = stored.Token
		}
		if w.SigningSecretUnreadable {
			sealed.SigningSecret = stored.SigningSecret
		}
		// An unreadable previous secret stays too, unless a rotation
		// replaced it.
		if stored.PreviousSecret != "" && opened.PreviousSecret == "" && w.SigningSecret == opened.SigningSecret {
			sealed.PreviousSecret, sealed.PreviousSecretUntil = stored.PreviousSecret, stored.PreviousSecretUntil
		}
		if err := tx.UpdateWebhook(ctx, &sealed); err != nil {
			return err
		}
		out = w
		return audit(ctx, tx, a, action, herald.AuditTargetOfWebhook(kind, id), w.Description)
	})
	return out, err
}

// ResetUnreadableSecrets gives every webhook whose signing secret the key
// cannot open a new one, and clears every token it cannot open (an admin
// sets it again); secrets the key opens are left alone. It is what
// `herald webhook reset-secrets --yes` does when the key that sealed them
// is lost for good. It returns the webhooks it changed as it found them:
// their flags say what was unreadable.
func (s *Service) ResetUnreadableSecrets(ctx context.Context, a Actor) ([]herald.Webhook, error) {
	if err := RequireAdmin(a); err != nil {
		return nil, err
	}
	var changed []herald.Webhook
	err := s.db.Update(ctx, func(tx *store.Tx) error {
		changed = nil // a retried transaction starts again
		hooks, err := tx.ListWebhooks(ctx)
		if err != nil {
			return err
		}
		for _, stored := range hooks {
			w := s.open(stored)
			previousUnreadable := stored.PreviousSecret != "" && w.PreviousSecret == ""
			if !w.TokenUnreadable && !w.SigningSecretUnreadable && !previousUnreadable {
				continue
			}
			changed = append(changed, w)
			w.TokenUnreadable = false // cleared: open left Token empty
			if w.SigningSecretUnreadable {
				s.rotate(&w)
			}
			sealed := s.seal(w)
			if err := tx.UpdateWebhook(ctx, &sealed); err != nil {
				return err
			}
			if err := audit(ctx, tx, a, herald.AuditSecretRotated, herald.AuditTargetOfWebhook(w.Kind, w.ID), "reset: secret key lost"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, w := range changed {
		s.log.Warn("webhook secrets the secret key could not open were reset", "webhook_id", w.ID, "token_cleared", w.TokenUnreadable,
			"new_signing_secret", w.SigningSecretUnreadable, "by", a.name())
	}
	return changed, nil
}

// DeleteWebhook deletes a webhook; its unfinished deliveries are dropped,
// and the log says how many. Returns ENOTFOUND.
func (s *Service) DeleteWebhook(ctx context.Context, a Actor, id int64) error {
	return s.deleteWebhookOfKind(ctx, a, herald.WebhookKindHTTP, id)
}

// deleteWebhookOfKind deletes webhook id of kind (a webhook or a SCIM
// target), audited and logged under the kind's names with how many
// unfinished deliveries went with it. Returns ENOTFOUND, also for another
// kind's id.
func (s *Service) deleteWebhookOfKind(ctx context.Context, a Actor, kind string, id int64) error {
	if err := RequireAdmin(a); err != nil {
		return err
	}
	action, target, logged, idKey := herald.AuditWebhookDeleted, webhookTarget(id), "webhook deleted", "webhook_id"
	if kind == herald.WebhookKindSCIM {
		action, target, logged, idKey = herald.AuditSCIMTargetDeleted, scimTargetTarget(id), "SCIM target deleted", "scim_target_id"
	}
	var dropped int
	err := s.db.Update(ctx, func(tx *store.Tx) (err error) {
		if _, err := webhookOfKind(ctx, tx, id, kind); err != nil {
			return err
		}
		if dropped, err = tx.DeleteWebhook(ctx, id); err != nil {
			return err
		}
		return audit(ctx, tx, a, action, target, fmt.Sprintf("%d unfinished deliveries dropped", dropped))
	})
	if err == nil {
		s.log.Info(logged, idKey, id, "by", a.name(), "dropped_pending_deliveries", dropped)
	}
	return err
}

// TestWebhook sends webhook_test now, records it in the webhook's delivery
// log (a delivery of one attempt, succeeded or failed; the event is not in
// the event feed, being no change) and returns the attempt.
// Returns ENOTFOUND.
func (s *Service) TestWebhook(ctx context.Context, a Actor, id int64) (herald.Attempt, error) {
	if err := RequireAdmin(a); err != nil {
		return herald.Attempt{}, err
	}
	var w herald.Webhook
	err := s.db.View(ctx, func(tx *store.Tx) (err error) {
		w, err = webhookOfKind(ctx, tx, id, herald.WebhookKindHTTP)
		return err
	})
	if err != nil {
		return herald.Attempt{}, err
	}
	ev := herald.Event{
		ID: store.NewEventID(time.Now()), Type: herald.EventWebhookTest, Subject: "webhook:" + itoa(id), Actor: a.Event(),
		OccurredAt: time.Now().UTC().Truncate(time.Microsecond),
		Payload: mustJSON(struct {
			WebhookID int64  `json:"webhook_id"`
			Message   string `json:"message"`
		}{id, "test event from Herald"}),
	}
	at := s.tester.SendTest(ctx, w, ev)
	// Recorded even if the caller gave up meanwhile: the request was sent.
	err = s.db.Update(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		return tx.RecordTestSend(ctx, id, ev, at)
	})
	if herald.ErrorCode(err) == herald.ENOTFOUND {
		err = nil // deleted while the test ran: nothing to log it in
	}
	return at, err
}
