package api

import (
	"context"
	"net/http"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/web"
)

// webhookRoutes are for admins only, like everything about webhooks.
func (h *Handler) webhookRoutes() []web.Route {
	return []web.Route{
		{Pattern: "GET /api/v1/webhook", Access: web.Admin, Handle: listAll(h.dir.ListWebhooks)},
		{Pattern: "POST /api/v1/webhook", Access: web.Admin, Handle: createFrom[webhookBody](h.dir.CreateWebhook)},
		{Pattern: "GET /api/v1/webhook/{id}", Access: web.Admin, Handle: byID(http.StatusOK, h.dir.GetWebhook)},
		{Pattern: "PUT /api/v1/webhook/{id}", Access: web.Admin, Handle: replaceFrom[webhookBody](h.dir.UpdateWebhook)},
		{Pattern: "DELETE /api/v1/webhook/{id}", Access: web.Admin, Handle: deleteByID(h.dir.DeleteWebhook)},
		{Pattern: "POST /api/v1/webhook/{id}", Access: web.Admin, Handle: web.WithID("id", h.setWebhookEnabled)},
		{Pattern: "POST /api/v1/webhook/{id}/rotate_secret", Access: web.Admin, Handle: byID(http.StatusOK, h.dir.RotateSecret)},
		{Pattern: "POST /api/v1/webhook/{id}/test", Access: web.Admin, Handle: web.WithID("id", h.testWebhook)},
		{Pattern: "GET /api/v1/webhook/{id}/delivery", Access: web.Admin, Handle: web.WithID("id", h.listDeliveries)},
		{Pattern: "GET /api/v1/webhook/{id}/delivery/{did}", Access: web.Admin, Handle: web.WithID("id", h.getDelivery)},
		{Pattern: "POST /api/v1/webhook/{id}/delivery/{did}/redeliver", Access: web.Admin, Handle: web.WithID("id", h.redeliver)},
		{Pattern: "POST /api/v1/webhook/{id}/replay", Access: web.Admin, Handle: web.WithID("id", h.replay)},
	}
}

// webhookBody is the body of POST and PUT. The read-only fields of WEBHOOK
// are accepted and ignored, so what a GET returns may be sent back.
type webhookBody struct {
	URL         string `json:"url"`
	Description string `json:"description"`
	Token       string `json:"token"`
	Enabled     *bool  `json:"enabled"`
	herald.Triggers
	Method       string   `json:"method"`
	Events       []string `json:"events"`
	Format       string   `json:"format"`
	IgnoreActors []string `json:"ignore_actors"`
	OnlyGroups   []string `json:"only_groups"`

	ID             any `json:"id"`
	SigningSecret  any `json:"signing_secret"`
	CreatedAt      any `json:"created_at"`
	DisabledReason any `json:"disabled_reason"`

	TokenUnreadable         any `json:"token_unreadable"`
	SigningSecretUnreadable any `json:"signing_secret_unreadable"`
}

func (b webhookBody) input() directory.WebhookInput {
	return directory.WebhookInput{
		URL: b.URL, Description: b.Description, Token: b.Token, Enabled: b.Enabled,
		Triggers: b.Triggers, Method: b.Method, Events: b.Events,
		Format: b.Format, IgnoreActors: b.IgnoreActors, OnlyGroups: b.OnlyGroups,
	}
}

func (h *Handler) setWebhookEnabled(w http.ResponseWriter, r *http.Request, id int64) error {
	var in struct {
		Enabled *bool `json:"enabled"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Enabled == nil {
		return herald.Invalid("enabled", "is required (true or false)")
	}
	return respond(w, http.StatusOK)(h.dir.SetWebhookEnabled(r.Context(), actor(r), id, *in.Enabled))
}

func (h *Handler) testWebhook(w http.ResponseWriter, r *http.Request, id int64) error {
	a, err := h.dir.TestWebhook(r.Context(), actor(r), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"success": herald.Succeeded(a.StatusCode), "status_code": a.StatusCode,
		"duration_ms": a.DurationMS, "response_body": a.ResponseBody, "error": a.Error, "started_at": a.StartedAt,
	})
}

func (h *Handler) listDeliveries(w http.ResponseWriter, r *http.Request, id int64) error {
	return listDeliveriesWith(w, r, id, h.dir.ListDeliveries)
}

// listDeliveriesWith answers a delivery log's page (status, before,
// limit) as list, a webhook's or a SCIM target's, gives it.
func listDeliveriesWith(w http.ResponseWriter, r *http.Request, id int64,
	list func(ctx context.Context, a directory.Actor, id int64, status string, before int64, limit int) ([]herald.Delivery, error)) error {
	limit, err := queryInt(r, "limit", defaultLimit, 1, maxLimit)
	if err != nil {
		return err
	}
	before, err := queryInt(r, "before", 0, 1, 1<<62)
	if err != nil {
		return err
	}
	return respond(w, http.StatusOK)(list(r.Context(), actor(r), id, r.URL.Query().Get("status"), before, int(limit)))
}

func (h *Handler) getDelivery(w http.ResponseWriter, r *http.Request, id int64) error {
	did, err := web.PathID(r, "did")
	if err != nil {
		return err
	}
	return respond(w, http.StatusOK)(h.dir.GetDelivery(r.Context(), actor(r), id, did))
}

func (h *Handler) redeliver(w http.ResponseWriter, r *http.Request, id int64) error {
	did, err := web.PathID(r, "did")
	if err != nil {
		return err
	}
	return respond(w, http.StatusAccepted)(map[string]string{"msg": "queued"}, h.dir.Redeliver(r.Context(), actor(r), id, did))
}

func (h *Handler) replay(w http.ResponseWriter, r *http.Request, id int64) error {
	var in struct {
		Since string `json:"since"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	since, err := time.Parse(time.RFC3339, in.Since)
	if err != nil {
		return herald.Invalid("since", "must be an RFC 3339 time like 2026-01-02T15:04:05Z")
	}
	n, err := h.dir.Replay(r.Context(), actor(r), id, since)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, map[string]int{"queued": n})
}
