package okr

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/google/uuid"

	"slicelab/experiments"
	"slicelab/experiments/stats"
	"slicelab/tracking"
)

// Review is the weekly review of a team (product.md §8, §13).
type Review struct {
	Team        string            `json:"team"`
	Week        string            `json:"week"`
	Start       time.Time         `json:"start"`
	End         time.Time         `json:"end"`
	TimeZone    string            `json:"time_zone"`
	Objectives  []ObjectiveReview `json:"objectives"`
	Experiments []ExperimentWeek  `json:"experiments"`
	Initiatives []Initiative      `json:"initiatives"`
	Allocation  Allocation        `json:"allocation"`
	// AsOf: the click figures hold every click recorded before this time
	// (clicks are classified and rolled up a moment after their redirect).
	AsOf time.Time `json:"as_of"`
}

// ObjectiveReview is one objective in the review.
type ObjectiveReview struct {
	ID         uuid.UUID  `json:"id"`
	Title      string     `json:"title"`
	Kind       string     `json:"kind"`
	Period     string     `json:"period"`
	Score      *float64   `json:"score"`
	Colour     string     `json:"colour"`
	KeyResults []KRReview `json:"key_results"`
	// Team owns the objective; SharedWith are the other teams that share it.
	Team       string   `json:"team"`
	SharedWith []string `json:"shared_with"`
	Owners     []Owner  `json:"owners"`
	// OutcomeShare is the share of its key results that measure outcomes
	// (null without key results); Notice says plainly what to fix.
	OutcomeShare *float64 `json:"outcome_share"`
	Notice       string   `json:"notice,omitempty"`
}

// OutputOnlyNotice is said of an objective whose key results all measure outputs.
const OutputOnlyNotice = "this objective measures only outputs; add a KR on usage or revenue"

// KRReview is one key result in the review.
type KRReview struct {
	ID               uuid.UUID      `json:"id"`
	Title            string         `json:"title"`
	Type             string         `json:"type"`
	Source           string         `json:"source"`
	Kind             string         `json:"kind"` // outcome or output
	KindReason       string         `json:"kind_reason,omitempty"`
	Unit             string         `json:"unit"`
	Start            *float64       `json:"start"`
	Target           *float64       `json:"target"`
	Value            *float64       `json:"value"`    // this week's value
	Progress         *float64       `json:"progress"` // raw: over- and under-achievement visible
	Score            *float64       `json:"score"`    // progress clamped to [0, 1]; null for a baseline without a target
	ExpectedProgress float64        `json:"expected_progress"`
	Status           Status         `json:"status"`
	Confidence       *int           `json:"confidence"`
	Note             string         `json:"note"`
	Trend            []TrendPoint   `json:"trend"`
	Contributions    []Contribution `json:"contributions"`
	Impact           *Impact        `json:"impact,omitempty"`
}

// TrendPoint is a KR's value in one week.
type TrendPoint struct {
	Week  string   `json:"week"`
	Value *float64 `json:"value"`
	// Expected is the value a metric KR would have that week if it moved
	// linearly from start to target over its period (nil for other types).
	Expected *float64 `json:"expected,omitempty"`
}

// Contribution is an experiment's share of a clicks KR's value: each
// clicker's one unit of credit is split equally over the linked experiments
// they clicked that week, so the contributions add up to the value.
type Contribution struct {
	ExperimentID uuid.UUID `json:"experiment_id"`
	Name         string    `json:"name"`
	Team         string    `json:"team"` // the slug of the experiment's team
	Value        float64   `json:"value"`
}

// Impact compares the event rate of treated contacts with the holdout's,
// within the attribution window after each linked experiment's launch.
type Impact struct {
	Treated      ImpactArm   `json:"treated"`
	Holdout      ImpactArm   `json:"holdout"`
	AbsoluteDiff *float64    `json:"absolute_diff"`
	CI           *[2]float64 `json:"ci"`
	Lift         *float64    `json:"lift"`
	LiftCI       *[2]float64 `json:"lift_ci"`
	PValue       *float64    `json:"p_value"`
}

