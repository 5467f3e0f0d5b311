package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"slicelab/experiments"
	"slicelab/okr"
	"slicelab/tracking"
)

// `slicelab demo` loads a sample team with weeks of history, through the
// domain services only: the service's clock is moved back while the history
// is written (launches, sends, clicks, check-ins, answers), so every row is
// dated as if it had happened then.

const (
	demoSlug     = "demo"
	demoPassword = "slicelab-demo"
	demoPM       = "pm@demo.slicelab.test"
	demoViewer   = "viewer@demo.slicelab.test"
)

// demoClock is the service's clock during the demo load.
type demoClock struct{ t atomic.Int64 }

func (c *demoClock) now() time.Time      { return time.Unix(0, c.t.Load()) }
func (c *demoClock) set(t time.Time)     { c.t.Store(t.UnixNano()) }
func (c *demoClock) add(d time.Duration) { c.t.Add(int64(d)) }

// captureMailer keeps the messages the demo sends for the past, instead of
// writing them to the outbox.
type captureMailer struct {
	mu   sync.Mutex
	msgs []experiments.Message
}

func (m *captureMailer) Open(context.Context) (experiments.MailSession, error) { return m, nil }
func (m *captureMailer) Close() error                                          { return nil }
func (m *captureMailer) Send(_ context.Context, msg experiments.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, msg)
	return nil
}

func (m *captureMailer) take() []experiments.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.msgs
	m.msgs = nil
	return out
}

// demoArm is a variant of a demo experiment and the share of people who click it.
type demoArm struct {
	name, subject, lead string
	rate                float64
}

var tokenRE = regexp.MustCompile(`/c/([A-Za-z0-9_-]+)`)

type demoLoader struct {
	ctx      context.Context
	a        *app
	clock    *demoClock
	mail     *captureMailer
	sender   *experiments.Sender
	team     experiments.Team
	rnd      *rand.Rand
	out      io.Writer
	contacts int
}

func runDemo(ctx context.Context, x *cli, contacts int) error {
	clock := &demoClock{}
	clock.set(time.Now())
	a := &app{cfg: x.cfg, log: x.log, now: clock.now, riverPoll: time.Second, tick: 5 * time.Second}
	if err := a.init(ctx, false); err != nil {
		return err
	}
	defer a.close()
	if t, err := a.exps.TeamBySlug(ctx, demoSlug); err == nil {
		return fmt.Errorf("the demo team %q (%s) exists already; nothing was changed. Sign in as %s with the password %s, or use another database (SLICELAB_DATABASE_URL)",
			t.Slug, t.Name, demoPM, demoPassword)
	} else if !errors.Is(err, experiments.ErrNotFound) {
		return err
	}
	// The demo assigns and sends its experiments itself, on its moved clock
	// (AssignNow, Sender.Work), so it queues no River jobs: a service running
	// on the same database would take them up, send on today's clock and
	// could leave an experiment running after the demo returned (seen in CI).
	a.exps = a.newExperiments(noJobs{})
	mail := &captureMailer{}
	d := &demoLoader{ctx: ctx, a: a, contacts: contacts, clock: clock, mail: mail, rnd: rand.New(rand.NewPCG(48, 2026)), out: x.stdout,
		sender: experiments.NewSender(a.exps, mail, a.trk, experiments.SenderConfig{From: a.cfg.MailFrom,
			Domain: experiments.MailDomain(a.cfg.MailFrom)}, slog.New(slog.NewTextHandler(io.Discard, nil)))}
	if err := d.load(); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintf(x.stdout, `
The demo team is ready: %s.
Run the service (go run ./cmd/slicelab serve), open %s and sign in as
  %s (admin)  or  %s (viewer)
with the password %s
`, d.team.Name, a.cfg.BaseURL, demoPM, demoViewer, demoPassword)
	return nil
}

func (d *demoLoader) step(msg string) { fmt.Fprintln(d.out, "demo:", msg) }

