package ui

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/web"
)

// scimRoutes are for admins only, like SCIM targets in the API.
func (h *Handler) scimRoutes() []web.Route {
	targets := h.scimKind()
	return []web.Route{
		{Pattern: "GET /scim", Access: web.Admin, Handle: h.scimTargets},
		{Pattern: "GET /scim/new", Access: web.Admin, Handle: h.newSCIMTargetPage},
		{Pattern: "POST /scim/new", Access: web.Admin, Handle: h.createSCIMTarget},
		{Pattern: "GET /scim/{id}", Access: web.Admin, Handle: web.WithID("id", h.scimTargetPage)},
		{Pattern: "GET /scim/{id}/edit", Access: web.Admin, Handle: web.WithID("id", h.editSCIMTargetPage)},
		{Pattern: "POST /scim/{id}/edit", Access: web.Admin, Handle: web.WithID("id", h.saveSCIMTarget)},
		{Pattern: "POST /scim/{id}/enabled", Access: web.Admin, Handle: h.setTargetEnabled(targets)},
		{Pattern: "GET /scim/{id}/delete", Access: web.Admin, Handle: h.confirmDeleteTarget(targets)},
		{Pattern: "POST /scim/{id}/delete", Access: web.Admin, Handle: h.deleteTarget(targets)},
		{Pattern: "POST /scim/{id}/resync", Access: web.Admin, Handle: web.WithID("id", h.resyncSCIMTarget)},
		{Pattern: "GET /scim/{id}/deliveries/{did}", Access: web.Admin, Handle: h.targetDeliveryPage(targets)},
		{Pattern: "POST /scim/{id}/deliveries/{did}/redeliver", Access: web.Admin, Handle: h.redeliverTarget(targets)},
	}
}

// scimKind is what the pages shared with webhooks need of SCIM targets.
func (h *Handler) scimKind() targetKind {
	return targetKind{
		base: "/scim", noun: "SCIM target", nounTitle: "SCIM target", plural: "SCIM targets",
		enabled:  "SCIM target enabled. Changes made while it was disabled reach it only by a resync.",
		disabled: "SCIM target disabled: it finishes what it was given and gets nothing new.",
		describe: func(ctx context.Context, a directory.Actor, id int64) (string, string, error) {
			t, err := h.dir.GetSCIMTarget(ctx, a, id)
			return t.Name, fmt.Sprintf("Delete the SCIM target %s (%s)? Changes not yet sent are dropped, with its delivery log. "+
				"What it provisioned at the target stays there.", t.Name, t.BaseURL), err
		},
		setEnabled: onlyErr(h.dir.SetSCIMTargetEnabled),
		remove:     h.dir.DeleteSCIMTarget, delivery: h.dir.GetSCIMDelivery, redeliver: h.dir.RedeliverSCIM,
	}
}

var scimFields = []string{"name", "base_url", "token", "deprovision", "only_groups"}

// scimRow is a SCIM target as the list and its page show it, with its
// health read from its delivery log as a webhook's is.
type scimRow struct {
	herald.SCIMTarget
	Host   string // of the base URL
	Health herald.WebhookHealth
	State  string // herald.WebhookHealth.State
}

func (h *Handler) scimRows(r *http.Request, targets []herald.SCIMTarget) ([]scimRow, error) {
	ids := make([]int64, len(targets))
	for i, t := range targets {
		ids[i] = t.ID
	}
	health, err := h.dir.WebhookHealths(r.Context(), actor(r), ids)
	if err != nil {
		return nil, err
	}
	rows := make([]scimRow, len(targets))
	for i, t := range targets {
		host := t.BaseURL
		if u, err := url.Parse(t.BaseURL); err == nil && u.Host != "" {
			host = u.Host
		}
		rows[i] = scimRow{SCIMTarget: t, Host: host, Health: health[t.ID], State: health[t.ID].State(t.Enabled)}
	}
	return rows, nil
}

// scimTargetsView is one page of the SCIM targets list.
type scimTargetsView struct {
	Targets []scimRow
	Pager   pager
}

func (h *Handler) scimTargets(w http.ResponseWriter, r *http.Request) error {
	targets, err := h.dir.ListSCIMTargets(r.Context(), actor(r))
	if err != nil {
		return err
	}
	pg := pagerFor(r, "SCIM targets")
	targets = pageOf(targets, &pg, func(t herald.SCIMTarget) string { return t.Name + " " + t.BaseURL })
	rows, err := h.scimRows(r, targets)
	if err != nil {
		return err
	}
	return h.render(w, r, http.StatusOK, "scim_targets", page{Title: "SCIM targets", Data: scimTargetsView{Targets: rows, Pager: pg}})
}

// scimFormView is what the add and edit forms show: never the token,
// only whether one is set.
type scimFormView struct {
	ID       int64
	HasToken bool
}

func (h *Handler) newSCIMTargetPage(w http.ResponseWriter, r *http.Request) error {
	form := url.Values{"deprovision": {"deactivate"}, "enabled": {"on"}}
	return h.render(w, r, http.StatusOK, "scim_form", page{Title: "Add a target · SCIM targets", Form: form, Data: scimFormView{}})
}

