package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // SLICELAB_PPROF_ADDR
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"slicelab/cmd/slicelab/internal/web"
	"slicelab/experiments"
	"slicelab/migrations"
	"slicelab/okr"
	"slicelab/templates"
	"slicelab/tracking"
)

// app is the composed service: database, domain services, River and HTTP.
type app struct {
	cfg config
	log *slog.Logger
	st  *store
	// the footers added to every email (templates.EmailFooters)
	htmlFooter, textFooter string
	clicks                 *tracking.Store
	exps                   *experiments.Service
	okr                    *okr.Service
	trk                    *tracking.Service
	// rec writes clicks to the ledger (spool: while it cannot); proj
	// classifies and rolls them up afterwards (in processes with workers).
	rec    *tracking.Recorder
	spool  *tracking.Spool
	proj   *tracking.Projector
	sender *experiments.Sender
	// jobs inserts River jobs (an insert-only client); river runs the
	// workers (nil in a process that does not work).
	jobs  *river.Client[*sql.Tx]
	river *river.Client[*sql.Tx]
	// metrics is the process's Prometheus registry (/metrics).
	metrics     *prometheus.Registry
	sendMetrics *sendMetrics

	// riverPoll overrides River's fetch poll interval (tests use a short one).
	riverPoll time.Duration
	// now is the clock (tests may fake it).
	now func() time.Time
	// tick is how often scheduled launches and test-then-winner waits are checked.
	tick time.Duration
	// retryBase is the first retry delay of a send batch with temporary failures.
	retryBase time.Duration
}

// openApp opens and migrates the database and builds the services. With
// workers it also builds the River client that runs them; run starts it.
func openApp(ctx context.Context, cfg config, log *slog.Logger, workers bool) (*app, error) {
	a := &app{cfg: cfg, log: log, now: time.Now, riverPoll: 200 * time.Millisecond, tick: 5 * time.Second}
	return a, a.init(ctx, workers)
}