// ImpactArm counts contacts and those with at least one event.
type ImpactArm struct {
	Contacts  int      `json:"contacts"`
	Converted int      `json:"converted"`
	Rate      *float64 `json:"rate"`
}

// ExperimentWeek is an experiment that ran in the week.
type ExperimentWeek struct {
	ID            uuid.UUID           `json:"id"`
	Name          string              `json:"name"`
	Initiative    string              `json:"initiative"`
	Status        string              `json:"status"`
	Sent          int                 `json:"sent"`           // sent this week
	HumanClickers int                 `json:"human_clickers"` // distinct people who clicked this week
	CTR           *float64            `json:"ctr"`            // of this week's sends, counting their clicks so far
	Verdict       experiments.Verdict `json:"verdict"`
}

// Initiative groups the slices (experiments) of one larger feature with their verdicts.
type Initiative struct {
	Name        string      `json:"name"`
	Experiments []uuid.UUID `json:"experiments"`
	Viable      int         `json:"viable"`
	NotViable   int         `json:"not_viable"`
	Unknown     int         `json:"unknown"`
}

// trendWeeks is how many weeks of history each KR shows.
const trendWeeks = 6

// WeeklyReview computes the review of a team for an ISO week, in the team's
// time zone. It reads the rollups the click ledger keeps, so it stays fast as
// clicks grow; it is computed when asked, so late clicks and reclassified
// bot clicks are always reflected in every week shown.
func (s *Service) WeeklyReview(ctx context.Context, team experiments.Team, week tracking.Week) (*Review, error) {
	loc := team.Location()
	from, to := week.Range(loc)
	// as_of first: the rollups read after it hold at least what it promises.
	asOf, err := s.clicks.ClicksAsOf(ctx)
	if err != nil {
		return nil, err
	}
	r := &Review{Team: team.Slug, Week: week.String(), Start: from, End: to, TimeZone: loc.String(),
		Objectives: []ObjectiveReview{}, Experiments: []ExperimentWeek{}, Initiatives: []Initiative{}, AsOf: asOf}
	objs, err := s.Objectives(ctx, team.ID)
	if err != nil {
		return nil, err
	}
	exps, err := s.exps.Summaries(ctx, team.ID)
	if err != nil {
		return nil, err
	}
	names, err := s.experimentNames(ctx, team, objs)
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		p := o.Period()
		weeks := p.Weeks()
		idx := slices.Index(weeks, week)
		if idx < 0 {
			continue
		}
		or := ObjectiveReview{ID: o.ID, Title: o.Title, Kind: o.Kind, Period: o.PeriodLabel, KeyResults: []KRReview{},
			Team: o.Team, SharedWith: o.SharedWith, Owners: o.Owners}
		var scores []float64
		outcomes := 0
		for _, k := range o.KeyResults {
			kr, err := s.reviewKR(ctx, o.TeamID, k, weeks[:idx+1], len(weeks), loc, names)
			if err != nil {
				return nil, err
			}
			if kr.Score != nil { // a baseline being measured has no score yet
				scores = append(scores, *kr.Score)
			}
			if kr.Kind == KindOutcome {
				outcomes++
			}
			or.KeyResults = append(or.KeyResults, kr)
		}
		if sc, ok := ObjectiveScore(scores); ok {
			or.Score, or.Colour = &sc, Colour(sc)
		}
		if n := len(or.KeyResults); n > 0 {
			share := float64(outcomes) / float64(n)
			or.OutcomeShare = &share
			if outcomes == 0 {
				or.Notice = OutputOnlyNotice
			}
		}
		r.Objectives = append(r.Objectives, or)
	}
	if err := s.experimentsOfWeek(ctx, team.ID, exps, week, from, to, r); err != nil {
		return nil, err
	}
	alloc, err := s.AllocationReport(ctx, team.ID, week)
	if err != nil {
		return nil, err
	}
	r.Allocation = alloc
	r.round()
	return r, nil
}

