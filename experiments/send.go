package experiments

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/uptrace/bun"
	"golang.org/x/time/rate"

	"slicelab/tracking"
)

// Message is one rendered email, as plain data for a Mailer.
type Message struct {
	DeliveryID     uuid.UUID
	TeamID         uuid.UUID // the team on whose behalf it goes out (the outbox shows a team only its own)
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

// InsertOpts puts send jobs on their own queue.
func (SendBatchArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueSend, MaxAttempts: SendMaxAttempts}
}

// Queue names and retry policy of sending.
const (
	QueueSend       = "send"
	SendMaxAttempts = 8
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
	// RetryBase is the first retry delay after temporary failures; it doubles per attempt.
	RetryBase time.Duration
	// TestSends limits test messages (nil: members only, the default rate).
	TestSends *TestSendPolicy

	mu       sync.Mutex
	compiled map[uuid.UUID]compiledVariant // variants never change once launched
}

// SenderConfig configures a Sender.
type SenderConfig struct {
	From      string  // the From address, e.g. "slicelab <noreply@example.com>"
	Domain    string  // Message-ID domain (the sender's)
	Rate      float64 // messages per second over all of this process's send workers; 0 = unlimited
	RetryBase time.Duration
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
		log: log, now: now, RetryBase: cfg.RetryBase, compiled: map[uuid.UUID]compiledVariant{}}
}

// NextRetry backs off exponentially from RetryBase, capped at an hour.
func (w *Sender) NextRetry(job *river.Job[SendBatchArgs]) time.Time {
	d := w.RetryBase << min(job.Attempt-1, 10)
	return time.Now().Add(min(d, time.Hour))
}

// Timeout gives a batch time to go out at slow send rates.
func (w *Sender) Timeout(*river.Job[SendBatchArgs]) time.Duration { return 30 * time.Minute }

// errAmbiguous is recorded for deliveries that a previous attempt had handed
// to the transport without recording the outcome: they are not sent again.
const errAmbiguous = "ambiguous: the sending process stopped after handing this message to the mail server and before recording the answer; not sent again to avoid a duplicate"

// Work sends the queued deliveries of one batch over one mail session. It is
// safe to run again: only deliveries still queued are sent.
func (w *Sender) Work(ctx context.Context, job *river.Job[SendBatchArgs]) error {
	a := job.Args
	var exp Experiment
	if err := w.db.NewSelect().Model(&exp).Column("id", "status", "team_id").Where("id = ?", a.ExperimentID).Scan(ctx); err != nil {
		return fmt.Errorf("send: load experiment %s: %w", a.ExperimentID, err)
	}
	if exp.Status != StatusRunning { // paused: Resume enqueues again; cancelled or completed: nothing to do
		return nil
	}
	now := w.now().UTC()
	var batch []Delivery
	err := w.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewUpdate().Table("deliveries").Set("status = ?", DeliveryFailed).
			Set("last_error = ?", errAmbiguous).Set("updated_at = ?", now).
			Where("experiment_id = ?", a.ExperimentID).Where("batch = ?", a.Batch).Where("status = ?", DeliverySending).
			Exec(ctx); err != nil {
			return err
		}
		return tx.NewUpdate().Table("deliveries").
			Set("status = ?", DeliverySending).Set("attempts = attempts + 1").Set("updated_at = ?", now).
			Where("experiment_id = ?", a.ExperimentID).Where("batch = ?", a.Batch).Where("status = ?", DeliveryQueued).
			Returning("id, contact_id, variant_id, attempts").Scan(ctx, &batch)
	})
	if err != nil {
		return fmt.Errorf("send: claim batch %d of %s: %w", a.Batch, a.ExperimentID, err)
	}
	if len(batch) == 0 {
		return w.svc.completeIfDone(ctx, w.db, a.ExperimentID)
	}
	contacts, err := w.contacts(ctx, batch)
	if err != nil {
		return w.release(ctx, batch, err)
	}
	outcomes := make([]error, len(batch))
	var sess MailSession
	sess, err = w.mailer.Open(ctx)
	if err != nil {
		return w.release(ctx, batch, fmt.Errorf("send: open mail session: %w", err))
	}
	defer sess.Close()
	sentAt := make([]time.Time, len(batch))
	halted, lastCheck := false, time.Now()
	for i, d := range batch {
		if !halted && time.Since(lastCheck) > statusCheckEvery {
			halted, lastCheck = w.halted(ctx, a.ExperimentID), time.Now()
		}
		if halted || ctx.Err() != nil { // paused, cancelled or shutting down: the rest goes back to the queue
			outcomes[i] = errNotAttempted
			continue
		}
		msg, err := w.render(ctx, d, contacts[d.ContactID])
		if err != nil {
			outcomes[i] = &SendError{Message: "render: " + err.Error()}
			continue
		}
		if err := w.limiter.Wait(ctx); err != nil {
			outcomes[i] = errNotAttempted
			continue
		}
		msg.TeamID = exp.TeamID
		outcomes[i] = sess.Send(ctx, msg)
		sentAt[i] = w.now().UTC()
	}
	return w.record(context.WithoutCancel(ctx), job, batch, outcomes, sentAt)
}