// scimInput reads the form. An empty token field keeps the stored token
// (nil); "Remove the token" clears it.
func scimInput(f url.Values) directory.SCIMTargetInput {
	enabled := f.Get("enabled") != ""
	in := directory.SCIMTargetInput{
		Name: f.Get("name"), BaseURL: f.Get("base_url"), Enabled: &enabled,
		OnlyGroups: listField(f.Get("only_groups")), Deprovision: f.Get("deprovision"), SyncGroups: f.Get("sync_groups") != "",
	}
	switch token := f.Get("token"); {
	case token != "":
		in.Token = &token
	case f.Get("clear_token") != "":
		in.Token = new(string)
	}
	return in
}

func (h *Handler) createSCIMTarget(w http.ResponseWriter, r *http.Request) error {
	t, err := h.dir.CreateSCIMTarget(r.Context(), actor(r), scimInput(r.PostForm))
	return h.afterForm(w, r, err, func(err error) error {
		return h.renderForm(w, r, "scim_form", page{Title: "Add a target · SCIM targets", Form: withoutToken(r.PostForm), Data: scimFormView{}}, err, scimFields)
	}, fmt.Sprintf("/scim/%d", t.ID), "SCIM target added. Resync it to provision the users who exist already.")
}

// scimForm is the edit form's values for t: everything but its token.
func scimForm(t herald.SCIMTarget) url.Values {
	f := url.Values{"name": {t.Name}, "base_url": {t.BaseURL}, "deprovision": {t.Deprovision}, "only_groups": {strings.Join(t.OnlyGroups, " ")}}
	for name, on := range map[string]bool{"enabled": t.Enabled, "sync_groups": t.SyncGroups, "token_unreadable": t.TokenUnreadable} {
		if on {
			f.Set(name, "on")
		}
	}
	return f
}

func (h *Handler) editSCIMTargetPage(w http.ResponseWriter, r *http.Request, id int64) error {
	t, err := h.dir.GetSCIMTarget(r.Context(), actor(r), id)
	if err != nil {
		return err
	}
	return h.render(w, r, http.StatusOK, "scim_form", page{Title: "Edit · " + t.Name + " · SCIM targets", Form: scimForm(t),
		Data: scimFormView{ID: id, HasToken: t.TokenSet}})
}

func (h *Handler) saveSCIMTarget(w http.ResponseWriter, r *http.Request, id int64) error {
	t, err := h.dir.GetSCIMTarget(r.Context(), actor(r), id)
	if err != nil {
		return err
	}
	_, err = h.dir.UpdateSCIMTarget(r.Context(), actor(r), id, scimInput(r.PostForm))
	return h.afterForm(w, r, err, func(err error) error {
		return h.renderForm(w, r, "scim_form", page{Title: "Edit · " + t.Name + " · SCIM targets", Form: withoutToken(r.PostForm),
			Data: scimFormView{ID: id, HasToken: t.TokenSet}}, err, scimFields)
	}, fmt.Sprintf("/scim/%d", id), "SCIM target saved.")
}

// resyncSCIMTarget resyncs and comes back to the target's page, which
// shows the report; a disabled target's refusal is a failed notice there.
func (h *Handler) resyncSCIMTarget(w http.ResponseWriter, r *http.Request, id int64) error {
	back := fmt.Sprintf("/scim/%d", id)
	rep, err := h.dir.ResyncSCIMTarget(r.Context(), actor(r), id)
	switch {
	case herald.ErrorCode(err) == herald.EINVALID || herald.ErrorCode(err) == herald.EUNAVAILABLE:
		return h.redirectFailed(w, r, back, "Resync not done: "+herald.ErrorMessage(err))
	case err != nil:
		return err
	case rep.Error != "":
		return h.redirectFailed(w, r, back, "Resync failed: "+rep.Error+". Nothing was queued.")
	}
	return h.redirect(w, r, back, fmt.Sprintf("Resync done: %d users and %d groups queued to change.",
		rep.Users.Created+rep.Users.Updated+rep.Users.Deprovisioned, rep.Groups.Created+rep.Groups.Updated+rep.Groups.Deprovisioned))
}

// scimTargetView is what a SCIM target's page shows.
type scimTargetView struct {
	Target scimRow
	DeliveryLog
}

func (h *Handler) scimTargetPage(w http.ResponseWriter, r *http.Request, id int64) error {
	a := actor(r)
	t, err := h.dir.GetSCIMTarget(r.Context(), a, id)
	if err != nil {
		return err
	}
	log, err := deliveryLog(r, fmt.Sprintf("/scim/%d", id), func(f store.DeliveryFilter) ([]herald.Delivery, int, error) {
		return h.dir.FindSCIMDeliveries(r.Context(), a, id, f)
	})
	if err != nil {
		return err
	}
	rows, err := h.scimRows(r, []herald.SCIMTarget{t})
	if err != nil {
		return err
	}
	return h.render(w, r, http.StatusOK, "scim_target", page{Title: t.Name + " · SCIM targets", Data: scimTargetView{Target: rows[0], DeliveryLog: log}})
}