// round rounds every figure of the review for people (Round): no
// 0.39999999999999997 in the JSON or the CSV.
func (r *Review) round() {
	rp := func(p **float64) {
		if *p != nil {
			x := Round(**p)
			*p = &x
		}
	}
	for i := range r.Objectives {
		o := &r.Objectives[i]
		rp(&o.Score)
		for j := range o.KeyResults {
			k := &o.KeyResults[j]
			rp(&k.Value)
			rp(&k.Progress)
			rp(&k.Score)
			k.ExpectedProgress = Round(k.ExpectedProgress)
			for t := range k.Trend {
				rp(&k.Trend[t].Value)
			}
		}
	}
	for i := range r.Experiments {
		rp(&r.Experiments[i].CTR)
	}
	a := &r.Allocation
	rp(&a.KTLOShare)
	rp(&a.ResponseRate)
	for i := range a.Categories {
		rp(&a.Categories[i].Share)
		rp(&a.Categories[i].ElectiveShare)
	}
	for i := range a.Trend {
		rp(&a.Trend[i].KTLOShare)
	}
}

// reviewKR computes one key result for the last of weeks (the weeks of its
// period up to the report week); total is the number of weeks in the period.
func (s *Service) reviewKR(ctx context.Context, teamID uuid.UUID, k *KeyResult, weeks []tracking.Week, total int, loc *time.Location, names map[uuid.UUID]experimentRef) (KRReview, error) {
	week := weeks[len(weeks)-1]
	kr := KRReview{ID: k.ID, Title: k.Title, Type: k.Type, Source: k.Source, Unit: k.Unit, Start: k.Start, Target: k.Target,
		Kind: k.Kind, KindReason: k.KindReason,
		Trend: []TrendPoint{}, Contributions: []Contribution{}}
	series, err := s.seriesCached(ctx, teamID, k, weeks, loc)
	if err != nil {
		return kr, err
	}
	cs, err := s.st.checkIns(ctx, k.ID, []tracking.Week{week})
	if err != nil {
		return kr, fmt.Errorf("okr: check-in: %w", err)
	}
	if len(cs) == 1 {
		kr.Confidence, kr.Note = cs[0].Confidence, cs[0].Note
	}
	kr.Value = series[week]
	for i := max(0, len(weeks)-trendWeeks); i < len(weeks); i++ {
		tp := TrendPoint{Week: weeks[i].String(), Value: series[weeks[i]]}
		if k.Type == TypeMetric && k.Start != nil && k.Target != nil {
			x := *k.Start + (*k.Target-*k.Start)*ExpectedProgress(i+1, total)
			tp.Expected = &x
		}
		kr.Trend = append(kr.Trend, tp)
	}
	// The latest value up to this week drives progress; a missing week makes the KR stale.
	var latest *float64
	var measured []float64
	for _, w := range weeks {
		if v := series[w]; v != nil {
			latest = v
			measured = append(measured, *v)
		}
	}
	kr.ExpectedProgress = ExpectedProgress(len(weeks), total)
	score := func(x float64) { kr.Score = &x }
	switch k.Type {
	case TypeMetric:
		if latest != nil && k.Start != nil && k.Target != nil {
			if raw, err := MetricProgress(*k.Start, *k.Target, *latest); err == nil {
				kr.Progress = &raw
				score(Clamp01(raw))
			}
		}
		kr.Status = StatusFor(deref(kr.Score), kr.ExpectedProgress, kr.Value != nil)
	case TypeThreshold:
		above := k.Comparison != "at_or_below"
		if sc, ok := ThresholdScore(measured, *k.Target, above); ok {
			kr.Progress = &sc
			score(sc)
		}
		switch {
		case kr.Value == nil:
			kr.Status = StatusStale
		case (above && *kr.Value >= *k.Target) || (!above && *kr.Value <= *k.Target):
			kr.Status = StatusOnTrack
		default:
			kr.Status = StatusOffTrack
		}
	case TypeMilestone:
		done := latest != nil && *latest >= 1
		sc := 0.0
		if done {
			sc = 1
		}
		kr.Progress = &sc
		score(sc)
		kr.Status = StatusFor(sc, kr.ExpectedProgress, kr.Value != nil || done)
	case TypeBaseline:
		// Measure first: no score (and no part in the objective's score)
		// until a target is set; then progress runs from the start, or from
		// the first value measured, towards the target.
		from := k.Start
		if from == nil && len(measured) > 0 {
			from = &measured[0]
		}
		if k.Target == nil || from == nil || latest == nil || *from == *k.Target {
			kr.Status = StatusBaseline
			if k.Target != nil && kr.Value == nil {
				kr.Status = StatusStale
			}
			break
		}
		raw, _ := MetricProgress(*from, *k.Target, *latest)
		kr.Progress = &raw
		score(Clamp01(raw))
		kr.Status = StatusFor(*kr.Score, kr.ExpectedProgress, kr.Value != nil)
	}
	switch k.Source {
	case SourceClicks:
		kr.Contributions, err = s.contributions(ctx, k, week, names)
	case SourceEvents:
		kr.Impact, err = s.impact(ctx, teamID, k)
	}
	return kr, err
}

