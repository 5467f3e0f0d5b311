package main

import (
	"context"
	"fmt"
	"net/http"
	"slicelab/experiments"
	"slicelab/tracking"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/uptrace/bun"
)

// newMetrics builds the process's Prometheus registry, served at /metrics:
// Go runtime and process metrics here, and the collectors of the click path
// and the send pipeline, registered where those are wired (app.go).
func newMetrics() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// registerPoolMetrics puts the connection pools' figures on reg
// (go_sql_*{db_name=...}: connections open and in use, and how often and
// how long a query waited for a connection), so that an operator sees when
// a pool is the wait: "main" serves the API, the pages, River and the
// senders (on SQLite its one writing connection, and "main_read" the
// SELECTs outside transactions); "ledger" writes tracked clicks;
// "ledger_read" is what the click projector reads the ledger with (SQLite:
// on PostgreSQL it is "main").
func (st *store) registerPoolMetrics(reg prometheus.Registerer) error {
	type pool struct {
		name string
		db   *bun.DB
	}
	pools := []pool{{"main", st.db}, {"main_read", st.read}, {"ledger", st.ledger}}
	if st.ledgerRead != st.db {
		pools = append(pools, pool{"ledger_read", st.ledgerRead})
	}
	for _, p := range pools {
		if p.db == nil {
			continue
		}
		if err := reg.Register(collectors.NewDBStatsCollector(p.db.DB, p.name)); err != nil {
			return fmt.Errorf("metrics: pool %s: %w", p.name, err)
		}
	}
	return nil
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

// sendMetrics are the send pipeline's metrics: what the Sender reports
// (experiments.SendObserver), and gauges read from the database when scraped.
type sendMetrics struct {
	sends   *prometheus.CounterVec
	latency prometheus.Histogram
	group   prometheus.Histogram
	commit  prometheus.Histogram
}

// newSendMetrics registers the send pipeline's metrics on reg. queue reads
// the send jobs waiting (by state); assigning reads the launches still
// assigning their audience and the contacts they have assigned so far.
func newSendMetrics(reg prometheus.Registerer, queue func(context.Context) (map[string]int, error),
	assigning func(context.Context) (experiments.AssignmentTotals, error)) *sendMetrics {
	m := &sendMetrics{
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "slicelab_sends_total",
			Help: "Messages of experiments by outcome: sent, failed, retry (temporary failure, queued again) or ambiguous (handed over by a process that died before recording the answer)."},
			[]string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "slicelab_smtp_send_seconds",
			Help: "Time to hand one message to the mail transport (SMTP: MAIL, RCPT, DATA, RSET).", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18)}),
		group: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "slicelab_send_commit_messages",
			Help: "Outcomes recorded per group commit.", Buckets: prometheus.ExponentialBuckets(1, 2, 10)}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "slicelab_send_commit_seconds",
			Help: "Time to record one group of outcomes.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18)}),
	}
	for _, o := range []string{"sent", "failed", "retry", "ambiguous"} {
		m.sends.WithLabelValues(o)
	}
	depth := prometheus.NewDesc("slicelab_send_queue_jobs", "Send batch jobs in River's queue by state (available, scheduled, retryable, running).", []string{"state"}, nil)
	running := prometheus.NewDesc("slicelab_assignments_running", "Launched experiments still assigning their audience.", nil, nil)
	assigned := prometheus.NewDesc("slicelab_assignment_contacts_assigned", "Contacts assigned so far by the assignments still running.", nil, nil)
	reg.MustRegister(m.sends, m.latency, m.group, m.commit, collectorFunc{descs: []*prometheus.Desc{depth, running, assigned}, collect: func(ch chan<- prometheus.Metric) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if q, err := queue(ctx); err == nil {
			for _, st := range []string{"available", "scheduled", "retryable", "running"} {
				ch <- prometheus.MustNewConstMetric(depth, prometheus.GaugeValue, float64(q[st]), st)
			}
		}
		if a, err := assigning(ctx); err == nil {
			ch <- prometheus.MustNewConstMetric(running, prometheus.GaugeValue, float64(a.Running))
			ch <- prometheus.MustNewConstMetric(assigned, prometheus.GaugeValue, float64(a.Assigned))
		}
	}})
	return m
}

func (m *sendMetrics) Sent(outcome string, n int)  { m.sends.WithLabelValues(outcome).Add(float64(n)) }
func (m *sendMetrics) SMTPLatency(seconds float64) { m.latency.Observe(seconds) }
func (m *sendMetrics) Committed(n int, seconds float64) {
	m.group.Observe(float64(n))
	m.commit.Observe(seconds)
}

// collectorFunc is a Prometheus collector of metrics read at scrape time.
type collectorFunc struct {
	descs   []*prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}
func (c collectorFunc) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }
