package delivery

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/queue"
)

// metrics are the engine's Prometheus figures. Attempts and deliveries
// are counted apart: a delivery makes one or more attempts, and reaches a
// final state (succeeded or failed) once.
type metrics struct {
	attempts   *prometheus.CounterVec
	deliveries *prometheus.CounterVec
	latency    prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, q *queue.Queue) *metrics {
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_webhook_attempts_total",
			Help: "Webhook requests made, recorded, by what their outcome made of the delivery: succeeded, retrying (will try again) or failed (given up).",
		}, []string{"outcome"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_webhook_deliveries_total",
			Help: "Webhook deliveries that reached a final state: succeeded, or failed (given up after their last attempt).",
		}, []string{"state"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "herald_webhook_attempt_duration_seconds",
			Help:    "Duration of webhook HTTP attempts.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15},
		}),
	}
	if reg != nil {
		reg.MustRegister(m.attempts, m.deliveries, m.latency, &queueCollector{q: q})
	}
	return m
}

// settled counts a recorded outcome: one attempt, and a delivery when
// the outcome is final.
func (m *metrics) settled(o queue.Outcome) {
	m.attempts.WithLabelValues(o.State).Inc()
	if o.State == herald.DeliverySucceeded || o.State == herald.DeliveryFailed {
		m.deliveries.WithLabelValues(o.State).Inc()
	}
}

// queueCollector reads the queue's state from the database at scrape time,
// so the figures are true for every instance sharing the database.
type queueCollector struct {
	q *queue.Queue
}

var (
	pendingDesc = prometheus.NewDesc("herald_webhook_deliveries_pending",
		"Unfinished deliveries (pending or retrying) of all webhooks.", nil, nil)
	pendingByWebhookDesc = prometheus.NewDesc("herald_webhook_pending_deliveries",
		"Unfinished deliveries (pending or retrying), per webhook that has any.", []string{"webhook_id"}, nil)
	oldestDesc   = prometheus.NewDesc("herald_webhook_oldest_pending_seconds", "Age of the oldest pending delivery, per webhook.", []string{"webhook_id"}, nil)
	disabledDesc = prometheus.NewDesc("herald_webhooks_disabled", "Webhooks that are disabled.", nil, nil)
)

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pendingDesc
	ch <- pendingByWebhookDesc
	ch <- oldestDesc
	ch <- disabledDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := c.q.Stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(pendingDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(s.Pending))
	for id, n := range s.PendingByWebhook {
		ch <- prometheus.MustNewConstMetric(pendingByWebhookDesc, prometheus.GaugeValue, float64(n), strconv.FormatInt(id, 10))
	}
	for id, age := range s.OldestPendingAge {
		ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, age.Seconds(), strconv.FormatInt(id, 10))
	}
	ch <- prometheus.MustNewConstMetric(disabledDesc, prometheus.GaugeValue, float64(s.WebhooksDisabled))
}
