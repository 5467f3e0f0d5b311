package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/riverqueue/river"

	"slicelab/experiments"
	"slicelab/okr"
	"slicelab/templates"
	"slicelab/tracking"
)

// app is the composed service: database, domain services, River and HTTP.
type app struct {
	cfg     config
	log     *slog.Logger
	st      *store
	exps    *experiments.Service
	okr     *okr.Service
	digests *okr.Digests
	trk     *tracking.Service
	rec     *tracking.Recorder
	sender  *experiments.Sender
	river   *river.Client[*sql.Tx]

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
// workers it also registers the send worker; River is started by run.
func openApp(ctx context.Context, cfg config, log *slog.Logger, workers bool) (*app, error) {
	a := &app{cfg: cfg, log: log, now: time.Now, riverPoll: 200 * time.Millisecond, tick: 5 * time.Second}
	return a, a.init(ctx, workers)
}

func (a *app) init(ctx context.Context, workers bool) error {
	st, err := openStore(ctx, a.cfg.db)
	if err != nil {
		return err
	}
	a.st = st
	if err := st.migrateUp(ctx, nil); err != nil {
		st.Close()
		return err
	}
	secret, err := a.cfg.secret()
	if err != nil {
		st.Close()
		return err
	}
	htmlFooter, textFooter, err := templates.EmailFooters()
	if err != nil {
		st.Close()
		return err
	}
	a.rec = tracking.NewRecorder(st.db, 512, tracking.Rules{Window: a.cfg.BotWindow})
	a.trk = tracking.NewService(st.db, tracking.NewSealer(secret), a.cfg.BaseURL, a.rec, a.now)
	a.exps = experiments.NewService(st.db, experiments.Config{
		BatchSize: a.cfg.BatchSize, HTMLFooter: htmlFooter, TextFooter: textFooter, ContactCooldown: a.cfg.ContactCooldown,
	}, a.now)
	a.okr = okr.NewService(st.db, a.exps, a.now).WithSecret(secret)
	rcfg := &river.Config{
		Logger:            slog.New(minLevel{a.log.Handler(), slog.LevelWarn}).With("component", "river"),
		PollOnly:          true, // database/sql drivers have no LISTEN
		FetchPollInterval: a.riverPoll,
		FetchCooldown:     min(a.riverPoll, 100*time.Millisecond),
	}
	if workers {
		var mailer experiments.Mailer = &outboxMailer{dir: a.cfg.OutboxDir}
		if a.cfg.smtp != nil {
			mailer = &smtpMailer{target: a.cfg.smtp, domain: a.cfg.mailDomain()}
		}
		a.sender = experiments.NewSender(a.exps, mailer, a.trk, experiments.SenderConfig{
			From: a.cfg.MailFrom, Domain: a.cfg.mailDomain(), Rate: a.cfg.SendRate, RetryBase: a.retryBase,
		}, a.log)
		a.digests = okr.NewDigests(a.okr, mailer, a.cfg.MailFrom, a.cfg.BaseURL)
		ws := river.NewWorkers()
		river.AddWorker(ws, a.sender)
		river.AddWorker(ws, experiments.NewTicker(a.exps))
		river.AddWorker(ws, a.digests.QueueWorker())
		river.AddWorker(ws, a.digests.EmailWorker())
		river.AddWorker(ws, okr.NewSurveyMailer(a.okr, mailer, a.cfg.MailFrom, a.cfg.BaseURL))
		rcfg.Workers = ws
		rcfg.PeriodicJobs = []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(a.tick),
				func() (river.JobArgs, *river.InsertOpts) { return experiments.TickArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(okr.WeeklyAt{Day: time.Monday, Hour: 7},
				func() (river.JobArgs, *river.InsertOpts) { return okr.DigestArgs{}, nil }, nil),
			a.okr.SurveyPeriodicJob(),
		}
		rcfg.Queues = map[string]river.QueueConfig{
			river.QueueDefault:    {MaxWorkers: 2},
			experiments.QueueSend: {MaxWorkers: a.cfg.SendConcurrency},
		}
	}
	a.river, err = river.NewClient(st.riverDriver(), rcfg)
	if err != nil {
		a.rec.Close()
		st.Close()
		return fmt.Errorf("river: %w", err)
	}
	a.exps.SetJobs(a.river)
	if a.digests != nil {
		a.digests.SetInserter(a.river)
	}
	return nil
}

// close releases what init opened (for commands that do not run).
func (a *app) close() {
	a.rec.Close()
	a.st.Close()
}

// run serves HTTP on ln (when not nil) and runs the workers until ctx ends,
// then shuts down in order: no new requests, in-flight requests finish (their
// clicks are committed), the click writer drains, River lets running sends
// finish, and the database closes.
func (a *app) run(ctx context.Context, ln net.Listener) error {
	if a.sender != nil {
		// River gets its own context: shutdown goes through Stop below, which lets
		// running batches finish, rather than through cancellation.
		if err := a.river.Start(context.WithoutCancel(ctx)); err != nil {
			a.close()
			return fmt.Errorf("river: start: %w", err)
		}
	}
	var srv *http.Server
	srvErr := make(chan error, 1)
	if ln != nil {
		pages, err := templates.Web()
		if err != nil {
			return err
		}
		e := newServer(&api{db: a.st.db, exps: a.exps, okr: a.okr, now: a.now, sender: a.sender, trk: a.trk, pages: pages, log: a.log})
		srv = &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 5 * time.Minute,
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
	if a.sender != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := a.river.Stop(sctx); err != nil {
			a.log.Warn("river did not stop in time; cancelling running jobs", "err", err)
			cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = a.river.StopAndCancel(cctx)
			ccancel()
		}
		cancel()
	}
	if err := a.st.Close(); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

func (a *app) dbLabel() string {
	if a.cfg.db.postgres {
		return "postgres"
	}
	return "sqlite:" + a.cfg.db.dsn
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
