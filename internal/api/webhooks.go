package api

import (
	"net/http"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/web"
)

// webhookRoutes are for admins only, like everything about webhooks.
func (h *Handler) webhookRoutes() []web.Route {
	return []web.Route{
		{Pattern: "GET /api/v1/webhook", Access: web.Admin, Handle: h.listWebhooks},
		{Pattern: "POST /api/v1/webhook", Access: web.Admin, Handle: h.createWebhook},
		{Pattern: "GET /api/v1/webhook/{id}", Access: web.Admin, Handle: h.getWebhook},
		{Pattern: "PUT /api/v1/webhook/{id}", Access: web.Admin, Handle: h.replaceWebhook},
		{Pattern: "DELETE /api/v1/webhook/{id}", Access: web.Admin, Handle: h.deleteWebhook},
		{Pattern: "POST /api/v1/webhook/{id}", Access: web.Admin, Handle: h.setWebhookEnabled},
		{Pattern: "POST /api/v1/webhook/{id}/rotate_secret", Access: web.Admin, Handle: h.rotateSecret},
		{Pattern: "POST /api/v1/webhook/{id}/test", Access: web.Admin, Handle: h.testWebhook},
		{Pattern: "GET /api/v1/webhook/{id}/delivery", Access: web.Admin, Handle: h.listDeliveries},
		{Pattern: "GET /api/v1/webhook/{id}/delivery/{did}", Access: web.Admin, Handle: h.getDelivery},
		{Pattern: "POST /api/v1/webhook/{id}/delivery/{did}/redeliver", Access: web.Admin, Handle: h.redeliver},
		{Pattern: "POST /api/v1/webhook/{id}/replay", Access: web.Admin, Handle: h.replay},
	}
}

// webhookBody is the body of POST and PUT. The read-only fields of WEBHOOK
// are accepted and ignored, so what a GET returns may be sent back.
type webhookBody struct {
	URL              string   `json:"url"`
	Description      string   `json:"description"`
	Token            string   `json:"token"`
	Enabled          *bool    `json:"enabled"`
	OnUserCreated    bool     `json:"on_user_created"`
	OnUserDeleted    bool     `json:"on_user_deleted"`
	OnUserModified   bool     `json:"on_user_modified"`
	OnHWKeyProvision bool     `json:"on_hwkey_provision"`
	Method           string   `json:"method"`
	Events           []string `json:"events"`

	ID             any `json:"id"`
	SigningSecret  any `json:"signing_secret"`
	CreatedAt      any `json:"created_at"`
	DisabledReason any `json:"disabled_reason"`
}

func (b webhookBody) input() directory.WebhookInput {
	return directory.WebhookInput{
		URL: b.URL, Description: b.Description, Token: b.Token, Enabled: b.Enabled,
		OnUserCreated: b.OnUserCreated, OnUserDeleted: b.OnUserDeleted, OnUserModified: b.OnUserModified,
		OnHWKeyProvision: b.OnHWKeyProvision, Method: b.Method, Events: b.Events,
	}
}

func (h *Handler) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	hooks, err := h.dir.ListWebhooks(r.Context(), actor(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, hooks)
}

func (h *Handler) getWebhook(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id")
	if err != nil {
		return err
	}
	hook, err := h.dir.GetWebhook(r.Context(), actor(r), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, hook)
}

func (h *Handler) createWebhook(w http.ResponseWriter, r *http.Request) error {
	var b webhookBody
	if err := decode(r, &b); err != nil {
		return err
	}
	hook, err := h.dir.CreateWebhook(r.Context(), actor(r), b.input())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, hook)
}

func (h *Handler) replaceWebhook(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id")
	if err != nil {
		return err
	}
	var b webhookBody
	if err := decode(r, &b); err != nil {
		return err
	}
	hook, err := h.dir.UpdateWebhook(r.Context(), actor(r), id, b.input())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, hook)
}

func (h *Handler) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id")
	if err != nil {
		return err
	}
	if err := h.dir.DeleteWebhook(r.Context(), actor(r), id); err != nil {
		return err
	}
	return noContent(w)
}

func (h *Handler) setWebhookEnabled(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id")
	if err != nil {
		return err
	}
	var in struct {
		Enabled *bool `json:"enabled"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Enabled == nil {
		return herald.Invalid("enabled", "is required (true or false)")
	}
	hook, err := h.dir.SetWebhookEnabled(r.Context(), actor(r), id, *in.Enabled)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, hook)
}

func (h *Handler) rotateSecret(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id")
	if err != nil {
		return err
	}
	hook, err := h.dir.RotateSecret(r.Context(), actor(r), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, hook)
}

func (h *Handler) testWebhook(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id")
	if err != nil {
		return err
	}
	a, err := h.dir.TestWebhook(r.Context(), actor(r), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"success": a.StatusCode >= 200 && a.StatusCode < 300, "status_code": a.StatusCode,
		"duration_ms": a.DurationMS, "response_body": a.ResponseBody, "error": a.Error, "started_at": a.StartedAt,
	})
}

func (h *Handler) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id")
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", defaultLimit, 1, maxLimit)
	if err != nil {
		return err
	}
	before, err := queryInt(r, "before", 0, 1, 1<<62)
	if err != nil {
		return err
	}
	ds, err := h.dir.ListDeliveries(r.Context(), actor(r), id, r.URL.Query().Get("status"), before, int(limit))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ds)
}

func (h *Handler) getDelivery(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id")
	if err != nil {
		return err
	}
	did, err := web.PathID(r, "did")
	if err != nil {
		return err
	}
	d, err := h.dir.GetDelivery(r.Context(), actor(r), id, did)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, d)
}

func (h *Handler) redeliver(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id")
	if err != nil {
		return err
	}
	did, err := web.PathID(r, "did")
	if err != nil {
		return err
	}
	if err := h.dir.Redeliver(r.Context(), actor(r), id, did); err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, map[string]string{"msg": "queued"})
}

func (h *Handler) replay(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id")
	if err != nil {
		return err
	}
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
