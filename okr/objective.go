package okr

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"slicelab/experiments"
	"slicelab/tracking"
)

// Objective kinds.
const (
	KindCommitted    = "committed"
	KindAspirational = "aspirational"
)

// Objective is one of a team's objectives for a period.
type Objective struct {
	bun.BaseModel `bun:"table:objectives,alias:o"`

	ID          uuid.UUID    `bun:"id,pk,type:uuid" json:"id"`
	TeamID      uuid.UUID    `bun:"team_id,type:uuid" json:"-"`
	Title       string       `bun:"title" json:"title"`
	PeriodLabel string       `bun:"period_label" json:"period"`
	PeriodStart string       `bun:"period_start" json:"start"`
	PeriodEnd   string       `bun:"period_end" json:"end"`
	Kind        string       `bun:"kind" json:"kind"`
	CreatedAt   time.Time    `bun:"created_at" json:"created_at"`
	KeyResults  []*KeyResult `bun:"rel:has-many,join:id=objective_id" json:"key_results"`
}

// Period is the objective's period.
func (o *Objective) Period() Period {
	start, _ := time.Parse(time.DateOnly, o.PeriodStart)
	end, _ := time.Parse(time.DateOnly, o.PeriodEnd)
	return Period{Label: o.PeriodLabel, Start: start, End: end}
}

// KR types and value sources (product.md §2).
const (
	TypeMetric    = "metric"
	TypeThreshold = "threshold"
	TypeMilestone = "milestone"
	TypeBaseline  = "baseline"

	SourceManual = "manual"
	SourceClicks = "clicks"
	SourceCTR    = "ctr"
	SourceEvents = "events"
)

// KeyResult belongs to an objective.
type KeyResult struct {
	bun.BaseModel `bun:"table:key_results,alias:k"`

	ID                uuid.UUID   `bun:"id,pk,type:uuid" json:"id"`
	ObjectiveID       uuid.UUID   `bun:"objective_id,type:uuid" json:"objective_id"`
	TeamID            uuid.UUID   `bun:"team_id,type:uuid" json:"-"`
	Position          int         `bun:"position" json:"-"`
	Title             string      `bun:"title" json:"title"`
	Type              string      `bun:"type" json:"type"`
	Start             *float64    `bun:"start_value" json:"start"`
	Target            *float64    `bun:"target_value" json:"target"`
	Comparison        string      `bun:"comparison" json:"comparison,omitempty"`
	Unit              string      `bun:"unit" json:"unit"`
	Source            string      `bun:"source" json:"source"`
	EventName         string      `bun:"event_name" json:"event_name,omitempty"`
	EventAgg          string      `bun:"event_agg" json:"event_agg,omitempty"`
	AttributionWindow int64       `bun:"attribution_window_seconds" json:"attribution_window_seconds"`
	CreatedAt         time.Time   `bun:"created_at" json:"created_at"`
	ExperimentIDs     []uuid.UUID `bun:"-" json:"experiment_ids"`
}

type krExperiment struct {
	bun.BaseModel `bun:"table:key_result_experiments"`

	KeyResultID  uuid.UUID `bun:"key_result_id,pk,type:uuid"`
	ExperimentID uuid.UUID `bun:"experiment_id,pk,type:uuid"`
}

// CheckIn is the weekly word on a key result.
type CheckIn struct {
	bun.BaseModel `bun:"table:check_ins"`

	ID          uuid.UUID `bun:"id,pk,type:uuid" json:"id"`
	KeyResultID uuid.UUID `bun:"key_result_id,type:uuid" json:"key_result_id"`
	Week        string    `bun:"week" json:"week"`
	Value       *float64  `bun:"value" json:"value"`
	Confidence  *int      `bun:"confidence" json:"confidence"`
	Note        string    `bun:"note" json:"note"`
	CreatedAt   time.Time `bun:"created_at" json:"created_at"`
}

// ObjectiveInput is an objective as posted: a quarter in period, or explicit start and end dates.
type ObjectiveInput struct {
	Title  string `json:"title"`
	Period string `json:"period"`
	Start  string `json:"start"`
	End    string `json:"end"`
	Kind   string `json:"kind"`
}

// CreateObjective stores an objective of a team.
func (s *Service) CreateObjective(ctx context.Context, teamID uuid.UUID, in ObjectiveInput) (*Objective, error) {
	fe := map[string]string{}
	title := strings.TrimSpace(in.Title)
	if title == "" {
		fe["title"] = "is required"
	}
	var p Period
	var err error
	switch {
	case in.Period != "" && (in.Start != "" || in.End != ""):
		fe["period"] = "give either a quarter such as 2026-Q4 or start and end dates, not both"
	case in.Period != "":
		if p, err = ParsePeriod(in.Period); err != nil {
			fe["period"] = err.Error()
		}
	case in.Start != "" || in.End != "":
		if p, err = PeriodFromDates(in.Start, in.End); err != nil {
			fe["start"] = err.Error()
		}
	default:
		fe["period"] = "is required: a quarter such as 2026-Q4, or start and end dates"
	}
	kind := in.Kind
	if kind == "" {
		kind = KindCommitted
	}
	if kind != KindCommitted && kind != KindAspirational {
		fe["kind"] = fmt.Sprintf("%q is not committed or aspirational", in.Kind)
	}
	if len(fe) > 0 {
		return nil, &experiments.ValidationError{Fields: fe}
	}
	o := &Objective{ID: tracking.NewID(), TeamID: teamID, Title: title, PeriodLabel: p.Label, PeriodStart: p.Start.Format(time.DateOnly),
		PeriodEnd: p.End.Format(time.DateOnly), Kind: kind, CreatedAt: s.now().UTC(), KeyResults: []*KeyResult{}}
	if err := s.st.insertObjective(ctx, o); err != nil {
		return nil, fmt.Errorf("okr: create objective: %w", err)
	}
	return o, nil
}

