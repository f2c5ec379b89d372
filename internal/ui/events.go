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
	before, err := beforeParam(r)
	if err != nil {
		return err
	}
	// One more than a page: an older page is linked only if it has rows.
	events, total, err := h.dir.FindEvents(r.Context(), actor(r), search.Q, before, eventsPerPage+1)
	if err != nil {
		return err
	}
	search.Total = total
	form := url.Values{}
	if search.Q != "" {
		form.Set("q", search.Q)
	}
	v := eventsView{Search: search}
	v.Events, v.Older, v.Newest = feedPage(events, eventsPerPage, func(e herald.Event) int64 { return e.Seq }, "/events", form, before)
	return h.render(w, r, http.StatusOK, "events", page{Title: "Events", Data: v})
}

// beforeParam reads ?before=, where a feed's page starts (0, the newest,
// when it is absent). Returns EINVALID when it is not a positive number.
func beforeParam(r *http.Request) (int64, error) {
	s := r.URL.Query().Get("before")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, herald.Invalid("before", "must be a positive number (the id a page starts below), not %q", s)
	}
	return n, nil
}

// feedPage cuts rows, read one more than perPage from before on (0: the
// newest), to the page to show, with the links to the older page (only
// when it has rows: the one more) and to the newest (when this is not
// it), at path with the query form kept. id is a row's id, which pages
// go back by.
func feedPage[T any](rows []T, perPage int, id func(T) int64, path string, form url.Values, before int64) (page []T, older, newest string) {
	page = rows[:min(len(rows), perPage)]
	if len(rows) > perPage {
		older = feedLink(path, form, id(page[perPage-1]))
	}
	if before > 0 {
		newest = feedLink(path, form, 0)
	}
	return page, older, newest
}

// feedLink is the link to a feed's page at path below id before (0: the
// newest page), keeping the query form.
func feedLink(path string, form url.Values, before int64) string {
	v := url.Values{}
	maps.Copy(v, form)
	if before > 0 {
		v.Set("before", strconv.FormatInt(before, 10))
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// auditPerPage is how many audit entries one page shows.
const auditPerPage = 50

// auditView is one page of the audit log: like the event feed, pages go
// back by id (?before=), filtered by the form's action, actor, target and
// words (?q=).
type auditView struct {
	Entries       []herald.AuditEntry
	Total         int
	Actions       []string
	Older, Newest string
}

// audit is the audit log, newest first.
func (h *Handler) audit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	before, err := beforeParam(r)
	if err != nil {
		return err
	}
	f := herald.AuditFilter{Before: before, NewestFirst: true, Limit: auditPerPage + 1, Action: q.Get("action"),
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
	view := auditView{Total: total, Actions: herald.AuditActions}
	view.Entries, view.Older, view.Newest = feedPage(entries, auditPerPage, func(e herald.AuditEntry) int64 { return e.ID }, "/audit", form, before)
	return h.render(w, r, http.StatusOK, "audit", page{Title: "Audit log", Form: form, Data: view})
}
