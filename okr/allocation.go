package okr

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"math"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/uptrace/bun"

	"slicelab/experiments"
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
	exists, err := s.db.NewSelect().Table("teams").Where("id = ?", teamID).Exists(ctx)
	if err != nil {
		return nil, fmt.Errorf("okr: categories: %w", err)
	}
	if !exists {
		return nil, experiments.ErrNotFound
	}
	rows := make([]Category, 0, len(allocDefaults))
	for i, d := range allocDefaults {
		c := Category{ID: newID(), TeamID: teamID, Position: i, Name: d.name, Elective: d.elective}
		if d.elective {
			c.Target = &d.target
		}
		rows = append(rows, c)
	}
	// Two first uses at once: the second one's rows collide and are dropped.
	if _, err := s.db.NewInsert().Model(&rows).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
		return nil, fmt.Errorf("okr: default categories: %w", err)
	}
	return s.allocLoadCategories(ctx, teamID)
}

func (s *Service) allocLoadCategories(ctx context.Context, teamID uuid.UUID) ([]Category, error) {
	cats := []Category{}
	if err := s.db.NewSelect().Model(&cats).Where("team_id = ?", teamID).Order("position", "name").Scan(ctx); err != nil {
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
	c := Category{ID: newID(), TeamID: teamID, Position: pos, Name: name, Elective: elective}
	if target != nil {
		t := *target
		c.Target = &t
	}
	if _, err := s.db.NewInsert().Model(&c).Exec(ctx); err != nil {
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
	if _, err := s.db.NewUpdate().Model(&c).Column("name").WherePK().Where("team_id = ?", teamID).Exec(ctx); err != nil {
		return Category{}, fmt.Errorf("okr: rename category: %w", err)
	}
	return c, nil
}

// allocResponse is a stored answer of one member for one week.
type allocResponse struct {
	bun.BaseModel `bun:"table:allocation_responses"`

	ID        uuid.UUID `bun:"id,pk,type:uuid"`
	TeamID    uuid.UUID `bun:"team_id,type:uuid"`
	MemberID  uuid.UUID `bun:"member_id,type:uuid"`
	Week      string    `bun:"week"`
	CreatedAt time.Time `bun:"created_at"`
	UpdatedAt time.Time `bun:"updated_at"`
}

// allocShare is one category's percentage in an answer.
type allocShare struct {
	bun.BaseModel `bun:"table:allocation_shares"`

	ResponseID uuid.UUID `bun:"response_id,pk,type:uuid"`
	CategoryID uuid.UUID `bun:"category_id,pk,type:uuid"`
	Percent    int       `bun:"percent"`
}

// AllocationResponse is one member's split of one week.
type AllocationResponse struct {
	ID       uuid.UUID `json:"id"`
	MemberID uuid.UUID `json:"member_id"`
	Week     string    `json:"week"`
	// Shares are whole percentages by category name, adding up to 100.
	Shares map[string]int `json:"shares"`
	// ByCategory holds the same percentages by category id.
	ByCategory map[uuid.UUID]int `json:"-"`
	// Replaced tells that an earlier answer for the week was replaced.
	Replaced  bool      `json:"replaced"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// AllocationInput is an answer as posted to the API.
type AllocationInput struct {
	MemberID string         `json:"member_id"`
	Week     string         `json:"week"`
	Shares   map[string]int `json:"shares"`
}

// RecordAllocation stores an answer given through the API; see SubmitAllocation.
func (s *Service) RecordAllocation(ctx context.Context, teamID uuid.UUID, in AllocationInput) (AllocationResponse, error) {
	fe := map[string]string{}
	var week Week
	if strings.TrimSpace(in.Week) == "" {
		fe["week"] = "is required, e.g. \"2026-W48\""
	} else if w, err := ParseWeek(in.Week); err != nil {
		fe["week"] = strings.TrimPrefix(err.Error(), "okr: ")
	} else {
		week = w
	}
	var memberID uuid.UUID
	if strings.TrimSpace(in.MemberID) == "" {
		fe["member_id"] = "is required"
	} else if id, err := uuid.Parse(strings.TrimSpace(in.MemberID)); err != nil {
		fe["member_id"] = fmt.Sprintf("%q is not a member id", in.MemberID)
	} else {
		memberID = id
	}
	return s.submitAllocation(ctx, teamID, memberID, week, in.Shares, fe)
}

// SubmitAllocation stores a member's split of a week. shares are whole
// percentages (0 to 100) keyed by category name (case-insensitive) or id;
// categories left out count as 0; together they must add up to exactly 100.
// The week must not lie in the future in the team's time zone. A bad answer
// stores nothing (a ValidationError names the fields, e.g. "shares.KTLO");
// answering a week again replaces the earlier answer.
func (s *Service) SubmitAllocation(ctx context.Context, teamID, memberID uuid.UUID, week Week, shares map[string]int) (AllocationResponse, error) {
	return s.submitAllocation(ctx, teamID, memberID, week, shares, map[string]string{})
}

func (s *Service) submitAllocation(ctx context.Context, teamID, memberID uuid.UUID, week Week, shares map[string]int, fe map[string]string) (AllocationResponse, error) {
	if _, bad := fe["week"]; !bad {
		if !allocValidWeek(week) {
			fe["week"] = fmt.Sprintf("%s is not an ISO week; expected %s", week, weekForm)
		} else {
			loc, err := s.Location(ctx, teamID)
			if err != nil {
				return AllocationResponse{}, err
			}
			if cur := WeekOf(s.now(), loc); cur.Before(week) {
				fe["week"] = fmt.Sprintf("%s has not started yet (the current week is %s); a week can be answered from its start on", week, cur)
			}
		}
	}
	if _, bad := fe["member_id"]; !bad {
		if _, err := s.Member(ctx, teamID, memberID); errors.Is(err, experiments.ErrNotFound) {
			fe["member_id"] = "is not a member of this team"
		} else if err != nil {
			return AllocationResponse{}, fmt.Errorf("okr: allocation member: %w", err)
		}
	}
	cats, err := s.allocCategories(ctx, teamID)
	if err != nil {
		return AllocationResponse{}, err
	}
	byKey := map[string]*Category{}
	for i := range cats {
		byKey[strings.ToLower(cats[i].Name)] = &cats[i]
		byKey[cats[i].ID.String()] = &cats[i]
	}
	given := map[uuid.UUID]int{}
	shareErr := false
	for _, k := range slices.Sorted(maps.Keys(shares)) {
		v := shares[k]
		c := byKey[strings.ToLower(strings.TrimSpace(k))]
		if c == nil {
			fe["shares."+k] = fmt.Sprintf("%q is not a category of this team; the categories are %s", k, allocNames(cats))
			shareErr = true
			continue
		}
		field := "shares." + c.Name
		if _, dup := given[c.ID]; dup {
			fe[field] = "is given twice (by name and by id)"
			shareErr = true
			continue
		}
		given[c.ID] = v
		if v < 0 || v > 100 {
			fe[field] = fmt.Sprintf("is %d; each share must be a whole percentage from 0 to 100", v)
			shareErr = true
		}
	}
	if !shareErr {
		sum := 0
		for _, v := range given {
			sum += v
		}
		if sum != 100 {
			fe["shares"] = fmt.Sprintf("the shares add up to %d; they must add up to 100", sum)
		}
	}
	if len(fe) > 0 {
		return AllocationResponse{}, &experiments.ValidationError{Fields: fe}
	}

	now := s.now().UTC()
	r := allocResponse{ID: newID(), TeamID: teamID, MemberID: memberID, Week: week.String(), CreatedAt: now, UpdatedAt: now}
	fresh := r.ID
	rows := make([]allocShare, 0, len(cats))
	out := AllocationResponse{MemberID: memberID, Week: r.Week, Shares: map[string]int{}, ByCategory: map[uuid.UUID]int{}, UpdatedAt: now}
	for _, c := range cats {
		v := given[c.ID]
		out.Shares[c.Name], out.ByCategory[c.ID] = v, v
	}
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		// One answer per member and week: a second one takes over the row
		// (and keeps its id and creation time), under the row's lock.
		if _, err := tx.NewInsert().Model(&r).On("CONFLICT (member_id, week) DO UPDATE").
			Set("updated_at = EXCLUDED.updated_at").Returning("id, created_at").Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.NewDelete().Model((*allocShare)(nil)).Where("response_id = ?", r.ID).Exec(ctx); err != nil {
			return err
		}
		for _, c := range cats {
			rows = append(rows, allocShare{ResponseID: r.ID, CategoryID: c.ID, Percent: given[c.ID]})
		}
		_, err := tx.NewInsert().Model(&rows).Exec(ctx)
		return err
	})
	if err != nil {
		return AllocationResponse{}, fmt.Errorf("okr: allocation: %w", err)
	}
	out.ID, out.CreatedAt, out.Replaced = r.ID, r.CreatedAt.UTC(), r.ID != fresh
	return out, nil
}

// AllocationOf returns the member's latest answer for week or an earlier
// week (nil when there is none), to pre-fill the survey.
func (s *Service) AllocationOf(ctx context.Context, teamID, memberID uuid.UUID, week Week) (*AllocationResponse, error) {
	var r allocResponse
	err := s.db.NewSelect().Model(&r).Where("team_id = ?", teamID).Where("member_id = ?", memberID).
		Where("week <= ?", week.String()).Order("week DESC").Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("okr: allocation: %w", err)
	}
	cats, err := s.allocCategories(ctx, teamID)
	if err != nil {
		return nil, err
	}
	var rows []allocShare
	if err := s.db.NewSelect().Model(&rows).Where("response_id = ?", r.ID).Scan(ctx); err != nil {
		return nil, fmt.Errorf("okr: allocation: %w", err)
	}
	pct := map[uuid.UUID]int{}
	for _, x := range rows {
		pct[x.CategoryID] = x.Percent
	}
	out := &AllocationResponse{ID: r.ID, MemberID: r.MemberID, Week: r.Week, Shares: map[string]int{}, ByCategory: map[uuid.UUID]int{},
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	for _, c := range cats {
		out.Shares[c.Name], out.ByCategory[c.ID] = pct[c.ID], pct[c.ID]
	}
	return out, nil
}

// Allocation is the team's time-allocation report of one week (product.md §9).
type Allocation struct {
	Week      string `json:"week"`
	Responses int    `json:"responses"`
	// Members counts who was a member by the end of the week (and anyone who answered).
	Members int `json:"members"`
	// ResponseRate is Responses / Members (null without members).
	ResponseRate *float64 `json:"response_rate"`
	// KTLOShare is the non-elective share of the whole time (null without responses).
	KTLOShare  *float64         `json:"ktlo_share"`
	Categories []CategoryReport `json:"categories"`
	// Trend is the 12 weeks before Week, oldest first.
	Trend []AllocationWeek `json:"trend"`
}

// CategoryReport is one category in the report.
type CategoryReport struct {
	ID       uuid.UUID `json:"id"`
	Name     string    `json:"name"`
	Elective bool      `json:"elective"`
	// Share is the mean of the responses' percentages / 100: the category's
	// share of the whole time (null without responses).
	Share *float64 `json:"share"`
	// ElectiveShare is Share / (1 − KTLO share) for elective categories: the
	// share of the elective time (null for KTLO and when there was no elective time).
	ElectiveShare *float64 `json:"elective_share"`
	// Target is the target share of the elective time.
	Target *float64 `json:"target"`
}

// AllocationWeek is one point of the trend.
type AllocationWeek struct {
	Week      string   `json:"week"`
	KTLOShare *float64 `json:"ktlo_share"`
	Responses int      `json:"responses"`
}

// allocTrendWeeks is how many weeks before the reported one the trend shows.
const allocTrendWeeks = 12

// AllocationReport computes the report of one week: response rate, KTLO
// share of the whole, each category's share, the elective categories'
// shares of the elective time against their targets, and the KTLO trend of
// the 12 weeks before.
func (s *Service) AllocationReport(ctx context.Context, teamID uuid.UUID, week Week) (Allocation, error) {
	if !allocValidWeek(week) {
		return Allocation{}, invalid("week", "%s is not an ISO week; expected %s", week, weekForm)
	}
	loc, err := s.Location(ctx, teamID)
	if err != nil {
		return Allocation{}, err
	}
	cats, err := s.allocCategories(ctx, teamID)
	if err != nil {
		return Allocation{}, err
	}
	weeks := make([]string, allocTrendWeeks+1) // oldest first, the reported week last
	w := week
	for i := allocTrendWeeks; i >= 0; i-- {
		weeks[i] = w.String()
		w = w.Prev()
	}
	var rows []struct {
		Week       string    `bun:"week"`
		ResponseID uuid.UUID `bun:"response_id,type:uuid"`
		MemberID   uuid.UUID `bun:"member_id,type:uuid"`
		CategoryID uuid.UUID `bun:"category_id,type:uuid"`
		Percent    int       `bun:"percent"`
	}
	if err := s.db.NewSelect().TableExpr("allocation_responses AS r").
		Join("JOIN allocation_shares AS sh ON sh.response_id = r.id").
		ColumnExpr("r.week, r.id AS response_id, r.member_id, sh.category_id, sh.percent").
		Where("r.team_id = ?", teamID).Where("r.week IN (?)", bun.In(weeks)).Scan(ctx, &rows); err != nil {
		return Allocation{}, fmt.Errorf("okr: allocation report: %w", err)
	}
	elective := map[uuid.UUID]bool{}
	for _, c := range cats {
		elective[c.ID] = c.Elective
	}
	type weekSums struct {
		responses map[uuid.UUID]bool
		members   map[uuid.UUID]bool
		ktlo      int
		byCat     map[uuid.UUID]int
	}
	sums := map[string]*weekSums{}
	for _, wk := range weeks {
		sums[wk] = &weekSums{responses: map[uuid.UUID]bool{}, members: map[uuid.UUID]bool{}, byCat: map[uuid.UUID]int{}}
	}
	for _, r := range rows {
		ws := sums[r.Week]
		ws.responses[r.ResponseID] = true
		ws.members[r.MemberID] = true
		ws.byCat[r.CategoryID] += r.Percent
		if !elective[r.CategoryID] {
			ws.ktlo += r.Percent
		}
	}
	ratio := func(a, b int) *float64 {
		if b == 0 {
			return nil
		}
		x := float64(a) / float64(b)
		return &x
	}
	cur := sums[week.String()]
	n := len(cur.responses)
	out := Allocation{Week: week.String(), Responses: n, KTLOShare: ratio(cur.ktlo, 100*n), Categories: []CategoryReport{}, Trend: []AllocationWeek{}}
	members, err := s.Members(ctx, teamID)
	if err != nil {
		return Allocation{}, err
	}
	_, end := week.Range(loc)
	for _, m := range members {
		if m.CreatedAt.Before(end) || cur.members[m.ID] {
			out.Members++
		}
	}
	out.ResponseRate = ratio(n, out.Members)
	for _, c := range cats {
		cr := CategoryReport{ID: c.ID, Name: c.Name, Elective: c.Elective, Share: ratio(cur.byCat[c.ID], 100*n), Target: c.Target}
		if c.Elective {
			cr.ElectiveShare = ratio(cur.byCat[c.ID], 100*n-cur.ktlo)
		}
		out.Categories = append(out.Categories, cr)
	}
	for _, wk := range weeks[:allocTrendWeeks] {
		ws := sums[wk]
		out.Trend = append(out.Trend, AllocationWeek{Week: wk, KTLOShare: ratio(ws.ktlo, 100*len(ws.responses)), Responses: len(ws.responses)})
	}
	return out, nil
}

func allocValidWeek(w Week) bool {
	return w.Year >= 1 && w.Year <= 9999 && w.Num >= 1 && w.Num <= WeeksInYear(w.Year)
}

func allocNames(cats []Category) string {
	names := make([]string, len(cats))
	for i, c := range cats {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

// ---- Signed survey links ----

// SurveySigner signs and opens survey links: a token names one member and
// one week and is sealed with HMAC-SHA256 under a key derived from the
// service secret, so a link answers for its member only and cannot be
// forged or altered.
type SurveySigner struct{ key []byte }

// surveyKeyLabel separates the survey key from other uses of the secret.
const surveyKeyLabel = "slicelab/okr/allocation-survey/v1"

// Token layout: version (1) | member id (16) | ISO year (2) | week (1) | MAC (16).
const (
	surveyVersion  = 1
	surveyBodyLen  = 1 + 16 + 2 + 1
	surveyMACLen   = 16
	surveyTokenLen = surveyBodyLen + surveyMACLen
)

// NewSurveySigner derives the survey key from the service secret.
func NewSurveySigner(secret []byte) *SurveySigner {
	if len(secret) == 0 {
		panic("okr: the survey signer needs a secret")
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(surveyKeyLabel))
	return &SurveySigner{key: m.Sum(nil)}
}

func (g *SurveySigner) mac(body []byte) []byte {
	m := hmac.New(sha256.New, g.key)
	m.Write(body)
	return m.Sum(nil)[:surveyMACLen]
}

// Token returns the URL-safe token (base64url) of a member's survey for a week.
func (g *SurveySigner) Token(memberID uuid.UUID, week Week) string {
	b := make([]byte, surveyBodyLen, surveyTokenLen)
	b[0] = surveyVersion
	copy(b[1:17], memberID[:])
	binary.BigEndian.PutUint16(b[17:19], uint16(week.Year))
	b[19] = byte(week.Num)
	b = append(b, g.mac(b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Open checks a token and returns its member and week; anything altered,
// cut short or signed with another secret is experiments.ErrNotFound.
func (g *SurveySigner) Open(tok string) (uuid.UUID, Week, error) {
	if len(tok) != base64.RawURLEncoding.EncodedLen(surveyTokenLen) {
		return uuid.Nil, Week{}, experiments.ErrNotFound
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	if err != nil || len(b) != surveyTokenLen || b[0] != surveyVersion {
		return uuid.Nil, Week{}, experiments.ErrNotFound
	}
	if !hmac.Equal(b[surveyBodyLen:], g.mac(b[:surveyBodyLen])) {
		return uuid.Nil, Week{}, experiments.ErrNotFound
	}
	var id uuid.UUID
	copy(id[:], b[1:17])
	w := Week{Year: int(binary.BigEndian.Uint16(b[17:19])), Num: int(b[19])}
	if !allocValidWeek(w) {
		return uuid.Nil, Week{}, experiments.ErrNotFound
	}
	return id, w, nil
}

// surveySigners holds the signer of each Service (set by WithSecret); the
// Service struct is kept as it is.
// errNoSurveySecret is a set-up mistake, not a bad link.
var errNoSurveySecret = errors.New("okr: survey links need a secret: call Service.WithSecret at start-up")

// WithSecret gives the service the secret (SLICELAB_SECRET) that signs
// survey links, and returns the service.
func (s *Service) WithSecret(secret []byte) *Service {
	s.survey = NewSurveySigner(secret)
	return s
}

func (s *Service) surveySigner() *SurveySigner { return s.survey }

// SurveyToken returns the token of a member's survey link for a week. It
// panics when WithSecret was not called.
func (s *Service) SurveyToken(memberID uuid.UUID, week Week) string {
	g := s.surveySigner()
	if g == nil {
		panic(errNoSurveySecret)
	}
	return g.Token(memberID, week)
}

// OpenSurveyToken checks a survey token; tampered and foreign tokens are
// experiments.ErrNotFound.
func (s *Service) OpenSurveyToken(tok string) (memberID uuid.UUID, week Week, err error) {
	g := s.surveySigner()
	if g == nil {
		return uuid.Nil, Week{}, errNoSurveySecret
	}
	return g.Open(tok)
}

// SurveyForm is what the survey page shows for a link.
type SurveyForm struct {
	Member     Member
	TeamName   string
	Week       Week
	Categories []Category
	// Previous is the member's answer for Week or, failing that, their
	// latest earlier answer (nil when none), to pre-fill the form.
	Previous *AllocationResponse
}

// OpenSurvey resolves a survey link: the member (who must still be a
// member), the week and the team's categories.
func (s *Service) OpenSurvey(ctx context.Context, tok string) (*SurveyForm, error) {
	memberID, week, err := s.OpenSurveyToken(tok)
	if err != nil {
		return nil, err
	}
	var m Member
	err = s.db.NewSelect().Model(&m).Where("id = ?", memberID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, experiments.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("okr: survey member: %w", err)
	}
	var team experiments.Team
	if err := s.db.NewSelect().Model(&team).Where("id = ?", m.TeamID).Scan(ctx); err != nil {
		return nil, fmt.Errorf("okr: survey team: %w", err)
	}
	cats, err := s.allocCategories(ctx, m.TeamID)
	if err != nil {
		return nil, err
	}
	prev, err := s.AllocationOf(ctx, m.TeamID, m.ID, week)
	if err != nil {
		return nil, err
	}
	return &SurveyForm{Member: m, TeamName: team.Name, Week: week, Categories: cats, Previous: prev}, nil
}

// SubmitSurvey stores the answer given through a survey link: the member
// and the week come from the token only.
func (s *Service) SubmitSurvey(ctx context.Context, tok string, shares map[string]int) (AllocationResponse, error) {
	memberID, week, err := s.OpenSurveyToken(tok)
	if err != nil {
		return AllocationResponse{}, err
	}
	var m Member
	err = s.db.NewSelect().Model(&m).Where("id = ?", memberID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return AllocationResponse{}, experiments.ErrNotFound
	}
	if err != nil {
		return AllocationResponse{}, fmt.Errorf("okr: survey member: %w", err)
	}
	return s.SubmitAllocation(ctx, m.TeamID, m.ID, week, shares)
}

// ---- Friday survey emails ----

// SurveyReminderArgs is the River job that emails every member of every team
// a link to the survey of the week. Week ("2026-W48") names the week the job
// is for and makes it unique (River's unique insert by arguments), so a
// week's emails are sent once however often the job is inserted; without a
// Week each team's current week is used.
type SurveyReminderArgs struct {
	Week string `json:"week,omitempty"`
}

// Kind is River's name for the job.
func (SurveyReminderArgs) Kind() string { return "allocation_survey_emails" }

// InsertOpts makes the job unique by its arguments (the week).
func (SurveyReminderArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 8, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// SurveyPeriodicSchedule fires on Fridays at 09:00 UTC.
func SurveyPeriodicSchedule() river.PeriodicSchedule { return WeeklyAt{Day: time.Friday, Hour: 9} }

// SurveyPeriodicJob is the Friday job, with the week (ISO week in UTC at
// the time it fires, which is the same week in every time zone on a Friday
// morning UTC) in its arguments.
func (s *Service) SurveyPeriodicJob() *river.PeriodicJob {
	return river.NewPeriodicJob(SurveyPeriodicSchedule(), func() (river.JobArgs, *river.InsertOpts) {
		return SurveyReminderArgs{Week: WeekOf(s.now(), time.UTC).String()}, nil
	}, &river.PeriodicJobOpts{ID: "allocation_survey_emails"})
}

// SurveyMailer is the River worker of SurveyReminderArgs.
type SurveyMailer struct {
	river.WorkerDefaults[SurveyReminderArgs]

	svc     *Service
	mailer  experiments.Mailer
	from    string
	baseURL string
}

// NewSurveyMailer builds the worker; from is the From address and baseURL
// the service's absolute URL (links are baseURL/survey/TOKEN). The service
// needs WithSecret.
func NewSurveyMailer(svc *Service, mailer experiments.Mailer, from, baseURL string) *SurveyMailer {
	return &SurveyMailer{svc: svc, mailer: mailer, from: from, baseURL: strings.TrimRight(baseURL, "/")}
}

// Timeout leaves time for large teams over slow mail servers.
func (m *SurveyMailer) Timeout(*river.Job[SurveyReminderArgs]) time.Duration { return 30 * time.Minute }

// surveyProgress is what a run has done so far; it is kept in the job's
// recorded output, which River saves on success and on error alike, so a
// retry does not email anyone twice.
type surveyProgress struct {
	Sent   []uuid.UUID          `json:"sent"`
	Failed map[uuid.UUID]string `json:"failed,omitempty"`
}

// Work emails each member of each team the link to the survey of the week
// (the job's week, or the team's current week if that is earlier). Members
// already emailed by an earlier attempt of the job are skipped; a member
// whose address the mail server refuses for good is recorded and skipped;
// a temporary failure stops the run, which River retries later.
func (m *SurveyMailer) Work(ctx context.Context, job *river.Job[SurveyReminderArgs]) error {
	if m.svc.surveySigner() == nil {
		return errNoSurveySecret
	}
	var jobWeek *Week
	if job.Args.Week != "" {
		w, err := ParseWeek(job.Args.Week)
		if err != nil {
			return river.JobCancel(err)
		}
		jobWeek = &w
	}
	prog := surveyProgress{Failed: map[uuid.UUID]string{}}
	if job.JobRow != nil && len(job.Metadata) > 0 {
		var md map[string]json.RawMessage
		if json.Unmarshal(job.Metadata, &md) == nil && len(md[rivertype.MetadataKeyOutput]) > 0 {
			_ = json.Unmarshal(md[rivertype.MetadataKeyOutput], &prog)
			if prog.Failed == nil {
				prog.Failed = map[uuid.UUID]string{}
			}
		}
	}
	done := map[uuid.UUID]bool{}
	for _, id := range prog.Sent {
		done[id] = true
	}
	for id := range prog.Failed {
		done[id] = true
	}
	record := func() { _ = river.RecordOutput(ctx, prog) } // fails only outside a River worker (direct calls)

	var teams []experiments.Team
	if err := m.svc.db.NewSelect().Model(&teams).Order("slug").Scan(ctx); err != nil {
		return fmt.Errorf("okr: survey emails: %w", err)
	}
	var sess experiments.MailSession
	defer func() {
		if sess != nil {
			sess.Close()
		}
	}()
	for _, t := range teams {
		members, err := m.svc.Members(ctx, t.ID)
		if err != nil || len(members) == 0 {
			if err != nil {
				return err
			}
			continue
		}
		loc, err := m.svc.Location(ctx, t.ID)
		if err != nil {
			return err
		}
		week := WeekOf(m.svc.now(), loc)
		if jobWeek != nil && jobWeek.Before(week) {
			week = *jobWeek
		}
		cats, err := m.svc.allocCategories(ctx, t.ID)
		if err != nil {
			return err
		}
		for _, mem := range members {
			if done[mem.ID] {
				continue
			}
			msg, err := m.message(t, mem, week, cats)
			if err != nil {
				return err
			}
			if sess == nil {
				if sess, err = m.mailer.Open(ctx); err != nil {
					sess = nil
					record()
					return fmt.Errorf("okr: survey emails: %w", err)
				}
			}
			if err := sess.Send(ctx, msg); err != nil {
				var se *experiments.SendError
				if errors.As(err, &se) && !se.Temporary {
					prog.Failed[mem.ID] = se.Error()
					done[mem.ID] = true
					record()
					continue
				}
				record()
				return fmt.Errorf("okr: survey email to %s: %w", mem.Email, err)
			}
			prog.Sent = append(prog.Sent, mem.ID)
			done[mem.ID] = true
			record()
		}
	}
	return nil
}

// SurveyURL is the absolute link to a member's survey of a week.
func (m *SurveyMailer) SurveyURL(memberID uuid.UUID, week Week) string {
	return m.baseURL + "/survey/" + m.svc.SurveyToken(memberID, week)
}

// WeekDates describes a week's days, e.g. "Monday 23 to Sunday 29 November 2026".
func WeekDates(w Week) string {
	mon := w.Start(time.UTC)
	sun := mon.AddDate(0, 0, 6)
	switch {
	case mon.Year() != sun.Year():
		return mon.Format("Monday 2 January 2006") + " to " + sun.Format("Sunday 2 January 2006")
	case mon.Month() != sun.Month():
		return mon.Format("Monday 2 January") + " to " + sun.Format("Sunday 2 January 2006")
	}
	return mon.Format("Monday 2") + " to " + sun.Format("Sunday 2 January 2006")
}

func (m *SurveyMailer) message(t experiments.Team, mem Member, week Week, cats []Category) (experiments.Message, error) {
	link := m.SurveyURL(mem.ID, week)
	name := mem.Name
	if name == "" {
		name = mem.Email
	}
	var text strings.Builder
	fmt.Fprintf(&text, "Hi %s,\n\nhow did you spend this week (%s, %s)? Split it across the categories below in whole percentages that add up to 100; it takes about a minute:\n\n%s\n\n",
		name, week, WeekDates(week), link)
	for _, c := range cats {
		if c.Description != "" {
			fmt.Fprintf(&text, "- %s: %s\n", c.Name, c.Description)
		} else {
			fmt.Fprintf(&text, "- %s\n", c.Name)
		}
	}
	fmt.Fprintf(&text, "\nThe link is yours alone: it answers for you only. Answering again replaces your answer.\n\n%s\n", t.Name)
	var html strings.Builder
	if err := surveyEmailHTML.Execute(&html, map[string]any{
		"Name": name, "Week": week.String(), "Dates": WeekDates(week), "Link": link, "Categories": cats, "Team": t.Name,
	}); err != nil {
		return experiments.Message{}, err
	}
	domain := "localhost"
	if a, err := mail.ParseAddress(m.from); err == nil {
		domain = a.Address[strings.LastIndexByte(a.Address, '@')+1:]
	}
	return experiments.Message{
		DeliveryID: newID(), MessageID: "survey-" + newID().String() + "@" + domain,
		From: m.from, To: mem.Email, ToName: mem.Name,
		Subject: fmt.Sprintf("How did you spend %s? Time allocation survey of %s", week, t.Name),
		Text:    text.String(), HTML: html.String(),
	}, nil
}

var surveyEmailHTML = template.Must(template.New("survey").Parse(`<p>Hi {{.Name}},</p>
<p>how did you spend this week ({{.Week}}, {{.Dates}})? Split it across the categories below in whole percentages that add up to 100; it takes about a minute.</p>
<p><a href="{{.Link}}">Answer the survey for {{.Week}}</a></p>
<ul>{{range .Categories}}<li><strong>{{.Name}}</strong>{{if .Description}}: {{.Description}}{{end}}</li>{{end}}</ul>
<p>The link is yours alone: it answers for you only. Answering again replaces your answer.</p>
<p>{{.Team}}</p>`))
