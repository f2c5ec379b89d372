package main

import (
	"math"
	"strings"
	"testing"
)

func TestInsane(t *testing.T) {
	good := func() *results {
		return &results{
			Throughput: &throughputResult{Deliveries: 2000, DeliveriesPerSec: 9000, BaselineRequestsPerSec: 30000, Ratio: 0.3},
			Latency: &latencyResult{EventsPerSec: 500, Webhooks: 3, P50MS: 0.5, P99MS: 2, MaxMS: 4,
				P50FromRequestMS: 1, P99FromRequestMS: 3, MaxFromRequestMS: 5},
			Isolation: &isolationResult{HealthyAlonePerSec: 3000, HealthyWithBlackholePerSec: 2900, Ratio: 0.97},
			Backlog:   &backlogResult{Pending: 10000, PeakRSSMiB: 90, DrainPerSec: 8000, RestartFirstDeliveryMS: 90},
			API:       &apiScenarioResult{Webhooks: 10, Concurrency: 32, UserCreatesPerSec: 2400},
			Cluster: &clusterResult{Instances: 3, Webhooks: 10, OnePerSec: 4000, ClusterPerSec: 3500, Ratio: 0.875,
				OneRuns: []float64{3900, 4100}, ClusterRuns: []float64{3400, 3600}, P99FromRequestMS: 40, Duplicates: 0, MaxInFlight: 16},
			SCIM: &scimResult{Changes: 200, ChangesPerSec: 1500, P99FromRequestMS: 30, WebhookDeliveriesPerSec: 2500, RatioToWebhook: 0.6},
		}
	}
	tests := []struct {
		name  string
		spoil func(*results)
		want  string // in the one problem reported; "" for none
	}{
		{"all sane", func(*results) {}, ""},
		{"scenarios not run", func(r *results) { *r = results{} }, ""},
		{"no deliveries", func(r *results) { r.Throughput.DeliveriesPerSec = 0 }, "throughput.deliveries_per_sec"},
		{"NaN ratio", func(r *results) { r.Throughput.Ratio = math.NaN() }, "throughput.ratio"},
		{"infinite rate", func(r *results) { r.Isolation.HealthyAlonePerSec = math.Inf(1) }, "isolation.healthy_alone_per_sec"},
		{"p99 above max", func(r *results) { r.Latency.P99MS = 9 }, "not in order"},
		{"negative p50", func(r *results) { r.Latency.P50MS = -1 }, "not in order"},
		{"zero from the request", func(r *results) { r.Latency.P50FromRequestMS = 0 }, "from the request"},
		{"from the request out of order", func(r *results) { r.Latency.MaxFromRequestMS = 2 }, "from the request"},
		{"no memory", func(r *results) { r.Backlog.PeakRSSMiB = 0 }, "backlog.peak_rss_mib"},
		{"no restart figure", func(r *results) { r.Backlog.RestartFirstDeliveryMS = 0 }, "restart_first_delivery_ms"},
		{"cluster duplicates", func(r *results) { r.Cluster.Duplicates = 2 }, "duplicate"},
		{"cluster over the cap", func(r *results) { r.Cluster.MaxInFlight = 49 }, "in flight"},
		{"a cluster run delivered nothing", func(r *results) { r.Cluster.ClusterRuns[1] = 0 }, "cluster.cluster_runs_per_sec[1]"},
		{"no creates", func(r *results) { r.API.UserCreatesPerSec = -3 }, "api.user_creates_per_sec"},
		{"no SCIM changes", func(r *results) { r.SCIM.ChangesPerSec = 0 }, "scim.changes_per_sec"},
		{"no SCIM ratio", func(r *results) { r.SCIM.RatioToWebhook = math.NaN() }, "scim.ratio_to_webhook"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := good()
			tc.spoil(r)
			got := r.insane()
			switch {
			case tc.want == "" && len(got) != 0:
				t.Errorf("problems %q, want none", got)
			case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0], tc.want)):
				t.Errorf("problems %q, want one naming %q", got, tc.want)
			}
		})
	}
}

// The cluster's CPU per user is the mean of its runs', and PostgreSQL's
// only when both runs measured it.
func TestMeanCPU(t *testing.T) {
	pg := func(v float64) *float64 { return &v }
	a := &cpuUse{HeraldMS: 0.5, PostgresMS: pg(0.4), BenchMS: 0.3, MachineBusy: 0.9}
	b := &cpuUse{HeraldMS: 0.7, PostgresMS: pg(0.6), BenchMS: 0.2, MachineBusy: 1}
	m := meanCPU(a, b)
	if m == nil || m.HeraldMS != 0.6 || m.PostgresMS == nil || *m.PostgresMS != 0.5 || m.BenchMS != 0.25 || m.MachineBusy != 0.95 {
		t.Errorf("meanCPU = %+v, want 0.6, 0.5, 0.25, 0.95", m)
	}
	if m := meanCPU(a, &cpuUse{HeraldMS: 0.7}); m == nil || m.PostgresMS != nil {
		t.Errorf("one run without PostgreSQL's figure: %+v, want the rest and no PostgreSQL", m)
	}
	if meanCPU(a, nil) != nil {
		t.Error("one run not measured: want no mean")
	}
}
