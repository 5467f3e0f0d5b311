package experiments

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"golang.org/x/time/rate"

	"slicelab/tracking"
)

// Message is one rendered email, as plain data for a Mailer.
type Message struct {
	DeliveryID     uuid.UUID
	TeamID         uuid.UUID // the team on whose behalf it goes out (the outbox shows a team only its own)
	ReplyTo        string    // optional Reply-To address (the team's)
	MessageID      string    // without angle brackets: <id@domain>
	From           string
	To             string
	ToName         string
	Subject        string
	Text           string
	HTML           string
	UnsubscribeURL string // List-Unsubscribe target, also the RFC 8058 one-click POST endpoint
}

// MailSession is one open connection of a Mailer: many messages go over it.
type MailSession interface {
	Send(ctx context.Context, m Message) error
	Close() error
}

// Mailer opens sessions to the mail transport (SMTP or the local outbox).
type Mailer interface {
	Open(ctx context.Context) (MailSession, error)
}

// SendError is how a Mailer reports a rejected message.
type SendError struct {
	// NotHanded: the connection failed before the message was handed over
	// (a reused connection the server had closed): open another and send again.
	NotHanded bool
	Temporary bool   // retry later (SMTP 4xx, connection trouble)
	NoMailbox bool   // the mailbox does not exist: mark the contact bounced
	Code      int    // SMTP reply code, 0 when there was none
	Message   string // what the server said
}

func (e *SendError) Error() string {
	return fmt.Sprintf("send: %d %s", e.Code, e.Message)
}

// Links mints the tracked URLs of a delivery (implemented by tracking.Service).
type Links interface {
	ClickURL(variantID, deliveryID uuid.UUID, idx int) string
	UnsubscribeURL(variantID, deliveryID uuid.UUID) string
	HoneypotURL(variantID, deliveryID uuid.UUID) string
}

// SendBatchArgs is the River job that sends one batch of an experiment's deliveries.
type SendBatchArgs struct {
	ExperimentID uuid.UUID `json:"experiment_id"`
	Batch        int       `json:"batch"`
}

// Kind is River's name for the job.
func (SendBatchArgs) Kind() string { return "send_batch" }

// InsertOpts puts send jobs on their own queue, at most one per batch that
// is waiting, running or waiting to retry: inserting a batch's job again
// (Resume during a retry wait) is a no-op. A completed job does not count,
// so a batch released by a pause gets a new job when it is resumed.
func (SendBatchArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueSend, MaxAttempts: SendMaxAttempts, UniqueOpts: river.UniqueOpts{
		ByArgs: true,
		ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled},
	}}
}

// Queue names and retry policy of sending.
const (
	QueueSend       = "send"
	SendMaxAttempts = 8
)

// JobTimeout bounds one run of a send or assignment job, and RescueAfter is
// when River takes a job still "running" for the job of a dead process and
// runs it again (the River client is configured with these, and
// RescueAfter > JobTimeout, so a live job is never run twice at once): a
// killed instance's batches go on in a surviving one within about a minute
// (RescueAfter plus River's rescuer interval of 30 s at most). A batch that
// takes longer than JobTimeout (slow send rates) gives the rest back and goes
// on in its next run.
const (
	JobTimeout  = 20 * time.Second
	RescueAfter = 25 * time.Second
)

// Sender is the River worker behind SendBatchArgs.
type Sender struct {
	river.WorkerDefaults[SendBatchArgs]

	db      *bun.DB
	svc     *Service
	mailer  Mailer
	links   Links
	limiter *rate.Limiter
	from    string
	domain  string
	log     *slog.Logger
	now     func() time.Time
	obs     SendObserver
	// RetryBase is the first retry delay after temporary failures; it doubles per attempt.
	RetryBase time.Duration
	// TestSends limits test messages (nil: members only, the default rate).
	TestSends *TestSendPolicy

	mu       sync.Mutex
	compiled map[uuid.UUID]compiledVariant // variants never change once launched
	senders  teamSenders                   // each team's From and Reply-To, for a minute
	idle     []MailSession                 // open connections between batches
	maxIdle  int
	closed   bool

	gc    groupCommit
	share rateShare
	// syncCommit: outcome commits wait for the database's disk (see SenderConfig.SyncCommit).
	syncCommit bool
	// poolSync is PRAGMA synchronous of the SQLite pool's connections plus
	// one (0: not read yet), given back after each lazy outcome commit.
	poolSync atomic.Int32
}

