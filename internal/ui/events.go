package ui

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/heraldhq/herald"

	"github.com/heraldhq/herald/internal/web"
)

func (h *Handler) eventRoutes() []web.Route {
	return []web.Route{
		{Pattern: "GET /events", Access: web.Admin, Handle: h.events},
		{Pattern: "GET /audit", Access: web.Admin, Handle: h.audit},
	}
}

// eventsPerPage is how many events one page of the feed shows.
const eventsPerPage = 50

func (h *Handler) events(w http.ResponseWriter, r *http.Request) error {
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	events, err := h.dir.RecentEvents(r.Context(), actor(r), before, eventsPerPage)
	if err != nil {
		return err
	}
	var older int64
	if len(events) == eventsPerPage {
		older = events[len(events)-1].Seq
	}
	return h.render(w, r, http.StatusOK, "events", page{Title: "Events", Data: map[string]any{"Events": events, "Older": older}})
}

// auditPerPage is how many audit entries one page shows.
const auditPerPage = 50

// audit is the audit log, newest first, filtered by the form's action,
// actor and target.
func (h *Handler) audit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	before, _ := strconv.ParseInt(q.Get("before"), 10, 64)
	f := herald.AuditFilter{Before: before, NewestFirst: true, Limit: auditPerPage,
		Action: q.Get("action"), Actor: strings.TrimSpace(q.Get("actor")), Target: strings.TrimSpace(q.Get("target"))}
	entries, err := h.dir.ListAudit(r.Context(), actor(r), f)
	if err != nil {
		return err
	}
	older := ""
	if len(entries) == auditPerPage {
		v := url.Values{"before": {strconv.FormatInt(entries[len(entries)-1].ID, 10)}, "action": {f.Action}, "actor": {f.Actor}, "target": {f.Target}}
		older = "/audit?" + v.Encode()
	}
	form := url.Values{"action": {f.Action}, "actor": {f.Actor}, "target": {f.Target}}
	return h.render(w, r, http.StatusOK, "audit", page{Title: "Audit log", Form: form,
		Data: map[string]any{"Entries": entries, "Older": older, "Actions": herald.AuditActions}})
}
