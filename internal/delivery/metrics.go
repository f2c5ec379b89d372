package delivery

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald/internal/queue"
)

// metrics are the engine's Prometheus figures.
type metrics struct {
	outcomes *prometheus.CounterVec
	latency  prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, q *queue.Queue) *metrics {
	m := &metrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_webhook_deliveries_total",
			Help: "Webhook delivery attempts by outcome: succeeded, retrying (failed, will retry) or failed (given up).",
		}, []string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "herald_webhook_attempt_duration_seconds",
			Help:    "Duration of webhook HTTP attempts.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15},
		}),
	}
	if reg != nil {
		reg.MustRegister(m.outcomes, m.latency, &queueCollector{q: q})
	}
	return m
}

// queueCollector reads the queue's state from the database at scrape time,
// so the figures are true for every instance sharing the database.
type queueCollector struct {
	q *queue.Queue
}

var (
	pendingDesc  = prometheus.NewDesc("herald_webhook_deliveries_pending", "Deliveries not yet succeeded or given up.", nil, nil)
	oldestDesc   = prometheus.NewDesc("herald_webhook_oldest_pending_seconds", "Age of the oldest pending delivery, per webhook.", []string{"webhook_id"}, nil)
	disabledDesc = prometheus.NewDesc("herald_webhooks_disabled", "Webhooks that are disabled.", nil, nil)
)

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pendingDesc
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
	for id, age := range s.OldestPendingAge {
		ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, age.Seconds(), strconv.FormatInt(id, 10))
	}
	ch <- prometheus.MustNewConstMetric(disabledDesc, prometheus.GaugeValue, float64(s.WebhooksDisabled))
}
