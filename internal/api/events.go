package api

import (
	"net/http"
)

func (h *Handler) registerEvents(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/event", h.listEvents)
	mux.HandleFunc("GET /api/v1/health", h.health)
	mux.HandleFunc("GET /api/v1/ready", h.ready)
}

// List limits (CONTRACT 2): a limit defaults to 100 and is capped at 1000.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

func (h *Handler) listEvents(w http.ResponseWriter, r *http.Request) {
	after, err := queryInt(r, "after", 0, 0, 1<<62)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	limit, err := queryInt(r, "limit", defaultLimit, 1, maxLimit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	events, err := h.dir.ListEvents(r.Context(), actor(r), after, int(limit))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, events)
}

func (h *Handler) health(w http.ResponseWriter, r *http.Request) {
	if err := h.dir.Health(r.Context()); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// ready is readiness (CONTRACT 4.2), for load balancers and `herald
// healthcheck`. For now it answers as health does: 200 when the database
// answers. Detecting storage faults (a write refused for lack of space or
// permission, a removed or replaced SQLite file) and answering 503 then
// comes next.
func (h *Handler) ready(w http.ResponseWriter, r *http.Request) {
	h.health(w, r)
}
