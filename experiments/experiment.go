package experiments

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slicelab/tracking"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// Status of an experiment.
type Status string

// Statuses (product.md §2).
const (
	StatusDraft     Status = "draft"
	StatusScheduled Status = "scheduled"
	StatusRunning   Status = "running"
	StatusPaused    Status = "paused"
	StatusCompleted Status = "completed"
	StatusCancelled Status = "cancelled"
)

// Audience selects the contacts an experiment goes to: all of the team's, or
// those with any of the tags.
type Audience struct {
	Tags []string `json:"tags"`
}

// Experiment is one email experiment of a team.
type Experiment struct {
	bun.BaseModel `bun:"table:experiments,alias:e"`

	ID          uuid.UUID  `bun:"id,pk,type:uuid" json:"id"`
	TeamID      uuid.UUID  `bun:"team_id,type:uuid" json:"team_id"`
	Name        string     `bun:"name" json:"name"`
	Hypothesis  string     `bun:"hypothesis" json:"hypothesis"`
	Initiative  string     `bun:"initiative" json:"initiative"`
	Status      Status     `bun:"status" json:"status"`
	Holdout     float64    `bun:"holdout" json:"holdout"`
	Tags        []string   `bun:"audience_tags,type:text" json:"-"`
	CreatedAt   time.Time  `bun:"created_at" json:"created_at"`
	UpdatedAt   time.Time  `bun:"updated_at" json:"updated_at"`
	LaunchedAt  *time.Time `bun:"launched_at" json:"launched_at"`
	CompletedAt *time.Time `bun:"completed_at" json:"completed_at"`
	ScheduledAt *time.Time `bun:"scheduled_at" json:"scheduled_at"`
	PausedAt    *time.Time `bun:"paused_at" json:"paused_at"`
	CancelledAt *time.Time `bun:"cancelled_at" json:"cancelled_at"`

	TestShare          *float64   `bun:"test_share" json:"-"`
	WinnerWaitSeconds  int64      `bun:"winner_wait_seconds" json:"-"`
	WinnerMinPerArm    int        `bun:"winner_min_per_arm" json:"-"`
	WinnerMinChance    float64    `bun:"winner_min_chance" json:"-"`
	WinnerFallback     string     `bun:"winner_fallback" json:"-"`
	WinnerVariantID    *uuid.UUID `bun:"winner_variant_id,type:uuid" json:"-"`
	WinnerReason       string     `bun:"winner_reason" json:"-"`
	WinnerPickedAt     *time.Time `bun:"winner_picked_at" json:"-"`
	ViabilityMetric    string     `bun:"viability_metric" json:"-"`
	ViabilityThreshold float64    `bun:"viability_threshold" json:"-"`
	ViabilityMinChance float64    `bun:"viability_min_chance" json:"-"`
	ViabilityMinSample int        `bun:"viability_min_sample" json:"-"`

	Winner    *WinnerSettings `bun:"-" json:"winner"`
	Viability *Viability      `bun:"-" json:"viability"`
	Audience  Audience        `bun:"-" json:"audience"`
	Variants  []*Variant      `bun:"rel:has-many,join:id=experiment_id" json:"variants"`
	Progress  *Progress       `bun:"-" json:"progress"`
}

// Variant is one version of the email.
type Variant struct {
	bun.BaseModel `bun:"table:variants"`

	ID           uuid.UUID `bun:"id,pk,type:uuid" json:"id"`
	ExperimentID uuid.UUID `bun:"experiment_id,type:uuid" json:"-"`
	Position     int       `bun:"position" json:"-"`
	Name         string    `bun:"name" json:"name"`
	Weight       float64   `bun:"weight" json:"weight"`
	Control      bool      `bun:"control" json:"control"`
	Subject      string    `bun:"subject" json:"subject"`
	HTML         string    `bun:"html_body" json:"html"`
	Text         string    `bun:"text_body" json:"text"`
	HTMLCompiled string    `bun:"html_compiled" json:"-"`
	TextCompiled string    `bun:"text_compiled" json:"-"`

	Links []string `bun:"-" json:"links"` // tracked destinations, in link index order
}

// Progress counts deliveries by status.
type Progress struct {
	Total      int `json:"total"`
	Queued     int `json:"queued"`
	Sending    int `json:"sending"`
	Sent       int `json:"sent"`
	Failed     int `json:"failed"`
	Suppressed int `json:"suppressed"`
	HeldOut    int `json:"held_out"`
	Waiting    int `json:"waiting"`   // test-then-winner: waiting for the winner
	Cancelled  int `json:"cancelled"` // never sent because the experiment was cancelled
}

