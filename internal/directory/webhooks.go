package directory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/store"
)

// Webhook management (the API: internal/api/openapi.json). Every call is for admins only.

// rotationOverlap is how long the previous signing secret keeps signing
// after a rotation.
const rotationOverlap = 24 * time.Hour

// WebhookInput is what an admin sets on a webhook. Missing booleans are
// false, a missing method is GET, missing events are none, missing enabled
// is true.
type WebhookInput struct {
	URL         string
	Description string
	Token       string
	Enabled     *bool
	herald.Triggers
	Method string
	Events []string
	// Format is FormatDefguard (when empty) or FormatEnvelope.
	Format string
	// IgnoreActors: "api_token:<id>", "user:<username>" or
	// "station:<name>"; OnlyGroups: group names.
	IgnoreActors []string
	OnlyGroups   []string
}

// maxFilterEntries bounds ignore_actors and only_groups: each is looked
// through for every event.
const maxFilterEntries = 100

// validate checks and normalises the input. Returns EINVALID naming each
// field at fault, all at once (herald.Errors).
func (in *WebhookInput) validate() error {
	var errs herald.Errors
	in.URL = strings.TrimSpace(in.URL)
	errs.Add(validateWebhookURL(in.URL))
	n := utf8.RuneCountInString(strings.TrimSpace(in.Description))
	switch {
	case n == 0:
		errs.Add(invalid("description", "is required (what the webhook is for)"))
	case n > 255:
		errs.Add(invalid("description", "must be at most 255 characters"))
	default:
		errs.Add(validateText("description", in.Description, 255))
	}
	if utf8.RuneCountInString(in.Token) > 250 {
		errs.Add(invalid("token", "must be at most 250 characters"))
	} else if strings.ContainsFunc(in.Token, unicode.IsControl) {
		errs.Add(invalid("token", "must be one line of printable characters"))
	}
	switch strings.ToUpper(in.Method) {
	case "", "GET":
		in.Method = "GET"
	case "POST":
		in.Method = "POST"
	default:
		errs.Add(invalid("method", "must be GET or POST"))
	}
	events := append([]string{}, normalizeNames(in.Events)...)
	for _, e := range events {
		if !slices.Contains(herald.Subscriptions(), e) {
			errs.Add(invalid("events", "%q is not an added event; choose from %s", e, strings.Join(herald.Subscriptions(), ", ")))
			break
		}
	}
	in.Events = events
	if !in.OnUserCreated && !in.OnUserModified && !in.OnUserDeleted && !in.OnHWKeyProvision && len(events) == 0 {
		errs.Add(invalid("events", "choose at least one trigger or event; a webhook with none would never be sent anything"))
	}
	switch in.Format {
	case "", herald.FormatDefguard:
		in.Format = herald.FormatDefguard
	case herald.FormatEnvelope:
	default:
		errs.Add(invalid("format", "must be %s", strings.Join(herald.Formats, " or ")))
	}
	in.IgnoreActors = append([]string{}, normalizeNames(in.IgnoreActors)...)
	if len(in.IgnoreActors) > maxFilterEntries {
		errs.Add(invalid("ignore_actors", "may list at most %d actors", maxFilterEntries))
	} else {
		for _, key := range in.IgnoreActors {
			if err := validateActorKey(key); err != nil {
				errs.Add(err)
				break
			}
		}
	}
	in.OnlyGroups = append([]string{}, normalizeNames(in.OnlyGroups)...)
	if len(in.OnlyGroups) > maxFilterEntries {
		errs.Add(invalid("only_groups", "may list at most %d groups", maxFilterEntries))
	} else {
		for _, g := range in.OnlyGroups {
			if err := validateName("only_groups", g); err != nil {
				errs.Add(invalid("only_groups", "%q is not a group name: %s", g, messageOf(err)))
				break
			}
		}
	}
	return errs.Err()
}

// validateWebhookURL checks a receiver's address: absolute http(s) with a
// host, no fragment, no credentials, a real port.
func validateWebhookURL(s string) error {
	return validateURLField("url", s, "https://hooks.example.com/herald")
}

// validateURLField checks an address Herald sends to, in field (a
// webhook's url, a SCIM target's base_url), as validateWebhookURL
// describes; example shows a good one. Where it connects to is checked at
// every request, after DNS, by the egress guard.
func validateURLField(field, s, example string) error {
	if s == "" {
		return invalid(field, "is required")
	}
	if len(s) > 2048 {
		return invalid(field, "must be at most 2048 characters")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return invalid(field, "must be an absolute http:// or https:// URL with a host, like %s", example)
	}
	if strings.Contains(s, "#") {
		return invalid(field, "must not contain a #fragment")
	}
	if u.User != nil {
		return invalid(field, "must not contain a user name or password; send credentials as the secret token")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return invalid(field, "port %q is not a port number (1-65535)", p)
		}
	}
	return nil
}

