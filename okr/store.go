package okr

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"slicelab/experiments"
	"slicelab/tracking"
)

// store is okr's SQL: the only code that names okr's tables (objectives,
// key results and their links to experiments, check-ins, snapshots, events
// and the allocation tables; see migrations.Owners).
type store struct{ db bun.IDB }

func (s store) with(tx bun.IDB) store { return store{db: tx} }

// ---- objectives and key results ----

func (s store) insertObjective(ctx context.Context, o *Objective) error {
	_, err := s.db.NewInsert().Model(o).Exec(ctx)
	return err
}

// objectives reads the objectives a team owns or that are shared with it
// (one, when id is set) with their live key results; archived objectives
// only when archived is true.
func (s store) objectives(ctx context.Context, teamID uuid.UUID, id *uuid.UUID, archived bool) ([]*Objective, error) {
	var out []*Objective
	q := s.db.NewSelect().Model(&out).Relation("KeyResults", func(q *bun.SelectQuery) *bun.SelectQuery {
		return q.Where("archived_at IS NULL").Order("position")
	}).WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
		return q.Where("o.team_id = ?", teamID).WhereOr("o.id IN (SELECT objective_id FROM objective_teams WHERE team_id = ?)", teamID)
	}).Order("o.period_start", "o.created_at")
	if id != nil {
		q = q.Where("o.id = ?", *id)
	}
	if !archived {
		q = q.Where("o.archived_at IS NULL")
	}
	err := q.Scan(ctx)
	return out, err
}

func (s store) updateObjective(ctx context.Context, o *Objective) error {
	_, err := s.db.NewUpdate().Model(o).Column("title", "kind", "period_label", "period_start", "period_end").WherePK().Exec(ctx)
	return err
}

func (s store) updateKeyResult(ctx context.Context, k *KeyResult) error {
	_, err := s.db.NewUpdate().Model(k).Column("title", "start_value", "target_value", "comparison", "unit", "event_name",
		"event_agg", "attribution_window_seconds", "kind", "kind_reason").WherePK().Exec(ctx)
	return err
}

// archive sets archived_at of an objective or a key result (model is a nil
// pointer of its type) unless it is archived already.
func (s store) archive(ctx context.Context, model any, id uuid.UUID, now time.Time) error {
	_, err := s.db.NewUpdate().Model(model).Set("archived_at = ?", now).Where("id = ?", id).Where("archived_at IS NULL").Exec(ctx)
	return err
}

// objective reads an objective that the team owns or that is shared with it.
func (s store) objective(ctx context.Context, teamID, id uuid.UUID) (*Objective, error) {
	o := new(Objective)
	err := s.db.NewSelect().Model(o).Where("o.id = ?", id).WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
		return q.Where("o.team_id = ?", teamID).WhereOr("o.id IN (SELECT objective_id FROM objective_teams WHERE team_id = ?)", teamID)
	}).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("objective %s: %w", id, experiments.ErrNotFound)
	}
	return o, err
}

// experimentLinks returns the experiments linked to each of the key results.
func (s store) experimentLinks(ctx context.Context, krIDs []uuid.UUID) (map[uuid.UUID][]uuid.UUID, error) {
	by := map[uuid.UUID][]uuid.UUID{}
	if len(krIDs) == 0 {
		return by, nil
	}
	var links []krExperiment
	if err := s.db.NewSelect().Model(&links).Where("key_result_id IN (?)", bun.In(krIDs)).Scan(ctx); err != nil {
		return nil, err
	}
	for _, l := range links {
		by[l.KeyResultID] = append(by[l.KeyResultID], l.ExperimentID)
	}
	return by, nil
}

// keyResult reads a key result of an objective the team owns or shares.
func (s store) keyResult(ctx context.Context, teamID, id uuid.UUID) (*KeyResult, error) {
	k := new(KeyResult)
	err := s.db.NewSelect().Model(k).Where("k.id = ?", id).WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
		return q.Where("k.team_id = ?", teamID).WhereOr("k.objective_id IN (SELECT objective_id FROM objective_teams WHERE team_id = ?)", teamID)
	}).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("key result %s: %w", id, experiments.ErrNotFound)
	}
	return k, err
}