// WinnerSettings configure test-then-winner (and report its outcome).
type WinnerSettings struct {
	TestShare float64 `json:"test_share"`
	Wait      string  `json:"wait"`
	MinPerArm int     `json:"min_per_arm"`
	MinChance float64 `json:"min_chance"`
	// Fallback when no variant wins by the rule: "control" sends the control to the rest, "none" sends nothing more.
	Fallback  string     `json:"fallback"`
	VariantID *uuid.UUID `json:"variant_id"`
	Reason    string     `json:"reason"`
	PickedAt  *time.Time `json:"picked_at"`
}

// Viability states what would make the slice viable.
type Viability struct {
	Metric    string  `json:"metric"`     // ctr | lift | event_rate
	Threshold float64 `json:"threshold"`  // the rate (ctr, event_rate) or relative lift (lift) to reach
	MinChance float64 `json:"min_chance"` // lift: minimum chance to beat control
	MinSample int     `json:"min_sample"` // deliveries per arm before a verdict
}

// VariantInput is a variant as posted.
type VariantInput struct {
	Name    string   `json:"name"`
	Weight  *float64 `json:"weight"`
	Control bool     `json:"control"`
	Subject string   `json:"subject"`
	HTML    string   `json:"html"`
	Text    string   `json:"text"`
}

// CreateInput is an experiment as posted.
type CreateInput struct {
	Name       string         `json:"name"`
	Hypothesis string         `json:"hypothesis"`
	Initiative string         `json:"initiative"`
	Holdout    float64        `json:"holdout"`
	Audience   Audience       `json:"audience"`
	Variants   []VariantInput `json:"variants"`
	Winner     *WinnerInput   `json:"winner"`
	Viability  *Viability     `json:"viability"`
	// KeyResultIDs links the experiment to key results of the team (product.md §8).
	KeyResultIDs []uuid.UUID `json:"key_result_ids"`
}

// WinnerInput is the test-then-winner part of CreateInput.
type WinnerInput struct {
	TestShare float64  `json:"test_share"`
	Wait      string   `json:"wait"`
	MinPerArm *int     `json:"min_per_arm"`
	MinChance *float64 `json:"min_chance"`
	Fallback  string   `json:"fallback"`
}

// maxVariants bounds the arms of one experiment.
const maxVariants = 20

// validate checks the input and compiles every variant; the returned variants
// are ready to store.
func (in *CreateInput) validate(footers Config) ([]*Variant, error) {
	fe := fieldErrors{}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" {
		fe.add("name", "is required")
	} else if len(in.Name) > 200 {
		fe.add("name", "must be at most 200 characters")
	}
	if math.IsNaN(in.Holdout) || in.Holdout < 0 || in.Holdout >= 1 {
		fe.add("holdout", "must be a share from 0 up to (not including) 1, e.g. 0.1 for 10%%")
	}
	for i, t := range in.Audience.Tags {
		if strings.TrimSpace(t) == "" {
			fe.add(fmt.Sprintf("audience.tags[%d]", i), "must not be empty")
		}
	}
	switch n := len(in.Variants); {
	case n == 0:
		fe.add("variants", "at least one variant is required")
	case n > maxVariants:
		fe.add("variants", "at most %d variants", maxVariants)
	}
	controls, total := 0, 0.0
	names := map[string]int{}
	var out []*Variant
	for i, vi := range in.Variants {
		p := fmt.Sprintf("variants[%d].", i)
		name := strings.TrimSpace(vi.Name)
		if name == "" {
			fe.add(p+"name", "is required")
		} else if prev, dup := names[name]; dup {
			fe.add(p+"name", "%q is also the name of variants[%d]", name, prev)
		} else {
			names[name] = i
		}
		w := 1.0
		if vi.Weight != nil {
			w = *vi.Weight
		}
		if math.IsNaN(w) || math.IsInf(w, 0) || w < 0 {
			fe.add(p+"weight", "must be a number of 0 or more")
		} else {
			total += w
		}
		if vi.Control {
			controls++
		}
		v := &Variant{ID: tracking.NewID(), Position: i, Name: name, Weight: w, Control: vi.Control,
			Subject: vi.Subject, HTML: vi.HTML, Text: vi.Text}
		if err := compileVariant(v, footers); err != nil {
			for f, msg := range err {
				fe.add(p+f, "%s", msg)
			}
		}
		out = append(out, v)
	}
	if len(in.Variants) > 0 {
		if controls != 1 {
			fe.add("variants", "exactly one variant must be the control (found %d)", controls)
		}
		if total <= 0 && !hasField(fe, "weight") {
			fe.add("variants", "the weights must add up to more than 0")
		}
	}
	in.validateWinner(fe)
	in.validateViability(fe)
	if err := fe.err(); err != nil {
		return nil, err
	}
	return out, nil
}

