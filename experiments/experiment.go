package experiments

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
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

	Audience Audience   `bun:"-" json:"audience"`
	Variants []*Variant `bun:"rel:has-many,join:id=experiment_id" json:"variants"`
	Progress *Progress  `bun:"-" json:"progress"`
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

type link struct {
	bun.BaseModel `bun:"table:links"`

	VariantID    uuid.UUID `bun:"variant_id,pk,type:uuid"`
	Idx          int       `bun:"idx,pk"`
	ExperimentID uuid.UUID `bun:"experiment_id,type:uuid"`
	URL          string    `bun:"url"`
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
		v := &Variant{ID: newID(), Position: i, Name: name, Weight: w, Control: vi.Control,
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
	if err := fe.err(); err != nil {
		return nil, err
	}
	return out, nil
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
	e := &Experiment{ID: newID(), TeamID: teamID, Name: in.Name, Hypothesis: strings.TrimSpace(in.Hypothesis),
		Initiative: strings.TrimSpace(in.Initiative), Status: StatusDraft, Holdout: in.Holdout, Tags: tags,
		CreatedAt: now, UpdatedAt: now, Variants: variants}
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(e).Exec(ctx); err != nil {
			return err
		}
		var links []link
		for _, v := range variants {
			v.ExperimentID = e.ID
			for i, u := range v.Links {
				links = append(links, link{VariantID: v.ID, Idx: i, ExperimentID: e.ID, URL: u})
			}
		}
		if _, err := tx.NewInsert().Model(&variants).Exec(ctx); err != nil {
			return err
		}
		if len(links) > 0 {
			if _, err := tx.NewInsert().Model(&links).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("experiments: create: %w", err)
	}
	return s.Get(ctx, teamID, e.ID)
}

// Get loads one experiment of a team with its variants and send progress.
// Another team's experiment is ErrNotFound.
func (s *Service) Get(ctx context.Context, teamID, id uuid.UUID) (*Experiment, error) {
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
	e.Audience = Audience{Tags: e.Tags}
	if err := s.loadLinks(ctx, e); err != nil {
		return nil, err
	}
	p, err := s.progress(ctx, id)
	if err != nil {
		return nil, err
	}
	e.Progress = &p
	return e, nil
}

func (s *Service) loadLinks(ctx context.Context, e *Experiment) error {
	var links []link
	if err := s.db.NewSelect().Model(&links).Where("experiment_id = ?", e.ID).Order("variant_id", "idx").Scan(ctx); err != nil {
		return fmt.Errorf("experiments: links: %w", err)
	}
	by := map[uuid.UUID][]string{}
	for _, l := range links {
		by[l.VariantID] = append(by[l.VariantID], l.URL)
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
		e.Audience = Audience{Tags: e.Tags}
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
		}
	}
	return p, nil
}
