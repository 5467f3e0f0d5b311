package okr

import (
	"context"
	"fmt"
	"slices"
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

	ID          uuid.UUID  `bun:"id,pk,type:uuid" json:"id"`
	TeamID      uuid.UUID  `bun:"team_id,type:uuid" json:"-"`
	Title       string     `bun:"title" json:"title"`
	PeriodLabel string     `bun:"period_label" json:"period"`
	PeriodStart string     `bun:"period_start" json:"start"`
	PeriodEnd   string     `bun:"period_end" json:"end"`
	Kind        string     `bun:"kind" json:"kind"`
	CreatedAt   time.Time  `bun:"created_at" json:"created_at"`
	ArchivedAt  *time.Time `bun:"archived_at" json:"archived_at,omitempty"`

	// Team is the slug of the team that owns the objective; SharedWith the
	// slugs of the teams of the organisation it is shared with (each sees it
	// in its review, with the same key results and values).
	Team       string   `bun:"-" json:"team"`
	SharedWith []string `bun:"-" json:"shared_with"`
	// Owners are the people accountable for it, often one per function.
	Owners     []Owner      `bun:"-" json:"owners"`
	KeyResults []*KeyResult `bun:"rel:has-many,join:id=objective_id" json:"key_results"`

	sharedIDs []uuid.UUID // the teams it is shared with
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
	ArchivedAt        *time.Time  `bun:"archived_at" json:"archived_at,omitempty"`
	ExperimentIDs     []uuid.UUID `bun:"-" json:"experiment_ids"`

	// Kind says whether the key result measures an outcome (a business or
	// usage measure) or an output (a milestone, a deliverable): by the rule
	// of KindByRule, unless it was set otherwise with a reason.
	Kind         string `bun:"-" json:"kind"`
	KindOverride string `bun:"kind" json:"-"`
	KindReason   string `bun:"kind_reason" json:"kind_reason,omitempty"`
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
	// Who checked in: a user, or an API token named in Author.
	UserID *uuid.UUID `bun:"user_id,type:uuid" json:"user_id"`
	Author string     `bun:"author" json:"author"`
}

// Owner is one of the people accountable for an objective.
type Owner struct {
	ID       uuid.UUID `json:"id"`
	Name     string    `json:"name"`
	Email    string    `json:"email"`
	Function string    `json:"function"`
}

// ObjectiveInput is an objective as posted: a quarter in period, or explicit
// start and end dates; optionally shared with other teams of the
// organisation (by slug) and owned by members of those teams.
type ObjectiveInput struct {
	Title      string      `json:"title"`
	Period     string      `json:"period"`
	Start      string      `json:"start"`
	End        string      `json:"end"`
	Kind       string      `json:"kind"`
	SharedWith []string    `json:"shared_with"`
	OwnerIDs   []uuid.UUID `json:"owner_ids"`
}

// fields validates the input: the title, the period and the kind.
func (in ObjectiveInput) fields() (title string, p Period, kind string, fe map[string]string) {
	fe = map[string]string{}
	title = strings.TrimSpace(in.Title)
	if msg := checkTitle(title); msg != "" {
		fe["title"] = msg
	}
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
	kind = in.Kind
	if kind == "" {
		kind = KindCommitted
	}
	if kind != KindCommitted && kind != KindAspirational {
		fe["kind"] = fmt.Sprintf("%q is not committed or aspirational", in.Kind)
	}
	return title, p, kind, fe
}

// CreateObjective stores an objective of a team.
func (s *Service) CreateObjective(ctx context.Context, teamID uuid.UUID, in ObjectiveInput) (*Objective, error) {
	title, p, kind, fe := in.fields()
	teams, owners, err := s.resolveSharing(ctx, teamID, uuid.Nil, in.SharedWith, in.OwnerIDs, fe)
	if err != nil {
		return nil, err
	}
	if len(fe) > 0 {
		return nil, &experiments.ValidationError{Fields: fe}
	}
	o := &Objective{ID: tracking.NewID(), TeamID: teamID, Title: title, PeriodLabel: p.Label, PeriodStart: p.Start.Format(time.DateOnly),
		PeriodEnd: p.End.Format(time.DateOnly), Kind: kind, CreatedAt: s.now().UTC(), KeyResults: []*KeyResult{}}
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		st := s.st.with(tx)
		if err := st.insertObjective(ctx, o); err != nil {
			return err
		}
		return st.setSharing(ctx, o.ID, teams, owners)
	})
	if err != nil {
		return nil, fmt.Errorf("okr: create objective: %w", err)
	}
	return s.Objective(ctx, teamID, o.ID)
}