func (in *CreateInput) validateWinner(fe fieldErrors) {
	w := in.Winner
	if w == nil {
		return
	}
	if math.IsNaN(w.TestShare) || w.TestShare <= 0 || w.TestShare >= 1 {
		fe.add("winner.test_share", "must be a share between 0 and 1, e.g. 0.2 for 20%%")
	}
	if d, err := time.ParseDuration(w.Wait); err != nil || d <= 0 || d > 30*24*time.Hour {
		fe.add("winner.wait", "must be a duration such as 4h or 90m, at most 720h")
	}
	if w.MinPerArm != nil && *w.MinPerArm < 1 {
		fe.add("winner.min_per_arm", "must be at least 1")
	}
	if w.MinChance != nil && (*w.MinChance <= 0.5 || *w.MinChance >= 1) {
		fe.add("winner.min_chance", "must be between 0.5 and 1, e.g. 0.95")
	}
	switch w.Fallback {
	case "", "control", "none":
	default:
		fe.add("winner.fallback", "must be control or none")
	}
	if len(in.Variants) < 2 {
		fe.add("winner", "test-then-winner needs a control and at least one other variant")
	}
}

func (in *CreateInput) validateViability(fe fieldErrors) {
	v := in.Viability
	if v == nil {
		return
	}
	switch v.Metric {
	case "ctr", "event_rate":
		if v.Threshold <= 0 || v.Threshold > 1 {
			fe.add("viability.threshold", "must be a rate above 0 and at most 1, e.g. 0.05 for 5%%")
		}
	case "lift":
		if v.Threshold <= -1 || math.IsNaN(v.Threshold) {
			fe.add("viability.threshold", "must be a relative lift above -1, e.g. 0.1 for +10%%")
		}
		if len(in.Variants) < 2 {
			fe.add("viability.metric", "lift needs a control and at least one other variant")
		}
	default:
		fe.add("viability.metric", "must be ctr, lift or event_rate")
	}
	if v.MinChance < 0 || v.MinChance >= 1 {
		fe.add("viability.min_chance", "must be from 0 up to (not including) 1, e.g. 0.95")
	}
	if v.MinSample < 0 {
		fe.add("viability.min_sample", "must be 0 (the default, 100) or more")
	}
}

func hasField(fe fieldErrors, suffix string) bool {
	for k := range fe {
		if strings.HasSuffix(k, suffix) {
			return true
		}
	}
	return false
}

// Create stores a new draft experiment.
func (s *Service) Create(ctx context.Context, teamID uuid.UUID, in CreateInput) (*Experiment, error) {
	variants, err := in.validate(s.cfg)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	tags := in.Audience.Tags
	if tags == nil {
		tags = []string{}
	}
	for i := range tags {
		tags[i] = strings.TrimSpace(tags[i])
	}
	e := &Experiment{ID: tracking.NewID(), TeamID: teamID, Name: in.Name, Hypothesis: strings.TrimSpace(in.Hypothesis),
		Initiative: strings.TrimSpace(in.Initiative), Status: StatusDraft, Holdout: in.Holdout, Tags: tags,
		CreatedAt: now, UpdatedAt: now, Variants: variants,
		WinnerMinPerArm: 100, WinnerMinChance: 0.95, WinnerFallback: "control",
		ViabilityMinChance: 0.95, ViabilityMinSample: 100}
	if w := in.Winner; w != nil {
		d, _ := time.ParseDuration(w.Wait)
		share := w.TestShare
		e.TestShare, e.WinnerWaitSeconds = &share, int64(d/time.Second)
		if w.MinPerArm != nil {
			e.WinnerMinPerArm = *w.MinPerArm
		}
		if w.MinChance != nil {
			e.WinnerMinChance = *w.MinChance
		}
		if w.Fallback != "" {
			e.WinnerFallback = w.Fallback
		}
	}
	if v := in.Viability; v != nil {
		e.ViabilityMetric, e.ViabilityThreshold = v.Metric, v.Threshold
		if v.MinChance > 0 {
			e.ViabilityMinChance = v.MinChance
		}
		if v.MinSample > 0 {
			e.ViabilityMinSample = v.MinSample
		}
	}
	if len(in.KeyResultIDs) > 0 && s.linker == nil {
		return nil, &ValidationError{Fields: map[string]string{"key_result_ids": "key results are not available here"}}
	}
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(e).Exec(ctx); err != nil {
			return err
		}
		if len(in.KeyResultIDs) > 0 {
			if err := s.linker.LinkNewExperiment(ctx, tx, teamID, e.ID, in.KeyResultIDs); err != nil {
				return err
			}
		}
		for _, v := range variants {
			v.ExperimentID = e.ID
		}
		if _, err := tx.NewInsert().Model(&variants).Exec(ctx); err != nil {
			return err
		}
		links := s.clicks.WithTx(tx)
		for _, v := range variants {
			if err := links.SaveLinks(ctx, e.ID, v.ID, v.Links); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			return nil, err
		}
		return nil, fmt.Errorf("experiments: create: %w", err)
	}
	return s.Get(ctx, teamID, e.ID)
}

