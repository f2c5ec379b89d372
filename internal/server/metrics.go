package server

import (
	"maps"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/heraldhq/herald/internal/web"
)

// unmatchedRoute labels a request that reached no route of the route
// tables (a 404 of the router, the API's catch-all).
const unmatchedRoute = "unmatched"

// metricsPattern is the route of /metrics.
const metricsPattern = "GET /metrics"

// MetricsHandler serves /metrics alone, for a listener of its own
// (metrics_addr); any other path is a 404.
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(metricsPattern, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

// httpMetrics counts requests by route and status code, and times them by
// route. A request's route is the pattern of the entry of a route table it
// reached (web.Route.Pattern, e.g. "GET /api/v1/user/{username}"), never
// its path, so there are as many labels as routes, plus "unmatched".
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// routes are the routes by pattern, fixed when the handler is built.
	routes    map[string]*routeMetrics
	unmatched *routeMetrics
	// mux finds the route of a request stopped before it reached one
	// (a bad token, a cross-site write, a panic).
	mux *http.ServeMux
}

func newHTTPMetrics(reg prometheus.Registerer, mux *http.ServeMux, patterns []string) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_http_requests_total",
			Help: "HTTP requests answered, by route (the pattern of the route, or unmatched) and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "herald_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route (the pattern of the route, or unmatched).",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		routes: make(map[string]*routeMetrics, len(patterns)),
		mux:    mux,
	}
	reg.MustRegister(m.requests, m.duration)
	for _, p := range patterns {
		m.routes[p] = m.newRoute(p)
	}
	m.unmatched = m.newRoute(unmatchedRoute)
	return m
}

// routeMetrics are one route's series, made at its first request.
type routeMetrics struct {
	label    string
	m        *httpMetrics
	once     sync.Once
	duration prometheus.Observer
	// codes holds the request counter of each status code seen: read
	// without a lock, copied to add a code.
	codes atomic.Pointer[map[int]prometheus.Counter]
	mu    sync.Mutex
}

func (m *httpMetrics) newRoute(label string) *routeMetrics {
	rm := &routeMetrics{label: label, m: m}
	rm.codes.Store(&map[int]prometheus.Counter{})
	return rm
}

// observe counts one request answered with status that took d.
func (rm *routeMetrics) observe(status int, d time.Duration) {
	rm.once.Do(func() { rm.duration = rm.m.duration.WithLabelValues(rm.label) })
	rm.duration.Observe(d.Seconds())
	c, ok := (*rm.codes.Load())[status]
	if !ok {
		c = rm.counter(status)
	}
	c.Inc()
}

// counter adds status's counter to codes.
func (rm *routeMetrics) counter(status int) prometheus.Counter {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	old := *rm.codes.Load()
	if c, ok := old[status]; ok {
		return c
	}
	codes := maps.Clone(old)
	c := rm.m.requests.WithLabelValues(rm.label, strconv.Itoa(status))
	codes[status] = c
	rm.codes.Store(&codes)
	return c
}

// route returns the metrics of the route with pattern, the one the
// router picks for r when no route noted one, else unmatched.
func (m *httpMetrics) route(pattern string, r *http.Request) *routeMetrics {
	if pattern == "" {
		_, pattern = m.mux.Handler(r)
	}
	if rm, ok := m.routes[pattern]; ok {
		return rm
	}
	return m.unmatched
}

// observeRequests counts and times every request: one counter and one
// histogram observation, of series found once per route.
func (m *httpMetrics) observeRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var pattern string // noted by the route's wrapper (web.Mount)
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(web.WithRouteNote(r.Context(), &pattern)))
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		m.route(pattern, r).observe(rec.status, time.Since(start))
	})
}