// SendObserver is told about sending (the /metrics of cmd/slicelab).
type SendObserver interface {
	Sent(outcome string, n int)  // sent | failed | retry | ambiguous
	SMTPLatency(seconds float64) // one message handed to the transport
	// Committed: one group of outcomes recorded.
	Committed(messages int, seconds float64)
}

// SenderConfig configures a Sender.
type SenderConfig struct {
	From   string // the From address, e.g. "slicelab <noreply@example.com>"
	Domain string // Message-ID domain (the sender's)
	// Rate is messages per second over all the processes that send (each
	// takes its share, see StartRateShare); 0 = unlimited.
	Rate      float64
	RetryBase time.Duration
	// Connections is how many open mail connections are kept between batches
	// (the send concurrency); 0 keeps none.
	Connections int
	Observer    SendObserver
	// SyncCommit makes each group of outcomes wait for the database to put
	// its commit on disk (PostgreSQL synchronous_commit, SQLite synchronous
	// FULL). Off, a commit is durable once the database server has it: a
	// crash or kill of slicelab loses nothing, a crash of the database
	// server or machine may lose the last moment's outcomes, and those
	// messages are sent again (SLICELAB_SEND_FSYNC).
	SyncCommit bool
}

// NewSender builds the send worker.
func NewSender(svc *Service, mailer Mailer, links Links, cfg SenderConfig, log *slog.Logger) *Sender {
	db, now := svc.db, svc.now
	lim := rate.NewLimiter(rate.Inf, 1)
	if cfg.Rate > 0 {
		lim = rate.NewLimiter(rate.Limit(cfg.Rate), max(1, int(cfg.Rate/10)))
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 5 * time.Second
	}
	return &Sender{db: db, svc: svc, mailer: mailer, links: links, limiter: lim, from: cfg.From, domain: cfg.Domain,
		log: log, now: now, RetryBase: cfg.RetryBase, compiled: map[uuid.UUID]compiledVariant{}, maxIdle: cfg.Connections,
		obs: cfg.Observer, syncCommit: cfg.SyncCommit, share: rateShare{total: cfg.Rate, instance: newInstanceID()}}
}

// Close closes the connections kept open between batches and gives up this
// process's share of the send rate (after the workers stopped).
func (w *Sender) Close() {
	w.stopRateShare()
	w.mu.Lock()
	idle := w.idle
	w.idle, w.closed = nil, true
	w.mu.Unlock()
	for _, s := range idle {
		_ = s.Close()
	}
}

// session takes an open connection, checking it is still usable, or opens one.
func (w *Sender) session(ctx context.Context) (MailSession, error) {
	for {
		w.mu.Lock()
		n := len(w.idle)
		if n == 0 {
			w.mu.Unlock()
			return w.mailer.Open(ctx)
		}
		s := w.idle[n-1]
		w.idle = w.idle[:n-1]
		w.mu.Unlock()
		if c, ok := s.(interface{ Check() error }); !ok || c.Check() == nil {
			return s, nil
		}
		_ = s.Close()
	}
}

// keep puts a healthy connection back for the next batch.
func (w *Sender) keep(s MailSession) {
	w.mu.Lock()
	if !w.closed && len(w.idle) < w.maxIdle {
		w.idle = append(w.idle, s)
		s = nil
	}
	w.mu.Unlock()
	if s != nil {
		_ = s.Close()
	}
}

// NextRetry backs off exponentially from RetryBase, capped at an hour.
func (w *Sender) NextRetry(job *river.Job[SendBatchArgs]) time.Time {
	d := w.RetryBase << min(job.Attempt-1, 10)
	return time.Now().Add(min(d, time.Hour))
}

// Timeout: see JobTimeout.
func (w *Sender) Timeout(*river.Job[SendBatchArgs]) time.Duration { return JobTimeout }

// errAmbiguous is recorded for a delivery that a previous attempt had handed
// to the transport without recording the outcome: it is not sent again.
const errAmbiguous = "ambiguous: the sending process stopped after handing this message to the mail server and before recording the answer; not sent again to avoid a duplicate"

