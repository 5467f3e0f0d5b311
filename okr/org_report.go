package okr

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"slicelab/experiments"
	"slicelab/tracking"
)

// The organisation's week (issue 13, product.md §8, §9): how much each team
// invested in new versus existing things, not velocity. Per team, the KTLO
// share of the whole and the elective split against the team's target mix,
// the response rate and the KTLO trend over the quarter; the organisation's
// mix weighted by responses; teams whose KTLO share rose three weeks in a
// row flagged; and the objectives shared by several teams, once each, with
// every team's contribution. It holds aggregates only, never one person's
// answers.

// OrgWeek is the organisation's week.
type OrgWeek struct {
	Org    string            `json:"org"`
	Week   string            `json:"week"`
	Teams  []OrgTeamWeek     `json:"teams"`
	Mix    OrgMix            `json:"mix"`
	Shared []SharedObjective `json:"shared_objectives"`
}

// OrgTeamWeek is one team's allocation in the organisation's week.
type OrgTeamWeek struct {
	Team         string           `json:"team"`
	Name         string           `json:"name"`
	Responses    int              `json:"responses"`
	Members      int              `json:"members"`
	ResponseRate *float64         `json:"response_rate"`
	KTLOShare    *float64         `json:"ktlo_share"`
	Elective     []ElectiveShare  `json:"elective"`
	Trend        []AllocationWeek `json:"trend"` // the 13 weeks up to this one, oldest first
	// KTLORising flags a team whose KTLO share rose three weeks in a row.
	KTLORising bool   `json:"ktlo_rising"`
	Flag       string `json:"flag,omitempty"`
	// Hidden says why the shares are not shown: fewer than
	// OrgMinResponses answers would let one read a person's answer.
	Hidden string `json:"hidden,omitempty"`
}

// OrgMinResponses is the fewest answers a team's week needs before the
// organisation's week shows its shares: with fewer, one person's answer
// could be read from them. Such weeks count in neither the team's trend nor
// the organisation's mix.
const OrgMinResponses = 3

// ElectiveShare is one elective category's share of the elective time,
// against its target.
type ElectiveShare struct {
	Category string   `json:"category"`
	Share    *float64 `json:"share"`
	Target   *float64 `json:"target"`
}

// OrgMix is the organisation's allocation: every answer counts once, so
// teams weigh by their responses (teams with fewer than OrgMinResponses
// answers that week are left out).
type OrgMix struct {
	Responses int             `json:"responses"`
	KTLOShare *float64        `json:"ktlo_share"`
	Elective  []ElectiveShare `json:"elective"` // by category name across teams; targets are the teams' weighted by responses
}

// SharedObjective is an objective shared by several teams, once.
type SharedObjective struct {
	ID         uuid.UUID   `json:"id"`
	Title      string      `json:"title"`
	Team       string      `json:"team"`
	SharedWith []string    `json:"shared_with"`
	Owners     []Owner     `json:"owners"`
	Score      *float64    `json:"score"`
	KeyResults []SharedKR  `json:"key_results"`
	Notice     string      `json:"notice,omitempty"`
	Outcome    *float64    `json:"outcome_share"`
	ByTeam     []TeamShare `json:"by_team"` // the clicks contributions of each team's experiments, over the objective's KRs
}

// SharedKR is a key result of a shared objective: one value for all its teams.
type SharedKR struct {
	ID     uuid.UUID   `json:"id"`
	Title  string      `json:"title"`
	Kind   string      `json:"kind"`
	Value  *float64    `json:"value"`
	Score  *float64    `json:"score"`
	Status Status      `json:"status"`
	ByTeam []TeamShare `json:"by_team"`
}

// TeamShare is one team's part of a value.
type TeamShare struct {
	Team  string  `json:"team"`
	Value float64 `json:"value"`
}

// KTLORisingFlag is said of a team whose KTLO share rose three weeks in a row.
const KTLORisingFlag = "KTLO share rose three weeks in a row"

