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
// time, against the team's target mix: target shares of the elective time
// that, where set, add up to 100 %.

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
	// Description says in a line what belongs in the bucket.
	Description string `bun:"description" json:"description"`
}

// allocDefaults are created, in this order, the first time a team's
// categories are used. Targets are shares of the elective time.
var allocDefaults = []CategoryInput{
	{Name: "KTLO", Description: "incidents and fires, on-call, security fixes, customer bugs, routine operations and upkeep"},
	{Name: "New", Elective: true, Target: ptr(0.6), Description: "new product: new capabilities, features and platforms that win new customers or grow existing ones"},
	{Name: "Improve", Elective: true, Target: ptr(0.2), Description: "existing product: customer-requested improvements, performance, scale, reliability, usability"},
	{Name: "Productivity", Elective: true, Target: ptr(0.2), Description: "tooling, tech debt, test automation, automation of toil, faster builds and releases"},
}

func ptr(x float64) *float64 { return &x }

// Limits of a category.
const (
	maxCategoryName        = 40
	maxCategoryDescription = 200
	maxCategories          = 12
)

// Categories lists a team's allocation categories in survey order, creating
// the default set on first use.
func (s *Service) Categories(ctx context.Context, teamID uuid.UUID) ([]Category, error) {
	return s.allocCategories(ctx, teamID)
}

func (s *Service) allocCategories(ctx context.Context, teamID uuid.UUID) ([]Category, error) {
	cats, err := s.st.categories(ctx, teamID)
	if err != nil || len(cats) > 0 {
		return cats, err
	}
	if _, err := s.exps.Team(ctx, teamID); err != nil {
		return nil, err
	}
	rows := make([]Category, 0, len(allocDefaults))
	for i, d := range allocDefaults {
		rows = append(rows, Category{ID: tracking.NewID(), TeamID: teamID, Position: i, Name: d.Name, Elective: d.Elective,
			Target: d.Target, Description: d.Description})
	}
	// Two first uses at once: the second one's rows collide and are dropped.
	if err := s.st.insertCategories(ctx, rows); err != nil {
		return nil, fmt.Errorf("okr: default categories: %w", err)
	}
	return s.st.categories(ctx, teamID)
}

