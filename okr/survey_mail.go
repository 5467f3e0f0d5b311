package okr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"slicelab/experiments"
	"slicelab/tracking"
)

// SurveyReminderArgs is the River job that emails every member of every team
// a link to the survey of the week. Week ("2026-W48") names the week the job
// is for and makes it unique (River's unique insert by arguments), so a
// week's emails are sent once however often the job is inserted; without a
// Week each team's current week is used.
type SurveyReminderArgs struct {
	Week string `json:"week,omitempty"`
}

// Kind is River's name for the job.
func (SurveyReminderArgs) Kind() string { return "allocation_survey_emails" }

// InsertOpts makes the job unique by its arguments (the week).
func (SurveyReminderArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 8, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// SurveyPeriodicSchedule fires on Fridays at 09:00 UTC.
func SurveyPeriodicSchedule() river.PeriodicSchedule { return WeeklyAt{Day: time.Friday, Hour: 9} }

// SurveyPeriodicJob is the Friday job, with the week (ISO week in UTC at
// the time it fires, which is the same week in every time zone on a Friday
// morning UTC) in its arguments.
func (s *Service) SurveyPeriodicJob() *river.PeriodicJob {
	return river.NewPeriodicJob(SurveyPeriodicSchedule(), func() (river.JobArgs, *river.InsertOpts) {
		return SurveyReminderArgs{Week: tracking.WeekOf(s.now(), time.UTC).String()}, nil
	}, &river.PeriodicJobOpts{ID: "allocation_survey_emails"})
}

// SurveyMailer is the River worker of SurveyReminderArgs.
type SurveyMailer struct {
	river.WorkerDefaults[SurveyReminderArgs]

	svc  *Service
	mail Mail
	tmpl EmailTemplate
}

// NewSurveyMailer builds the worker; links are BaseURL/survey/TOKEN.
func NewSurveyMailer(svc *Service, mail Mail, tmpl EmailTemplate) *SurveyMailer {
	return &SurveyMailer{svc: svc, mail: mail, tmpl: tmpl}
}

// Timeout is the River client's job timeout (experiments.JobTimeout), which
// stays under the time after which River takes a running job for a dead
// process's and runs it again: a large team over a slow mail server goes on
// in the next run, from the recorded progress.
func (m *SurveyMailer) Timeout(*river.Job[SurveyReminderArgs]) time.Duration {
	return experiments.JobTimeout
}

// surveyProgress is what a run has done so far, by member of a team; it is
// kept in the job's recorded output, which River saves on success and on
// error alike, so a retry does not email anyone twice.
type surveyProgress struct {
	Sent   []string          `json:"sent"`
	Failed map[string]string `json:"failed,omitempty"`
}

// Work emails each member of each team the link to the survey of the week
// (the job's week, or the team's current week if that is earlier). Members
// already emailed by an earlier attempt of the job are skipped; a member
// whose address the mail server refuses for good is recorded and skipped;
// a temporary failure stops the run, which River retries later.
func (m *SurveyMailer) Work(ctx context.Context, job *river.Job[SurveyReminderArgs]) error {
	var jobWeek *tracking.Week
	if job.Args.Week != "" {
		w, err := tracking.ParseWeek(job.Args.Week)
		if err != nil {
			return river.JobCancel(err)
		}
		jobWeek = &w
	}
	prog := surveyProgress{Failed: map[string]string{}}
	if job.JobRow != nil && len(job.Metadata) > 0 {
		var md map[string]json.RawMessage
		if json.Unmarshal(job.Metadata, &md) == nil && len(md[rivertype.MetadataKeyOutput]) > 0 {
			_ = json.Unmarshal(md[rivertype.MetadataKeyOutput], &prog)
			if prog.Failed == nil {
				prog.Failed = map[string]string{}
			}
		}
	}
	done := map[string]bool{}
	for _, k := range prog.Sent {
		done[k] = true
	}
	for k := range prog.Failed {
		done[k] = true
	}
	record := func() { _ = river.RecordOutput(ctx, prog) } // fails only outside a River worker (direct calls)

	teams, err := m.svc.exps.Teams(ctx)
	if err != nil {
		return err
	}
	var sess experiments.MailSession
	defer func() {
		if sess != nil {
			sess.Close()
		}
	}()
	for _, t := range teams {
		members, err := m.svc.exps.Members(ctx, t.ID)
		if err != nil {
			return err
		}
		if len(members) == 0 {
			continue
		}
		week := tracking.WeekOf(m.svc.now(), t.Location())
		if jobWeek != nil && jobWeek.Before(week) {
			week = *jobWeek
		}
		cats, err := m.svc.allocCategories(ctx, t.ID)
		if err != nil {
			return err
		}
		for _, mem := range members {
			key := memberKey(t.ID, mem.ID)
			if done[key] {
				continue
			}
			if err := ctx.Err(); err != nil { // timed out: the next run goes on from here
				record()
				return fmt.Errorf("okr: survey emails: %w", err)
			}
			msg, err := m.mail.message(m.tmpl, "survey", mem, map[string]any{
				"Name": mem.DisplayName(), "Week": week.String(), "Dates": week.Dates(), "Link": m.SurveyURL(t.ID, mem.ID, week),
				"Categories": cats, "Team": t.Name,
			})
			if err != nil {
				return err
			}
			if sess == nil {
				if sess, err = m.mail.Mailer.Open(ctx); err != nil {
					sess = nil
					record()
					return fmt.Errorf("okr: survey emails: %w", err)
				}
			}
			if err := sess.Send(ctx, msg); err != nil {
				var se *experiments.SendError
				if errors.As(err, &se) && !se.Temporary {
					prog.Failed[key] = se.Error()
					done[key] = true
					record()
					continue
				}
				record()
				return fmt.Errorf("okr: survey email to %s: %w", mem.Email, err)
			}
			prog.Sent = append(prog.Sent, key)
			done[key] = true
			record()
		}
	}
	return nil
}

// SurveyURL is the absolute link to a member's survey of a week.
func (m *SurveyMailer) SurveyURL(teamID, userID uuid.UUID, week tracking.Week) string {
	return m.mail.link("/survey/" + m.svc.SurveyToken(teamID, userID, week))
}