// init wires the service together; every dependency goes in through a
// constructor, lower layers first.
func (a *app) init(ctx context.Context, workers bool) error {
	if a.metrics == nil {
		a.metrics = newMetrics()
	}
	if !a.cfg.db.postgres || a.cfg.Secret == "" || a.cfg.smtp == nil { // the data folder is in use
		if err := privateDir(a.cfg.DataDir); err != nil {
			return err
		}
	}
	st, err := openStore(ctx, a.cfg.db)
	if err != nil {
		return err
	}
	a.st = st
	fail := func(err error) error {
		st.Close()
		return err
	}
	if err := st.migrateUp(ctx, nil); err != nil {
		return fail(err)
	}
	if err := st.openReads(ctx); err != nil {
		return fail(err)
	}
	if err := st.registerPoolMetrics(a.metrics); err != nil {
		return fail(err)
	}
	secret, err := a.cfg.secret()
	if err != nil {
		return fail(err)
	}
	if a.htmlFooter, a.textFooter, err = templates.EmailFooters(); err != nil {
		return fail(err)
	}
	riverLog := slog.New(minLevel{a.log.Handler(), slog.LevelWarn}).With("component", "river")
	if a.jobs, err = river.NewClient(st.riverDriver(), &river.Config{Logger: riverLog}); err != nil {
		return fail(fmt.Errorf("river: %w", err))
	}

	a.clicks = tracking.NewStore(st.db)
	a.exps = a.newExperiments(a.jobs)
	if a.okr, err = okr.NewService(st.db, a.exps, a.clicks, okr.Config{Secret: secret, Previous: a.cfg.previousSecrets()}, a.now); err != nil {
		return fail(err)
	}
	clickLog := a.log.With("component", "clicks")
	cm := newClickMetrics(a.metrics, func() int {
		if a.spool == nil {
			return 0
		}
		return a.spool.Pending()
	}, func() time.Duration { return a.proj.Lag() })
	ledgerRead := tracking.NewLedger(st.ledgerRead)
	if st.postgres {
		ledgerRead = ledgerRead.WrittenBy(tracking.LedgerWriterName)
	}
	a.proj = tracking.NewProjector(st.db, ledgerRead, a.exps, tracking.ProjectorConfig{
		Rules: tracking.Rules{Window: a.cfg.BotWindow}, Observer: cm, Log: clickLog,
	}, a.now)
	if workers { // a process that serves clicks (or may replay an earlier run's spool)
		if a.spool, err = tracking.OpenSpool(filepath.Join(a.cfg.DataDir, "spool")); err != nil {
			return fail(err)
		}
	}
	writers := 1 // SQLite: one writer per file
	if st.postgres {
		writers = clickWritersPG
	}
	a.rec = tracking.NewRecorder(tracking.NewLedger(st.ledger), tracking.RecorderConfig{
		Writers: writers, MaxBatch: clickBatch, Spool: a.spool, Committed: a.proj.Notify, Observer: cm, Log: clickLog,
	})
	a.trk = tracking.NewService(a.clicks, tracking.NewSealer(secret, a.cfg.previousSecrets()...), a.cfg.BaseURL, a.rec, a.now)
	if !workers {
		return nil
	}

	a.sendMetrics = newSendMetrics(a.metrics, a.sendQueue, a.exps.Assigning)
	var mailer experiments.Mailer = &outboxMailer{dir: a.cfg.OutboxDir}
	if a.cfg.smtp != nil {
		mailer = &smtpMailer{target: a.cfg.smtp, domain: experiments.MailDomain(a.cfg.MailFrom)}
	}
	mail := okr.Mail{Mailer: mailer, From: a.cfg.MailFrom, BaseURL: a.cfg.BaseURL}
	surveyTmpl, err := emailTemplate("survey")
	if err != nil {
		return a.failClose(err)
	}
	digestTmpl, err := emailTemplate("digest")
	if err != nil {
		return a.failClose(err)
	}
	a.sender = experiments.NewSender(a.exps, mailer, a.trk, experiments.SenderConfig{
		From: a.cfg.MailFrom, Domain: experiments.MailDomain(a.cfg.MailFrom), Rate: a.cfg.SendRate, RetryBase: a.retryBase,
		Connections: a.cfg.SendConcurrency, Observer: a.sendMetrics, SyncCommit: a.cfg.SendFsync,
	}, a.log)
	a.sender.TestSends = &experiments.TestSendPolicy{Allowed: a.cfg.TestRecipients}
	digests := okr.NewDigests(a.okr, mail, digestTmpl, a.jobs)
	ws := river.NewWorkers()
	river.AddWorker(ws, a.sender)
	river.AddWorker(ws, experiments.NewAssigner(a.exps))
	river.AddWorker(ws, experiments.NewTicker(a.exps))
	river.AddWorker(ws, digests.QueueWorker())
	river.AddWorker(ws, digests.EmailWorker())
	river.AddWorker(ws, okr.NewSurveyMailer(a.okr, mail, surveyTmpl))
	a.river, err = river.NewClient(st.riverDriver(), &river.Config{
		Logger:            riverLog,
		PollOnly:          true, // database/sql drivers have no LISTEN
		FetchPollInterval: a.riverPoll,
		FetchCooldown:     min(a.riverPoll, 100*time.Millisecond),
		Workers:           ws,
		// A killed instance's running jobs are taken up by the others soon
		// (experiments.RescueAfter); no job runs longer than JobTimeout.
		JobTimeout:           experiments.JobTimeout,
		RescueStuckJobsAfter: experiments.RescueAfter,
		PeriodicJobs: []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(a.tick),
				func() (river.JobArgs, *river.InsertOpts) { return experiments.TickArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(okr.WeeklyAt{Day: time.Monday, Hour: 7},
				func() (river.JobArgs, *river.InsertOpts) { return okr.DigestArgs{}, nil }, nil),
			a.okr.SurveyPeriodicJob(),
		},
		Queues: map[string]river.QueueConfig{
			river.QueueDefault:      {MaxWorkers: 2},
			experiments.QueueSend:   {MaxWorkers: a.cfg.SendConcurrency},
			experiments.QueueAssign: {MaxWorkers: 2},
		},
	})
	if err != nil {
		return a.failClose(fmt.Errorf("river: %w", err))
	}
	return nil
}

