package okr

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"slicelab/experiments"
	"slicelab/tracking"
)

// Kinds of key results (issue 13): outcomes over outputs.
const (
	KindOutcome = "outcome"
	KindOutput  = "output"
)

// KindByRule is what a key result measures by the rule: a milestone is an
// output (something shipped); a key result that takes its value from
// events, clicks or a click-through rate is an outcome (usage); a manual
// metric, threshold or baseline is an outcome when it has a unit (revenue in
// EUR, hours, %) and an output when it counts things made (no unit).
func KindByRule(k *KeyResult) string {
	switch {
	case k.Type == TypeMilestone:
		return KindOutput
	case k.Source != SourceManual:
		return KindOutcome
	case strings.TrimSpace(k.Unit) != "":
		return KindOutcome
	}
	return KindOutput
}

// fillKind sets the effective kind: the override, or the rule's.
func (k *KeyResult) fillKind() {
	k.Kind = k.KindOverride
	if k.Kind == "" {
		k.Kind = KindByRule(k)
	}
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
	// Kind overrides the rule's outcome or output, with a reason.
	Kind       string `json:"kind"`
	KindReason string `json:"kind_reason"`
}

// maxTitle bounds titles of objectives and key results, in characters.
const maxTitle = 200

// maxMagnitude bounds numbers of key results and check-ins, so that sums
// and differences stay finite.
const maxMagnitude = 1e15

// checkNumber says what is wrong with a number of a key result or check-in.
func checkNumber(v *float64) string {
	switch {
	case v == nil:
		return ""
	case math.IsNaN(*v) || math.IsInf(*v, 0):
		return "must be a finite number"
	case math.Abs(*v) > maxMagnitude:
		return "must be between -1e15 and 1e15"
	}
	return ""
}

// checkTitle says what is wrong with a title.
func checkTitle(t string) string {
	switch {
	case t == "":
		return "is required"
	case !utf8.ValidString(t):
		return "must be valid UTF-8"
	case utf8.RuneCountInString(t) > maxTitle:
		return fmt.Sprintf("must be at most %d characters", maxTitle)
	case strings.ContainsAny(t, "\r\n"):
		return "must not contain line breaks"
	}
	return ""
}