// seriesCached is series with the weeks before last week taken from, and
// kept in, kr_snapshots: only the current and the previous week are
// computed every time (late clicks land there), so the cost of a review does
// not grow with the history. Check-ins and new links drop the snapshots
// they change.
func (s *Service) seriesCached(ctx context.Context, teamID uuid.UUID, k *KeyResult, weeks []tracking.Week, loc *time.Location) (map[tracking.Week]*float64, error) {
	lastWeek := tracking.WeekOf(s.now(), loc).Prev()
	snaps, err := s.st.snapshots(ctx, k.ID, weeks)
	if err != nil {
		return nil, fmt.Errorf("okr: snapshots: %w", err)
	}
	out := make(map[tracking.Week]*float64, len(weeks))
	have := map[tracking.Week]bool{}
	for _, sn := range snaps {
		if w, err := tracking.ParseWeek(sn.Week); err == nil && w.Before(lastWeek) {
			out[w], have[w] = sn.Value, true
		}
	}
	var need []tracking.Week
	for _, w := range weeks {
		if !have[w] {
			need = append(need, w)
		}
	}
	if len(need) == 0 {
		return out, nil
	}
	fresh, err := s.series(ctx, teamID, k, need, loc)
	if err != nil {
		return nil, err
	}
	var keep []snapshot
	for _, w := range need {
		out[w] = fresh[w]
		if w.Before(lastWeek) {
			keep = append(keep, snapshot{KeyResultID: k.ID, Week: w.String(), Value: fresh[w], ComputedAt: s.now().UTC()})
		}
	}
	if err := s.st.saveSnapshots(ctx, keep); err != nil {
		return nil, fmt.Errorf("okr: snapshots: %w", err)
	}
	return out, nil
}

// series computes a KR's value in each of weeks (nil where there is none).
func (s *Service) series(ctx context.Context, teamID uuid.UUID, k *KeyResult, weeks []tracking.Week, loc *time.Location) (map[tracking.Week]*float64, error) {
	out := make(map[tracking.Week]*float64, len(weeks))
	val := func(x float64) *float64 { return &x }
	switch k.Source {
	case SourceManual:
		cs, err := s.st.checkIns(ctx, k.ID, weeks)
		if err != nil {
			return nil, fmt.Errorf("okr: check-ins: %w", err)
		}
		for _, c := range cs {
			if w, err := tracking.ParseWeek(c.Week); err == nil && c.Value != nil {
				out[w] = c.Value
			}
		}
	case SourceClicks:
		if len(k.ExperimentIDs) == 0 {
			return out, nil
		}
		n, err := s.clicks.DistinctClickers(ctx, k.ExperimentIDs, weeks)
		if err != nil {
			return nil, err
		}
		for _, w := range weeks {
			out[w] = val(float64(n[w]))
		}
	case SourceCTR:
		if len(k.ExperimentIDs) == 0 {
			return out, nil
		}
		sends, err := s.clicks.SendWeeks(ctx, k.ExperimentIDs, weeks)
		if err != nil {
			return nil, err
		}
		for w, c := range sends {
			if c.Sent > 0 {
				out[w] = val(float64(c.Clicked) / float64(c.Sent))
			}
		}
	case SourceEvents:
		for _, w := range weeks {
			from, to := w.Range(loc)
			n, sum, err := s.st.eventTotals(ctx, teamID, k.EventName, from, to)
			if err != nil {
				return nil, fmt.Errorf("okr: events: %w", err)
			}
			v := float64(n)
			if k.EventAgg == "sum" {
				v = sum
			}
			out[w] = val(v)
		}
	}
	return out, nil
}