// resolveSharing checks the teams an objective is shared with (slugs of
// other teams of the owner team's organisation) and its owners (members of
// the owner team or of those teams); nil input gives nil (leave as it is).
func (s *Service) resolveSharing(ctx context.Context, ownerTeam, objectiveID uuid.UUID, shared []string, ownerIDs []uuid.UUID, fe map[string]string) (teams, owners []uuid.UUID, err error) {
	if shared == nil && ownerIDs == nil {
		return nil, nil, nil
	}
	team, err := s.exps.Team(ctx, ownerTeam)
	if err != nil {
		return nil, nil, err
	}
	orgTeams, err := s.exps.OrgTeams(ctx, team.OrgID)
	if err != nil {
		return nil, nil, err
	}
	bySlug := map[string]uuid.UUID{}
	for _, t := range orgTeams {
		bySlug[t.Slug] = t.ID
	}
	if shared != nil {
		teams = []uuid.UUID{}
		for i, slug := range shared {
			id, ok := bySlug[slug]
			switch {
			case !ok:
				fe[fmt.Sprintf("shared_with[%d]", i)] = fmt.Sprintf("%q is not a team of the organisation", slug)
			case id == ownerTeam:
				fe[fmt.Sprintf("shared_with[%d]", i)] = "is the team that owns the objective"
			case !slices.Contains(teams, id):
				teams = append(teams, id)
			}
		}
	}
	if ownerIDs != nil {
		candidates := append([]uuid.UUID{ownerTeam}, teams...)
		if shared == nil && objectiveID != uuid.Nil { // owners change, sharing stays: members of those teams count too
			cur, _, err := s.st.sharingOf(ctx, objectiveID)
			if err != nil {
				return nil, nil, err
			}
			candidates = append(candidates, cur...)
		}
		owners = []uuid.UUID{}
		for i, uid := range ownerIDs {
			found := false
			for _, t := range candidates {
				if _, err := s.exps.Member(ctx, t, uid); err == nil {
					found = true
					break
				}
			}
			if !found {
				fe[fmt.Sprintf("owner_ids[%d]", i)] = "is not a member of the teams of the objective"
			} else if !slices.Contains(owners, uid) {
				owners = append(owners, uid)
			}
		}
	}
	return teams, owners, nil
}

// Objective reads one objective of the team with its key results (archived
// ones left out).
func (s *Service) Objective(ctx context.Context, teamID, id uuid.UUID) (*Objective, error) {
	objs, err := s.objectives(ctx, teamID, &id, true)
	if err != nil {
		return nil, err
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("objective %s: %w", id, experiments.ErrNotFound)
	}
	return objs[0], nil
}

// ObjectivePatch changes an objective: each field given replaces the stored
// one; a new period is a quarter (Period) or dates (Start and End).
type ObjectivePatch struct {
	Title      *string     `json:"title"`
	Period     *string     `json:"period"`
	Start      *string     `json:"start"`
	End        *string     `json:"end"`
	Kind       *string     `json:"kind"`
	SharedWith []string    `json:"shared_with"` // replaces the teams it is shared with
	OwnerIDs   []uuid.UUID `json:"owner_ids"`   // replaces its owners
}