var errNotAttempted = errors.New("not attempted")

// statusCheckEvery is how often a batch looks whether its experiment was
// paused or cancelled meanwhile; the message in hand always finishes.
const statusCheckEvery = 500 * time.Millisecond

func (w *Sender) halted(ctx context.Context, id uuid.UUID) bool {
	var st struct {
		Status Status `bun:"status"`
	}
	if err := w.db.NewSelect().Table("experiments").Column("status").Where("id = ?", id).Scan(ctx, &st); err != nil {
		return false
	}
	return st.Status != StatusRunning
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
func (w *Sender) release(ctx context.Context, batch []Delivery, cause error) error {
	ids := make([]uuid.UUID, len(batch))
	for i, d := range batch {
		ids[i] = d.ID
	}
	_, err := w.db.NewUpdate().Table("deliveries").Set("status = ?", DeliveryQueued).
		Set("last_error = ?", truncateErr(cause.Error())).Set("updated_at = ?", w.now().UTC()).
		Where("id IN (?)", bun.In(ids)).Where("status = ?", DeliverySending).Exec(context.WithoutCancel(ctx))
	if err != nil {
		return errors.Join(cause, err)
	}
	return cause
}

func (w *Sender) render(ctx context.Context, d Delivery, c Contact) (Message, error) {
	if d.VariantID == nil {
		return Message{}, errors.New("delivery has no variant")
	}
	vid := *d.VariantID
	comp, links, err := w.variant(ctx, vid)
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
	return Message{DeliveryID: d.ID, MessageID: d.ID.String() + "@" + w.domain, From: w.from, To: c.Email, ToName: c.Name,
		Subject: subject, HTML: htmlBody, Text: textBody, UnsubscribeURL: data.UnsubscribeURL}, nil
}

func (w *Sender) variant(ctx context.Context, id uuid.UUID) (*compiled, int, error) {
	w.mu.Lock()
	cv, ok := w.compiled[id]
	w.mu.Unlock()
	if ok {
		return cv.c, cv.links, nil
	}
	var v Variant
	if err := w.db.NewSelect().Model(&v).Column("subject", "html_compiled", "text_compiled").Where("id = ?", id).Scan(ctx); err != nil {
		return nil, 0, fmt.Errorf("load variant %s: %w", id, err)
	}
	links, err := w.svc.clicks.VariantLinks(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	n := len(links)
	c, errs := compileSources(v.Subject, v.HTMLCompiled, v.TextCompiled)
	if len(errs) > 0 {
		return nil, 0, fmt.Errorf("compile variant %s: %v", id, errs)
	}
	w.mu.Lock()
	if len(w.compiled) > 1000 {
		clear(w.compiled)
	}
	w.compiled[id] = compiledVariant{c: c, links: n}
	w.mu.Unlock()
	return c, n, nil
}

type compiledVariant struct {
	c     *compiled
	links int
}

// record writes each delivery's outcome in one transaction. Temporary
// failures go back to the queue and make River retry the job, until the last
// attempt, when they are marked failed.
func (w *Sender) record(ctx context.Context, job *river.Job[SendBatchArgs], batch []Delivery, outcomes []error, sentAt []time.Time) error {
	now := w.now().UTC()
	lastAttempt := job.Attempt >= job.MaxAttempts
	retry, notAttempted := 0, 0
	// The messages are out: the outcome must be recorded, so a failed
	// transaction (a deadlock, a lost connection) is tried again before the
	// batch falls back to the ambiguous state.
	var err error
	for try := 0; try < 5; try++ {
		if try > 0 {
			time.Sleep(time.Duration(try*try) * 100 * time.Millisecond)
		}
		if err = w.recordTx(ctx, job, batch, outcomes, sentAt, now, lastAttempt, &retry, &notAttempted); err == nil {
			break
		}
		w.log.Warn("recording send outcomes failed; trying again", "batch", job.Args.Batch, "err", err)
	}
	if err != nil {
		return fmt.Errorf("send: record outcomes of batch %d: %w", job.Args.Batch, err)
	}
	if notAttempted > 0 && w.halted(ctx, job.Args.ExperimentID) {
		// Paused: Resume enqueues the batch again. Cancelled: the rest is cancelled.
		return cancelPendingIfCancelled(ctx, w.db, job.Args.ExperimentID, now)
	}
	if retry > 0 || notAttempted > 0 {
		return fmt.Errorf("send: batch %d of %s: %d temporary failures, %d not attempted; retrying",
			job.Args.Batch, job.Args.ExperimentID, retry, notAttempted)
	}
	return w.svc.completeIfDone(ctx, w.db, job.Args.ExperimentID)
}

func (w *Sender) recordTx(ctx context.Context, job *river.Job[SendBatchArgs], batch []Delivery, outcomes []error, sentAt []time.Time,
	now time.Time, lastAttempt bool, retry, notAttempted *int) error {
	*retry, *notAttempted = 0, 0
	return w.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		loc, err := teamZone(ctx, tx, job.Args.ExperimentID)
		if err != nil {
			return err
		}
		type vw struct {
			variant uuid.UUID
			week    string
		}
		sent := map[vw]int{}
		for i, d := range batch {
			if outcomes[i] == nil && d.VariantID != nil {
				sent[vw{*d.VariantID, tracking.WeekOf(sentAt[i], loc).String()}]++
			}
		}
		keys := slices.Collect(maps.Keys(sent))
		slices.SortFunc(keys, func(a, b vw) int { // one lock order for every writer: no deadlocks
			return cmp.Or(strings.Compare(a.variant.String(), b.variant.String()), strings.Compare(a.week, b.week))
		})
		counters := w.svc.clicks.WithTx(tx)
		for _, k := range keys {
			if err := counters.AddSends(ctx, job.Args.ExperimentID, k.variant, k.week, sent[k], 0); err != nil {
				return err
			}
		}
		for i, d := range batch {
			q := tx.NewUpdate().Table("deliveries").Set("updated_at = ?", now).Where("id = ?", d.ID)
			var se *SendError
			switch err := outcomes[i]; {
			case err == nil:
				q = q.Set("status = ?", DeliverySent).Set("sent_at = ?", sentAt[i]).Set("last_error = ''").
					Set("message_id = ?", d.ID.String()+"@"+w.domain)
			case errors.Is(err, errNotAttempted):
				*notAttempted++
				q = q.Set("status = ?", DeliveryQueued).Set("attempts = attempts - 1")
			case errors.As(err, &se) && se.Temporary && !lastAttempt:
				*retry++
				q = q.Set("status = ?", DeliveryQueued).Set("last_error = ?", truncateErr(err.Error()))
			default:
				msg := truncateErr(err.Error())
				if lastAttempt && se != nil && se.Temporary {
					msg = fmt.Sprintf("gave up after %d attempts: %s", job.MaxAttempts, msg)
				}
				q = q.Set("status = ?", DeliveryFailed).Set("last_error = ?", msg)
				if se != nil && se.NoMailbox {
					if _, err := tx.NewUpdate().Table("contacts").Set("bounced_at = ?", now).
						Where("id = ?", d.ContactID).Where("bounced_at IS NULL").Exec(ctx); err != nil {
						return err
					}
				}
			}
			if _, err := q.Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
}

func cancelPendingIfCancelled(ctx context.Context, db bun.IDB, id uuid.UUID, now time.Time) error {
	_, err := db.NewUpdate().Table("deliveries").Set("status = ?", DeliveryCancelled).Set("updated_at = ?", now).
		Where("experiment_id = ?", id).Where("status IN (?, ?)", DeliveryQueued, DeliveryWaiting).
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
