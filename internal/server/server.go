// Package server assembles Herald's HTTP handler: the routes of the API and
// the web UI, and the middleware every request passes through.
package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/secretbox"
	"github.com/heraldhq/herald/internal/ui"
	"github.com/heraldhq/herald/internal/web"
)

// Options are the edge settings of the handler.
type Options struct {
	// Edge says which proxies' forwarding headers are believed, and
	// whether the public URL is https.
	Edge web.Edge
	// PublicURL is the address users reach Herald at ("" if not set); its
	// origin is trusted for cross-origin checks, where a proxy may change
	// the Host header.
	PublicURL string
	// MetricsElsewhere: /metrics is served on a listener of its own
	// (metrics_addr, MetricsHandler), not here.
	MetricsElsewhere bool
}

// New returns the handler serving everything Herald serves over HTTP. box
// seals the UI's notices. The request metrics go to reg, which /metrics
// serves unless opts.MetricsElsewhere.
func New(dir *directory.Service, reg *prometheus.Registry, log *slog.Logger, box *secretbox.Box, opts Options) (http.Handler, error) {
	mux := http.NewServeMux()
	apiHandler := api.New(dir, log)
	apiHandler.Register(mux)
	pages, err := ui.New(dir, log, box)
	if err != nil {
		return nil, err
	}
	pages.Register(mux)
	var patterns []string
	for _, rt := range append(apiHandler.Routes(), pages.Routes()...) {
		patterns = append(patterns, rt.Pattern)
	}
	if !opts.MetricsElsewhere {
		// Anonymous on purpose, for Prometheus; see docs/security.md.
		mux.Handle(metricsPattern, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		patterns = append(patterns, metricsPattern)
	}
	metrics := newHTTPMetrics(reg, mux, patterns)

	// Outermost first: count and time the request by its route, recover
	// from panics, find out who the client is,
	// tag and log the request, set the security headers, refuse
	// cross-site writes (browsers say where a request comes from; API
	// clients like curl send no such headers and pass), then find out who
	// is asking. Each route then checks the caller may use it.
	var h http.Handler = mux
	h = authenticate(dir, log, h)
	csrf := http.NewCrossOriginProtection()
	if opts.PublicURL != "" {
		u, err := url.Parse(opts.PublicURL)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("public_url: %q is not an absolute URL", opts.PublicURL)
		}
		if err := csrf.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
			return nil, fmt.Errorf("public_url: %w", err)
		}
	}
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.WriteError(w, herald.Errorf(herald.EFORBIDDEN, "cross-site request refused: send it from Herald's own pages, or use an API token"))
	}))
	h = csrf.Handler(h)
	h = securityHeaders(h)
	h = logRequests(log, h)
	h = resolveClient(opts.Edge, h)
	h = recoverPanics(log, pages.Fail, h)
	h = metrics.observeRequests(h)
	return h, nil
}
