package main

import (
	"fmt"
	"math"
)

// insane lists the figures of res that cannot be right: a rate that is
// zero, negative or not a number, percentiles out of order, a peak memory
// of nothing. A smoke run (-quick, in CI) fails on any of them; it asserts
// no speed.
func (res *results) insane() []string {
	var out []string
	positive := func(name string, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
			out = append(out, fmt.Sprintf("%s = %v, want a positive number", name, v))
		}
	}
	if t := res.Throughput; t != nil {
		positive("throughput.deliveries", float64(t.Deliveries))
		positive("throughput.deliveries_per_sec", t.DeliveriesPerSec)
		positive("throughput.baseline_requests_per_sec", t.BaselineRequestsPerSec)
		positive("throughput.ratio", t.Ratio)
	}
	if l := res.Latency; l != nil {
		positive("latency.events_per_sec", float64(l.EventsPerSec))
		// A delivery may beat the API's answer: 0 ms is possible.
		if math.IsNaN(l.MaxMS) || l.P50MS < 0 || l.P50MS > l.P99MS || l.P99MS > l.MaxMS {
			out = append(out, fmt.Sprintf("latency: p50 %v, p99 %v, max %v are not in order", l.P50MS, l.P99MS, l.MaxMS))
		}
		// From the request, a delivery cannot arrive before it was asked for.
		if math.IsNaN(l.MaxFromRequestMS) || l.P50FromRequestMS <= 0 || l.P50FromRequestMS > l.P99FromRequestMS ||
			l.P99FromRequestMS > l.MaxFromRequestMS {
			out = append(out, fmt.Sprintf("latency from the request: p50 %v, p99 %v, max %v are not in order or not positive",
				l.P50FromRequestMS, l.P99FromRequestMS, l.MaxFromRequestMS))
		}
	}
	if i := res.Isolation; i != nil {
		positive("isolation.healthy_alone_per_sec", i.HealthyAlonePerSec)
		positive("isolation.healthy_with_blackhole_per_sec", i.HealthyWithBlackholePerSec)
		positive("isolation.ratio", i.Ratio)
	}
	if b := res.Backlog; b != nil {
		positive("backlog.pending", float64(b.Pending))
		positive("backlog.peak_rss_mib", b.PeakRSSMiB)
		positive("backlog.drain_per_sec", b.DrainPerSec)
		positive("backlog.restart_first_delivery_ms", b.RestartFirstDeliveryMS)
	}
	if a := res.API; a != nil {
		positive("api.user_creates_per_sec", a.UserCreatesPerSec)
	}
	if c := res.Cluster; c != nil {
		positive("cluster.one_instance_per_sec", c.OnePerSec)
		positive("cluster.cluster_per_sec", c.ClusterPerSec)
		// Each run too: a mean hides one run that delivered nothing.
		for i, r := range c.OneRuns {
			positive(fmt.Sprintf("cluster.one_instance_runs_per_sec[%d]", i), r)
		}
		for i, r := range c.ClusterRuns {
			positive(fmt.Sprintf("cluster.cluster_runs_per_sec[%d]", i), r)
		}
		positive("cluster.p99_from_request_ms", c.P99FromRequestMS)
		// Duplicates with no process killed, or more requests in flight
		// at one webhook than its cap on every instance together, are
		// broken promises, not slow figures.
		if c.Duplicates != 0 {
			out = append(out, fmt.Sprintf("cluster: %d duplicate deliveries with no process killed", c.Duplicates))
		}
		if c.MaxInFlight <= 0 || c.MaxInFlight > int64(c.Instances*clusterCap) {
			out = append(out, fmt.Sprintf("cluster: %d requests in flight at one webhook, want 1..%d", c.MaxInFlight, c.Instances*clusterCap))
		}
	}
	if sc := res.SCIM; sc != nil {
		positive("scim.changes", float64(sc.Changes))
		positive("scim.changes_per_sec", sc.ChangesPerSec)
		positive("scim.p99_from_request_ms", sc.P99FromRequestMS)
		positive("scim.webhook_deliveries_per_sec", sc.WebhookDeliveriesPerSec)
		positive("scim.ratio_to_webhook", sc.RatioToWebhook)
	}
	return out
}