// experimentRef names an experiment and its team in a review.
type experimentRef struct{ name, team string }

// experimentNames names the experiments of the team and of the teams its
// objectives are shared with or by.
func (s *Service) experimentNames(ctx context.Context, team experiments.Team, objs []*Objective) (map[uuid.UUID]experimentRef, error) {
	teams := []uuid.UUID{team.ID}
	for _, o := range objs {
		for _, t := range append([]uuid.UUID{o.TeamID}, o.sharedIDs...) {
			if !slices.Contains(teams, t) {
				teams = append(teams, t)
			}
		}
	}
	exps, err := s.exps.Summaries(ctx, teams...)
	if err != nil {
		return nil, err
	}
	slugs := map[uuid.UUID]string{team.ID: team.Slug}
	out := make(map[uuid.UUID]experimentRef, len(exps))
	for _, e := range exps {
		if _, ok := slugs[e.TeamID]; !ok {
			if t, err := s.exps.Team(ctx, e.TeamID); err == nil {
				slugs[e.TeamID] = t.Slug
			}
		}
		out[e.ID] = experimentRef{name: e.Name, team: slugs[e.TeamID]}
	}
	return out, nil
}

// contributions splits a clicks KR's value of the week over its experiments.
func (s *Service) contributions(ctx context.Context, k *KeyResult, week tracking.Week, names map[uuid.UUID]experimentRef) ([]Contribution, error) {
	out := []Contribution{}
	if len(k.ExperimentIDs) == 0 {
		return out, nil
	}
	rows, err := s.clicks.WeeklyClickers(ctx, k.ExperimentIDs, week)
	if err != nil {
		return nil, err
	}
	per := map[uuid.UUID]int{}
	for _, r := range rows {
		per[r.ContactID]++
	}
	credit := map[uuid.UUID]float64{}
	for _, r := range rows {
		credit[r.ExperimentID] += 1 / float64(per[r.ContactID])
	}
	total := float64(len(per))
	ids := slices.Clone(k.ExperimentIDs)
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return compareStrings(names[a].name, names[b].name) })
	sum, largest := 0.0, -1
	for _, id := range ids {
		v := math.Round(credit[id]*1e6) / 1e6
		out = append(out, Contribution{ExperimentID: id, Name: names[id].name, Team: names[id].team, Value: v})
		sum += v
		if largest < 0 || v > out[largest].Value {
			largest = len(out) - 1
		}
	}
	// Rounding must not make the parts disagree with the whole.
	if largest >= 0 && total > 0 {
		out[largest].Value = math.Round((out[largest].Value+total-sum)*1e6) / 1e6
	}
	return out, nil
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// impact compares, over the KR's linked experiments, the share of contacts
// with at least one of its events within the attribution window after the
// launch: those who were sent the email against the holdout.
func (s *Service) impact(ctx context.Context, teamID uuid.UUID, k *KeyResult) (*Impact, error) {
	if len(k.ExperimentIDs) == 0 {
		return nil, nil
	}
	exps, err := s.exps.Summaries(ctx, teamID)
	if err != nil {
		return nil, err
	}
	linked := map[uuid.UUID]bool{}
	for _, id := range k.ExperimentIDs {
		linked[id] = true
	}
	imp := &Impact{}
	window := time.Duration(k.AttributionWindow) * time.Second
	for _, e := range exps {
		if !linked[e.ID] || e.LaunchedAt == nil {
			continue
		}
		converted := s.st.eventContacts(teamID, k.EventName, *e.LaunchedAt, e.LaunchedAt.Add(window))
		for _, arm := range []struct {
			heldOut bool
			into    *ImpactArm
		}{{false, &imp.Treated}, {true, &imp.Holdout}} {
			n, conv, err := s.exps.Reach(ctx, e.ID, arm.heldOut, converted)
			if err != nil {
				return nil, fmt.Errorf("okr: impact: %w", err)
			}
			arm.into.Contacts += n
			arm.into.Converted += conv
		}
	}
	for _, a := range []*ImpactArm{&imp.Treated, &imp.Holdout} {
		if a.Contacts > 0 {
			r := float64(a.Converted) / float64(a.Contacts)
			a.Rate = &r
		}
	}
	cmp := stats.Compare(stats.Count{Clicks: imp.Holdout.Converted, N: imp.Holdout.Contacts},
		[]stats.Count{{Clicks: imp.Treated.Converted, N: imp.Treated.Contacts}})
	if len(cmp.Variants) == 1 {
		v := cmp.Variants[0]
		imp.AbsoluteDiff, imp.Lift, imp.LiftCI, imp.PValue = v.AbsoluteDiff, v.Lift, v.LiftCI, v.PValue
	}
	if imp.Holdout.Contacts > 1 && imp.Treated.Contacts > 1 {
		c := stats.ProportionMoments(imp.Holdout.Converted, imp.Holdout.Contacts)
		t := stats.ProportionMoments(imp.Treated.Converted, imp.Treated.Contacts)
		if res, ok := stats.WelchTTest(c, t, false, stats.Alpha); ok {
			ci := res.CI
			imp.CI = &ci
		}
	}
	return imp, nil
}