// OrgWeeklyReport computes the organisation's week.
func (s *Service) OrgWeeklyReport(ctx context.Context, org experiments.Org, week tracking.Week) (*OrgWeek, error) {
	if !week.Valid() {
		return nil, invalid("week", "%s is not an ISO week; expected %s", week, tracking.WeekForm)
	}
	teams, err := s.exps.OrgTeams(ctx, org.ID)
	if err != nil {
		return nil, err
	}
	out := &OrgWeek{Org: org.Slug, Week: week.String(), Teams: []OrgTeamWeek{}, Shared: []SharedObjective{}}
	type catSum struct {
		share, target, targetWeight float64
		hasTarget                   bool
	}
	cats := map[string]*catSum{}
	var order []string
	ktloSum, electiveSum := 0.0, 0.0
	for _, t := range teams {
		a, err := s.AllocationReport(ctx, t.ID, week)
		if err != nil {
			return nil, err
		}
		tw := OrgTeamWeek{Team: t.Slug, Name: t.Name, Responses: a.Responses, Members: a.Members, ResponseRate: a.ResponseRate,
			KTLOShare: a.KTLOShare, Elective: []ElectiveShare{}, Trend: append(a.Trend, AllocationWeek{Week: a.Week, KTLOShare: a.KTLOShare, Responses: a.Responses})}
		for i := range tw.Trend {
			if tw.Trend[i].Responses < OrgMinResponses {
				tw.Trend[i].KTLOShare = nil
			}
		}
		tw.KTLORising = risingThreeWeeks(tw.Trend)
		if tw.KTLORising {
			tw.Flag = KTLORisingFlag
		}
		if a.Responses < OrgMinResponses {
			if a.Responses > 0 {
				tw.Hidden = fmt.Sprintf("%d answers: shares are shown from %d answers, so that no one's answer can be read", a.Responses, OrgMinResponses)
			}
			tw.KTLOShare = nil
			out.Teams = append(out.Teams, tw)
			continue
		}
		n := float64(a.Responses)
		if a.KTLOShare != nil {
			ktloSum += *a.KTLOShare * n
			electiveSum += (1 - *a.KTLOShare) * n
		}
		for _, c := range a.Categories {
			if !c.Elective {
				continue
			}
			tw.Elective = append(tw.Elective, ElectiveShare{Category: c.Name, Share: c.ElectiveShare, Target: c.Target})
			key := strings.ToLower(c.Name)
			cs := cats[key]
			if cs == nil {
				cs = &catSum{}
				cats[key] = cs
				order = append(order, c.Name)
			}
			if c.Share != nil {
				cs.share += *c.Share * n
			}
			if c.Target != nil {
				cs.hasTarget = true
				cs.target += *c.Target * n
				cs.targetWeight += n
			}
		}
		out.Mix.Responses += a.Responses
		out.Teams = append(out.Teams, tw)
	}
	if out.Mix.Responses > 0 {
		k := ktloSum / float64(out.Mix.Responses)
		out.Mix.KTLOShare = &k
	}
	out.Mix.Elective = []ElectiveShare{}
	for _, name := range order {
		cs := cats[strings.ToLower(name)]
		es := ElectiveShare{Category: name}
		if electiveSum > 0 {
			v := cs.share / electiveSum
			es.Share = &v
		}
		if cs.hasTarget && cs.targetWeight > 0 {
			v := cs.target / cs.targetWeight
			es.Target = &v
		}
		out.Mix.Elective = append(out.Mix.Elective, es)
	}
	if err := s.sharedObjectives(ctx, teams, week, out); err != nil {
		return nil, err
	}
	out.round()
	return out, nil
}

// risingThreeWeeks tells whether the last four weeks' KTLO shares rose each
// week: three rises in a row (a week without answers breaks the run).
func risingThreeWeeks(trend []AllocationWeek) bool {
	if len(trend) < 4 {
		return false
	}
	last := trend[len(trend)-4:]
	for i := 1; i < len(last); i++ {
		a, b := last[i-1].KTLOShare, last[i].KTLOShare
		if a == nil || b == nil || !(*b > *a+1e-9) {
			return false
		}
	}
	return true
}

// sharedObjectives adds each objective shared by several teams once, from
// its owner's review, with each team's contributions.
func (s *Service) sharedObjectives(ctx context.Context, teams []experiments.Team, week tracking.Week, out *OrgWeek) error {
	for _, t := range teams {
		objs, err := s.st.objectives(ctx, t.ID, nil, false)
		if err != nil {
			return err
		}
		owned := false
		for _, o := range objs {
			if o.TeamID == t.ID {
				if shared, _, err := s.st.sharingOf(ctx, o.ID); err == nil && len(shared) > 0 {
					owned = true
				}
			}
		}
		if !owned {
			continue
		}
		r, err := s.WeeklyReview(ctx, t, week)
		if err != nil {
			return err
		}
		for _, o := range r.Objectives {
			if o.Team != t.Slug || len(o.SharedWith) == 0 {
				continue
			}
			so := SharedObjective{ID: o.ID, Title: o.Title, Team: o.Team, SharedWith: o.SharedWith, Owners: o.Owners, Score: o.Score,
				KeyResults: []SharedKR{}, Notice: o.Notice, Outcome: o.OutcomeShare}
			all := map[string]float64{}
			for _, k := range o.KeyResults {
				sk := SharedKR{ID: k.ID, Title: k.Title, Kind: k.Kind, Value: k.Value, Score: k.Score, Status: k.Status}
				by := map[string]float64{}
				for _, c := range k.Contributions {
					by[c.Team] += c.Value
					all[c.Team] += c.Value
				}
				sk.ByTeam = teamShares(by)
				so.KeyResults = append(so.KeyResults, sk)
			}
			so.ByTeam = teamShares(all)
			out.Shared = append(out.Shared, so)
		}
	}
	sort.Slice(out.Shared, func(i, j int) bool { return out.Shared[i].Title < out.Shared[j].Title })
	return nil
}

