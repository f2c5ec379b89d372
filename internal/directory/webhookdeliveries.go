package directory

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// A webhook's delivery log, as admins read it.

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
