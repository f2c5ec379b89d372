package ui

import (
	"net/http"
	"strconv"

	"github.com/heraldhq/herald/internal/web"
)

func (h *Handler) eventRoutes() []web.Route {
	return []web.Route{{Pattern: "GET /events", Access: web.Admin, Handle: h.events}}
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