// insertKeyResult adds a key result at the end of its objective.
func (s store) insertKeyResult(ctx context.Context, k *KeyResult) error {
	if err := s.db.NewSelect().Model((*KeyResult)(nil)).ColumnExpr("COALESCE(MAX(position), -1) + 1").
		Where("objective_id = ?", k.ObjectiveID).Scan(ctx, &k.Position); err != nil {
		return err
	}
	_, err := s.db.NewInsert().Model(k).Exec(ctx)
	return err
}

// linkableKeyResults returns which of ids are key results of the team that
// take their value from experiments (not manual ones).
func (s store) linkableKeyResults(ctx context.Context, teamID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
	var mine []uuid.UUID
	if err := s.db.NewSelect().Model((*KeyResult)(nil)).Column("id").WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
		return q.Where("team_id = ?", teamID).WhereOr("objective_id IN (SELECT objective_id FROM objective_teams WHERE team_id = ?)", teamID)
	}).Where("id IN (?)", bun.In(ids)).Where("source <> ?", SourceManual).Scan(ctx, &mine); err != nil {
		return nil, err
	}
	ok := make(map[uuid.UUID]bool, len(mine))
	for _, id := range mine {
		ok[id] = true
	}
	return ok, nil
}

// link links experiments to a key result and drops its snapshots, which the
// new experiments change.
func (s store) link(ctx context.Context, krID uuid.UUID, experimentIDs []uuid.UUID) error {
	if len(experimentIDs) == 0 {
		return nil
	}
	rows := make([]krExperiment, len(experimentIDs))
	for i, id := range experimentIDs {
		rows[i] = krExperiment{KeyResultID: krID, ExperimentID: id}
	}
	if _, err := s.db.NewInsert().Model(&rows).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
		return err
	}
	return s.dropSnapshots(ctx, krID, "")
}

// ---- check-ins and snapshots ----

// replaceCheckIn stores the week's check-in of a key result in place of an
// earlier one, and drops the week's snapshot.
func (s store) replaceCheckIn(ctx context.Context, c *CheckIn) error {
	if _, err := s.db.NewDelete().Model((*CheckIn)(nil)).Where("key_result_id = ?", c.KeyResultID).Where("week = ?", c.Week).Exec(ctx); err != nil {
		return err
	}
	if err := s.dropSnapshots(ctx, c.KeyResultID, c.Week); err != nil {
		return err
	}
	_, err := s.db.NewInsert().Model(c).Exec(ctx)
	return err
}

// checkIns returns a key result's check-ins of the weeks.
func (s store) checkIns(ctx context.Context, krID uuid.UUID, weeks []tracking.Week) ([]CheckIn, error) {
	var cs []CheckIn
	err := s.db.NewSelect().Model(&cs).Where("key_result_id = ?", krID).Where("week IN (?)", bun.In(weekKeys(weeks))).Scan(ctx)
	return cs, err
}

type snapshot struct {
	bun.BaseModel `bun:"table:kr_snapshots"`

	KeyResultID uuid.UUID `bun:"key_result_id,pk,type:uuid"`
	Week        string    `bun:"week,pk"`
	Value       *float64  `bun:"value"`
	ComputedAt  time.Time `bun:"computed_at"`
}

func (s store) snapshots(ctx context.Context, krID uuid.UUID, weeks []tracking.Week) ([]snapshot, error) {
	var snaps []snapshot
	err := s.db.NewSelect().Model(&snaps).Where("key_result_id = ?", krID).Where("week IN (?)", bun.In(weekKeys(weeks))).Scan(ctx)
	return snaps, err
}

func (s store) saveSnapshots(ctx context.Context, rows []snapshot) error {
	if len(rows) == 0 {
		return nil
	}
	_, err := s.db.NewInsert().Model(&rows).On("CONFLICT DO NOTHING").Exec(ctx)
	return err
}

// dropSnapshots forgets a key result's kept values: of one week, or of all ("").
func (s store) dropSnapshots(ctx context.Context, krID uuid.UUID, week string) error {
	q := s.db.NewDelete().Model((*snapshot)(nil)).Where("key_result_id = ?", krID)
	if week != "" {
		q = q.Where("week = ?", week)
	}
	_, err := q.Exec(ctx)
	return err
}

// ---- events ----