// sendQueue counts the send batch jobs in River's queue by state.
func (a *app) sendQueue(ctx context.Context) (map[string]int, error) {
	var rows []struct {
		State string `bun:"state"`
		N     int    `bun:"n"`
	}
	if err := a.st.db.NewSelect().TableExpr("river_job").ColumnExpr("state, count(*) AS n").
		Where("queue = ?", experiments.QueueSend).Where("state IN (?)", bun.In([]string{"available", "scheduled", "retryable", "running"})).
		Group("state").Scan(ctx, &rows); err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.State] = r.N
	}
	return out, nil
}

func (a *app) failClose(err error) error {
	a.close()
	return err
}

// emailTemplate parses one of templates/email for the OKR layer.
func emailTemplate(name string) (okr.EmailTemplate, error) {
	h, t, err := templates.Email(name)
	if err != nil {
		return okr.EmailTemplate{}, err
	}
	return okr.EmailTemplate{HTML: h, Text: t}, nil
}

// The click ledger's group commit. A batch is whatever queued while the
// previous one was in flight, up to clickBatch clicks in one INSERT. On
// PostgreSQL clickWritersPG batches may be in flight at once (the server
// flushes concurrent commits together); SQLite has one writer per file.
const (
	clickBatch     = 1000
	clickWritersPG = 2
)

// newExperiments is the experiments service over the app's store, queueing
// its background work with jobs.
func (a *app) newExperiments(jobs experiments.JobInserter) *experiments.Service {
	return experiments.NewService(a.st.db, experiments.Config{
		BatchSize: a.cfg.BatchSize, HTMLFooter: a.htmlFooter, TextFooter: a.textFooter, ContactCooldown: a.cfg.ContactCooldown,
	}, experiments.Deps{Jobs: jobs, KeyResults: okr.KeyResultLinker{}, Clicks: a.clicks, Now: a.now,
		Ledger: tracking.NewLedger(a.st.ledger), Counted: func(ctx context.Context) error { return a.proj.Fresh(ctx) }})
}

// close releases what init opened (for commands that do not run).
func (a *app) close() {
	a.rec.Close()
	if a.spool != nil {
		a.spool.Close()
	}
	a.st.Close()
}