// UpdateObjective changes an objective of the team. Check-ins outside a new
// period stay stored but leave the review.
func (s *Service) UpdateObjective(ctx context.Context, teamID, id uuid.UUID, p ObjectivePatch) (*Objective, error) {
	o, err := s.st.objective(ctx, teamID, id)
	if err != nil {
		return nil, err
	}
	in := ObjectiveInput{Title: o.Title, Kind: o.Kind}
	if strings.Contains(o.PeriodLabel, "/") {
		in.Start, in.End = o.PeriodStart, o.PeriodEnd
	} else {
		in.Period = o.PeriodLabel
	}
	if p.Title != nil {
		in.Title = *p.Title
	}
	if p.Kind != nil {
		in.Kind = *p.Kind
	}
	if p.Period != nil {
		in.Period, in.Start, in.End = *p.Period, "", ""
	}
	if p.Start != nil || p.End != nil {
		in.Period = ""
		if p.Start != nil {
			in.Start = *p.Start
		}
		if p.End != nil {
			in.End = *p.End
		}
	}
	title, per, kind, fe := in.fields()
	teams, owners, err := s.resolveSharing(ctx, o.TeamID, o.ID, p.SharedWith, p.OwnerIDs, fe)
	if err != nil {
		return nil, err
	}
	if len(fe) > 0 {
		return nil, &experiments.ValidationError{Fields: fe}
	}
	o.Title, o.Kind, o.PeriodLabel = title, kind, per.Label
	o.PeriodStart, o.PeriodEnd = per.Start.Format(time.DateOnly), per.End.Format(time.DateOnly)
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		st := s.st.with(tx)
		if err := st.updateObjective(ctx, o); err != nil {
			return err
		}
		return st.setSharing(ctx, o.ID, teams, owners)
	})
	if err != nil {
		return nil, fmt.Errorf("okr: change objective: %w", err)
	}
	return s.Objective(ctx, teamID, id)
}

// ArchiveObjective archives an objective: it leaves the lists and reviews
// with its key results; nothing is deleted. Archiving again changes nothing.
func (s *Service) ArchiveObjective(ctx context.Context, teamID, id uuid.UUID) error {
	if _, err := s.st.objective(ctx, teamID, id); err != nil {
		return err
	}
	return s.st.archive(ctx, (*Objective)(nil), id, s.now().UTC())
}

// Objectives lists a team's objectives with their key results; archived
// ones are left out.
func (s *Service) Objectives(ctx context.Context, teamID uuid.UUID) ([]*Objective, error) {
	return s.objectives(ctx, teamID, nil, false)
}

// objectives lists a team's objectives (one, when id is set), without
// archived key results, and without archived objectives unless archived.
func (s *Service) objectives(ctx context.Context, teamID uuid.UUID, id *uuid.UUID, archived bool) ([]*Objective, error) {
	out, err := s.st.objectives(ctx, teamID, id, archived)
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
			k.fillKind()
		}
	}
	if err := s.fillSharing(ctx, out); err != nil {
		return nil, err
	}
	if out == nil {
		out = []*Objective{}
	}
	return out, nil
}

// fillSharing sets the owner team, the teams shared with and the owners of objectives.
func (s *Service) fillSharing(ctx context.Context, objs []*Objective) error {
	ids := make([]uuid.UUID, len(objs))
	for i, o := range objs {
		ids[i] = o.ID
	}
	teams, owners, err := s.st.sharing(ctx, ids)
	if err != nil {
		return fmt.Errorf("okr: sharing: %w", err)
	}
	slugs := map[uuid.UUID]string{}
	slug := func(id uuid.UUID) string {
		if v, ok := slugs[id]; ok {
			return v
		}
		t, err := s.exps.Team(ctx, id)
		if err == nil {
			slugs[id] = t.Slug
		}
		return slugs[id]
	}
	for _, o := range objs {
		o.Team, o.SharedWith, o.Owners, o.sharedIDs = slug(o.TeamID), []string{}, []Owner{}, teams[o.ID]
		for _, t := range teams[o.ID] {
			o.SharedWith = append(o.SharedWith, slug(t))
		}
		for _, uid := range owners[o.ID] {
			for _, t := range append([]uuid.UUID{o.TeamID}, teams[o.ID]...) {
				if m, err := s.exps.Member(ctx, t, uid); err == nil {
					o.Owners = append(o.Owners, Owner{ID: uid, Name: m.Name, Email: m.Email, Function: m.Function})
					break
				}
			}
		}
	}
	return nil
}