// fill validates the input and sets k's fields from it; it returns the
// problems by field.
func (in KeyResultInput) fill(k *KeyResult) map[string]string {
	fe := map[string]string{}
	k.Title, k.Type, k.Start, k.Target, k.Comparison = strings.TrimSpace(in.Title), in.Type, in.Start, in.Target, in.Comparison
	k.Unit, k.Source, k.EventName, k.EventAgg = strings.TrimSpace(in.Unit), in.Source, strings.TrimSpace(in.EventName), in.EventAgg
	if msg := checkTitle(k.Title); msg != "" {
		fe["title"] = msg
	}
	if utf8.RuneCountInString(k.Unit) > 40 {
		fe["unit"] = "must be at most 40 characters"
	}
	for name, v := range map[string]*float64{"start": in.Start, "target": in.Target} {
		if msg := checkNumber(v); msg != "" {
			fe[name] = msg
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
	case TypeBaseline:
		if in.Start != nil && in.Target != nil && *in.Start == *in.Target {
			fe["target"] = "must differ from start"
		}
	case TypeMilestone:
		if in.Start != nil || in.Target != nil {
			fe["target"] = "a milestone is done or not: it has no start or target (check in 1 when done)"
		}
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
		if k.Type == TypeMilestone && k.Source != SourceManual {
			fe["source"] = "a milestone takes its value from check-ins (source manual)"
		}
	case SourceEvents:
		switch {
		case k.EventName == "":
			fe["event_name"] = "an events key result needs the name of the events to count"
		case utf8.RuneCountInString(k.EventName) > 200:
			fe["event_name"] = "must be at most 200 characters"
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
	if k.AttributionWindow == 0 {
		k.AttributionWindow = 7 * 24 * 3600
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
	if len(in.ExperimentIDs) > 100 {
		fe["experiment_ids"] = "at most 100 experiments"
	}
	k.KindOverride, k.KindReason = "", ""
	rule := KindByRule(k)
	reason := strings.TrimSpace(in.KindReason)
	switch {
	case in.Kind != "" && in.Kind != KindOutcome && in.Kind != KindOutput:
		fe["kind"] = fmt.Sprintf("%q is not outcome or output", in.Kind)
	case in.Kind != "" && in.Kind != rule && reason == "":
		fe["kind_reason"] = fmt.Sprintf("by the rule this key result is an %s; say why it is an %s", rule, in.Kind)
	case utf8.RuneCountInString(reason) > 500:
		fe["kind_reason"] = "must be at most 500 characters"
	case in.Kind != "" && in.Kind != rule:
		k.KindOverride, k.KindReason = in.Kind, reason
	}
	k.fillKind()
	return fe
}

// CreateKeyResult adds a key result to an objective of the team.
func (s *Service) CreateKeyResult(ctx context.Context, teamID, objectiveID uuid.UUID, in KeyResultInput) (*KeyResult, error) {
	o, err := s.st.objective(ctx, teamID, objectiveID)
	if err != nil {
		return nil, err
	}
	if o.ArchivedAt != nil {
		return nil, &experiments.ConflictError{Reason: "the objective is archived"}
	}
	k := &KeyResult{ID: tracking.NewID(), ObjectiveID: o.ID, TeamID: o.TeamID, CreatedAt: s.now().UTC()}
	fe := in.fill(k)
	if err := s.checkExperiments(ctx, o, in.ExperimentIDs, fe); err != nil {
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

// KeyResult reads one key result of the team, with its linked experiments.
func (s *Service) KeyResult(ctx context.Context, teamID, id uuid.UUID) (*KeyResult, error) {
	k, err := s.st.keyResult(ctx, teamID, id)
	if err != nil {
		return nil, err
	}
	links, err := s.st.experimentLinks(ctx, []uuid.UUID{k.ID})
	if err != nil {
		return nil, err
	}
	k.ExperimentIDs = links[k.ID]
	if k.ExperimentIDs == nil {
		k.ExperimentIDs = []uuid.UUID{}
	}
	k.fillKind()
	return k, nil
}

// KeyResultPatch changes a key result: each field given replaces the stored
// one. The type and the source are what the key result measures, so they
// cannot change (create another key result instead).
type KeyResultPatch struct {
	Title             *string  `json:"title"`
	Start             *float64 `json:"start"`
	Target            *float64 `json:"target"`
	Comparison        *string  `json:"comparison"`
	Unit              *string  `json:"unit"`
	EventName         *string  `json:"event_name"`
	EventAgg          *string  `json:"event_agg"`
	AttributionWindow *string  `json:"attribution_window"`
	Type              *string  `json:"type"`
	Source            *string  `json:"source"`
	Kind              *string  `json:"kind"` // "" goes back to the rule
	KindReason        *string  `json:"kind_reason"`
	// ClearStart and ClearTarget remove the start or target (a JSON null).
	ClearStart  bool `json:"-"`
	ClearTarget bool `json:"-"`
}

// UpdateKeyResult changes a key result of the team, validated as on creation.
// Its kept weekly values are recomputed (a new event name or window changes them).
func (s *Service) UpdateKeyResult(ctx context.Context, teamID, id uuid.UUID, p KeyResultPatch) (*KeyResult, error) {
	k, err := s.KeyResult(ctx, teamID, id)
	if err != nil {
		return nil, err
	}
	fe := map[string]string{}
	if p.Type != nil && *p.Type != k.Type {
		fe["type"] = fmt.Sprintf("cannot change from %s to %s; create a new key result instead", k.Type, *p.Type)
	}
	if p.Source != nil && *p.Source != k.Source {
		fe["source"] = fmt.Sprintf("cannot change from %s to %s; create a new key result instead", k.Source, *p.Source)
	}
	in := KeyResultInput{Title: k.Title, Type: k.Type, Start: k.Start, Target: k.Target, Comparison: k.Comparison, Unit: k.Unit,
		Source: k.Source, EventName: k.EventName, EventAgg: k.EventAgg,
		AttributionWindow: (time.Duration(k.AttributionWindow) * time.Second).String(), Kind: k.KindOverride, KindReason: k.KindReason}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&in.Title, p.Title)
	set(&in.Comparison, p.Comparison)
	set(&in.Unit, p.Unit)
	set(&in.EventName, p.EventName)
	set(&in.EventAgg, p.EventAgg)
	set(&in.AttributionWindow, p.AttributionWindow)
	set(&in.Kind, p.Kind)
	set(&in.KindReason, p.KindReason)
	if p.Start != nil || p.ClearStart {
		in.Start = p.Start
	}
	if p.Target != nil || p.ClearTarget {
		in.Target = p.Target
	}
	next := *k
	for f, msg := range in.fill(&next) {
		fe[f] = msg
	}
	if len(fe) > 0 {
		return nil, &experiments.ValidationError{Fields: fe}
	}
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		st := s.st.with(tx)
		if err := st.updateKeyResult(ctx, &next); err != nil {
			return err
		}
		return st.dropSnapshots(ctx, k.ID, "")
	})
	if err != nil {
		return nil, fmt.Errorf("okr: change key result: %w", err)
	}
	return &next, nil
}

// ArchiveKeyResult archives a key result: it leaves the lists and reviews,
// its check-ins are kept. Archiving again changes nothing.
func (s *Service) ArchiveKeyResult(ctx context.Context, teamID, id uuid.UUID) error {
	if _, err := s.st.keyResult(ctx, teamID, id); err != nil {
		return err
	}
	return s.st.archive(ctx, (*KeyResult)(nil), id, s.now().UTC())
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
	o, err := s.st.objective(ctx, teamID, k.ObjectiveID)
	if err != nil {
		return err
	}
	fe := map[string]string{}
	if err := s.checkExperiments(ctx, o, []uuid.UUID{experimentID}, fe); err != nil {
		return err
	}
	if len(fe) > 0 {
		return &experiments.ValidationError{Fields: map[string]string{"experiment_id": fe["experiment_ids[0]"]}}
	}
	return s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		return s.st.with(tx).link(ctx, krID, []uuid.UUID{experimentID})
	})
}

// checkExperiments adds a field error for every id that is not an
// experiment of the objective's teams (its owner and those it is shared with).
func (s *Service) checkExperiments(ctx context.Context, o *Objective, ids []uuid.UUID, fe map[string]string) error {
	if len(ids) == 0 {
		return nil
	}
	teams, _, err := s.st.sharingOf(ctx, o.ID)
	if err != nil {
		return err
	}
	ok, err := s.exps.OfTeams(ctx, append([]uuid.UUID{o.TeamID}, teams...), ids)
	if err != nil {
		return err
	}
	for i, id := range ids {
		if !ok[id] {
			fe[fmt.Sprintf("experiment_ids[%d]", i)] = fmt.Sprintf("%s is not an experiment of the objective's teams", id)
		}
	}
	return nil
}

// Author is who makes a check-in: a user, or an API token (UserID nil) with a name.
type Author struct {
	UserID *uuid.UUID
	Name   string
}

// CheckInInput is a check-in as posted; without a week it is for the
// current week in the team's time zone.
type CheckInInput struct {
	Week       string   `json:"week"`
	Value      *float64 `json:"value"`
	Confidence *int     `json:"confidence"`
	Note       string   `json:"note"`
}

// maxNote bounds a check-in's note, in characters.
const maxNote = 4000

// CheckIn records (or replaces) the week's check-in of a key result. A
// milestone's value says whether it is done: 1 (done) or 0 (not yet).
func (s *Service) CheckIn(ctx context.Context, teamID, krID uuid.UUID, in CheckInInput, by Author) (*CheckIn, error) {
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
	current := tracking.WeekOf(s.now(), loc)
	w := current
	if strings.TrimSpace(in.Week) != "" {
		w, err = tracking.ParseWeek(in.Week)
	}
	switch {
	case err != nil:
		fe["week"] = err.Error()
	case !o.Period().Contains(w):
		fe["week"] = fmt.Sprintf("%s is outside the objective's period %s", w, o.PeriodLabel)
	case current.Before(w):
		fe["week"] = fmt.Sprintf("%s has not started yet", w)
	}
	if k.ArchivedAt != nil || o.ArchivedAt != nil {
		return nil, &experiments.ConflictError{Reason: "the key result is archived"}
	}
	if in.Confidence != nil && (*in.Confidence < 0 || *in.Confidence > 10) {
		fe["confidence"] = fmt.Sprintf("%d is outside 0 to 10", *in.Confidence)
	}
	if msg := checkNumber(in.Value); msg != "" {
		fe["value"] = msg
	} else if k.Type == TypeMilestone && in.Value != nil && *in.Value != 0 && *in.Value != 1 {
		fe["value"] = "a milestone is done (1) or not yet (0)"
	}
	if k.Source == SourceManual && in.Value == nil && in.Confidence == nil && in.Note == "" {
		fe["value"] = "a check-in of a manual key result needs a value (or at least a confidence or a note)"
	}
	if k.Source != SourceManual && in.Value != nil {
		fe["value"] = fmt.Sprintf("this key result takes its value from %s; a check-in gives only confidence and a note", k.Source)
	}
	if !utf8.ValidString(in.Note) {
		fe["note"] = "must be valid UTF-8"
	} else if utf8.RuneCountInString(in.Note) > maxNote {
		fe["note"] = fmt.Sprintf("must be at most %d characters", maxNote)
	}
	if len(fe) > 0 {
		return nil, &experiments.ValidationError{Fields: fe}
	}
	c := &CheckIn{ID: tracking.NewID(), KeyResultID: k.ID, Week: w.String(), Value: in.Value, Confidence: in.Confidence,
		Note: strings.TrimSpace(in.Note), CreatedAt: s.now().UTC(), UserID: by.UserID, Author: by.Name}
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		return s.st.with(tx).replaceCheckIn(ctx, c)
	})
	if err != nil {
		return nil, fmt.Errorf("okr: check-in: %w", err)
	}
	return c, nil
}