// run serves HTTP on ln (when not nil) and runs the workers and the click
// projector until ctx ends, then shuts down in order: no new requests,
// in-flight requests finish (their clicks are durable), the click writer
// drains (and offers the spool to the ledger once more), the projector
// finishes its chunk and gives up its lease, River lets running sends
// finish, and the database closes.
func (a *app) run(ctx context.Context, ln net.Listener) error {
	var h http.Handler
	if ln != nil {
		setup, err := a.setupToken(ctx)
		if err != nil {
			a.close()
			return err
		}
		outbox := ""
		if a.cfg.smtp == nil {
			outbox = a.cfg.OutboxDir
		}
		h, err = web.New(web.Deps{Experiments: a.exps, OKR: a.okr, Tracking: a.trk, Sender: a.sender,
			Ready: a.st.db.PingContext, ClicksCounted: a.proj.Fresh, Metrics: metricsHandler(a.metrics), MetricsToken: a.cfg.MetricsToken,
			TrustedProxies: a.cfg.TrustedProxies, Log: a.log, Now: a.now,
			BaseURL: a.cfg.BaseURL, OutboxDir: outbox, Jobs: a.jobs, SendRate: a.cfg.SendRate, SetupToken: setup,
			ImportMaxBytes: a.cfg.ImportMaxBytes})
		if err != nil {
			a.close()
			return err
		}
	}
	if a.river != nil {
		a.sender.StartRateShare() // before the first send: this process's share of SLICELAB_SEND_RATE
		// River gets its own context: shutdown goes through Stop below, which lets
		// running batches finish, rather than through cancellation.
		if err := a.river.Start(context.WithoutCancel(ctx)); err != nil {
			a.close()
			return fmt.Errorf("river: start: %w", err)
		}
		a.proj.Start()
	}
	if a.cfg.PprofAddr != "" {
		// Go's profiler, on a listener of its own (net/http/pprof registers
		// on http.DefaultServeMux, which nothing else serves).
		pln, err := net.Listen("tcp", a.cfg.PprofAddr)
		if err != nil {
			a.close()
			return fmt.Errorf("SLICELAB_PPROF_ADDR: %w", err)
		}
		psrv := &http.Server{Handler: http.DefaultServeMux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = psrv.Serve(pln) }()
		defer psrv.Close()
		a.log.Info("profiler listening", "addr", pln.Addr().String())
	}
	var srv *http.Server
	srvErr := make(chan error, 1)
	if ln != nil {
		srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 5 * time.Minute,
			IdleTimeout: 2 * time.Minute}
		go func() { srvErr <- srv.Serve(ln) }()
		a.log.Info("slicelab is listening", "addr", ln.Addr().String(), "base_url", a.cfg.BaseURL,
			"database", a.dbLabel(), "mail", a.mailLabel())
	}
	var runErr error
	select {
	case <-ctx.Done():
	case err := <-srvErr:
		if !errors.Is(err, http.ErrServerClosed) {
			runErr = fmt.Errorf("http: %w", err)
		}
	}
	a.log.Info("shutting down")
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		if err := srv.Shutdown(sctx); err != nil {
			a.log.Warn("http shutdown", "err", err)
		}
		cancel()
	}
	a.rec.Close()
	a.proj.Stop()
	if a.river != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := a.river.Stop(sctx); err != nil {
			a.log.Warn("river did not stop in time; cancelling running jobs", "err", err)
			cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = a.river.StopAndCancel(cctx)
			ccancel()
		}
		cancel()
	}
	if a.sender != nil {
		a.sender.Close()
	}
	if a.spool != nil {
		if n := a.spool.Pending(); n > 0 {
			a.log.Warn("clicks left in the spool; the next start replays them", "clicks", n, "spool", a.spool.Path())
		}
		a.spool.Close()
	}
	if err := a.st.Close(); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// setupToken returns a one-time token for the first admin's set-up link,
// and logs the link, when nobody can sign in yet; "" otherwise.
func (a *app) setupToken(ctx context.Context) (string, error) {
	ok, err := a.exps.CanAnyoneSignIn(ctx)
	if err != nil || ok {
		return "", err
	}
	var raw [18]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	tok := base64.RawURLEncoding.EncodeToString(raw[:])
	a.log.Warn("nobody can sign in yet: open this one-time link to create the first team and admin "+
		"(or run `slicelab demo` for a sample team, or `slicelab user create EMAIL --team SLUG --role admin --password-stdin`)",
		"link", a.cfg.BaseURL+"/setup/"+tok)
	return tok, nil
}

func (a *app) dbLabel() string {
	if a.cfg.db.postgres {
		return "postgres"
	}
	return "sqlite:" + a.cfg.db.dsn + " (" + migrations.SQLiteDriver() + ")"
}

func (a *app) mailLabel() string {
	if a.cfg.smtp != nil {
		return fmt.Sprintf("smtp://%s:%d (tls=%s)", a.cfg.smtp.host, a.cfg.smtp.port, a.cfg.smtp.tls)
	}
	return "outbox:" + a.cfg.OutboxDir
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// minLevel quiets a chatty component (River logs every fetch at info).
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.min}
}
func (h minLevel) WithGroup(n string) slog.Handler { return minLevel{h.Handler.WithGroup(n), h.min} }