func teamShares(by map[string]float64) []TeamShare {
	out := []TeamShare{}
	for t, v := range by {
		out = append(out, TeamShare{Team: t, Value: Round(v)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Team < out[j].Team })
	return out
}

func (o *OrgWeek) round() {
	rp := func(p **float64) {
		if *p != nil {
			x := Round(**p)
			*p = &x
		}
	}
	for i := range o.Teams {
		t := &o.Teams[i]
		rp(&t.ResponseRate)
		rp(&t.KTLOShare)
		for j := range t.Elective {
			rp(&t.Elective[j].Share)
		}
		for j := range t.Trend {
			rp(&t.Trend[j].KTLOShare)
		}
	}
	rp(&o.Mix.KTLOShare)
	for j := range o.Mix.Elective {
		rp(&o.Mix.Elective[j].Share)
		rp(&o.Mix.Elective[j].Target)
	}
}

// OrgCSVHeader is the header of the organisation's week as CSV: rates and
// shares are percentages (the columns ending in _percent).
var OrgCSVHeader = []string{"section", "team", "category", "responses", "members", "response_rate_percent", "ktlo_percent",
	"elective_share_percent", "target_percent", "flag", "objective", "key_result", "value"}

// WriteCSV writes the organisation's week as CSV.
func (o *OrgWeek) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	row := func(cells ...string) error {
		out := make([]string, len(OrgCSVHeader))
		copy(out, cells)
		return cw.Write(out)
	}
	if err := cw.Write(OrgCSVHeader); err != nil {
		return err
	}
	for _, t := range o.Teams {
		if err := row("team", t.Team, "", strconv.Itoa(t.Responses), strconv.Itoa(t.Members), pctCell(t.ResponseRate), pctCell(t.KTLOShare), "", "", t.Flag); err != nil {
			return err
		}
		for _, e := range t.Elective {
			if err := row("team_category", t.Team, SafeCSVText(e.Category), "", "", "", "", pctCell(e.Share), pctCell(e.Target)); err != nil {
				return err
			}
		}
	}
	if err := row("organisation", "", "", strconv.Itoa(o.Mix.Responses), "", "", pctCell(o.Mix.KTLOShare)); err != nil {
		return err
	}
	for _, e := range o.Mix.Elective {
		if err := row("organisation_category", "", SafeCSVText(e.Category), "", "", "", "", pctCell(e.Share), pctCell(e.Target)); err != nil {
			return err
		}
	}
	for _, so := range o.Shared {
		for _, k := range so.KeyResults {
			if err := row("shared_key_result", so.Team, "", "", "", "", "", "", "", "", SafeCSVText(so.Title), SafeCSVText(k.Title), numCell(k.Value)); err != nil {
				return err
			}
			for _, b := range k.ByTeam {
				v := b.Value
				if err := row("shared_contribution", b.Team, "", "", "", "", "", "", "", "", SafeCSVText(so.Title), SafeCSVText(k.Title), numCell(&v)); err != nil {
					return err
				}
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// orgSummaryLine is a one-line text of a team's week for the digest.
func (t OrgTeamWeek) summaryLine() string {
	ktlo := fmtShare(t.KTLOShare)
	if t.Hidden != "" {
		ktlo = fmt.Sprintf("not shown under %d answers", OrgMinResponses)
	}
	s := fmt.Sprintf("%s: KTLO %s, %d of %d answered", t.Name, ktlo, t.Responses, t.Members)
	if t.Flag != "" {
		s += " (" + t.Flag + ")"
	}
	return s
}

func fmtShare(p *float64) string {
	if p == nil {
		return "no answers"
	}
	return pctText(*p)
}
