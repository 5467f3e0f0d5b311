package experiments

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math"
	"slicelab/tracking"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
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
	Engine      string     `bun:"engine" json:"engine"` // bayesian | frequentist: decides the winner, the verdict and the summary
	Tags        []string   `bun:"audience_tags,type:text" json:"-"`
	CreatedAt   time.Time  `bun:"created_at" json:"created_at"`
	UpdatedAt   time.Time  `bun:"updated_at" json:"updated_at"`
	LaunchedAt  *time.Time `bun:"launched_at" json:"launched_at"`
	CompletedAt *time.Time `bun:"completed_at" json:"completed_at"`
	ScheduledAt *time.Time `bun:"scheduled_at" json:"scheduled_at"`
	PausedAt    *time.Time `bun:"paused_at" json:"paused_at"`
	CancelledAt *time.Time `bun:"cancelled_at" json:"cancelled_at"`

	// The background assignment of the audience (launch.go).
	AssignAfter   *uuid.UUID `bun:"assign_after,type:uuid" json:"-"`
	AssignBatches int        `bun:"assign_batches" json:"-"`
	Assigned      int        `bun:"assigned" json:"-"`
	AssignDone    bool       `bun:"assign_done" json:"-"`

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
	// Assignment is how far the launch has come in assigning the audience
	// (it runs in the background; sending starts with its first pages).
	Assignment *Assignment `bun:"-" json:"assignment"`
	// Warnings point out what saved but may not do what was meant (answers
	// to create and change only; not stored).
	Warnings []Warning `bun:"-" json:"warnings,omitempty"`
}

// Warning is a remark on input that was accepted.
type Warning struct {
	Field   string `json:"field"`
	Message string `json:"message"`
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

	attrs map[string][]string // contact attributes each template reads, by field (at save time)
}

// Assignment is the progress of a launch's assignment of the audience.
type Assignment struct {
	Assigned int  `json:"assigned"` // contacts of the audience that have a delivery so far
	Done     bool `json:"done"`
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
	Engine     string         `json:"engine"` // bayesian (default) or frequentist
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

// maxWeight bounds a variant's (relative) weight, so that sums stay exact.
const maxWeight = 1_000_000

// validate checks the input and compiles every variant; the returned variants
// are ready to store.
func (in *CreateInput) validate(footers Config) ([]*Variant, error) {
	fe := fieldErrors{}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" {
		fe.add("name", "is required")
	} else if utf8.RuneCountInString(in.Name) > 200 || !utf8.ValidString(in.Name) {
		fe.add("name", "must be at most 200 characters")
	}
	for f, v := range map[string]string{"hypothesis": in.Hypothesis, "initiative": in.Initiative} {
		limit := 2000
		if f == "initiative" {
			limit = 200
		}
		if utf8.RuneCountInString(v) > limit || !utf8.ValidString(v) {
			fe.add(f, "must be at most %d characters", limit)
		}
	}
	if len(in.Audience.Tags) > 50 {
		fe.add("audience.tags", "at most 50 tags")
	}
	switch in.Engine {
	case "", EngineBayesian, EngineFrequentist:
	default:
		fe.add("engine", "%q is not bayesian or frequentist", in.Engine)
	}
	if math.IsNaN(in.Holdout) || in.Holdout < 0 || in.Holdout >= 1 {
		fe.add("holdout", "must be a share from 0 up to (not including) 1, e.g. 0.1 for 10%%")
	}
	for i, t := range in.Audience.Tags {
		switch {
		case strings.TrimSpace(t) == "":
			fe.add(fmt.Sprintf("audience.tags[%d]", i), "must not be empty")
		case utf8.RuneCountInString(t) > 100:
			fe.add(fmt.Sprintf("audience.tags[%d]", i), "must be at most 100 characters")
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
		switch {
		case math.IsNaN(w) || math.IsInf(w, 0) || w <= 0:
			fe.add(p+"weight", "must be a number above 0, e.g. 1 (a variant that should get nobody does not belong in the experiment)")
		case w > maxWeight:
			fe.add(p+"weight", "must be at most %d; weights are relative, so 1 and 3 split 25 %% / 75 %%", int(maxWeight))
		default:
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
	if w.MinPerArm != nil && (*w.MinPerArm < 1 || *w.MinPerArm > 10_000_000) {
		fe.add("winner.min_per_arm", "must be from 1 to 10,000,000")
	}
	if w.MinChance != nil && !(*w.MinChance > 0.5 && *w.MinChance < 1) {
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
		if !(v.Threshold > 0 && v.Threshold <= 1) {
			fe.add("viability.threshold", "must be a rate above 0 and at most 1, e.g. 0.05 for 5%%")
		}
	case "lift":
		if !(v.Threshold > -1 && v.Threshold < 1e6) {
			fe.add("viability.threshold", "must be a relative lift above -1, e.g. 0.1 for +10%%")
		}
		if len(in.Variants) < 2 {
			fe.add("viability.metric", "lift needs a control and at least one other variant")
		}
	default:
		fe.add("viability.metric", "must be ctr, lift or event_rate")
	}
	if !(v.MinChance >= 0 && v.MinChance < 1) {
		fe.add("viability.min_chance", "must be from 0 up to (not including) 1, e.g. 0.95")
	}
	if v.MinSample < 0 || v.MinSample > 10_000_000 {
		fe.add("viability.min_sample", "must be 0 (the default, 100) or more")
	}
}

// Create stores a new draft experiment.
func (s *Service) Create(ctx context.Context, teamID uuid.UUID, in CreateInput) (*Experiment, error) {
	variants, err := in.validate(s.cfg)
	if err != nil {
		return nil, err
	}
	if len(in.KeyResultIDs) > 0 && s.linker == nil {
		return nil, &ValidationError{Fields: map[string]string{"key_result_ids": "key results are not available here"}}
	}
	now := s.now().UTC()
	e := &Experiment{ID: tracking.NewID(), TeamID: teamID, Status: StatusDraft, CreatedAt: now}
	e.apply(in, now)
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(e).Exec(ctx); err != nil {
			return err
		}
		return s.saveContent(ctx, tx, e, variants, in.KeyResultIDs)
	})
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			return nil, err
		}
		return nil, fmt.Errorf("experiments: create: %w", err)
	}
	return s.withWarnings(ctx, teamID, e.ID, variants)
}

