package okr

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"slicelab/tracking"
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

// JobInserter is the part of a River client that queues the per-member emails.
type JobInserter interface {
	InsertMany(ctx context.Context, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// Digests sends the Monday digest (product.md §8).
type Digests struct {
	svc  *Service
	mail Mail
	tmpl EmailTemplate
	jobs JobInserter
}

// NewDigests builds the digest workers.
func NewDigests(svc *Service, mail Mail, tmpl EmailTemplate, jobs JobInserter) *Digests {
	return &Digests{svc: svc, mail: mail, tmpl: tmpl, jobs: jobs}
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
	svc := q.d.svc
	teams, err := svc.exps.Teams(ctx)
	if err != nil {
		return err
	}
	var params []river.InsertManyParams
	for _, t := range teams {
		week := tracking.WeekOf(svc.now(), t.Location()).Prev()
		members, err := svc.exps.Members(ctx, t.ID)
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
	_, err = q.d.jobs.InsertMany(ctx, params)
	return err
}

type digestEmail struct {
	river.WorkerDefaults[DigestEmailArgs]
	d *Digests
}

// Work sends one digest.
func (w *digestEmail) Work(ctx context.Context, job *river.Job[DigestEmailArgs]) error {
	d := w.d
	team, err := d.svc.exps.Team(ctx, job.Args.TeamID)
	if err != nil {
		return river.JobCancel(fmt.Errorf("okr: digest team: %w", err)) // removed since: nothing to send
	}
	m, err := d.svc.exps.Member(ctx, team.ID, job.Args.MemberID)
	if err != nil {
		return river.JobCancel(fmt.Errorf("okr: digest member: %w", err)) // removed since: nothing to send
	}
	week, err := tracking.ParseWeek(job.Args.Week)
	if err != nil {
		return river.JobCancel(err)
	}
	r, err := d.svc.WeeklyReview(ctx, team, week)
	if err != nil {
		return err
	}
	link := d.mail.link(fmt.Sprintf("/api/v1/teams/%s/reports/weekly?week=%s", team.Slug, r.Week))
	data := map[string]any{"R": r, "Team": team, "Link": link}
	// An admin of the organisation also gets the organisation's week.
	if admin, err := d.svc.exps.IsOrgAdmin(ctx, team.OrgID, m.ID); err != nil {
		return err
	} else if admin {
		org, err := d.svc.exps.Org(ctx, team.OrgID)
		if err != nil {
			return err
		}
		ow, err := d.svc.OrgWeeklyReport(ctx, org, week)
		if err != nil {
			return err
		}
		lines := make([]string, len(ow.Teams))
		for i, t := range ow.Teams {
			lines[i] = t.summaryLine()
		}
		data["Org"], data["OrgLines"], data["OrgKTLO"] = ow, lines, fmtShare(ow.Mix.KTLOShare)
	}
	msg, err := d.mail.message(d.tmpl, "digest", m, data)
	if err != nil {
		return err
	}
	sess, err := d.mail.Mailer.Open(ctx)
	if err != nil {
		return err
	}
	defer sess.Close()
	return sess.Send(ctx, msg)
}
