package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/app"
)

// scrape reads url's metrics.
func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return b.String()
}

// hasSample reports whether the scrape has a sample line that is want
// whole (name, labels, value), or begins with want and then its value
// (want without a value) or its labels (want a bare name).
func hasSample(metrics, want string) bool {
	m := "\n" + metrics
	return strings.Contains(m, "\n"+want+"\n") || strings.Contains(m, "\n"+want+" ") || strings.Contains(m, "\n"+want+"{")
}

// awaitMetrics scrapes url until it has every sample of want (hasSample)
// and returns the scrape; after 10 s it fails the test. Outcomes and
// requests are counted when they end, which may be just after a client
// or receiver saw them end.
func awaitMetrics(t *testing.T, url string, want []string) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		m := scrape(t, url)
		var missing []string
		for _, w := range want {
			if !hasSample(m, w) {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s %s still lacks %q:\n%s", url, missing, m)
		}
	}
}

// With metrics_addr, /metrics is served there alone and not on addr. A
// real scrape passes Prometheus's lint (promlint, what `promtool check
// metrics` runs), and has the build info, and requests counted and timed
// by the pattern of their route, never their path: a request stopped
// before its route (a bad token) still counts under it, and one that
// reaches no route counts as "unmatched".
func TestMetricsAddr(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *app.Config) { c.MetricsAddr = "127.0.0.1:0" })
	if s.MetricsURL == "" {
		t.Fatal("metrics_addr has no listener")
	}
	anon := s.anon()
	anon.expect(http.StatusNotFound, "GET", "/metrics", nil, nil)
	onMetricsAddr := &client{t: t, base: s.MetricsURL, http: http.DefaultClient, header: http.Header{}}
	onMetricsAddr.expect(http.StatusNotFound, "GET", "/api/v1/health", nil, nil)

	admin := s.admin()
	admin.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "ops"}, nil)
	admin.expect(http.StatusOK, "GET", "/api/v1/group/ops", nil, nil)
	admin.expect(http.StatusOK, "GET", "/api/v1/group/ops", nil, nil)
	admin.expect(http.StatusNotFound, "GET", "/api/v1/group/nope", nil, nil)
	s.withToken("not-a-token").expect(http.StatusUnauthorized, "GET", "/api/v1/group", nil, nil)
	anon.expect(http.StatusNotFound, "GET", "/api/v1/no-such-endpoint", nil, nil)
	anon.expect(http.StatusNotFound, "GET", "/no/such/page", nil, nil)
	// One delivery, so the webhook families have samples to lint.
	rc := newReceiver(t)
	admin.addWebhook(rc.URL, nil)
	createUser(admin, "metered")
	rc.waitFor(1, 10*time.Second)

	want := []string{
		fmt.Sprintf(`herald_build_info{goversion=%q,version=%q} 1`, runtime.Version(), herald.Version),
		`herald_http_requests_total{code="200",route="GET /api/v1/group/{name}"} 2`,
		`herald_http_requests_total{code="404",route="GET /api/v1/group/{name}"} 1`,
		`herald_http_requests_total{code="401",route="GET /api/v1/group"} 1`,
		`herald_http_requests_total{code="201",route="POST /api/v1/group"} 1`,
		`herald_http_requests_total{code="404",route="unmatched"} 3`, // /metrics on addr, and the two above
		`herald_http_request_duration_seconds_count{route="GET /api/v1/group/{name}"} 3`,
		`herald_webhook_attempts_total{outcome="succeeded"} 1`,
		`herald_webhook_deliveries_total{state="succeeded"} 1`,
	}
	m := awaitMetrics(t, s.MetricsURL+"/metrics", want)
	// Route labels are patterns, never paths.
	routes := regexp.MustCompile(`route="([^"]*)"`).FindAllStringSubmatch(m, -1)
	pattern := regexp.MustCompile(`^(unmatched|(GET|POST|PUT|PATCH|DELETE) /[^ ]*)$`)
	for _, r := range routes {
		if !pattern.MatchString(r[1]) || strings.Contains(r[1], "ops") || strings.Contains(r[1], "nope") || strings.Contains(r[1], "no-such") {
			t.Errorf("route label %q is not a route's pattern", r[1])
		}
	}

	problems, err := promlint.New(strings.NewReader(m)).Lint()
	if err != nil {
		t.Fatalf("lint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// Without metrics_addr, /metrics is served on addr, and its own requests
// count under its route.
func TestMetricsOnAddr(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	scrape(t, s.URL+"/metrics")
	if m := scrape(t, s.URL+"/metrics"); !hasSample(m, `herald_http_requests_total{code="200",route="GET /metrics"} 1`) {
		t.Fatalf("the second scrape does not count the first:\n%s", m)
	}
}