// checkName validates a category name against the team's other categories
// (except the one with id self); names are unique regardless of case.
func checkName(name string, cats []Category, self uuid.UUID) string {
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

func checkDescription(d string) string {
	switch {
	case !utf8.ValidString(d):
		return "must be valid UTF-8"
	case utf8.RuneCountInString(d) > maxCategoryDescription:
		return fmt.Sprintf("must be at most %d characters", maxCategoryDescription)
	case strings.ContainsFunc(d, unicode.IsControl):
		return "must not contain line breaks or other control characters"
	}
	return ""
}

// checkTarget says what is wrong with a target share.
func checkTarget(t *float64, elective bool) string {
	switch {
	case t == nil:
		return ""
	case !elective:
		return "only elective categories have a target share (of the elective time)"
	case math.IsNaN(*t) || *t < 0 || *t > 1:
		return fmt.Sprintf("is %v; a target share of the elective time must be between 0 and 1", *t)
	}
	return ""
}

// checkMix says what is wrong with a team's set of targets: where set, they
// must add up to 100 % of the elective time.
func checkMix(cats []Category) string {
	sum, n := 0.0, 0
	var parts []string
	for _, c := range cats {
		if c.Target != nil {
			sum += *c.Target
			n++
			parts = append(parts, fmt.Sprintf("%s %s", c.Name, pctText(*c.Target)))
		}
	}
	if n > 0 && math.Abs(sum-1) > 1e-6 {
		return fmt.Sprintf("the target shares add up to %s (%s); they must add up to 100 %% of the elective time: set them together with PUT .../allocation-targets",
			pctText(sum), strings.Join(parts, ", "))
	}
	return ""
}

func pctText(x float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", x*100), "0"), ".") + " %"
}

// CategoryInput is a new category as posted.
type CategoryInput struct {
	Name        string   `json:"name"`
	Elective    bool     `json:"elective"`
	Target      *float64 `json:"target"` // share of the elective time, 0 to 1
	Description string   `json:"description"`
}

// AddCategory adds a category at the end of the team's survey. Its target,
// if any, must keep the team's targets adding up to 100 %.
func (s *Service) AddCategory(ctx context.Context, teamID uuid.UUID, in CategoryInput) (Category, error) {
	cats, err := s.allocCategories(ctx, teamID)
	if err != nil {
		return Category{}, err
	}
	c := Category{ID: tracking.NewID(), TeamID: teamID, Name: strings.TrimSpace(in.Name), Elective: in.Elective,
		Description: strings.TrimSpace(in.Description)}
	if in.Target != nil {
		c.Target = ptr(*in.Target)
	}
	fe := map[string]string{}
	if msg := checkName(c.Name, cats, uuid.Nil); msg != "" {
		fe["name"] = msg
	}
	if msg := checkDescription(c.Description); msg != "" {
		fe["description"] = msg
	}
	if msg := checkTarget(c.Target, c.Elective); msg != "" {
		fe["target"] = msg
	} else if msg := checkMix(append(slices.Clone(cats), c)); msg != "" {
		fe["target"] = msg
	}
	if len(cats) >= maxCategories {
		fe["name"] = fmt.Sprintf("a team has at most %d categories", maxCategories)
	}
	if len(fe) > 0 {
		return Category{}, &experiments.ValidationError{Fields: fe}
	}
	for _, x := range cats {
		c.Position = max(c.Position, x.Position+1)
	}
	if err := s.st.insertCategory(ctx, &c); err != nil {
		return Category{}, fmt.Errorf("okr: add category: %w", err)
	}
	return c, nil
}

// CategoryPatch changes a category: each field given replaces the stored
// one; ClearTarget removes the target (a JSON null).
type CategoryPatch struct {
	Name        *string  `json:"name"`
	Target      *float64 `json:"target"`
	Description *string  `json:"description"`
	ClearTarget bool     `json:"-"`
}

// UpdateCategory renames a category, changes its description or its target
// (which must keep the targets adding up to 100 %); answers already given
// keep counting for it.
func (s *Service) UpdateCategory(ctx context.Context, teamID, categoryID uuid.UUID, p CategoryPatch) (Category, error) {
	cats, err := s.allocCategories(ctx, teamID)
	if err != nil {
		return Category{}, err
	}
	i := slices.IndexFunc(cats, func(c Category) bool { return c.ID == categoryID })
	if i < 0 {
		return Category{}, experiments.ErrNotFound
	}
	c := cats[i]
	fe := map[string]string{}
	if p.Name != nil {
		c.Name = strings.TrimSpace(*p.Name)
		if msg := checkName(c.Name, cats, categoryID); msg != "" {
			fe["name"] = msg
		}
	}
	if p.Description != nil {
		c.Description = strings.TrimSpace(*p.Description)
		if msg := checkDescription(c.Description); msg != "" {
			fe["description"] = msg
		}
	}
	if p.Target != nil || p.ClearTarget {
		c.Target = p.Target
		next := slices.Clone(cats)
		next[i] = c
		if msg := checkTarget(c.Target, c.Elective); msg != "" {
			fe["target"] = msg
		} else if msg := checkMix(next); msg != "" {
			fe["target"] = msg
		}
	}
	if len(fe) > 0 {
		return Category{}, &experiments.ValidationError{Fields: fe}
	}
	if err := s.st.updateCategory(ctx, &c); err != nil {
		return Category{}, fmt.Errorf("okr: change category: %w", err)
	}
	return c, nil
}

// SetTargets sets the team's target mix at once: shares of the elective
// time by category name (case-insensitive) or id, adding up to 100 %;
// elective categories left out get no target.
func (s *Service) SetTargets(ctx context.Context, teamID uuid.UUID, targets map[string]float64) ([]Category, error) {
	cats, err := s.allocCategories(ctx, teamID)
	if err != nil {
		return nil, err
	}
	fe := map[string]string{}
	given := map[uuid.UUID]float64{}
	for k, v := range targets {
		i := slices.IndexFunc(cats, func(c Category) bool { return strings.EqualFold(c.Name, k) || c.ID.String() == k })
		if i < 0 {
			fe["targets."+k] = fmt.Sprintf("%q is not a category of this team; the categories are %s", k, allocNames(cats))
			continue
		}
		if msg := checkTarget(&v, cats[i].Elective); msg != "" {
			fe["targets."+cats[i].Name] = msg
			continue
		}
		given[cats[i].ID] = v
	}
	next := slices.Clone(cats)
	for i := range next {
		next[i].Target = nil
		if v, ok := given[next[i].ID]; ok {
			next[i].Target = ptr(v)
		}
	}
	if len(fe) == 0 {
		if len(given) == 0 {
			fe["targets"] = "give the target share of at least one elective category"
		} else if msg := checkMix(next); msg != "" {
			fe["targets"] = strings.Split(msg, ": set them")[0]
		}
	}
	if len(fe) > 0 {
		return nil, &experiments.ValidationError{Fields: fe}
	}
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		st := s.st.with(tx)
		for i := range next {
			if err := st.updateCategory(ctx, &next[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("okr: set targets: %w", err)
	}
	return next, nil
}

func allocNames(cats []Category) string {
	names := make([]string, len(cats))
	for i, c := range cats {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}
