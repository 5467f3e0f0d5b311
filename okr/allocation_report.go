package okr

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"slicelab/tracking"
)

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
func (s *Service) AllocationReport(ctx context.Context, teamID uuid.UUID, week tracking.Week) (Allocation, error) {
	if !week.Valid() {
		return Allocation{}, invalid("week", "%s is not an ISO week; expected %s", week, tracking.WeekForm)
	}
	loc, err := s.location(ctx, teamID)
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
	rows, err := s.st.answerShares(ctx, teamID, weeks)
	if err != nil {
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
		ws.members[r.UserID] = true
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
	members, err := s.exps.Members(ctx, teamID)
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