// experimentsOfWeek lists the experiments that ran (launched before the week
// ended and not completed before it began) or were clicked in the week, with
// their verdicts, grouped by initiative.
func (s *Service) experimentsOfWeek(ctx context.Context, teamID uuid.UUID, all []experiments.Summary, week tracking.Week, from, to time.Time, r *Review) error {
	var launched []uuid.UUID
	for _, e := range all {
		if e.LaunchedAt != nil && e.LaunchedAt.Before(to) {
			launched = append(launched, e.ID)
		}
	}
	activity, err := s.clicks.ExperimentWeeks(ctx, launched, week)
	if err != nil {
		return err
	}
	byInit := map[string]*Initiative{}
	for _, e := range all {
		act := activity[e.ID]
		if e.LaunchedAt == nil || !e.LaunchedAt.Before(to) ||
			(e.CompletedAt != nil && e.CompletedAt.Before(from) && act.Clickers == 0) {
			continue
		}
		ew := ExperimentWeek{ID: e.ID, Name: e.Name, Initiative: e.Initiative, Status: string(e.Status),
			Sent: act.Sent, HumanClickers: act.Clickers}
		if act.Sent > 0 {
			ctr := float64(act.Clicked) / float64(act.Sent)
			ew.CTR = &ctr
		}
		v, err := s.exps.Verdict(ctx, teamID, e.ID)
		if err != nil {
			return err
		}
		ew.Verdict = v
		r.Experiments = append(r.Experiments, ew)
		name := e.Initiative
		if name == "" {
			name = "(no initiative)"
		}
		in := byInit[name]
		if in == nil {
			in = &Initiative{Name: name, Experiments: []uuid.UUID{}}
			byInit[name] = in
		}
		in.Experiments = append(in.Experiments, e.ID)
		switch v.State {
		case experiments.VerdictViable:
			in.Viable++
		case experiments.VerdictNotViable:
			in.NotViable++
		default:
			in.Unknown++
		}
	}
	for _, in := range byInit {
		r.Initiatives = append(r.Initiatives, *in)
	}
	slices.SortFunc(r.Initiatives, func(a, b Initiative) int { return compareStrings(a.Name, b.Name) })
	return nil
}
