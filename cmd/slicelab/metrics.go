package main

import (
	"net/http"
	"slicelab/tracking"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// newMetrics builds the process's Prometheus registry, served at /metrics:
// Go runtime and process metrics here, and the collectors of the click path
// and the send pipeline, registered where those are wired (app.go).
func newMetrics() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// metricsHandler serves a registry in the Prometheus text format.
func metricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// clickMetrics are the click path's metrics: what the recorder and the
// projector report (tracking.RecorderObserver, tracking.ProjectorObserver),
// and gauges read when scraped.
type clickMetrics struct {
	received  prometheus.Counter
	recorded  *prometheus.CounterVec
	batch     prometheus.Histogram
	commit    *prometheus.HistogramVec
	replayed  prometheus.Counter
	projected prometheus.Counter
	chunk     prometheus.Histogram
}

// newClickMetrics registers the click path's metrics on reg; spoolDepth and
// lag are read at every scrape.
func newClickMetrics(reg prometheus.Registerer, spoolDepth func() int, lag func() time.Duration) *clickMetrics {
	m := &clickMetrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{Name: "slicelab_clicks_received_total",
			Help: "Tracked clicks handed to the recorder (valid tokens)."}),
		recorded: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "slicelab_clicks_recorded_total",
			Help: "Tracked clicks made durable, by where: ledger, spool (the ledger could not be written) or lost (neither)."}, []string{"to"}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "slicelab_click_batch_size",
			Help: "Clicks per group-commit batch.", Buckets: prometheus.ExponentialBuckets(1, 2, 12)}),
		commit: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "slicelab_click_commit_seconds",
			Help:    "Time to make a batch of clicks durable (INSERT and commit, or spool write and fsync), by where it went.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}, []string{"to"}),
		replayed: prometheus.NewCounter(prometheus.CounterOpts{Name: "slicelab_clicks_replayed_total",
			Help: "Spooled clicks replayed into the ledger."}),
		projected: prometheus.NewCounter(prometheus.CounterOpts{Name: "slicelab_click_projector_rows_total",
			Help: "Ledger rows classified and rolled up by this process's projector."}),
		chunk: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "slicelab_click_projector_chunk_seconds",
			Help: "Time to project one chunk of the ledger.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
	}
	reg.MustRegister(m.received, m.recorded, m.batch, m.commit, m.replayed, m.projected, m.chunk,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "slicelab_click_spool_depth",
			Help: "Clicks in the spool file waiting to be replayed into the ledger."}, func() float64 { return float64(spoolDepth()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "slicelab_click_projector_lag_seconds",
			Help: "How far the click rollups may lag the ledger: the time since the projector was last caught up (as_of)."},
			func() float64 { return lag().Seconds() }))
	for _, to := range []string{tracking.ToLedger, tracking.ToSpool, tracking.ToLost} {
		m.recorded.WithLabelValues(to)
		m.commit.WithLabelValues(to)
	}
	return m
}

func (m *clickMetrics) Batch(size int, took time.Duration, to string) {
	m.received.Add(float64(size))
	m.recorded.WithLabelValues(to).Add(float64(size))
	m.batch.Observe(float64(size))
	m.commit.WithLabelValues(to).Observe(took.Seconds())
}

func (m *clickMetrics) Replayed(n int) { m.replayed.Add(float64(n)) }

func (m *clickMetrics) Projected(n int, took time.Duration) {
	m.projected.Add(float64(n))
	m.chunk.Observe(took.Seconds())
}