func (d *demoLoader) load() error {
	ctx, a := d.ctx, d.a
	now := time.Now().UTC()
	thisWeek := tracking.WeekOf(now, time.UTC)
	start := thisWeek.Start(time.UTC).AddDate(0, 0, -7*6) // six weeks of history
	at := func(weeksAgo int, day time.Weekday, hour int) time.Time {
		return start.AddDate(0, 0, 7*(6-weeksAgo)+int((day+6)%7)).Add(time.Duration(hour) * time.Hour)
	}
	d.clock.set(start.Add(-24 * time.Hour))
	team, err := a.exps.CreateTeam(ctx, demoSlug, "Acme Growth (demo)")
	if err != nil {
		return err
	}
	d.team = team
	pw := demoPassword
	people := []experiments.MemberInput{
		{Email: demoPM, Name: "Priya Natarajan", Role: experiments.RoleAdmin, Password: &pw},
		{Email: "lead@demo.slicelab.test", Name: "Leo Okafor", Role: experiments.RoleEditor, Password: &pw},
		{Email: "eng@demo.slicelab.test", Name: "Sam Keller", Role: experiments.RoleEditor, Password: &pw},
		{Email: demoViewer, Name: "Mia Laurent", Role: experiments.RoleViewer, Password: &pw},
	}
	var members []experiments.Member
	for _, p := range people {
		m, err := a.exps.AddMember(ctx, team.ID, p)
		if err != nil {
			return err
		}
		members = append(members, m)
	}
	d.step("team and 4 members")

	first := []string{"Ana", "Ben", "Chloé", "Dev", "Elif", "Farah", "Gus", "Hana", "Ivo", "Jade", "Kofi", "Lena", "Mateo", "Nia", "Omar", "Pia", "Quinn", "Rosa", "Sven", "Tara"}
	last := []string{"Silva", "Novak", "Berg", "Okoro", "Haddad", "Kim", "Rossi", "Meyer", "Costa", "Dubois", "Ivanova", "Tan", "Moreau", "Fischer", "Lopez", "Sato", "Jensen", "Ali", "Weber", "Byrne"}
	var contacts []experiments.ContactInput
	for i := 0; i < d.contacts; i++ {
		f, l := first[i%len(first)], last[(i/len(first))%len(last)]
		tags := []string{"newsletter"}
		if i%4 == 0 {
			tags = append(tags, "beta")
		}
		plan := []string{"free", "pro", "team"}[i%3]
		contacts = append(contacts, experiments.ContactInput{Email: fmt.Sprintf("%s.%s%d@example.com", strings.ToLower(f), strings.ToLower(l), i),
			Name: f + " " + l, Tags: tags, Attributes: map[string]string{"plan": plan}})
	}
	if _, err := a.exps.ImportContacts(ctx, team.ID, contacts); err != nil {
		return err
	}
	d.step(fmt.Sprintf("%d contacts", d.contacts))

	// Objectives for a 13-week period that began six weeks ago.
	period := okr.ObjectiveInput{Start: start.Format(time.DateOnly), End: start.AddDate(0, 0, 7*13-1).Format(time.DateOnly)}
	o1in := period
	o1in.Title, o1in.Kind = "Grow engaged readers of the weekly insight", okr.KindCommitted
	o1, err := a.okr.CreateObjective(ctx, team.ID, o1in)
	if err != nil {
		return err
	}
	o2in := period
	o2in.Title, o2in.Kind = "Make the product faster to adopt", okr.KindAspirational
	o2, err := a.okr.CreateObjective(ctx, team.ID, o2in)
	if err != nil {
		return err
	}
	f := func(x float64) *float64 { return &x }
	kr := func(o *okr.Objective, in okr.KeyResultInput) (*okr.KeyResult, error) {
		return a.okr.CreateKeyResult(ctx, team.ID, o.ID, in)
	}
	clicksKR, err := kr(o1, okr.KeyResultInput{Title: "Weekly people clicking an insight reach 60", Type: okr.TypeMetric, Start: f(0), Target: f(60), Unit: "people", Source: okr.SourceClicks})
	if err != nil {
		return err
	}
	ctrKR, err := kr(o1, okr.KeyResultInput{Title: "Insight click-through rate stays at or above 6 %", Type: okr.TypeThreshold, Target: f(0.06), Unit: "%", Source: okr.SourceCTR})
	if err != nil {
		return err
	}
	if _, err := kr(o1, okr.KeyResultInput{Title: "Weekly sign-ups for the team plan reach 25", Type: okr.TypeMetric, Start: f(0), Target: f(25), Unit: "sign-ups", Source: okr.SourceEvents, EventName: "team_signup"}); err != nil {
		return err
	}
	ttv, err := kr(o2, okr.KeyResultInput{Title: "Time to first insight drops from 30 to 10 minutes", Type: okr.TypeMetric, Start: f(30), Target: f(10), Unit: "minutes", Source: okr.SourceManual})
	if err != nil {
		return err
	}
	ship, err := kr(o2, okr.KeyResultInput{Title: "Onboarding checklist shipped", Type: okr.TypeMilestone, Source: okr.SourceManual})
	if err != nil {
		return err
	}
	tickets, err := kr(o2, okr.KeyResultInput{Title: "Support tickets about set-up per week (baseline)", Type: okr.TypeBaseline, Unit: "tickets", Source: okr.SourceManual})
	if err != nil {
		return err
	}
	d.step("2 objectives, 6 key results")

	html := func(lead, link string) string {
		return `<p>Hi {{.Contact.Name}},</p><p>` + lead + `</p><p><a href="` + link + `">See this week's insight</a></p>` +
			`<p style="color:#666">You get this because you read the Acme newsletter ({{.Contact.Attr "plan"}} plan).</p>`
	}
	text := func(lead, link string) string {
		return "Hi {{.Contact.Name}},\n\n" + lead + "\n\nSee this week's insight: " + link
	}
	w := func(x float64) *float64 { return &x }
	experiment := func(name, hyp, initiative string, viability *experiments.Viability, winner *experiments.WinnerInput, krs []uuid.UUID, arms []demoArm) experiments.CreateInput {
		in := experiments.CreateInput{Name: name, Hypothesis: hyp, Initiative: initiative, Holdout: 0.1, Viability: viability, Winner: winner,
			Audience: experiments.Audience{Tags: []string{"newsletter"}}, KeyResultIDs: krs}
		for i, ar := range arms {
			link := "https://example.com/insights/" + strings.ToLower(strings.ReplaceAll(name, " ", "-"))
			in.Variants = append(in.Variants, experiments.VariantInput{Name: ar.name, Weight: w(1), Control: i == 0, Subject: ar.subject,
				HTML: html(ar.lead, link), Text: text(ar.lead, link)})
		}
		return in
	}
	links := []uuid.UUID{clicksKR.ID, ctrKR.ID}
	past := []struct {
		in      experiments.CreateInput
		arms    []demoArm
		launch  time.Time
		holdout bool
	}{
		{arms: []demoArm{{"control", "Your weekly insight", "Your team ran 42 reports this week.", 0.07}, {"numbers", "Your team saved 3 hours this week", "Your team saved <b>3 hours</b> this week.", 0.11}},
			launch: at(5, time.Tuesday, 9)},
		{arms: []demoArm{{"control", "Your weekly insight", "Here is what changed in your workspace.", 0.08}, {"question", "Did you see what changed?", "Did you see what changed in your workspace?", 0.075}},
			launch: at(3, time.Tuesday, 9)},
	}
	past[0].in = experiment("Numbers in the subject", "A concrete number in the subject makes more people open and click the weekly insight.", "Insights digest",
		&experiments.Viability{Metric: "ctr", Threshold: 0.08}, nil, links, past[0].arms)
	past[1].in = experiment("A question as the subject", "Asking a question in the subject gets more readers to click.", "Insights digest",
		&experiments.Viability{Metric: "lift", Threshold: 0.1, MinChance: 0.95}, nil, links, past[1].arms)
	for i, p := range past {
		if err := d.run(p.in, p.arms, p.launch, members, i == 1); err != nil {
			return err
		}
	}
	d.step("2 finished experiments with clicks by people and by mail scanners")

	// One running: a test share went out yesterday; the winner goes to the rest after the wait.
	runningArms := []demoArm{{"control", "Three tips to get started", "Three tips to get the most out of Acme.", 0.09}, {"checklist", "Your 5-minute set-up checklist", "Your 5-minute set-up checklist.", 0.12}}
	running := experiment("Onboarding checklist email", "A checklist gets new users to their first insight faster.", "Onboarding",
		&experiments.Viability{Metric: "lift", Threshold: 0.1, MinChance: 0.95}, &experiments.WinnerInput{TestShare: 0.3, Wait: "72h"}, []uuid.UUID{clicksKR.ID}, runningArms)
	if err := d.run(running, runningArms, now.Add(-20*time.Hour), members, false); err != nil {
		return err
	}
	draft := experiment("Pricing page teaser", "Showing the team plan's price in the email raises team sign-ups.", "Team plan", nil, nil, nil,
		[]demoArm{{"control", "What teams do with Acme", "See what teams do with Acme.", 0}, {"price", "Acme for your team: €8 a seat", "Acme for your team, €8 a seat.", 0}})
	d.clock.set(now.Add(-2 * time.Hour))
	if _, err := a.exps.Create(ctx, team.ID, draft); err != nil {
		return err
	}
	d.step("1 running experiment (test share sent, waiting for the winner), 1 draft")

	// Weekly check-ins, sign-up events and allocation answers.
	for wk := 6; wk >= 0; wk-- {
		week := tracking.WeekOf(at(wk, time.Friday, 16), time.UTC)
		d.clock.set(at(wk, time.Friday, 16))
		if wk == 0 && d.clock.now().After(now) {
			d.clock.set(now)
		}
		conf := 5 + (6-wk)/2
		note := []string{"baseline measured", "first fixes landed", "tour shortened", "checklist in beta", "checklist for everyone", "templates added", "on the way"}[6-wk]
		if _, err := a.okr.CheckIn(ctx, team.ID, ttv.ID, okr.CheckInInput{Week: week.String(), Value: f(30 - 2.6*float64(6-wk)), Confidence: &conf, Note: note}, demoAuthor(members[0])); err != nil {
			return err
		}
		if wk >= 1 {
			if _, err := a.okr.CheckIn(ctx, team.ID, tickets.ID, okr.CheckInInput{Week: week.String(), Value: f(float64(18 - (6-wk)*2 + d.rnd.IntN(3)))}, demoAuthor(members[1])); err != nil {
				return err
			}
		}
		done := 0.0
		if wk <= 1 {
			done = 1
		}
		if _, err := a.okr.CheckIn(ctx, team.ID, ship.ID, okr.CheckInInput{Week: week.String(), Value: &done}, demoAuthor(members[2])); err != nil {
			return err
		}
		var events []okr.EventInput
		for i := 0; i < 6+2*(6-wk); i++ {
			c := contacts[d.rnd.IntN(len(contacts))]
			t := at(wk, time.Monday, 10).Add(time.Duration(d.rnd.IntN(4*24)) * time.Hour)
			if t.After(now) {
				t = now.Add(-time.Minute)
			}
			events = append(events, okr.EventInput{Name: "team_signup", Email: c.Email, Time: &t})
		}
		if _, err := a.okr.IngestEvents(ctx, team.ID, events); err != nil {
			return err
		}
		for j, m := range members {
			if wk == 0 && j > 1 {
				continue // this week, not everybody has answered yet
			}
			ktlo := 25 + d.rnd.IntN(20)
			newW := (100 - ktlo) * (45 + d.rnd.IntN(20)) / 100
			impr := (100 - ktlo - newW) / 2
			shares := map[string]int{"KTLO": ktlo, "New": newW, "Improve": impr, "Productivity": 100 - ktlo - newW - impr}
			if _, err := a.okr.SubmitAllocation(ctx, team.ID, m.ID, week, shares); err != nil {
				return err
			}
		}
	}
	d.step("six weeks of check-ins, sign-up events and time-allocation answers")
	return nil
}

