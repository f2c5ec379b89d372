package api

import (
	"net/http"

	"github.com/heraldhq/herald"

	"github.com/heraldhq/herald/internal/web"
)

func (h *Handler) eventRoutes() []web.Route {
	return []web.Route{
		{Pattern: "GET /api/v1/event", Access: web.Admin, Handle: h.listEvents},
		{Pattern: "GET /api/v1/audit", Access: web.Admin, Handle: h.listAudit},
		{Pattern: "GET /api/v1/health", Access: web.Anyone, Handle: h.health},
		{Pattern: "GET /api/v1/ready", Access: web.Anyone, Handle: h.ready},
	}
}

// List limits: a limit defaults to 100 and is capped at 1000 (openapi.json).
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// feedPage reads a feed's ?after= (where it goes on from, 0 for its
// start) and ?limit=. Returns EINVALID naming the one out of range.
func feedPage(r *http.Request) (after int64, limit int, err error) {
	if after, err = queryInt(r, "after", 0, 0, 1<<62); err != nil {
		return 0, 0, err
	}
	n, err := queryInt(r, "limit", defaultLimit, 1, maxLimit)
	return after, int(n), err
}

func (h *Handler) listEvents(w http.ResponseWriter, r *http.Request) error {
	after, limit, err := feedPage(r)
	if err != nil {
		return err
	}
	return respond(w, http.StatusOK)(h.dir.ListEvents(r.Context(), actor(r), after, limit))
}

// listAudit is the audit log after an id, oldest first, filtered by
// action, actor (api_token:<id>, user:<name>, station:<name> or system)
// and target.
func (h *Handler) listAudit(w http.ResponseWriter, r *http.Request) error {
	after, limit, err := feedPage(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	return respond(w, http.StatusOK)(h.dir.ListAudit(r.Context(), actor(r), herald.AuditFilter{After: after, Limit: limit,
		Action: q.Get("action"), Actor: q.Get("actor"), Target: q.Get("target")}))
}

func (h *Handler) health(w http.ResponseWriter, r *http.Request) error {
	return respond(w, http.StatusOK)(map[string]string{"status": "ok"}, h.dir.Health(r.Context()))
}

// ready is readiness (for load balancers and `herald healthcheck`): 200
// when the database accepts writes; 503 when it does not answer, refused
// the last write for lack of space or permission, or its SQLite file was
// removed or replaced. health is liveness: the process is up and the
// database answers reads.
func (h *Handler) ready(w http.ResponseWriter, r *http.Request) error {
	return respond(w, http.StatusOK)(map[string]string{"status": "ok"}, h.dir.Ready(r.Context()))
}
