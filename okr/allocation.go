package okr

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"slicelab/experiments"
	"slicelab/tracking"
)

// allocResponse is a stored answer of one member for one week.
type allocResponse struct {
	bun.BaseModel `bun:"table:allocation_responses"`

	ID        uuid.UUID `bun:"id,pk,type:uuid"`
	TeamID    uuid.UUID `bun:"team_id,type:uuid"`
	UserID    uuid.UUID `bun:"user_id,type:uuid"`
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
	MemberID uuid.UUID `json:"member_id"` // the member's user id
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
	var week tracking.Week
	if strings.TrimSpace(in.Week) == "" {
		fe["week"] = "is required, e.g. \"2026-W48\""
	} else if w, err := tracking.ParseWeek(in.Week); err != nil {
		fe["week"] = err.Error()
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
func (s *Service) SubmitAllocation(ctx context.Context, teamID, memberID uuid.UUID, week tracking.Week, shares map[string]int) (AllocationResponse, error) {
	return s.submitAllocation(ctx, teamID, memberID, week, shares, map[string]string{})
}

func (s *Service) submitAllocation(ctx context.Context, teamID, memberID uuid.UUID, week tracking.Week, shares map[string]int, fe map[string]string) (AllocationResponse, error) {
	if _, bad := fe["week"]; !bad {
		if !week.Valid() {
			fe["week"] = fmt.Sprintf("%s is not an ISO week; expected %s", week, tracking.WeekForm)
		} else {
			cur, err := s.CurrentWeek(ctx, teamID)
			if err != nil {
				return AllocationResponse{}, err
			}
			if cur.Before(week) {
				fe["week"] = fmt.Sprintf("%s has not started yet (the current week is %s); a week can be answered from its start on", week, cur)
			}
		}
	}
	if _, bad := fe["member_id"]; !bad {
		if _, err := s.exps.Member(ctx, teamID, memberID); errors.Is(err, experiments.ErrNotFound) {
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
	r := allocResponse{ID: tracking.NewID(), TeamID: teamID, UserID: memberID, Week: week.String(), CreatedAt: now, UpdatedAt: now}
	fresh := r.ID
	rows := make([]allocShare, 0, len(cats))
	out := AllocationResponse{MemberID: memberID, Week: r.Week, Shares: map[string]int{}, ByCategory: map[uuid.UUID]int{}, UpdatedAt: now}
	for _, c := range cats {
		v := given[c.ID]
		out.Shares[c.Name], out.ByCategory[c.ID] = v, v
		rows = append(rows, allocShare{CategoryID: c.ID, Percent: v})
	}
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		return s.st.with(tx).saveAnswer(ctx, &r, rows)
	})
	if err != nil {
		return AllocationResponse{}, fmt.Errorf("okr: allocation: %w", err)
	}
	out.ID, out.CreatedAt, out.Replaced = r.ID, r.CreatedAt.UTC(), r.ID != fresh
	return out, nil
}

// AllocationOf returns the member's latest answer for week or an earlier
// week (nil when there is none), to pre-fill the survey.
func (s *Service) AllocationOf(ctx context.Context, teamID, memberID uuid.UUID, week tracking.Week) (*AllocationResponse, error) {
	r, rows, err := s.st.latestAnswer(ctx, teamID, memberID, week)
	if err != nil {
		return nil, fmt.Errorf("okr: allocation: %w", err)
	}
	if r == nil {
		return nil, nil
	}
	cats, err := s.allocCategories(ctx, teamID)
	if err != nil {
		return nil, err
	}
	pct := map[uuid.UUID]int{}
	for _, x := range rows {
		pct[x.CategoryID] = x.Percent
	}
	out := &AllocationResponse{ID: r.ID, MemberID: r.UserID, Week: r.Week, Shares: map[string]int{}, ByCategory: map[uuid.UUID]int{},
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	for _, c := range cats {
		out.Shares[c.Name], out.ByCategory[c.ID] = pct[c.ID], pct[c.ID]
	}
	return out, nil
}