// Work sends the queued deliveries of one batch, one after the other over
// one mail connection, in the order of their ids, and records each outcome
// before the next message is handed over (group-committed with the other
// workers' outcomes). So when a process dies, each of its batches has at
// most one message handed over without a recorded answer: the first of the
// deliveries its attempt still holds. The next attempt of the job (River
// rescues it) marks that one ambiguous and sends the others.
func (w *Sender) Work(ctx context.Context, job *river.Job[SendBatchArgs]) error {
	a := job.Args
	st, err := w.status(ctx, a.ExperimentID)
	if err != nil {
		return fmt.Errorf("send: load experiment %s: %w", a.ExperimentID, err)
	}
	switch st {
	case StatusRunning:
	case StatusPaused:
		if parked, err := w.park(ctx, job); parked || err != nil {
			return err
		}
	case StatusCancelled: // nothing to send; what an earlier run gave back is cancelled too
		return cancelPendingIfCancelled(ctx, w.db, a.ExperimentID, w.now().UTC())
	default: // completed: nothing to do
		return nil
	}
	batch, err := w.claim(ctx, job)
	if err != nil {
		return fmt.Errorf("send: claim batch %d of %s: %w", a.Batch, a.ExperimentID, err)
	}
	if len(batch) == 0 {
		return w.svc.completeIfDone(ctx, w.db, a.ExperimentID)
	}
	contacts, err := w.contacts(ctx, batch)
	if err != nil {
		return w.release(ctx, job, batch, err)
	}
	loc, err := teamZone(ctx, w.db, a.ExperimentID)
	if err != nil {
		return w.release(ctx, job, batch, err)
	}
	sess, err := w.session(ctx)
	if err != nil {
		return w.release(ctx, job, batch, fmt.Errorf("send: open mail session: %w", err))
	}
	lastAttempt := job.Attempt >= job.MaxAttempts
	retry := 0
	rest := []Delivery(nil) // not attempted: back to the queue
	halted, lastCheck := false, time.Now()
	for i, d := range batch {
		if !halted && time.Since(lastCheck) > statusCheckEvery {
			halted, lastCheck = w.halted(ctx, a.ExperimentID), time.Now()
		}
		if halted || ctx.Err() != nil { // paused, cancelled, timed out or shutting down
			rest = batch[i:]
			break
		}
		var outcome error
		msg, err := w.render(ctx, d, contacts[d.ContactID])
		if err != nil {
			outcome = &SendError{Message: "render: " + err.Error()}
		} else {
			if err := w.limiter.Wait(ctx); err != nil {
				rest = batch[i:]
				break
			}
			if sess == nil {
				if sess, err = w.mailer.Open(ctx); err != nil {
					sess = nil
					rest = batch[i:]
					retry++
					w.log.Warn("send: open mail session", "batch", a.Batch, "err", err)
					break
				}
			}
			start := time.Now()
			outcome = sess.Send(ctx, msg)
			var se *SendError
			if errors.As(outcome, &se) && se.NotHanded { // the server had closed a kept connection
				_ = sess.Close()
				if sess, err = w.mailer.Open(ctx); err != nil {
					sess = nil
					rest = batch[i:]
					retry++
					break
				}
				start = time.Now()
				outcome = sess.Send(ctx, msg)
			}
			if w.obs != nil {
				w.obs.SMTPLatency(time.Since(start).Seconds())
			}
			if errors.As(outcome, &se) && se.Temporary { // the connection may be broken: a new one for the next message
				_ = sess.Close()
				sess = nil
			}
		}
		res := w.commit(ctx, sendRecord{job: job.ID, attempt: job.Attempt, d: d, err: outcome, lastAttempt: lastAttempt,
			maxAttempts: job.MaxAttempts, loc: loc})
		if res.err != nil {
			if sess != nil {
				_ = sess.Close()
			}
			// This message's answer is not recorded: the row stays claimed by
			// this attempt, and the next one marks it ambiguous.
			return fmt.Errorf("send: record outcome of batch %d: %w", a.Batch, res.err)
		}
		if !res.owned { // River gave the batch to another attempt: stop at once
			if sess != nil {
				_ = sess.Close()
			}
			w.log.Warn("send: the batch was taken over by another attempt; stopping", "batch", a.Batch, "attempt", job.Attempt)
			return nil
		}
		if res.retry {
			retry++
		}
	}
	if sess != nil {
		w.keep(sess)
	}
	ctx = context.WithoutCancel(ctx)
	if len(rest) > 0 {
		if err := w.giveBack(ctx, job, rest, ""); err != nil {
			return fmt.Errorf("send: give back the rest of batch %d: %w", a.Batch, err)
		}
		st, err := w.status(ctx, a.ExperimentID)
		if err != nil { // the next run looks again (and cancels what is left if the experiment was cancelled)
			w.log.Warn("send: read the experiment's status after giving back the rest of a batch", "batch", a.Batch, "err", err)
		}
		switch st {
		case StatusPaused:
			if parked, err := w.park(ctx, job); parked || err != nil {
				return err
			}
		case StatusCancelled:
			return cancelPendingIfCancelled(ctx, w.db, a.ExperimentID, w.now().UTC())
		}
		if retry == 0 {
			return river.JobSnooze(0) // timed out or shutting down: go on in the next run, without using an attempt
		}
	}
	if retry > 0 {
		return fmt.Errorf("send: batch %d of %s: %d temporary failures, %d not attempted; retrying",
			a.Batch, a.ExperimentID, retry, len(rest))
	}
	return w.svc.completeIfDone(ctx, w.db, a.ExperimentID)
}