// Get loads one experiment of a team with its variants and send progress.
// Another team's experiment is ErrNotFound.
func (s *Service) Get(ctx context.Context, teamID, id uuid.UUID) (*Experiment, error) {
	e, err := s.load(ctx, teamID, id)
	if err != nil {
		return nil, err
	}
	p, err := s.progress(ctx, id)
	if err != nil {
		return nil, err
	}
	e.Progress = &p
	return e, nil
}

// load reads an experiment of a team with its variants and links, without
// counting its deliveries.
func (s *Service) load(ctx context.Context, teamID, id uuid.UUID) (*Experiment, error) {
	e := new(Experiment)
	err := s.db.NewSelect().Model(e).Relation("Variants", func(q *bun.SelectQuery) *bun.SelectQuery {
		return q.Order("position")
	}).Where("e.id = ?", id).Where("e.team_id = ?", teamID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("experiments: experiment %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("experiments: get %s: %w", id, err)
	}
	e.fill()
	if err := s.loadLinks(ctx, e); err != nil {
		return nil, err
	}
	return e, nil
}

// fill derives the JSON views of the stored settings.
func (e *Experiment) fill() {
	e.Audience = Audience{Tags: e.Tags}
	if e.TestShare != nil {
		e.Winner = &WinnerSettings{TestShare: *e.TestShare, Wait: (time.Duration(e.WinnerWaitSeconds) * time.Second).String(),
			MinPerArm: e.WinnerMinPerArm, MinChance: e.WinnerMinChance, Fallback: e.WinnerFallback,
			VariantID: e.WinnerVariantID, Reason: e.WinnerReason, PickedAt: e.WinnerPickedAt}
	}
	if e.ViabilityMetric != "" {
		e.Viability = &Viability{Metric: e.ViabilityMetric, Threshold: e.ViabilityThreshold,
			MinChance: e.ViabilityMinChance, MinSample: e.ViabilityMinSample}
	}
}

func (s *Service) loadLinks(ctx context.Context, e *Experiment) error {
	by, err := s.clicks.LinksOf(ctx, e.ID)
	if err != nil {
		return err
	}
	for _, v := range e.Variants {
		v.Links = by[v.ID]
		if v.Links == nil {
			v.Links = []string{}
		}
	}
	return nil
}

// List returns a team's experiments, newest first, without variants.
func (s *Service) List(ctx context.Context, teamID uuid.UUID) ([]*Experiment, error) {
	var out []*Experiment
	if err := s.db.NewSelect().Model(&out).Where("team_id = ?", teamID).Order("created_at DESC").Limit(200).Scan(ctx); err != nil {
		return nil, fmt.Errorf("experiments: list: %w", err)
	}
	for _, e := range out {
		e.fill()
		e.Variants = []*Variant{}
	}
	if out == nil {
		out = []*Experiment{}
	}
	return out, nil
}

func (s *Service) progress(ctx context.Context, id uuid.UUID) (Progress, error) {
	var rows []struct {
		Status string `bun:"status"`
		N      int    `bun:"n"`
	}
	if err := s.db.NewSelect().Table("deliveries").ColumnExpr("status, count(*) AS n").
		Where("experiment_id = ?", id).Group("status").Scan(ctx, &rows); err != nil {
		return Progress{}, fmt.Errorf("experiments: progress: %w", err)
	}
	var p Progress
	for _, r := range rows {
		p.Total += r.N
		switch r.Status {
		case "queued":
			p.Queued += r.N
		case "sending":
			p.Sending += r.N
		case "sent":
			p.Sent += r.N
		case "failed":
			p.Failed += r.N
		case "suppressed":
			p.Suppressed += r.N
		case "held_out":
			p.HeldOut += r.N
		case "waiting":
			p.Waiting += r.N
		case "cancelled":
			p.Cancelled += r.N
		}
	}
	return p, nil
}
