// Package api serves the JSON management API under /api/v1. Every route
// declares who may call it (internal/web checks that before the handler
// runs); handlers decode and check the shape of a request, call the
// directory with the request's actor, and encode the answer, returning
// errors for the one error writer. Every rule lives in the directory. One
// file per resource.
package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/web"
)

// Handler serves the management API.
type Handler struct {
	dir *directory.Service
	log *slog.Logger
}

// New returns the API handler.
func New(dir *directory.Service, log *slog.Logger) *Handler {
	return &Handler{dir: dir, log: log}
}

// Routes returns every route of the API, each with its access level.
func (h *Handler) Routes() []web.Route {
	var routes []web.Route
	for _, group := range [][]web.Route{
		h.authRoutes(), h.userRoutes(), h.groupRoutes(), h.workerRoutes(), h.eventRoutes(), h.webhookRoutes(), h.scimRoutes(),
		{{Pattern: "GET /api/v1/openapi.json", Access: web.Anyone, Handle: serveOpenAPI}},
	} {
		routes = append(routes, group...)
	}
	return routes
}

// Register adds the API's routes to mux, and a JSON 404 for any other
// path under /api/.
func (h *Handler) Register(mux *http.ServeMux) {
	web.Mount(mux, h.Routes(), h.fail)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, herald.Errorf(herald.ENOTFOUND, "no API endpoint %s %s", r.Method, r.URL.Path))
	})
}

func actor(r *http.Request) directory.Actor { return directory.ActorFrom(r.Context()) }

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
	return nil
}

// respond returns what answers a directory call: its result as JSON with
// status, or its error for the error writer. A handler ends with
//
//	return respond(w, http.StatusOK)(h.dir.GetUser(ctx, a, username))
func respond(w http.ResponseWriter, status int) func(v any, err error) error {
	return func(v any, err error) error {
		if err != nil {
			return err
		}
		return writeJSON(w, status, v)
	}
}

// noContent answers 204 when err is nil, and returns err otherwise.
func noContent(w http.ResponseWriter, err error) error {
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// queryInt reads an optional integer query parameter of at least lo;
// larger values than hi are capped to hi.
func queryInt(r *http.Request, name string, def, lo, hi int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo {
		return 0, herald.Invalid(name, "must be an integer of at least %d", lo)
	}
	return min(n, hi), nil
}
