package web

import (
	"fmt"
	"io/fs"
	"net/http"

	"github.com/labstack/echo/v4"

	"slicelab/cmd/slicelab/internal/web/chart"
	"slicelab/experiments"
	"slicelab/okr"
	"slicelab/templates"
	"slicelab/tracking"
)

// staticFS is templates/web/static, served under /static/.
var staticFS, _ = fs.Sub(templates.FS, "web/static")

type homeView struct {
	Running    []runningExp
	Drafts     int
	Review     *okr.Review
	Week       string
	Attention  []attention
	HasContact bool
	Answered   bool
}

type runningExp struct {
	E        *experiments.Experiment
	Progress progressView
}

type attention struct {
	Text string
	Link string
	Do   string
}

// home answers "/": what runs now, this week's review in one line per
// objective, and what needs attention.
func (s *server) home(c echo.Context) error {
	ctx := c.Request().Context()
	p := principal(c)
	list, err := s.Experiments.List(ctx, p.Team.ID)
	if err != nil {
		return err
	}
	v := homeView{}
	for _, e := range list {
		switch e.Status {
		case experiments.StatusDraft:
			v.Drafts++
		case experiments.StatusRunning, experiments.StatusPaused, experiments.StatusScheduled:
			full, err := s.Experiments.Get(ctx, p.Team.ID, e.ID)
			if err != nil {
				return err
			}
			pr := full.Progress
			v.Running = append(v.Running, runningExp{E: full, Progress: s.progress(full)})
			if pr.Failed > 0 {
				v.Attention = append(v.Attention, attention{Text: fmt.Sprintf("%s: %s messages failed to send.", e.Name, chart.Plain.Format(float64(pr.Failed))),
					Link: "/experiments/" + e.ID.String(), Do: "See the experiment"})
			}
		}
		if e.Status == experiments.StatusRunning || e.Status == experiments.StatusCompleted || e.Status == experiments.StatusPaused {
			if e.CompletedAt != nil && s.Now().Sub(*e.CompletedAt).Hours() > 24*14 {
				continue // an old result is not news
			}
			r, err := s.Experiments.Results(ctx, p.Team.ID, e.ID)
			if err != nil {
				return err
			}
			if r.SRM.Flag {
				v.Attention = append(v.Attention, attention{Text: e.Name + ": the variants did not get the share of the audience their weights promise (sample ratio mismatch). Check the assignment before you trust the results.",
					Link: "/experiments/" + e.ID.String(), Do: "See the results"})
			}
		}
	}
	week := tracking.WeekOf(s.Now(), p.Team.Location())
	v.Week = week.String()
	r, err := s.OKR.WeeklyReview(ctx, p.Team, week)
	if err != nil {
		return err
	}
	v.Review = r
	for _, o := range r.Objectives {
		for _, k := range o.KeyResults {
			switch k.Status {
			case okr.StatusStale:
				if k.Source == okr.SourceManual {
					v.Attention = append(v.Attention, attention{Text: fmt.Sprintf("“%s” has no check-in for %s yet.", k.Title, v.Week), Link: "/okrs#kr-" + k.ID.String(), Do: "Check in"})
				} else {
					v.Attention = append(v.Attention, attention{Text: fmt.Sprintf("“%s” has no data for %s yet: none of its experiments sent anything this week.", k.Title, v.Week), Link: "/okrs#kr-" + k.ID.String(), Do: "Link or launch an experiment"})
				}
			case okr.StatusOffTrack:
				v.Attention = append(v.Attention, attention{Text: fmt.Sprintf("“%s” is off track.", k.Title), Link: "/review", Do: "See the review"})
			}
		}
	}
	if mine, err := s.OKR.AllocationOf(ctx, p.Team.ID, p.User, week); err != nil {
		return err
	} else if mine == nil || mine.Week != v.Week {
		v.Attention = append(v.Attention, attention{Text: "You have not answered this week's time-allocation survey.", Link: "/allocation", Do: "Answer it (under a minute)"})
	} else {
		v.Answered = true
	}
	counts, err := s.Experiments.ContactCounts(ctx, p.Team.ID)
	if err != nil {
		return err
	}
	v.HasContact = counts.Total > 0
	return s.page(c, http.StatusOK, "home", "Home", "home", v)
}
