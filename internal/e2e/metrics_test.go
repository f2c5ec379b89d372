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

// hasLine reports whether the scrape has the sample line (name, labels
// and value, whole).
func hasLine(metrics, line string) bool {
	return strings.Contains("\n"+metrics, "\n"+line+"\n")
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
	var m string
	var missing []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		m = scrape(t, s.MetricsURL+"/metrics")
		missing = missing[:0]
		for _, w := range want {
			if !hasLine(m, w) {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(missing) > 0 {
		t.Fatalf("the scrape lacks %q:\n%s", missing, m)
	}
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
	if m := scrape(t, s.URL+"/metrics"); !hasLine(m, `herald_http_requests_total{code="200",route="GET /metrics"} 1`) {
		t.Fatalf("the second scrape does not count the first:\n%s", m)
	}
}
