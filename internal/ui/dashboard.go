package ui

import (
	"net/http"
	"net/url"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// dashboardView is what the admin's home page shows: the directory's size,
// the webhooks by health, the last day's deliveries, the newest events and
// the webhooks that need someone.
type dashboardView struct {
	Users, Groups int
	Webhooks      int
	ByHealth      map[string]int
	Deliveries    store.DeliveryCounts
	Events        []herald.Event
	// Attention are the webhooks failing now or disabled by Herald (a
	// 410), each linked to its page; SCIMAttention the SCIM targets alike.
	Attention     []webhookRow
	SCIMTargets   int
	SCIMAttention []scimRow
}

// dashboardEvents is how many of the newest events the dashboard lists.
const dashboardEvents = 8

// home shows admins the dashboard, sends everyone else to their profile,
// and the anonymous to the login form.
func (h *Handler) home(w http.ResponseWriter, r *http.Request) error {
	a := actor(r)
	switch {
	case a.Username == "":
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return nil
	case !a.IsAdmin:
		http.Redirect(w, r, "/users/"+url.PathEscape(a.Username), http.StatusSeeOther)
		return nil
	}
	ctx := r.Context()
	var v dashboardView
	var err error
	if _, v.Users, err = h.dir.FindUsers(ctx, a, "", 0, 1); err != nil {
		return err
	}
	groups, err := h.dir.ListGroups(ctx, a)
	if err != nil {
		return err
	}
	v.Groups = len(groups)
	hooks, err := h.dir.ListWebhooks(ctx, a)
	if err != nil {
		return err
	}
	rows, err := h.webhookRows(r, hooks)
	if err != nil {
		return err
	}
	v.Webhooks = len(rows)
	v.ByHealth = map[string]int{}
	for _, row := range rows {
		v.ByHealth[row.State]++
		if row.State == herald.HealthFailing || row.DisabledReason != "" {
			v.Attention = append(v.Attention, row)
		}
	}
	targets, err := h.dir.ListSCIMTargets(ctx, a)
	if err != nil {
		return err
	}
	scimRows, err := h.scimRows(r, targets)
	if err != nil {
		return err
	}
	v.SCIMTargets = len(scimRows)
	for _, row := range scimRows {
		if row.State == herald.HealthFailing || row.DisabledReason != "" {
			v.SCIMAttention = append(v.SCIMAttention, row)
		}
	}
	if v.Deliveries, err = h.dir.DeliveryCounts(ctx, a, time.Now().Add(-24*time.Hour)); err != nil {
		return err
	}
	if v.Events, err = h.dir.RecentEvents(ctx, a, 0, dashboardEvents); err != nil {
		return err
	}
	return h.render(w, r, http.StatusOK, "dashboard", page{Title: "Dashboard", Data: v})
}