// statusCheckEvery is how often a batch looks whether its experiment was
// paused or cancelled meanwhile; the message in hand always finishes.
const statusCheckEvery = 500 * time.Millisecond

func (w *Sender) status(ctx context.Context, id uuid.UUID) (Status, error) {
	var st struct {
		Status Status `bun:"status"`
	}
	err := w.db.NewSelect().Table("experiments").Column("status").Where("id = ?", id).Scan(ctx, &st)
	return st.Status, err
}

func (w *Sender) halted(ctx context.Context, id uuid.UUID) bool {
	st, err := w.status(ctx, id)
	return err == nil && st != StatusRunning
}

// park completes the job of a paused experiment's batch in the same
// transaction that sees the experiment paused (Resume changes the status
// under the same row lock): Resume then inserts a new job for the batch,
// since the unique job is no longer there. It says false when the experiment
// was resumed meanwhile: the job goes on.
func (w *Sender) park(ctx context.Context, job *river.Job[SendBatchArgs]) (bool, error) {
	parked := false
	err := w.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var st struct {
			Status Status `bun:"status"`
		}
		q := tx.NewSelect().Table("experiments").Column("status").Where("id = ?", job.Args.ExperimentID)
		if w.db.Dialect().Name() == dialect.PG {
			q = q.For("UPDATE")
		}
		if err := q.Scan(ctx, &st); err != nil {
			return err
		}
		if st.Status == StatusRunning {
			return nil
		}
		parked = true
		if c, err := river.ClientFromContextSafely[*sql.Tx](ctx); err != nil || c == nil { // not run by a River client (the demo loader)
			return nil
		}
		_, err := river.JobCompleteTx[riverdriver.Driver[*sql.Tx]](ctx, tx.Tx, job)
		return err
	})
	return parked, err
}

