package okr

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"slicelab/experiments"
	"slicelab/tracking"
)

// Time allocation (product.md §9, research-okr.md §3): every week each team
// member splits the week in whole percentages over the team's categories,
// one non-elective "keep the lights on" bucket (KTLO) and elective buckets
// (New, Improve, Productivity by default). The report gives the KTLO share
// of the whole and each elective bucket's share of the elective (non-KTLO)
// time, against the team's target mix.

// Category is one bucket of a team's time-allocation survey.
type Category struct {
	bun.BaseModel `bun:"table:allocation_categories"`

	ID       uuid.UUID `bun:"id,pk,type:uuid" json:"id"`
	TeamID   uuid.UUID `bun:"team_id,type:uuid" json:"-"`
	Position int       `bun:"position" json:"position"`
	Name     string    `bun:"name" json:"name"`
	Elective bool      `bun:"elective" json:"elective"`
	// Target is the category's target share of the elective time (elective
	// categories only; nil when none is set).
	Target *float64 `bun:"target_share" json:"target"`
	// Description says what belongs in the bucket (the default categories
	// only: the table has no column for it yet).
	Description string `bun:"-" json:"description,omitempty"`
}

// allocDefault is one of the categories every team starts with.
type allocDefault struct {
	name        string
	elective    bool
	target      float64
	description string
}

// allocDefaults are created, in this order (positions 0 to 3), the first
// time a team's categories are used. Targets are shares of the elective time.
var allocDefaults = []allocDefault{
	{name: "KTLO", description: "incidents and fires, on-call, security fixes, customer bugs, routine operations and upkeep"},
	{name: "New", elective: true, target: 0.6, description: "new product: new capabilities, features and platforms that win new customers or grow existing ones"},
	{name: "Improve", elective: true, target: 0.2, description: "existing product: customer-requested improvements, performance, scale, reliability, usability"},
	{name: "Productivity", elective: true, target: 0.2, description: "tooling, tech debt, test automation, automation of toil, faster builds and releases"},
}

// allocDescription is the description of a default category, kept across
// renames (the bucket stays the same); added categories have none.
func allocDescription(c Category) string {
	if c.Position >= 0 && c.Position < len(allocDefaults) && allocDefaults[c.Position].elective == c.Elective {
		return allocDefaults[c.Position].description
	}
	return ""
}

// maxCategoryName bounds a category's name, in characters.
const maxCategoryName = 40

// Categories lists a team's allocation categories in survey order, creating
// the default set on first use.
func (s *Service) Categories(ctx context.Context, teamID uuid.UUID) ([]Category, error) {
	return s.allocCategories(ctx, teamID)
}

func (s *Service) allocCategories(ctx context.Context, teamID uuid.UUID) ([]Category, error) {
	cats, err := s.allocLoadCategories(ctx, teamID)
	if err != nil || len(cats) > 0 {
		return cats, err
	}
	if _, err := s.exps.Team(ctx, teamID); err != nil {
		return nil, err
	}
	rows := make([]Category, 0, len(allocDefaults))
	for i, d := range allocDefaults {
		c := Category{ID: tracking.NewID(), TeamID: teamID, Position: i, Name: d.name, Elective: d.elective}
		if d.elective {
			c.Target = &d.target
		}
		rows = append(rows, c)
	}
	// Two first uses at once: the second one's rows collide and are dropped.
	if err := s.st.insertCategories(ctx, rows); err != nil {
		return nil, fmt.Errorf("okr: default categories: %w", err)
	}
	return s.allocLoadCategories(ctx, teamID)
}

func (s *Service) allocLoadCategories(ctx context.Context, teamID uuid.UUID) ([]Category, error) {
	cats, err := s.st.categories(ctx, teamID)
	if err != nil {
		return nil, fmt.Errorf("okr: categories: %w", err)
	}
	for i := range cats {
		cats[i].Description = allocDescription(cats[i])
	}
	return cats, nil
}

// allocCheckName validates a category name against the team's other
// categories (except the one with id self); names are unique regardless of case.
func allocCheckName(name string, cats []Category, self uuid.UUID) string {
	switch {
	case name == "":
		return "must not be empty"
	case !utf8.ValidString(name):
		return "must be valid UTF-8"
	case utf8.RuneCountInString(name) > maxCategoryName:
		return fmt.Sprintf("must be at most %d characters", maxCategoryName)
	case strings.ContainsFunc(name, unicode.IsControl):
		return "must not contain line breaks or other control characters"
	}
	if _, err := uuid.Parse(name); err == nil {
		return "must not look like a category id"
	}
	for _, c := range cats {
		if c.ID != self && strings.EqualFold(c.Name, name) {
			return fmt.Sprintf("the team already has a category named %q", c.Name)
		}
	}
	return ""
}

// AddCategory adds a category at the end of the team's survey. A target
// (share of the elective time, 0 to 1) is only for elective categories.
func (s *Service) AddCategory(ctx context.Context, teamID uuid.UUID, name string, elective bool, target *float64) (Category, error) {
	cats, err := s.allocCategories(ctx, teamID)
	if err != nil {
		return Category{}, err
	}
	name = strings.TrimSpace(name)
	fe := map[string]string{}
	if msg := allocCheckName(name, cats, uuid.Nil); msg != "" {
		fe["name"] = msg
	}
	if target != nil {
		switch {
		case !elective:
			fe["target"] = "only elective categories have a target share (of the elective time)"
		case math.IsNaN(*target) || *target < 0 || *target > 1:
			fe["target"] = fmt.Sprintf("is %v; a target share of the elective time must be between 0 and 1", *target)
		}
	}
	if len(fe) > 0 {
		return Category{}, &experiments.ValidationError{Fields: fe}
	}
	pos := 0
	for _, c := range cats {
		pos = max(pos, c.Position+1)
	}
	c := Category{ID: tracking.NewID(), TeamID: teamID, Position: pos, Name: name, Elective: elective}
	if target != nil {
		t := *target
		c.Target = &t
	}
	if err := s.st.insertCategory(ctx, &c); err != nil {
		return Category{}, fmt.Errorf("okr: add category: %w", err)
	}
	c.Description = allocDescription(c)
	return c, nil
}

// RenameCategory gives one of the team's categories a new name; answers
// already given keep counting for it.
func (s *Service) RenameCategory(ctx context.Context, teamID, categoryID uuid.UUID, name string) (Category, error) {
	cats, err := s.allocCategories(ctx, teamID)
	if err != nil {
		return Category{}, err
	}
	i := slices.IndexFunc(cats, func(c Category) bool { return c.ID == categoryID })
	if i < 0 {
		return Category{}, experiments.ErrNotFound
	}
	name = strings.TrimSpace(name)
	if msg := allocCheckName(name, cats, categoryID); msg != "" {
		return Category{}, invalid("name", "%s", msg)
	}
	c := cats[i]
	c.Name = name
	if err := s.st.renameCategory(ctx, &c); err != nil {
		return Category{}, fmt.Errorf("okr: rename category: %w", err)
	}
	return c, nil
}