// Objectives lists a team's objectives with their key results.
func (s *Service) Objectives(ctx context.Context, teamID uuid.UUID) ([]*Objective, error) {
	out, err := s.st.objectives(ctx, teamID)
	if err != nil {
		return nil, fmt.Errorf("okr: objectives: %w", err)
	}
	var ids []uuid.UUID
	for _, o := range out {
		for _, k := range o.KeyResults {
			ids = append(ids, k.ID)
		}
	}
	links, err := s.st.experimentLinks(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("okr: key result links: %w", err)
	}
	for _, o := range out {
		for _, k := range o.KeyResults {
			k.ExperimentIDs = links[k.ID]
			if k.ExperimentIDs == nil {
				k.ExperimentIDs = []uuid.UUID{}
			}
		}
	}
	if out == nil {
		out = []*Objective{}
	}
	return out, nil
}

// KeyResultInput is a key result as posted.
type KeyResultInput struct {
	Title             string      `json:"title"`
	Type              string      `json:"type"`
	Start             *float64    `json:"start"`
	Target            *float64    `json:"target"`
	Comparison        string      `json:"comparison"`
	Unit              string      `json:"unit"`
	Source            string      `json:"source"`
	EventName         string      `json:"event_name"`
	EventAgg          string      `json:"event_agg"`
	AttributionWindow string      `json:"attribution_window"`
	ExperimentIDs     []uuid.UUID `json:"experiment_ids"`
}

// CreateKeyResult adds a key result to an objective of the team.
func (s *Service) CreateKeyResult(ctx context.Context, teamID, objectiveID uuid.UUID, in KeyResultInput) (*KeyResult, error) {
	o, err := s.st.objective(ctx, teamID, objectiveID)
	if err != nil {
		return nil, err
	}
	fe := map[string]string{}
	k := &KeyResult{ID: tracking.NewID(), ObjectiveID: o.ID, TeamID: teamID, Title: strings.TrimSpace(in.Title), Type: in.Type,
		Start: in.Start, Target: in.Target, Comparison: in.Comparison, Unit: strings.TrimSpace(in.Unit), Source: in.Source,
		EventName: strings.TrimSpace(in.EventName), EventAgg: in.EventAgg, AttributionWindow: 7 * 24 * 3600, CreatedAt: s.now().UTC()}
	if k.Title == "" {
		fe["title"] = "is required"
	}
	for name, v := range map[string]*float64{"start": in.Start, "target": in.Target} {
		if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
			fe[name] = "must be a finite number"
		}
	}
	switch k.Type {
	case TypeMetric:
		switch {
		case in.Start == nil:
			fe["start"] = "a metric key result needs a start value"
		case in.Target == nil:
			fe["target"] = "a metric key result needs a target value"
		case *in.Target == *in.Start:
			fe["target"] = "must differ from start; to keep a value at a level, use a threshold key result"
		}
	case TypeThreshold:
		if in.Target == nil {
			fe["target"] = "a threshold key result needs the value to stay at or above (or at or below)"
		}
		if k.Comparison == "" {
			k.Comparison = "at_or_above"
		}
		if k.Comparison != "at_or_above" && k.Comparison != "at_or_below" {
			fe["comparison"] = fmt.Sprintf("%q is not at_or_above or at_or_below", in.Comparison)
		}
	case TypeMilestone, TypeBaseline:
	default:
		fe["type"] = fmt.Sprintf("%q is not metric, threshold, milestone or baseline", in.Type)
	}
	if k.Type != TypeThreshold && in.Comparison != "" {
		fe["comparison"] = "only threshold key results have a comparison"
	}
	switch k.Source {
	case SourceManual, SourceClicks, SourceCTR:
		if k.EventName != "" {
			fe["event_name"] = "only events key results have an event name"
		}
	case SourceEvents:
		if k.EventName == "" {
			fe["event_name"] = "an events key result needs the name of the events to count"
		}
	default:
		fe["source"] = fmt.Sprintf("%q is not manual, clicks, ctr or events", in.Source)
	}
	if k.EventAgg == "" {
		k.EventAgg = "count"
	}
	if k.EventAgg != "count" && k.EventAgg != "sum" {
		fe["event_agg"] = "must be count or sum"
	}
	if in.AttributionWindow != "" {
		d, err := time.ParseDuration(in.AttributionWindow)
		if err != nil || d <= 0 || d > 90*24*time.Hour {
			fe["attribution_window"] = "must be a duration such as 168h, at most 2160h"
		} else {
			k.AttributionWindow = int64(d / time.Second)
		}
	}
	if len(in.ExperimentIDs) > 0 && k.Source == SourceManual {
		fe["experiment_ids"] = "a manual key result takes its value from check-ins; link experiments to clicks, ctr or events key results"
	}
	if err := s.checkExperiments(ctx, teamID, in.ExperimentIDs, fe); err != nil {
		return nil, err
	}
	if len(fe) > 0 {
		return nil, &experiments.ValidationError{Fields: fe}
	}
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		st := s.st.with(tx)
		if err := st.insertKeyResult(ctx, k); err != nil {
			return err
		}
		return st.link(ctx, k.ID, in.ExperimentIDs)
	})
	if err != nil {
		return nil, fmt.Errorf("okr: create key result: %w", err)
	}
	k.ExperimentIDs = append([]uuid.UUID{}, in.ExperimentIDs...)
	return k, nil
}

