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
		{Pattern: "GET /api/v1/scim_target", Access: web.Admin, Handle: listAll(h.dir.ListSCIMTargets)},
		{Pattern: "POST /api/v1/scim_target", Access: web.Admin, Handle: createFrom[scimTargetBody](h.dir.CreateSCIMTarget)},
		{Pattern: "GET /api/v1/scim_target/{id}", Access: web.Admin, Handle: byID(http.StatusOK, h.dir.GetSCIMTarget)},
		{Pattern: "PUT /api/v1/scim_target/{id}", Access: web.Admin, Handle: replaceFrom[scimTargetBody](h.dir.UpdateSCIMTarget)},
		{Pattern: "DELETE /api/v1/scim_target/{id}", Access: web.Admin, Handle: deleteByID(h.dir.DeleteSCIMTarget)},
		{Pattern: "POST /api/v1/scim_target/{id}/resync", Access: web.Admin, Handle: byID(http.StatusOK, h.dir.ResyncSCIMTarget)},
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

func (h *Handler) listSCIMDeliveries(w http.ResponseWriter, r *http.Request, id int64) error {
	return listDeliveriesWith(w, r, id, h.dir.ListSCIMDeliveries)
}
