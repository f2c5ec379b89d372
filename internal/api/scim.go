package api

import (
	"net/http"

	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/web"
)

// scimRoutes are for admins only, like everything about webhooks: a SCIM
// target is a webhook of another kind (directory/scim.go).
func (h *Handler) scimRoutes() []web.Route {
	return []web.Route{
		{Pattern: "GET /api/v1/scim_target", Access: web.Admin, Handle: h.listSCIMTargets},
		{Pattern: "POST /api/v1/scim_target", Access: web.Admin, Handle: h.createSCIMTarget},
		{Pattern: "GET /api/v1/scim_target/{id}", Access: web.Admin, Handle: web.WithID("id", h.getSCIMTarget)},
		{Pattern: "PUT /api/v1/scim_target/{id}", Access: web.Admin, Handle: web.WithID("id", h.replaceSCIMTarget)},
		{Pattern: "DELETE /api/v1/scim_target/{id}", Access: web.Admin, Handle: web.WithID("id", h.deleteSCIMTarget)},
		{Pattern: "POST /api/v1/scim_target/{id}/resync", Access: web.Admin, Handle: web.WithID("id", h.resyncSCIMTarget)},
		{Pattern: "GET /api/v1/scim_target/{id}/deliveries", Access: web.Admin, Handle: web.WithID("id", h.listSCIMDeliveries)},
	}
}

// scimTargetBody is the body of POST and PUT. The read-only fields of a
// SCIM target are accepted and ignored, so what a GET returns may be sent
// back: a body without token keeps the stored one (GET never shows it),
// and "token": "" removes it.
type scimTargetBody struct {
	Name        string   `json:"name"`
	BaseURL     string   `json:"base_url"`
	Token       *string  `json:"token"`
	Enabled     *bool    `json:"enabled"`
	OnlyGroups  []string `json:"only_groups"`
	Deprovision string   `json:"deprovision"`
	SyncGroups  bool     `json:"sync_groups"`

	ID              any `json:"id"`
	TokenSet        any `json:"token_set"`
	CreatedAt       any `json:"created_at"`
	DisabledReason  any `json:"disabled_reason"`
	TokenUnreadable any `json:"token_unreadable"`
	LastResync      any `json:"last_resync"`
}

func (b scimTargetBody) input() directory.SCIMTargetInput {
	return directory.SCIMTargetInput{
		Name: b.Name, BaseURL: b.BaseURL, Token: b.Token, Enabled: b.Enabled,
		OnlyGroups: b.OnlyGroups, Deprovision: b.Deprovision, SyncGroups: b.SyncGroups,
	}
}

func (h *Handler) listSCIMTargets(w http.ResponseWriter, r *http.Request) error {
	return respond(w, http.StatusOK)(h.dir.ListSCIMTargets(r.Context(), actor(r)))
}

func (h *Handler) getSCIMTarget(w http.ResponseWriter, r *http.Request, id int64) error {
	return respond(w, http.StatusOK)(h.dir.GetSCIMTarget(r.Context(), actor(r), id))
}

func (h *Handler) createSCIMTarget(w http.ResponseWriter, r *http.Request) error {
	var b scimTargetBody
	if err := decode(r, &b); err != nil {
		return err
	}
	return respond(w, http.StatusCreated)(h.dir.CreateSCIMTarget(r.Context(), actor(r), b.input()))
}

func (h *Handler) replaceSCIMTarget(w http.ResponseWriter, r *http.Request, id int64) error {
	var b scimTargetBody
	if err := decode(r, &b); err != nil {
		return err
	}
	return respond(w, http.StatusOK)(h.dir.UpdateSCIMTarget(r.Context(), actor(r), id, b.input()))
}

func (h *Handler) deleteSCIMTarget(w http.ResponseWriter, r *http.Request, id int64) error {
	return noContent(w, h.dir.DeleteSCIMTarget(r.Context(), actor(r), id))
}

func (h *Handler) resyncSCIMTarget(w http.ResponseWriter, r *http.Request, id int64) error {
	return respond(w, http.StatusOK)(h.dir.ResyncSCIMTarget(r.Context(), actor(r), id))
}

func (h *Handler) listSCIMDeliveries(w http.ResponseWriter, r *http.Request, id int64) error {
	return listDeliveriesWith(w, r, id, h.dir.ListSCIMDeliveries)
}
