// Package server assembles Herald's HTTP handler: routes of the API (and
// later the web UI), and the middleware every request passes through.
package server

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/ui"
)

// New returns the handler serving everything Herald serves over HTTP.
func New(dir *directory.Service, reg *prometheus.Registry, log *slog.Logger) (http.Handler, error) {
	mux := http.NewServeMux()
	api.New(dir, log).Register(mux)
	pages, err := ui.New(dir, log)
	if err != nil {
		return nil, err
	}
	pages.Register(mux)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	// Outermost first: recover from panics, tag and log the request, refuse
	// cross-site writes (browsers say where a request comes from; API
	// clients like curl send no such headers and pass), then find out who
	// is asking.
	var h http.Handler = mux
	h = authenticate(dir, log, h)
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, herald.Errorf(herald.EFORBIDDEN, "cross-site request refused: send it from Herald's own pages, or use an API token"))
	}))
	h = csrf.Handler(h)
	h = logRequests(log, h)
	h = recoverPanics(log, h)
	return h, nil
}