func (s store) insertEvents(ctx context.Context, rows []Event) error {
	for start := 0; start < len(rows); start += 500 {
		part := rows[start:min(start+500, len(rows))]
		if _, err := s.db.NewInsert().Model(&part).Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// eventTotals counts and sums a team's events of one name in [from, to).
func (s store) eventTotals(ctx context.Context, teamID uuid.UUID, name string, from, to time.Time) (n int, sum float64, err error) {
	var c struct {
		N   int      `bun:"n"`
		Sum *float64 `bun:"total"`
	}
	if err := s.db.NewSelect().Model((*Event)(nil)).ColumnExpr("count(*) AS n, sum(value) AS total").
		Where("team_id = ?", teamID).Where("name = ?", name).Where("occurred_at >= ?", from).Where("occurred_at < ?", to).
		Scan(ctx, &c); err != nil {
		return 0, 0, err
	}
	if c.Sum != nil {
		sum = *c.Sum
	}
	return c.N, sum, nil
}

// eventContacts selects the contacts with at least one of a team's events of
// one name in [from, to), as a subquery for experiments.Service.Reach.
func (s store) eventContacts(teamID uuid.UUID, name string, from, to time.Time) *bun.SelectQuery {
	return s.db.NewSelect().Model((*Event)(nil)).Column("contact_id").
		Where("team_id = ?", teamID).Where("name = ?", name).Where("occurred_at >= ?", from).Where("occurred_at < ?", to).
		Where("contact_id IS NOT NULL")
}

// ---- time allocation ----

func (s store) categories(ctx context.Context, teamID uuid.UUID) ([]Category, error) {
	cats := []Category{}
	err := s.db.NewSelect().Model(&cats).Where("team_id = ?", teamID).Order("position", "name").Scan(ctx)
	return cats, err
}

// insertCategories adds categories; rows that collide with existing ones
// (two first uses at once) are dropped.
func (s store) insertCategories(ctx context.Context, rows []Category) error {
	_, err := s.db.NewInsert().Model(&rows).On("CONFLICT DO NOTHING").Exec(ctx)
	return err
}

func (s store) insertCategory(ctx context.Context, c *Category) error {
	_, err := s.db.NewInsert().Model(c).Exec(ctx)
	return err
}

func (s store) updateCategory(ctx context.Context, c *Category) error {
	_, err := s.db.NewUpdate().Model(c).Column("name", "target_share", "description").WherePK().Where("team_id = ?", c.TeamID).Exec(ctx)
	return err
}

// saveAnswer stores a member's answer for a week in place of an earlier
// one: the row (and its id and creation time) is taken over under its lock,
// and its shares are replaced. r.ID and r.CreatedAt are set to the stored row's.
func (s store) saveAnswer(ctx context.Context, r *allocResponse, shares []allocShare) error {
	if _, err := s.db.NewInsert().Model(r).On("CONFLICT (team_id, user_id, week) DO UPDATE").
		Set("updated_at = EXCLUDED.updated_at").Returning("id, created_at").Exec(ctx); err != nil {
		return err
	}
	if _, err := s.db.NewDelete().Model((*allocShare)(nil)).Where("response_id = ?", r.ID).Exec(ctx); err != nil {
		return err
	}
	for i := range shares {
		shares[i].ResponseID = r.ID
	}
	_, err := s.db.NewInsert().Model(&shares).Exec(ctx)
	return err
}

// latestAnswer is a member's answer for week or the latest earlier one (nil when none).
func (s store) latestAnswer(ctx context.Context, teamID, userID uuid.UUID, week tracking.Week) (*allocResponse, []allocShare, error) {
	var r allocResponse
	err := s.db.NewSelect().Model(&r).Where("team_id = ?", teamID).Where("user_id = ?", userID).
		Where("week <= ?", week.String()).Order("week DESC").Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var rows []allocShare
	if err := s.db.NewSelect().Model(&rows).Where("response_id = ?", r.ID).Scan(ctx); err != nil {
		return nil, nil, err
	}
	return &r, rows, nil
}

// answerShare is one share of one answer, as the report reads them.
type answerShare struct {
	Week       string    `bun:"week"`
	ResponseID uuid.UUID `bun:"response_id,type:uuid"`
	UserID     uuid.UUID `bun:"user_id,type:uuid"`
	CategoryID uuid.UUID `bun:"category_id,type:uuid"`
	Percent    int       `bun:"percent"`
}

// answerShares reads every share of a team's answers for the weeks.
func (s store) answerShares(ctx context.Context, teamID uuid.UUID, weeks []string) ([]answerShare, error) {
	var rows []answerShare
	err := s.db.NewSelect().TableExpr("allocation_responses AS r").
		Join("JOIN allocation_shares AS sh ON sh.response_id = r.id").
		ColumnExpr("r.week, r.id AS response_id, r.user_id, sh.category_id, sh.percent").
		Where("r.team_id = ?", teamID).Where("r.week IN (?)", bun.In(weeks)).Scan(ctx, &rows)
	return rows, err
}

func weekKeys(weeks []tracking.Week) []string {
	keys := make([]string, len(weeks))
	for i, w := range weeks {
		keys[i] = w.String()
	}
	return keys
}

// ---- sharing and owners ----

type objectiveTeam struct {
	bun.BaseModel `bun:"table:objective_teams"`

	ObjectiveID uuid.UUID `bun:"objective_id,pk,type:uuid"`
	TeamID      uuid.UUID `bun:"team_id,pk,type:uuid"`
}

type objectiveOwner struct {
	bun.BaseModel `bun:"table:objective_owners"`

	ObjectiveID uuid.UUID `bun:"objective_id,pk,type:uuid"`
	UserID      uuid.UUID `bun:"user_id,pk,type:uuid"`
	Position    int       `bun:"position"`
}

// sharing returns, per objective, the teams it is shared with and its owners in order.
func (s store) sharing(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID][]uuid.UUID, map[uuid.UUID][]uuid.UUID, error) {
	teams, owners := map[uuid.UUID][]uuid.UUID{}, map[uuid.UUID][]uuid.UUID{}
	if len(ids) == 0 {
		return teams, owners, nil
	}
	var ts []objectiveTeam
	if err := s.db.NewSelect().Model(&ts).Where("objective_id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
		return nil, nil, err
	}
	for _, t := range ts {
		teams[t.ObjectiveID] = append(teams[t.ObjectiveID], t.TeamID)
	}
	var os []objectiveOwner
	if err := s.db.NewSelect().Model(&os).Where("objective_id IN (?)", bun.In(ids)).Order("position").Scan(ctx); err != nil {
		return nil, nil, err
	}
	for _, o := range os {
		owners[o.ObjectiveID] = append(owners[o.ObjectiveID], o.UserID)
	}
	return teams, owners, nil
}

// sharingOf returns the teams one objective is shared with, and its owners.
func (s store) sharingOf(ctx context.Context, objectiveID uuid.UUID) ([]uuid.UUID, []uuid.UUID, error) {
	teams, owners, err := s.sharing(ctx, []uuid.UUID{objectiveID})
	if err != nil {
		return nil, nil, err
	}
	return teams[objectiveID], owners[objectiveID], nil
}

// setSharing replaces an objective's sharing teams and owners (nil leaves one as it is).
func (s store) setSharing(ctx context.Context, objectiveID uuid.UUID, teams, owners []uuid.UUID) error {
	if teams != nil {
		if _, err := s.db.NewDelete().Model((*objectiveTeam)(nil)).Where("objective_id = ?", objectiveID).Exec(ctx); err != nil {
			return err
		}
		if len(teams) > 0 {
			rows := make([]objectiveTeam, len(teams))
			for i, t := range teams {
				rows[i] = objectiveTeam{ObjectiveID: objectiveID, TeamID: t}
			}
			if _, err := s.db.NewInsert().Model(&rows).Exec(ctx); err != nil {
				return err
			}
		}
	}
	if owners != nil {
		if _, err := s.db.NewDelete().Model((*objectiveOwner)(nil)).Where("objective_id = ?", objectiveID).Exec(ctx); err != nil {
			return err
		}
		if len(owners) > 0 {
			rows := make([]objectiveOwner, len(owners))
			for i, u := range owners {
				rows[i] = objectiveOwner{ObjectiveID: objectiveID, UserID: u, Position: i}
			}
			if _, err := s.db.NewInsert().Model(&rows).Exec(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}