// run launches an experiment at launch, sends its messages (spread over a few
// minutes), and plays its clicks: people over the following days at each
// arm's rate, and mail scanners within seconds of delivery.
func (d *demoLoader) run(in experiments.CreateInput, arms []demoArm, launch time.Time, members []experiments.Member, unsubscribe bool) error {
	ctx, a := d.ctx, d.a
	d.clock.set(launch.Add(-time.Hour))
	e, err := a.exps.Create(ctx, d.team.ID, in)
	if err != nil {
		return err
	}
	d.clock.set(launch)
	if _, err = a.exps.Launch(ctx, d.team.ID, e.ID, nil); err != nil {
		return err
	}
	if err := a.exps.AssignNow(ctx, e.ID); err != nil {
		return err
	}
	if e, err = a.exps.Get(ctx, d.team.ID, e.ID); err != nil {
		return err
	}
	batches := (e.Progress.Queued + a.cfg.BatchSize - 1) / max(a.cfg.BatchSize, 1)
	for b := 0; b < batches; b++ {
		d.clock.add(20 * time.Second)
		job := &river.Job[experiments.SendBatchArgs]{JobRow: &rivertype.JobRow{Attempt: 1, MaxAttempts: experiments.SendMaxAttempts},
			Args: experiments.SendBatchArgs{ExperimentID: e.ID, Batch: b}}
		if err := d.sender.Work(ctx, job); err != nil {
			return err
		}
	}
	if err := a.exps.CompleteFinished(ctx); err != nil { // the lifecycle tick's job; the demo runs no workers
		return err
	}
	msgs := d.mail.take()
	rate := map[string]float64{}
	for _, ar := range arms {
		rate[ar.subject] = ar.rate
	}
	type hit struct {
		at     time.Time
		token  string
		method string
		ua     string
	}
	var hits []hit
	sentAt := d.clock.now()
	for i, m := range msgs {
		toks := tokenRE.FindAllStringSubmatch(m.HTML, -1)
		if len(toks) == 0 {
			continue
		}
		tok := toks[0][1]
		sent := launch.Add(time.Duration(i/a.cfg.BatchSize+1) * 20 * time.Second)
		if d.rnd.Float64() < 0.07 { // a mail scanner checks the link on delivery
			hits = append(hits, hit{sent.Add(time.Duration(1+d.rnd.IntN(3)) * time.Second), tok, "GET", "Mozilla/5.0 (compatible; Barracuda Sentinel)"})
		}
		if d.rnd.Float64() < 0.03 {
			hits = append(hits, hit{sent.Add(time.Duration(2+d.rnd.IntN(5)) * time.Second), tok, "HEAD", "Mozilla/5.0"})
		}
		if d.rnd.Float64() < rate[m.Subject] {
			delay := time.Duration(20+d.rnd.IntN(60*24*9)) * time.Minute // within nine days, most early
			if d.rnd.IntN(2) == 0 {
				delay /= 6
			}
			ua := []string{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
				"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
				"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"}[d.rnd.IntN(3)]
			hits = append(hits, hit{sent.Add(delay), tok, "GET", ua})
		}
	}
	slices.SortFunc(hits, func(x, y hit) int { return x.at.Compare(y.at) })
	now := time.Now()
	for _, h := range hits {
		if h.at.After(now) {
			continue
		}
		d.clock.set(h.at)
		if _, err := a.trk.Follow(ctx, h.token, tracking.Hit{Method: h.method, UserAgent: h.ua, IP: "203.0.113.7"}); err != nil {
			return err
		}
	}
	if unsubscribe && len(msgs) > 3 {
		d.clock.set(sentAt.Add(time.Hour))
		for _, m := range msgs[:3] {
			if _, err := a.exps.Unsubscribe(ctx, m.DeliveryID); err != nil {
				return err
			}
		}
	}
	return nil
}

// demoAuthor is a member as the author of a check-in.
func demoAuthor(m experiments.Member) okr.Author {
	id := m.ID
	return okr.Author{UserID: &id, Name: m.DisplayName()}
}

// noJobs queues nothing: the demo does the work of the jobs itself.
type noJobs struct{}

func (noJobs) InsertManyTx(context.Context, *sql.Tx, []river.InsertManyParams) ([]*rivertype.JobInsertResult, error) {
	return nil, nil
}
