// Package api serves the JSON management API under /api/v1 (CONTRACT 2).
// Handlers decode and check the shape of a request, call the directory with
// the request's actor, and encode the answer; every rule lives in the
// directory. One file per resource.
package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
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

// Register adds the API's routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	h.registerAuth(mux)
	h.registerUsers(mux)
	h.registerGroups(mux)
	h.registerWorker(mux)
	h.registerEvents(mux)
	h.registerWebhooks(mux)
	mux.HandleFunc("GET /api/v1/openapi.json", serveOpenAPI)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, h.log, herald.Errorf(herald.ENOTFOUND, "no API endpoint %s %s", r.Method, r.URL.Path))
	})
}

func actor(r *http.Request) directory.Actor { return directory.ActorFrom(r.Context()) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
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
		return 0, herald.Errorf(herald.EINVALID, "%s: must be an integer of at least %d", name, lo)
	}
	return min(n, hi), nil
}

// pathID reads an integer path parameter.
func pathID(r *http.Request, name string) (int64, error) {
	n, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || n < 1 {
		return 0, herald.Errorf(herald.ENOTFOUND, "%s: %q is not a valid id", name, r.PathValue(name))
	}
	return n, nil
}