// checkExperiments adds a field error for every id that is not an experiment of the team.
func (s *Service) checkExperiments(ctx context.Context, teamID uuid.UUID, ids []uuid.UUID, fe map[string]string) error {
	ok, err := s.exps.OfTeam(ctx, teamID, ids)
	if err != nil {
		return err
	}
	for i, id := range ids {
		if !ok[id] {
			fe[fmt.Sprintf("experiment_ids[%d]", i)] = fmt.Sprintf("%s is not an experiment of this team", id)
		}
	}
	return nil
}

// LinkExperiment links an experiment of the team to a clicks, ctr or events key result.
func (s *Service) LinkExperiment(ctx context.Context, teamID, krID, experimentID uuid.UUID) error {
	k, err := s.st.keyResult(ctx, teamID, krID)
	if err != nil {
		return err
	}
	if k.Source == SourceManual {
		return &experiments.ValidationError{Fields: map[string]string{"experiment_id": "a manual key result takes its value from check-ins, not experiments"}}
	}
	fe := map[string]string{}
	if err := s.checkExperiments(ctx, teamID, []uuid.UUID{experimentID}, fe); err != nil {
		return err
	}
	if len(fe) > 0 {
		return &experiments.ValidationError{Fields: map[string]string{"experiment_id": fe["experiment_ids[0]"]}}
	}
	return s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		return s.st.with(tx).link(ctx, krID, []uuid.UUID{experimentID})
	})
}

// CheckInInput is a check-in as posted.
type CheckInInput struct {
	Week       string   `json:"week"`
	Value      *float64 `json:"value"`
	Confidence *int     `json:"confidence"`
	Note       string   `json:"note"`
}

// CheckIn records (or replaces) the week's check-in of a key result.
func (s *Service) CheckIn(ctx context.Context, teamID, krID uuid.UUID, in CheckInInput) (*CheckIn, error) {
	k, err := s.st.keyResult(ctx, teamID, krID)
	if err != nil {
		return nil, err
	}
	o, err := s.st.objective(ctx, teamID, k.ObjectiveID)
	if err != nil {
		return nil, err
	}
	loc, err := s.location(ctx, teamID)
	if err != nil {
		return nil, err
	}
	fe := map[string]string{}
	w, err := tracking.ParseWeek(in.Week)
	switch {
	case err != nil:
		fe["week"] = err.Error()
	case !o.Period().Contains(w):
		fe["week"] = fmt.Sprintf("%s is outside the objective's period %s", w, o.PeriodLabel)
	case tracking.WeekOf(s.now(), loc).Before(w):
		fe["week"] = fmt.Sprintf("%s has not started yet", w)
	}
	if in.Confidence != nil && (*in.Confidence < 0 || *in.Confidence > 10) {
		fe["confidence"] = fmt.Sprintf("%d is outside 0 to 10", *in.Confidence)
	}
	if in.Value != nil && (math.IsNaN(*in.Value) || math.IsInf(*in.Value, 0)) {
		fe["value"] = "must be a finite number"
	}
	if k.Source == SourceManual && in.Value == nil && in.Confidence == nil && in.Note == "" {
		fe["value"] = "a check-in of a manual key result needs a value (or at least a confidence or a note)"
	}
	if k.Source != SourceManual && in.Value != nil {
		fe["value"] = fmt.Sprintf("this key result takes its value from %s; a check-in gives only confidence and a note", k.Source)
	}
	if len(in.Note) > 4000 {
		fe["note"] = "must be at most 4000 characters"
	}
	if len(fe) > 0 {
		return nil, &experiments.ValidationError{Fields: fe}
	}
	c := &CheckIn{ID: tracking.NewID(), KeyResultID: k.ID, Week: w.String(), Value: in.Value, Confidence: in.Confidence,
		Note: strings.TrimSpace(in.Note), CreatedAt: s.now().UTC()}
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		return s.st.with(tx).replaceCheckIn(ctx, c)
	})
	if err != nil {
		return nil, fmt.Errorf("okr: check-in: %w", err)
	}
	return c, nil
}
