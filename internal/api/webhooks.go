package api

import (
	"net/http"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
)

func (h *Handler) registerWebhooks(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/webhook", h.listWebhooks)
	mux.HandleFunc("POST /api/v1/webhook", h.createWebhook)
	mux.HandleFunc("GET /api/v1/webhook/{id}", h.getWebhook)
	mux.HandleFunc("PUT /api/v1/webhook/{id}", h.replaceWebhook)
	mux.HandleFunc("DELETE /api/v1/webhook/{id}", h.deleteWebhook)
	mux.HandleFunc("POST /api/v1/webhook/{id}", h.setWebhookEnabled)
	mux.HandleFunc("POST /api/v1/webhook/{id}/rotate_secret", h.rotateSecret)
	mux.HandleFunc("POST /api/v1/webhook/{id}/test", h.testWebhook)
	mux.HandleFunc("GET /api/v1/webhook/{id}/delivery", h.listDeliveries)
	mux.HandleFunc("GET /api/v1/webhook/{id}/delivery/{did}", h.getDelivery)
	mux.HandleFunc("POST /api/v1/webhook/{id}/delivery/{did}/redeliver", h.redeliver)
	mux.HandleFunc("POST /api/v1/webhook/{id}/replay", h.replay)
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

	TokenUnreadable         any `json:"token_unreadable"`
	SigningSecretUnreadable any `json:"signing_secret_unreadable"`
}

func (b webhookBody) input() directory.WebhookInput {
	return directory.WebhookInput{
		URL: b.URL, Description: b.Description, Token: b.Token, Enabled: b.Enabled,
		OnUserCreated: b.OnUserCreated, OnUserDeleted: b.OnUserDeleted, OnUserModified: b.OnUserModified,
		OnHWKeyProvision: b.OnHWKeyProvision, Method: b.Method, Events: b.Events,
	}
}

func (h *Handler) listWebhooks(w http.ResponseWriter, r *http.Request) {
	hooks, err := h.dir.ListWebhooks(r.Context(), actor(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, hooks)
}

func (h *Handler) getWebhook(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	hook, err := h.dir.GetWebhook(r.Context(), actor(r), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, hook)
}

func (h *Handler) createWebhook(w http.ResponseWriter, r *http.Request) {
	var b webhookBody
	if err := decode(w, r, &b); err != nil {
		h.fail(w, r, err)
		return
	}
	hook, err := h.dir.CreateWebhook(r.Context(), actor(r), b.input())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, hook)
}

func (h *Handler) replaceWebhook(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var b webhookBody
	if err := decode(w, r, &b); err != nil {
		h.fail(w, r, err)
		return
	}
	hook, err := h.dir.UpdateWebhook(r.Context(), actor(r), id, b.input())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, hook)
}

func (h *Handler) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err == nil {
		err = h.dir.DeleteWebhook(r.Context(), actor(r), id)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) setWebhookEnabled(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var in struct {
		Enabled *bool `json:"enabled"`
	}
	if err := decode(w, r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	if in.Enabled == nil {
		h.fail(w, r, herald.Errorf(herald.EINVALID, "enabled: is required (true or false)"))
		return
	}
	hook, err := h.dir.SetWebhookEnabled(r.Context(), actor(r), id, *in.Enabled)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, hook)
}

func (h *Handler) rotateSecret(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	hook, err := h.dir.RotateSecret(r.Context(), actor(r), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, hook)
}

func (h *Handler) testWebhook(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	a, err := h.dir.TestWebhook(r.Context(), actor(r), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"success": a.StatusCode >= 200 && a.StatusCode < 300, "status_code": a.StatusCode,
		"duration_ms": a.DurationMS, "response_body": a.ResponseBody, "error": a.Error, "started_at": a.StartedAt,
	})
}

func (h *Handler) listDeliveries(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	limit, err := queryInt(r, "limit", defaultLimit, 1, maxLimit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	before, err := queryInt(r, "before", 0, 1, 1<<62)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ds, err := h.dir.ListDeliveries(r.Context(), actor(r), id, r.URL.Query().Get("status"), before, int(limit))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ds)
}

func (h *Handler) getDelivery(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	did, err := pathID(r, "did")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d, err := h.dir.GetDelivery(r.Context(), actor(r), id, did)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (h *Handler) redeliver(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	did, err := pathID(r, "did")
	if err == nil {
		err = h.dir.Redeliver(r.Context(), actor(r), id, did)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"msg": "queued"})
}

func (h *Handler) replay(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var in struct {
		Since string `json:"since"`
	}
	if err := decode(w, r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	since, err := time.Parse(time.RFC3339, in.Since)
	if err != nil {
		h.fail(w, r, herald.Errorf(herald.EINVALID, "since: must be an RFC 3339 time like 2026-01-02T15:04:05Z"))
		return
	}
	n, err := h.dir.Replay(r.Context(), actor(r), id, since)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"queued": n})
}