// apply sets an experiment's settings from (validated) input.
func (e *Experiment) apply(in CreateInput, now time.Time) {
	tags := make([]string, 0, len(in.Audience.Tags))
	for _, t := range in.Audience.Tags {
		tags = append(tags, strings.TrimSpace(t))
	}
	e.Name, e.Hypothesis, e.Initiative = in.Name, strings.TrimSpace(in.Hypothesis), strings.TrimSpace(in.Initiative)
	e.Holdout, e.Engine, e.Tags, e.UpdatedAt = in.Holdout, cmp.Or(in.Engine, EngineBayesian), tags, now
	e.TestShare, e.WinnerWaitSeconds, e.WinnerMinPerArm, e.WinnerMinChance, e.WinnerFallback = nil, 0, 100, 0.95, "control"
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
	e.ViabilityMetric, e.ViabilityThreshold, e.ViabilityMinChance, e.ViabilityMinSample = "", 0, 0.95, 100
	if v := in.Viability; v != nil {
		e.ViabilityMetric, e.ViabilityThreshold = v.Metric, v.Threshold
		if v.MinChance > 0 {
			e.ViabilityMinChance = v.MinChance
		}
		if v.MinSample > 0 {
			e.ViabilityMinSample = v.MinSample
		}
	}
}

// saveContent stores a draft's variants with their tracked links, and links
// it to key results.
func (s *Service) saveContent(ctx context.Context, tx bun.Tx, e *Experiment, variants []*Variant, keyResultIDs []uuid.UUID) error {
	if len(keyResultIDs) > 0 {
		if err := s.linker.LinkNewExperiment(ctx, tx, e.TeamID, e.ID, keyResultIDs); err != nil {
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
}

// DraftInput returns a draft as the input that would create it, so that a
// change can start from it (PATCH sends only what changes).
func (s *Service) DraftInput(ctx context.Context, teamID, id uuid.UUID) (CreateInput, error) {
	e, err := s.load(ctx, teamID, id)
	if err != nil {
		return CreateInput{}, err
	}
	in := CreateInput{Name: e.Name, Hypothesis: e.Hypothesis, Initiative: e.Initiative, Holdout: e.Holdout, Engine: e.Engine,
		Audience: Audience{Tags: slices.Clone(e.Tags)}, Viability: e.Viability}
	for _, v := range e.Variants {
		w := v.Weight
		in.Variants = append(in.Variants, VariantInput{Name: v.Name, Weight: &w, Control: v.Control, Subject: v.Subject, HTML: v.HTML, Text: v.Text})
	}
	if ws := e.Winner; ws != nil {
		mp, mc := ws.MinPerArm, ws.MinChance
		in.Winner = &WinnerInput{TestShare: ws.TestShare, Wait: ws.Wait, MinPerArm: &mp, MinChance: &mc, Fallback: ws.Fallback}
	}
	return in, nil
}

// UpdateDraft replaces the content and settings of a draft with in
// (validated as on creation; key_result_ids add links). A launched or
// scheduled experiment is read-only: a ConflictError.
func (s *Service) UpdateDraft(ctx context.Context, teamID, id uuid.UUID, in CreateInput) (*Experiment, error) {
	variants, err := in.validate(s.cfg)
	if err != nil {
		return nil, err
	}
	if len(in.KeyResultIDs) > 0 && s.linker == nil {
		return nil, &ValidationError{Fields: map[string]string{"key_result_ids": "key results are not available here"}}
	}
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		e, err := s.lockDraft(ctx, tx, teamID, id, "changed")
		if err != nil {
			return err
		}
		e.apply(in, s.now().UTC())
		if _, err := tx.NewUpdate().Model(e).WherePK().Exec(ctx); err != nil {
			return err
		}
		if err := s.clicks.WithTx(tx).DeleteLinks(ctx, id); err != nil {
			return err
		}
		if _, err := tx.NewDelete().Model((*Variant)(nil)).Where("experiment_id = ?", id).Exec(ctx); err != nil {
			return err
		}
		return s.saveContent(ctx, tx, e, variants, in.KeyResultIDs)
	})
	if err != nil {
		return nil, wrapLifecycle("change", id, err)
	}
	return s.withWarnings(ctx, teamID, id, variants)
}

