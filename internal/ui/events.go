package ui

import (
	"maps"
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

// eventsView is one page of the event feed: pages go back by sequence
// number (?before=), so a page keeps its rows while new events arrive.
type eventsView struct {
	Events        []herald.Event
	Search        pager // the search box and the total
	Older, Newest string
}

func (h *Handler) events(w http.ResponseWriter, r *http.Request) error {
	search := pagerFor(r, "events")
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	events, total, err := h.dir.FindEvents(r.Context(), actor(r), search.Q, before, eventsPerPage)
	if err != nil {
		return err
	}
	search.Total = total
	v := eventsView{Events: events, Search: search}
	link := func(before int64) string {
		q := url.Values{}
		if search.Q != "" {
			q.Set("q", search.Q)
		}
		if before > 0 {
			q.Set("before", strconv.FormatInt(before, 10))
		}
		if len(q) == 0 {
			return "/events"
		}
		return "/events?" + q.Encode()
	}
	if len(events) == eventsPerPage {
		v.Older = link(events[len(events)-1].Seq)
	}
	if before > 0 {
		v.Newest = link(0)
	}
	return h.render(w, r, http.StatusOK, "events", page{Title: "Events", Data: v})
}

// auditPerPage is how many audit entries one page shows.
const auditPerPage = 50

// auditView is one page of the audit log: like the event feed, pages go
// back by id (?before=), filtered by the form's action, actor, target and
// words (?q=).
type auditView struct {
	Entries       []herald.AuditEntry
	Total         int
	Q             string
	Actions       []string
	Older, Newest string
}

// audit is the audit log, newest first.
func (h *Handler) audit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	before, _ := strconv.ParseInt(q.Get("before"), 10, 64)
	f := herald.AuditFilter{Before: before, NewestFirst: true, Limit: auditPerPage, Action: q.Get("action"),
		Actor: strings.TrimSpace(q.Get("actor")), Target: strings.TrimSpace(q.Get("target")), Q: strings.TrimSpace(q.Get("q"))}
	entries, total, err := h.dir.FindAudit(r.Context(), actor(r), f)
	if err != nil {
		return err
	}
	form := url.Values{}
	for k, v := range map[string]string{"action": f.Action, "actor": f.Actor, "target": f.Target, "q": f.Q} {
		if v != "" {
			form.Set(k, v)
		}
	}
	link := func(before int64) string {
		v := url.Values{}
		maps.Copy(v, form)
		if before > 0 {
			v.Set("before", strconv.FormatInt(before, 10))
		}
		if len(v) == 0 {
			return "/audit"
		}
		return "/audit?" + v.Encode()
	}
	view := auditView{Entries: entries, Total: total, Q: f.Q, Actions: herald.AuditActions}
	if len(entries) == auditPerPage {
		view.Older = link(entries[len(entries)-1].ID)
	}
	if before > 0 {
		view.Newest = link(0)
	}
	return h.render(w, r, http.StatusOK, "audit", page{Title: "Audit log", Form: form, Data: view})
}
