package okr

import (
	"context"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"slicelab/experiments"
)

// WeeklyAt is a River schedule that fires once a week, on day at hour:00 UTC.
type WeeklyAt struct {
	Day  time.Weekday
	Hour int
}

// Next is the first such moment after t.
func (w WeeklyAt) Next(t time.Time) time.Time {
	t = t.UTC()
	next := time.Date(t.Year(), t.Month(), t.Day(), w.Hour, 0, 0, 0, time.UTC)
	for !next.After(t) || next.Weekday() != w.Day {
		next = next.AddDate(0, 0, 1)
	}
	return next
}

// DigestArgs is the Monday job that queues one digest email per team member.
type DigestArgs struct{}

// Kind is River's name for the job.
func (DigestArgs) Kind() string { return "weekly_digest" }

// DigestEmailArgs sends one member the review of one week; River keeps it
// unique per member and week, so nobody gets the same digest twice.
type DigestEmailArgs struct {
	TeamID   uuid.UUID `json:"team_id"`
	MemberID uuid.UUID `json:"member_id"`
	Week     string    `json:"week"`
}

// Kind is River's name for the job.
func (DigestEmailArgs) Kind() string { return "weekly_digest_email" }

// InsertOpts makes the job unique by its arguments for good.
func (DigestEmailArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// Digests sends the Monday digest (product.md §8).
type Digests struct {
	svc      *Service
	mailer   experiments.Mailer
	from     string
	baseURL  string
	inserter interface {
		InsertMany(ctx context.Context, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
	}
}

// NewDigests builds the digest workers; baseURL is the service's absolute URL.
func NewDigests(svc *Service, mailer experiments.Mailer, from, baseURL string) *Digests {
	return &Digests{svc: svc, mailer: mailer, from: from, baseURL: strings.TrimRight(baseURL, "/")}
}

// SetInserter sets the River client that queues the per-member emails.
func (d *Digests) SetInserter(c interface {
	InsertMany(ctx context.Context, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}) {
	d.inserter = c
}

// QueueWorker is the River worker of DigestArgs.
func (d *Digests) QueueWorker() river.Worker[DigestArgs] { return &digestQueue{d: d} }

// EmailWorker is the River worker of DigestEmailArgs.
func (d *Digests) EmailWorker() river.Worker[DigestEmailArgs] { return &digestEmail{d: d} }

type digestQueue struct {
	river.WorkerDefaults[DigestArgs]
	d *Digests
}

// Work queues one email per member of every team, for the week that just ended in the team's time zone.
func (q *digestQueue) Work(ctx context.Context, _ *river.Job[DigestArgs]) error {
	var teams []experiments.Team
	if err := q.d.svc.db.NewSelect().Model(&teams).Scan(ctx); err != nil {
		return fmt.Errorf("okr: digest: %w", err)
	}
	var params []river.InsertManyParams
	for _, t := range teams {
		loc, err := q.d.svc.Location(ctx, t.ID)
		if err != nil {
			return err
		}
		week := WeekOf(q.d.svc.now(), loc).Prev()
		members, err := q.d.svc.Members(ctx, t.ID)
		if err != nil {
			return err
		}
		for _, m := range members {
			params = append(params, river.InsertManyParams{Args: DigestEmailArgs{TeamID: t.ID, MemberID: m.ID, Week: week.String()}})
		}
	}
	if len(params) == 0 {
		return nil
	}
	_, err := q.d.inserter.InsertMany(ctx, params)
	return err
}

type digestEmail struct {
	river.WorkerDefaults[DigestEmailArgs]
	d *Digests
}

// Work sends one digest.
func (w *digestEmail) Work(ctx context.Context, job *river.Job[DigestEmailArgs]) error {
	d := w.d
	var team experiments.Team
	if err := d.svc.db.NewSelect().Model(&team).Where("id = ?", job.Args.TeamID).Scan(ctx); err != nil {
		return fmt.Errorf("okr: digest team: %w", err)
	}
	m, err := d.svc.Member(ctx, team.ID, job.Args.MemberID)
	if err != nil {
		return river.JobCancel(fmt.Errorf("okr: digest member: %w", err)) // removed since: nothing to send
	}
	week, err := ParseWeek(job.Args.Week)
	if err != nil {
		return river.JobCancel(err)
	}
	r, err := d.svc.WeeklyReview(ctx, team, week)
	if err != nil {
		return err
	}
	msg, err := d.message(r, team, m)
	if err != nil {
		return err
	}
	sess, err := d.mailer.Open(ctx)
	if err != nil {
		return err
	}
	defer sess.Close()
	return sess.Send(ctx, msg)
}

// message renders the digest as text and HTML.
func (d *Digests) message(r *Review, team experiments.Team, m Member) (experiments.Message, error) {
	link := fmt.Sprintf("%s/api/v1/teams/%s/reports/weekly?week=%s", d.baseURL, team.Slug, r.Week)
	var text strings.Builder
	fmt.Fprintf(&text, "Weekly review of %s, %s\n\n", team.Name, r.Week)
	for _, o := range r.Objectives {
		fmt.Fprintf(&text, "%s: score %s (%s)\n", o.Title, fmtNum(o.Score, 2), o.Colour)
		for _, k := range o.KeyResults {
			fmt.Fprintf(&text, "  - %s: %s, progress %s of %s expected, %s\n", k.Title, fmtNum(k.Value, 4), fmtPct(k.Progress),
				fmtPct(&k.ExpectedProgress), strings.ReplaceAll(string(k.Status), "_", " "))
		}
	}
	if len(r.Experiments) > 0 {
		text.WriteString("\nExperiments this week:\n")
		for _, e := range r.Experiments {
			fmt.Fprintf(&text, "  - %s (%s): %d sent, %d human clickers, verdict %s: %s\n", e.Name, orDash(e.Initiative), e.Sent,
				e.HumanClickers, strings.ReplaceAll(e.Verdict.State, "_", " "), e.Verdict.Reason)
		}
	}
	fmt.Fprintf(&text, "\nThe whole review (JSON; add &format=csv for CSV): %s\n", link)
	var html strings.Builder
	if err := digestHTML.Execute(&html, map[string]any{"R": r, "Team": team, "Link": link}); err != nil {
		return experiments.Message{}, err
	}
	domain := d.from[strings.LastIndexByte(d.from, '@')+1:]
	domain = strings.TrimRight(domain, ">")
	return experiments.Message{DeliveryID: newID(), MessageID: "digest-" + newID().String() + "@" + domain, From: d.from,
		To: m.Email, ToName: m.Name, Subject: fmt.Sprintf("Weekly review of %s, %s", team.Name, r.Week),
		Text: text.String(), HTML: html.String()}, nil
}

var digestHTML = template.Must(template.New("digest").Funcs(template.FuncMap{
	"num":   func(p *float64) string { return fmtNum(p, 4) },
	"pct":   fmtPct,
	"words": func(s any) string { return strings.ReplaceAll(fmt.Sprint(s), "_", " ") },
}).Parse(`<h2>Weekly review of {{.Team.Name}}, {{.R.Week}}</h2>
{{range .R.Objectives}}<h3>{{.Title}}: score {{num .Score}} ({{.Colour}})</h3>
<table cellpadding="4"><tr><th align="left">Key result</th><th>Value</th><th>Progress</th><th>Expected</th><th>Status</th></tr>
{{range .KeyResults}}<tr><td>{{.Title}}</td><td>{{num .Value}}</td><td>{{pct .Progress}}</td><td>{{pct .ExpectedProgress}}</td><td>{{words .Status}}</td></tr>
{{end}}</table>{{end}}
{{if .R.Experiments}}<h3>Experiments this week</h3><ul>{{range .R.Experiments}}<li>{{.Name}}: {{.Sent}} sent, {{.HumanClickers}} human clickers, {{words .Verdict.State}}: {{.Verdict.Reason}}</li>{{end}}</ul>{{end}}
<p><a href="{{.Link}}">The whole review</a></p>`))

func fmtNum(p *float64, digits int) string {
	if p == nil {
		return "-"
	}
	return strconvFormat(*p, digits)
}

func fmtPct(v any) string {
	switch p := v.(type) {
	case *float64:
		if p == nil {
			return "-"
		}
		return strconvFormat(*p*100, 3) + "%"
	case float64:
		return strconvFormat(p*100, 3) + "%"
	}
	return "-"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func strconvFormat(x float64, digits int) string { return strconv.FormatFloat(x, 'g', digits, 64) }