// DeleteDraft deletes a draft with its variants and key result links. A
// launched or scheduled experiment cannot be deleted (cancel it instead).
func (s *Service) DeleteDraft(ctx context.Context, teamID, id uuid.UUID) error {
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := s.lockDraft(ctx, tx, teamID, id, "deleted"); err != nil {
			return err
		}
		if err := s.clicks.WithTx(tx).DeleteLinks(ctx, id); err != nil {
			return err
		}
		_, err := tx.NewDelete().Model((*Experiment)(nil)).Where("id = ?", id).Exec(ctx)
		return err
	})
	return wrapLifecycle("delete", id, err)
}

// lockDraft reads an experiment of a team for change inside tx, locking its
// row on PostgreSQL (SQLite's write transaction holds the database), and
// refuses anything but a draft.
func (s *Service) lockDraft(ctx context.Context, tx bun.Tx, teamID, id uuid.UUID, verb string) (*Experiment, error) {
	e := new(Experiment)
	q := tx.NewSelect().Model(e).Where("e.id = ?", id).Where("e.team_id = ?", teamID)
	if s.db.Dialect().Name() == dialect.PG {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("experiment %s: %w", id, ErrNotFound)
	} else if err != nil {
		return nil, err
	}
	if e.Status != StatusDraft {
		return nil, &ConflictError{Reason: fmt.Sprintf("the experiment is %s; only a draft can be %s (a launched experiment's content is read-only)", e.Status, verb)}
	}
	return e, nil
}

// withWarnings loads a saved experiment and adds the warnings about its
// variants: attributes that no contact of the team has.
func (s *Service) withWarnings(ctx context.Context, teamID, id uuid.UUID, variants []*Variant) (*Experiment, error) {
	out, err := s.Get(ctx, teamID, id)
	if err != nil {
		return nil, err
	}
	known, err := s.attributeNames(ctx, teamID)
	if err != nil || len(known) == 0 { // no contacts (or none with attributes): nothing to check against
		return out, err
	}
	names := slices.Sorted(maps.Keys(known))
	for i, v := range variants {
		for _, f := range []string{"subject", "html", "text"} {
			for _, a := range v.attrs[f] {
				if known[a] {
					continue
				}
				msg := fmt.Sprintf("no contact has the attribute %q, so it renders empty; the contacts have %s", a, strings.Join(names, ", "))
				if c := closest(a, names); c != "" {
					msg += fmt.Sprintf("; did you mean %q?", c)
				}
				out.Warnings = append(out.Warnings, Warning{Field: fmt.Sprintf("variants[%d].%s", i, f), Message: msg})
			}
		}
	}
	return out, nil
}

// attributeSample is how many of a team's newest contacts attributeNames reads.
const attributeSample = 2000

// attributeNames are the attribute names of a team's contacts, read from its
// newest contacts (imports give every row the same columns, so a sample
// finds them all without reading a large audience).
func (s *Service) attributeNames(ctx context.Context, teamID uuid.UUID) (map[string]bool, error) {
	var rows []Contact
	if err := s.db.NewSelect().Model(&rows).Column("attributes").Where("team_id = ?", teamID).
		OrderExpr("id DESC").Limit(attributeSample).Scan(ctx); err != nil {
		return nil, fmt.Errorf("contact attributes: %w", err)
	}
	out := map[string]bool{}
	for _, c := range rows {
		for k := range c.Attributes {
			out[k] = true
		}
	}
	return out, nil
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
	if e.LaunchedAt != nil {
		e.Assignment = &Assignment{Assigned: e.Assigned, Done: e.AssignDone}
	}
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
	counts, err := deliveryCounts(ctx, s.db, id)
	if err != nil {
		return Progress{}, fmt.Errorf("experiments: progress: %w", err)
	}
	var rows []struct {
		Status string
		N      int
	}
	for _, c := range counts {
		rows = append(rows, struct {
			Status string
			N      int
		}{c.Status, c.N})
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