// claim takes the batch's queued deliveries for this attempt of the job,
// after settling what earlier attempts of the same job left: of each earlier
// attempt's deliveries still "sending", the first (in id order, the order of
// sending) may have been handed over without its answer recorded, so it is
// marked ambiguous; the others were never attempted and are sent now.
// Deliveries claimed by another job are left to it.
func (w *Sender) claim(ctx context.Context, job *river.Job[SendBatchArgs]) ([]Delivery, error) {
	a := job.Args
	now := w.now().UTC()
	var batch []Delivery
	err := w.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		batch = batch[:0]
		var left []Delivery
		if err := tx.NewSelect().Model(&left).Column("id", "job_id", "job_attempt").
			Where("experiment_id = ?", a.ExperimentID).Where("batch = ?", a.Batch).Where("status = ?", DeliverySending).
			WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
				return q.Where("job_id IS NULL").WhereOr("(job_id = ? AND job_attempt < ?)", job.ID, job.Attempt)
			}).Scan(ctx); err != nil {
			return err
		}
		first := map[int]uuid.UUID{} // attempt -> first delivery (job_id NULL: from before this scheme, all ambiguous)
		var ambiguous, back []uuid.UUID
		for _, d := range left {
			if d.JobID == nil {
				ambiguous = append(ambiguous, d.ID)
				continue
			}
			if f, ok := first[d.JobAttempt]; !ok || bytes.Compare(d.ID[:], f[:]) < 0 {
				first[d.JobAttempt] = d.ID
			}
		}
		for _, f := range first {
			ambiguous = append(ambiguous, f)
		}
		for _, d := range left {
			if d.JobID != nil && first[d.JobAttempt] != d.ID {
				back = append(back, d.ID)
			}
		}
		if len(ambiguous) > 0 {
			if _, err := tx.NewUpdate().Table("deliveries").Set("status = ?", DeliveryFailed).
				Set("last_error = ?", errAmbiguous).Set("updated_at = ?", now).
				Where("id IN (?)", bun.In(ambiguous)).Where("status = ?", DeliverySending).Exec(ctx); err != nil {
				return err
			}
			if w.obs != nil {
				w.obs.Sent("ambiguous", len(ambiguous))
			}
		}
		if len(back) > 0 {
			if _, err := tx.NewUpdate().Table("deliveries").Set("status = ?", DeliveryQueued).
				Set("attempts = attempts - 1").Set("updated_at = ?", now).
				Where("id IN (?)", bun.In(back)).Where("status = ?", DeliverySending).Exec(ctx); err != nil {
				return err
			}
		}
		return tx.NewUpdate().Table("deliveries").
			Set("status = ?", DeliverySending).Set("attempts = attempts + 1").Set("updated_at = ?", now).
			Set("job_id = ?", job.ID).Set("job_attempt = ?", job.Attempt).
			Where("experiment_id = ?", a.ExperimentID).Where("batch = ?", a.Batch).Where("status = ?", DeliveryQueued).
			Returning("id, contact_id, variant_id, attempts").Scan(ctx, &batch)
	})
	for i := range batch {
		batch[i].ExperimentID = a.ExperimentID
	}
	slices.SortFunc(batch, func(x, y Delivery) int { return bytes.Compare(x.ID[:], y.ID[:]) })
	return batch, err
}

func (w *Sender) contacts(ctx context.Context, batch []Delivery) (map[uuid.UUID]Contact, error) {
	ids := make([]uuid.UUID, len(batch))
	for i, d := range batch {
		ids[i] = d.ContactID
	}
	var cs []Contact
	if err := w.db.NewSelect().Model(&cs).Where("id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("send: load contacts: %w", err)
	}
	m := make(map[uuid.UUID]Contact, len(cs))
	for _, c := range cs {
		m[c.ID] = c
	}
	return m, nil
}

// release puts claimed deliveries back in the queue after a failure before
// anything was handed to the transport, and asks River to retry.
func (w *Sender) release(ctx context.Context, job *river.Job[SendBatchArgs], batch []Delivery, cause error) error {
	if err := w.giveBack(context.WithoutCancel(ctx), job, batch, truncateErr(cause.Error())); err != nil {
		return errors.Join(cause, err)
	}
	return cause
}