// messageOf is the message of a validation error, without its field.
func messageOf(err error) string {
	var e *herald.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

// validateActorKey checks an entry of ignore_actors: "api_token:<id>",
// "user:<username>" or "station:<name>". Returns EINVALID.
func validateActorKey(key string) error {
	kind, name, _ := strings.Cut(key, ":")
	var err error
	switch kind {
	case "api_token":
		if id, perr := strconv.ParseInt(name, 10, 64); perr != nil || id < 1 || strconv.FormatInt(id, 10) != name {
			err = invalid("ignore_actors", "must be a token id (a positive number)")
		}
	case "user":
		err = validateName("ignore_actors", name)
	case "station":
		err = validateStation(name)
	default:
		return invalid("ignore_actors", "%q must be api_token:<id>, user:<username> or station:<name>", key)
	}
	if err != nil {
		return invalid("ignore_actors", "%q: %s", key, messageOf(err))
	}
	return nil
}

func (in WebhookInput) apply(w *herald.Webhook) {
	w.URL, w.Description, w.Token, w.Method, w.Events = in.URL, in.Description, in.Token, in.Method, in.Events
	w.Format, w.IgnoreActors, w.OnlyGroups = in.Format, in.IgnoreActors, in.OnlyGroups
	w.Triggers = in.Triggers
	w.Enabled = in.Enabled == nil || *in.Enabled
	if w.Enabled {
		w.DisabledReason = ""
	}
}

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

// deliveryStatuses are the values of the status filter.
var deliveryStatuses = []string{herald.DeliveryPending, herald.DeliveryRetrying, herald.DeliverySucceeded, herald.DeliveryFailed}

// ListDeliveries returns a webhook's deliveries, newest first.
// Returns ENOTFOUND or EINVALID (status).
func (s *Service) ListDeliveries(ctx context.Context, a Actor, webhookID int64, status string, before int64, limit int) ([]herald.Delivery, error) {
	return s.listDeliveries(ctx, a, herald.WebhookKindHTTP, webhookID, status, before, limit)
}

func (s *Service) listDeliveries(ctx context.Context, a Actor, kind string, webhookID int64, status string, before int64, limit int) ([]herald.Delivery, error) {
	if err := RequireAdmin(a); err != nil {
		return nil, err
	}
	if status != "" && !slices.Contains(deliveryStatuses, status) {
		return nil, invalid("status", "must be one of %s", strings.Join(deliveryStatuses, ", "))
	}
	var out []herald.Delivery
	err := s.db.View(ctx, func(tx *store.Tx) error {
		if _, err := webhookOfKind(ctx, tx, webhookID, kind); err != nil {
			return err
		}
		var err error
		out, err = tx.ListDeliveries(ctx, webhookID, status, before, limit)
		return err
	})
	return out, err
}

// deliveryEvents are the values of the event filter: every event a
// webhook can be sent, the test included (herald.EventTypes).
var deliveryEvents = func() []string {
	var out []string
	for _, et := range herald.EventTypes {
		out = append(out, et.Name)
	}
	return out
}()

// DeliveryEvents returns the event types the delivery log can be filtered by.
func DeliveryEvents() []string { return slices.Clone(deliveryEvents) }

// FindDeliveries returns one page of a webhook's deliveries that pass f,
// newest first, and how many pass it in all.
// Returns ENOTFOUND or EINVALID (status or event).
func (s *Service) FindDeliveries(ctx context.Context, a Actor, webhookID int64, f store.DeliveryFilter) ([]herald.Delivery, int, error) {
	return s.findDeliveries(ctx, a, herald.WebhookKindHTTP, webhookID, f)
}

func (s *Service) findDeliveries(ctx context.Context, a Actor, kind string, webhookID int64, f store.DeliveryFilter) ([]herald.Delivery, int, error) {
	if err := RequireAdmin(a); err != nil {
		return nil, 0, err
	}
	var errs herald.Errors
	if f.Status != "" && !slices.Contains(deliveryStatuses, f.Status) {
		errs.Add(invalid("status", "must be one of %s", strings.Join(deliveryStatuses, ", ")))
	}
	if f.Event != "" && !slices.Contains(deliveryEvents, f.Event) {
		errs.Add(invalid("event", "must be one of %s", strings.Join(deliveryEvents, ", ")))
	}
	if err := errs.Err(); err != nil {
		return nil, 0, err
	}
	var out []herald.Delivery
	var total int
	err := s.db.View(ctx, func(tx *store.Tx) error {
		if _, err := webhookOfKind(ctx, tx, webhookID, kind); err != nil {
			return err
		}
		var err error
		out, total, err = tx.FindDeliveries(ctx, webhookID, f)
		return err
	})
	return out, total, err
}

// DeliveryDetail is a delivery with the request it sends (secrets masked)
// and every attempt.
type DeliveryDetail struct {
	herald.Delivery
	Request  DeliveryRequest  `json:"request"`
	Attempts []herald.Attempt `json:"attempt_log"`
}

// DeliveryRequest shows what is sent, with secrets masked.
type DeliveryRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

// GetDelivery returns one delivery with its request and attempts.
// Returns ENOTFOUND.
func (s *Service) GetDelivery(ctx context.Context, a Actor, webhookID, id int64) (DeliveryDetail, error) {
	return s.getDelivery(ctx, a, herald.WebhookKindHTTP, webhookID, id)
}

func (s *Service) getDelivery(ctx context.Context, a Actor, kind string, webhookID, id int64) (DeliveryDetail, error) {
	if err := RequireAdmin(a); err != nil {
		return DeliveryDetail{}, err
	}
	var d DeliveryDetail
	err := s.db.View(ctx, func(tx *store.Tx) error {
		w, err := webhookOfKind(ctx, tx, webhookID, kind)
		if err != nil {
			return err
		}
		var ev herald.Event
		if d.Delivery, ev, err = tx.DeliveryByID(ctx, webhookID, id); err != nil {
			return err
		}
		payload := ev.Body(w.Format)
		if d.Attempts, err = tx.Attempts(ctx, id); err != nil {
			return err
		}
		d.Request = maskedRequest(w, d.Delivery, payload, d.Attempts)
		return nil
	})
	return d, err
}

// maskedRequest rebuilds the request's headers as sent at the last attempt
// (or as they will be sent), with the token and signatures masked. A SCIM
// target's change is no one request but the calls it needs (each
// attempt's response body logs them): its "request" is the change, the
// base URL and the masked bearer token.
func maskedRequest(w herald.Webhook, d herald.Delivery, payload []byte, attempts []herald.Attempt) DeliveryRequest {
	if w.Kind == herald.WebhookKindSCIM {
		h := map[string]string{"Content-Type": "application/scim+json", "User-Agent": "Herald/" + herald.Version}
		if w.Token != "" {
			h["Authorization"] = "Bearer ********"
		}
		return DeliveryRequest{Method: "SCIM", URL: w.URL, Headers: h, Body: payload}
	}
	h := map[string]string{
		"X-Defguard-Event":  d.Event,
		"Content-Type":      "application/json",
		"User-Agent":        "Herald/" + herald.Version,
		"webhook-id":        d.EventID,
		"webhook-timestamp": "(the time of each attempt)",
		"webhook-signature": "v1,********",
	}
	if len(attempts) > 0 {
		h["webhook-timestamp"] = itoa(attempts[len(attempts)-1].StartedAt.Unix())
	}
	if w.Token != "" {
		h["Authorization"] = "Bearer ********"
	}
	return DeliveryRequest{Method: w.Method, URL: w.URL, Headers: h, Body: payload}
}

// Redeliver queues a delivery again with a fresh retry schedule.
// Returns ENOTFOUND or ECONFLICT (being sent right now).
func (s *Service) Redeliver(ctx context.Context, a Actor, webhookID, id int64) error {
	return s.redeliver(ctx, a, herald.WebhookKindHTTP, webhookID, id)
}

func (s *Service) redeliver(ctx context.Context, a Actor, kind string, webhookID, id int64) error {
	if err := RequireAdmin(a); err != nil {
		return err
	}
	return s.db.Update(ctx, func(tx *store.Tx) error {
		if _, err := webhookOfKind(ctx, tx, webhookID, kind); err != nil {
			return err
		}
		if kind == herald.WebhookKindSCIM {
			// A SCIM change is its subject's state then: after a later
			// change it would put the older state back at the target.
			later, err := tx.LaterDelivery(ctx, webhookID, id)
			if err != nil {
				return err
			}
			if later {
				return herald.Errorf(herald.ECONFLICT, "a later change of the same user or group was queued after delivery %d: "+
					"sending it again would put back what it said; run a resync to make the target agree", id)
			}
		}
		if err := tx.Redeliver(ctx, webhookID, id); err != nil {
			return err
		}
		return audit(ctx, tx, a, herald.AuditRedelivered, herald.AuditTargetOfWebhook(kind, webhookID), fmt.Sprintf("delivery %d", id))
	})
}

// Replay queues again, for one webhook, every event since the given time
// that its triggers match, and returns how many. Returns ENOTFOUND or
// EINVALID (a time in the future).
func (s *Service) Replay(ctx context.Context, a Actor, webhookID int64, since time.Time) (int, error) {
	if err := RequireAdmin(a); err != nil {
		return 0, err
	}
	if since.After(s.db.Now()) {
		return 0, invalid("since", "is in the future")
	}
	var n int
	err := s.db.Update(ctx, func(tx *store.Tx) (err error) {
		if _, err := webhookOfKind(ctx, tx, webhookID, herald.WebhookKindHTTP); err != nil {
			return err
		}
		if n, err = tx.Replay(ctx, webhookID, since); err != nil {
			return err
		}
		return audit(ctx, tx, a, herald.AuditReplayed, webhookTarget(webhookID), fmt.Sprintf("%d events since %s", n, since.UTC().Format(time.RFC3339)))
	})
	return n, err
}