// giveBack puts deliveries this attempt claimed and never attempted back in the queue.
func (w *Sender) giveBack(ctx context.Context, job *river.Job[SendBatchArgs], ds []Delivery, lastError string) error {
	ids := make([]uuid.UUID, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	q := w.db.NewUpdate().Table("deliveries").Set("status = ?", DeliveryQueued).Set("attempts = attempts - 1").
		Set("updated_at = ?", w.now().UTC()).
		Where("id IN (?)", bun.In(ids)).Where("status = ?", DeliverySending).
		Where("job_id = ?", job.ID).Where("job_attempt = ?", job.Attempt)
	if lastError != "" {
		q = q.Set("last_error = ?", lastError)
	}
	_, err := q.Exec(ctx)
	return err
}

func (w *Sender) render(ctx context.Context, d Delivery, c Contact) (Message, error) {
	if d.VariantID == nil {
		return Message{}, errors.New("delivery has no variant")
	}
	vid := *d.VariantID
	comp, links, teamID, err := w.variant(ctx, vid)
	if err != nil {
		return Message{}, err
	}
	from, replyTo, err := w.senders.of(ctx, w.svc, teamID, w.from, w.now())
	if err != nil {
		return Message{}, err
	}
	data := templateData{Contact: c, Links: make([]string, links), UnsubscribeURL: w.links.UnsubscribeURL(vid, d.ID),
		Honeypot: w.links.HoneypotURL(vid, d.ID)}
	for i := range data.Links {
		data.Links[i] = w.links.ClickURL(vid, d.ID, i)
	}
	subject, htmlBody, textBody, err := comp.render(ctx, data)
	if err != nil {
		return Message{}, err
	}
	return Message{DeliveryID: d.ID, TeamID: teamID, MessageID: d.ID.String() + "@" + w.domain, From: from, ReplyTo: replyTo,
		To: c.Email, ToName: c.Name, Subject: subject, HTML: htmlBody, Text: textBody, UnsubscribeURL: data.UnsubscribeURL}, nil
}

// variant is a launched variant compiled, its number of tracked links and
// its experiment's team.
func (w *Sender) variant(ctx context.Context, id uuid.UUID) (*compiled, int, uuid.UUID, error) {
	w.mu.Lock()
	cv, ok := w.compiled[id]
	w.mu.Unlock()
	if ok {
		return cv.c, cv.links, cv.team, nil
	}
	var v struct {
		Subject      string    `bun:"subject"`
		HTMLCompiled string    `bun:"html_compiled"`
		TextCompiled string    `bun:"text_compiled"`
		TeamID       uuid.UUID `bun:"team_id"`
	}
	if err := w.db.NewSelect().TableExpr("variants AS v").Join("JOIN experiments AS e ON e.id = v.experiment_id").
		ColumnExpr("v.subject, v.html_compiled, v.text_compiled, e.team_id").Where("v.id = ?", id).Scan(ctx, &v); err != nil {
		return nil, 0, uuid.Nil, fmt.Errorf("load variant %s: %w", id, err)
	}
	links, err := w.svc.clicks.VariantLinks(ctx, id)
	if err != nil {
		return nil, 0, uuid.Nil, err
	}
	n := len(links)
	c, errs := compileSources(v.Subject, v.HTMLCompiled, v.TextCompiled)
	if len(errs) > 0 {
		return nil, 0, uuid.Nil, fmt.Errorf("compile variant %s: %v", id, errs)
	}
	w.mu.Lock()
	if len(w.compiled) > 1000 {
		clear(w.compiled)
	}
	w.compiled[id] = compiledVariant{c: c, links: n, team: v.TeamID}
	w.mu.Unlock()
	return c, n, v.TeamID, nil
}

type compiledVariant struct {
	c     *compiled
	links int
	team  uuid.UUID
}

// sendRecord is one message's outcome, to be recorded.
type sendRecord struct {
	job         int64
	attempt     int
	d           Delivery
	err         error
	lastAttempt bool
	maxAttempts int
	loc         *time.Location
}

// recordResult says whether the delivery was still the job's (owned), and
// whether it goes back to the queue for a retry.
type recordResult struct {
	owned, retry bool
	err          error
	lead         bool // not a result: the waiter is to commit the next group
}

type commitWaiter struct {
	r   sendRecord
	res chan recordResult
}

// groupCommit records the outcomes of every send worker of the process
// together: a worker whose outcome arrives while a group is being committed
// waits for the next group, which one of the waiting workers commits. No
// goroutine of its own.
type groupCommit struct {
	mu      sync.Mutex
	busy    bool
	pending []*commitWaiter
}

// commit records one outcome and returns once it is committed.
func (w *Sender) commit(ctx context.Context, r sendRecord) recordResult {
	me := &commitWaiter{r: r, res: make(chan recordResult, 1)}
	g := &w.gc
	g.mu.Lock()
	g.pending = append(g.pending, me)
	if g.busy {
		g.mu.Unlock()
		res := <-me.res
		if !res.lead {
			return res
		}
	} else {
		g.busy = true
		g.mu.Unlock()
	}
	// This worker commits the group that is waiting (its own outcome included).
	// Each worker has one outcome waiting at most, so the group holds this one.
	g.mu.Lock()
	group := g.pending
	g.pending = nil
	g.mu.Unlock()
	w.flush(context.WithoutCancel(ctx), group)
	g.mu.Lock()
	if len(g.pending) > 0 {
		g.pending[0].res <- recordResult{lead: true}
	} else {
		g.busy = false
	}
	g.mu.Unlock()
	return <-me.res
}

// flush writes a group of outcomes in one transaction (tried again a few
// times: the messages are out) and answers each waiter.
func (w *Sender) flush(ctx context.Context, group []*commitWaiter) {
	var res []recordResult
	var err error
	start := time.Now()
	defer func() {
		if w.obs != nil {
			w.obs.Committed(len(group), time.Since(start).Seconds())
		}
	}()
	for try := 0; try < 4; try++ {
		if try > 0 {
			time.Sleep(time.Duration(try*try) * 100 * time.Millisecond)
		}
		if res, err = w.flushTx(ctx, group); err == nil {
			break
		}
		w.log.Warn("recording send outcomes failed; trying again", "messages", len(group), "err", err)
	}
	for i, x := range group {
		if err != nil {
			x.res <- recordResult{err: err}
			continue
		}
		x.res <- res[i]
	}
	if err == nil && w.obs != nil {
		counts := map[string]int{}
		for i, x := range group {
			switch {
			case !res[i].owned:
			case x.r.err == nil:
				counts["sent"]++
			case res[i].retry:
				counts["retry"]++
			default:
				counts["failed"]++
			}
		}
		for k, n := range counts {
			w.obs.Sent(k, n)
		}
	}
}

func (w *Sender) flushTx(ctx context.Context, group []*commitWaiter) ([]recordResult, error) {
	now := w.now().UTC()
	res := make([]recordResult, len(group))
	pg := w.db.Dialect().Name() == dialect.PG
	runInTx := w.db.RunInTx
	if !pg && !w.syncCommit {
		conn, err := lazySync(ctx, w.db, &w.poolSync)
		if err != nil {
			return nil, err
		}
		defer conn.restore()
		runInTx = conn.RunInTx
	}
	err := runInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		clear(res)
		if pg && !w.syncCommit {
			if _, err := tx.ExecContext(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
				return err
			}
		}
		// Which deliveries are still their job attempt's: one statement for
		// the group (and on PostgreSQL, locked until the commit).
		ids := make([]uuid.UUID, len(group))
		for i, x := range group {
			ids[i] = x.r.d.ID
		}
		var held []Delivery
		q := tx.NewSelect().Model(&held).Column("id", "job_id", "job_attempt").
			Where("id IN (?)", bun.In(ids)).Where("status = ?", DeliverySending)
		if pg {
			q = q.For("UPDATE")
		}
		if err := q.Scan(ctx); err != nil {
			return err
		}
		type owner struct {
			job     int64
			attempt int
		}
		holder := make(map[uuid.UUID]owner, len(held))
		for _, d := range held {
			if d.JobID != nil {
				holder[d.ID] = owner{*d.JobID, d.JobAttempt}
			}
		}
		type vw struct {
			exp, variant uuid.UUID
			week         string
		}
		weekly := map[vw]int{}
		daily := map[dailyKey]int{}
		var sent []uuid.UUID
		for i, x := range group {
			r := x.r
			if o, ok := holder[r.d.ID]; !ok || o != (owner{r.job, r.attempt}) {
				continue // another attempt has it now: leave it alone
			}
			res[i].owned = true
			if r.err == nil {
				sent = append(sent, r.d.ID)
				if r.d.VariantID != nil {
					weekly[vw{r.d.ExperimentID, *r.d.VariantID, tracking.WeekOf(now, r.loc).String()}]++
					daily[dailyKey{r.d.ExperimentID, *r.d.VariantID, now.In(r.loc).Format(time.DateOnly)}]++
				}
			}
		}
		// The sent ones: one statement for the group.
		if len(sent) > 0 {
			if _, err := tx.NewUpdate().Table("deliveries").Set("status = ?", DeliverySent).Set("sent_at = ?", now).
				Set("last_error = ''").Set("message_id = CAST(id AS TEXT) || ?", "@"+w.domain).Set("updated_at = ?", now).
				Where("id IN (?)", bun.In(sent)).Exec(ctx); err != nil {
				return err
			}
		}
		keys := slices.Collect(maps.Keys(weekly))
		slices.SortFunc(keys, func(a, b vw) int { // one lock order for every writer: no deadlocks
			return cmp.Or(strings.Compare(a.exp.String(), b.exp.String()), strings.Compare(a.variant.String(), b.variant.String()),
				strings.Compare(a.week, b.week))
		})
		counters := w.svc.clicks.WithTx(tx)
		for _, k := range keys {
			if err := counters.AddSends(ctx, k.exp, k.variant, k.week, weekly[k], 0); err != nil {
				return err
			}
		}
		if err := addDailySends(ctx, tx, daily); err != nil {
			return err
		}
		// The rest, one by one (failures are few).
		for i, x := range group {
			r := x.r
			if r.err == nil || !res[i].owned {
				continue
			}
			q := tx.NewUpdate().Table("deliveries").Set("updated_at = ?", now).Where("id = ?", r.d.ID)
			var se *SendError
			switch err := r.err; {
			case errors.As(err, &se) && se.Temporary && !r.lastAttempt:
				res[i].retry = true
				q = q.Set("status = ?", DeliveryQueued).Set("last_error = ?", truncateErr(err.Error()))
			default:
				msg := truncateErr(err.Error())
				if r.lastAttempt && se != nil && se.Temporary {
					msg = fmt.Sprintf("gave up after %d attempts: %s", r.maxAttempts, msg)
				}
				q = q.Set("status = ?", DeliveryFailed).Set("last_error = ?", msg)
			}
			if _, err := q.Exec(ctx); err != nil {
				return err
			}
			if se != nil && se.NoMailbox && !res[i].retry {
				if _, err := tx.NewUpdate().Table("contacts").Set("bounced_at = ?", now).
					Where("id = ?", r.d.ContactID).Where("bounced_at IS NULL").Exec(ctx); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return res, err
}

// lazySyncConn is a SQLite connection whose commits are not fsynced
// (PRAGMA synchronous = NORMAL) until restore. In WAL mode such a commit
// survives a crash or kill of slicelab (the operating system has it); a
// crash of the machine may lose it. SQLite only lets a connection change
// this outside a transaction.
type lazySyncConn struct {
	bun.Conn
	was int
}

// lazySync takes a connection of db and makes its commits lazy; poolSync
// keeps the pool's own setting (plus one, 0: not read yet), read from the
// first connection: every connection of a pool opens with the same one.
func lazySync(ctx context.Context, db *bun.DB, poolSync *atomic.Int32) (*lazySyncConn, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	c := &lazySyncConn{Conn: conn, was: int(poolSync.Load()) - 1}
	if c.was < 0 {
		if err := conn.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&c.was); err != nil {
			conn.Close()
			return nil, err
		}
		poolSync.Store(int32(c.was) + 1)
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = NORMAL"); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// restore gives the connection its setting back and returns it to the
// pool; a connection that cannot have it back is closed, not reused.
func (c *lazySyncConn) restore() {
	if _, err := c.ExecContext(context.Background(), fmt.Sprintf("PRAGMA synchronous = %d", c.was)); err != nil {
		_ = c.Raw(func(any) error { return driver.ErrBadConn })
	}
	_ = c.Close()
}

func cancelPendingIfCancelled(ctx context.Context, db bun.IDB, id uuid.UUID, now time.Time) error {
	_, err := cancelPendingQuery(db, id, now).
		Where("EXISTS (SELECT 1 FROM experiments WHERE id = ? AND status = ?)", id, StatusCancelled).Exec(ctx)
	return err
}

func truncateErr(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > 1000 {
		return s[:1000]
	}
	return s
}

// teamZone is the time zone of an experiment's team, in which its send weeks are counted.
func teamZone(ctx context.Context, db bun.IDB, experimentID uuid.UUID) (*time.Location, error) {
	var t Team
	if err := db.NewSelect().Model(&t).Column("time_zone").
		Where("id = (SELECT team_id FROM experiments WHERE id = ?)", experimentID).Scan(ctx); err != nil {
		return nil, fmt.Errorf("team time zone: %w", err)
	}
	return t.Location(), nil
}

// OutboxName is the file name of a message in the local outbox: the time it
// was written (so that names sort by time), the team and the message.
func OutboxName(at time.Time, teamID, id uuid.UUID) string {
	return at.UTC().Format("20060102T150405") + "-" + teamID.String() + "-" + id.String() + ".eml"
}

// OutboxTeam is the team named by an outbox file name; files written before
// names carried a team belong to none.
func OutboxTeam(name string) (uuid.UUID, bool) {
	rest, ok := strings.CutSuffix(name, ".eml")
	if !ok || len(rest) < 16+36+1+36 || rest[15] != '-' {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(rest[16 : 16+36])
	return id, err == nil
}
