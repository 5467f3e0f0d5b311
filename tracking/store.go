package tracking

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// Store is tracking's SQL: the only code that names tracking's tables
// (links, clicks, first_clicks, weekly_clickers, variant_weekly; see
// migrations.Owners). Packages above read and write them through its methods.
type Store struct{ db bun.IDB }

// NewStore returns the store over db (a *bun.DB or a transaction).
func NewStore(db bun.IDB) *Store { return &Store{db: db} }

// WithTx returns the store working inside tx, so that a caller's transaction
// can include tracking's writes.
func (s *Store) WithTx(tx bun.IDB) *Store { return &Store{db: tx} }

// ---- links ----

// Link is one tracked destination of a variant: the token's link index
// selects it.
type Link struct {
	bun.BaseModel `bun:"table:links"`

	VariantID    uuid.UUID `bun:"variant_id,pk,type:uuid"`
	Idx          int       `bun:"idx,pk"`
	ExperimentID uuid.UUID `bun:"experiment_id,type:uuid"`
	URL          string    `bun:"url"`
}

// SaveLinks stores the tracked destinations of a variant, in link index order.
func (s *Store) SaveLinks(ctx context.Context, experimentID, variantID uuid.UUID, urls []string) error {
	if len(urls) == 0 {
		return nil
	}
	rows := make([]Link, len(urls))
	for i, u := range urls {
		rows[i] = Link{VariantID: variantID, Idx: i, ExperimentID: experimentID, URL: u}
	}
	if _, err := s.db.NewInsert().Model(&rows).Exec(ctx); err != nil {
		return fmt.Errorf("tracking: save links: %w", err)
	}
	return nil
}

// DeleteLinks removes the tracked destinations of an experiment's variants.
func (s *Store) DeleteLinks(ctx context.Context, experimentID uuid.UUID) error {
	if _, err := s.db.NewDelete().Model((*Link)(nil)).Where("experiment_id = ?", experimentID).Exec(ctx); err != nil {
		return fmt.Errorf("tracking: delete links: %w", err)
	}
	return nil
}

// LinksOf returns the destinations of every variant of an experiment, by variant, in link index order.
func (s *Store) LinksOf(ctx context.Context, experimentID uuid.UUID) (map[uuid.UUID][]string, error) {
	var rows []Link
	if err := s.db.NewSelect().Model(&rows).Where("experiment_id = ?", experimentID).Order("variant_id", "idx").Scan(ctx); err != nil {
		return nil, fmt.Errorf("tracking: links: %w", err)
	}
	out := map[uuid.UUID][]string{}
	for _, l := range rows {
		out[l.VariantID] = append(out[l.VariantID], l.URL)
	}
	return out, nil
}

// VariantLinks loads one variant's destinations (nil when it has none).
func (s *Store) VariantLinks(ctx context.Context, variantID uuid.UUID) ([]Link, error) {
	var rows []Link
	if err := s.db.NewSelect().Model(&rows).Where("variant_id = ?", variantID).Order("idx").Scan(ctx); err != nil {
		return nil, fmt.Errorf("tracking: load links: %w", err)
	}
	return rows, nil
}

// ---- clicks ----

func (s *Store) insertClicks(ctx context.Context, clicks []Click) error {
	_, err := s.db.NewInsert().Model(&clicks).Exec(ctx)
	return err
}

// lastClicks returns, per delivery and link, the latest click at or after since.
func (s *Store) lastClicks(ctx context.Context, deliveries []uuid.UUID, since time.Time) ([]linkLast, error) {
	var prior []linkLast
	if err := s.db.NewSelect().Table("clicks").ColumnExpr("delivery_id, link_idx, max(clicked_at) AS last_at").
		Where("delivery_id IN (?)", bun.In(deliveries)).Where("clicked_at >= ?", since).
		Group("delivery_id", "link_idx").Scan(ctx, &prior); err != nil {
		return nil, fmt.Errorf("tracking: earlier clicks: %w", err)
	}
	return prior, nil
}

// markAutomated marks the stored human clicks of a range as automated and
// returns them as they were.
func (s *Store) markAutomated(ctx context.Context, r retroRange) ([]Click, error) {
	q := s.db.NewUpdate().Table("clicks").Set("automated = ?", true).Set("reason = ?", r.reason).
		Where("delivery_id = ?", r.delivery).Where("clicked_at >= ?", r.from).Where("clicked_at <= ?", r.to).
		Where("NOT automated")
	if r.skipHoneypot {
		q = q.Where("link_idx <> ?", HoneypotLink)
	}
	var out []Click
	if err := q.Returning("experiment_id, variant_id, delivery_id, contact_id, clicked_at").Scan(ctx, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// ---- rollups ----

type weeklyClicker struct {
	bun.BaseModel `bun:"table:weekly_clickers"`

	ExperimentID uuid.UUID `bun:"experiment_id,pk,type:uuid"`
	Week         string    `bun:"week,pk"`
	ContactID    uuid.UUID `bun:"contact_id,pk,type:uuid"`
}

// firstClick is a delivery's first human click, with the ISO week of its
// send ("" when it was never sent), which its variant_weekly counter uses.
type firstClick struct {
	bun.BaseModel `bun:"table:first_clicks"`

	DeliveryID   uuid.UUID `bun:"delivery_id,pk,type:uuid"`
	ExperimentID uuid.UUID `bun:"experiment_id,type:uuid"`
	VariantID    uuid.UUID `bun:"variant_id,type:uuid"`
	ClickedAt    time.Time `bun:"clicked_at"`
	SendWeek     string    `bun:"send_week"`
}

func (s *Store) addWeeklyClickers(ctx context.Context, rows []weeklyClicker) error {
	if len(rows) == 0 {
		return nil
	}
	_, err := s.db.NewInsert().Model(&rows).On("CONFLICT DO NOTHING").Exec(ctx)
	return err
}

// dropWeeklyClicker removes a person from an experiment's clickers of a
// week unless a human click of theirs in that week remains.
func (s *Store) dropWeeklyClicker(ctx context.Context, experimentID, contactID uuid.UUID, week Week, loc *time.Location) error {
	from, to := week.Range(loc)
	_, err := s.db.NewDelete().Table("weekly_clickers").
		Where("experiment_id = ?", experimentID).Where("week = ?", week.String()).Where("contact_id = ?", contactID).
		Where("NOT EXISTS (SELECT 1 FROM clicks WHERE experiment_id = ? AND contact_id = ? AND NOT automated AND clicked_at >= ? AND clicked_at < ?)",
			experimentID, contactID, from, to).Exec(ctx)
	return err
}

// addFirstClick records a delivery's first human click. It reports whether
// the click was the delivery's first; an earlier click arriving late moves
// the time back.
func (s *Store) addFirstClick(ctx context.Context, fc firstClick) (bool, error) {
	var ids []uuid.UUID
	if err := s.db.NewInsert().Model(&fc).On("CONFLICT (delivery_id) DO NOTHING").Returning("delivery_id").Scan(ctx, &ids); err != nil {
		return false, err
	}
	if len(ids) == 1 {
		return true, nil
	}
	_, err := s.db.NewUpdate().Table("first_clicks").Set("clicked_at = ?", fc.ClickedAt).
		Where("delivery_id = ?", fc.DeliveryID).Where("clicked_at > ?", fc.ClickedAt).Exec(ctx)
	return false, err
}

// dropFirstClick forgets a delivery's first human click when none of its
// clicks is human any more, and returns the send week it counted for ("" when
// it still has a human click, or counted for no week).
func (s *Store) dropFirstClick(ctx context.Context, deliveryID uuid.UUID) (removed bool, sendWeek string, err error) {
	var gone []firstClick
	if err := s.db.NewDelete().Model(&gone).Where("delivery_id = ?", deliveryID).
		Where("NOT EXISTS (SELECT 1 FROM clicks WHERE delivery_id = ? AND NOT automated)", deliveryID).
		Returning("send_week").Scan(ctx, &gone); err != nil {
		return false, "", err
	}
	if len(gone) == 1 {
		return true, gone[0].SendWeek, nil
	}
	_, err = s.db.NewUpdate().Table("first_clicks").
		Set("clicked_at = (SELECT min(clicked_at) FROM clicks WHERE delivery_id = ? AND NOT automated)", deliveryID).
		Where("delivery_id = ?", deliveryID).Exec(ctx)
	return false, "", err
}

// AddSends adds sent messages and first human clicks to a variant's counters
// for a send week (the ISO week of the send in the team's time zone).
func (s *Store) AddSends(ctx context.Context, experimentID, variantID uuid.UUID, week string, sent, clicked int) error {
	_, err := s.db.NewRaw(`INSERT INTO variant_weekly (experiment_id, variant_id, week, sent, clicked) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (variant_id, week) DO UPDATE SET sent = variant_weekly.sent + EXCLUDED.sent, clicked = variant_weekly.clicked + EXCLUDED.clicked`,
		experimentID, variantID, week, sent, clicked).Exec(ctx)
	if err != nil {
		return fmt.Errorf("tracking: variant counters: %w", err)
	}
	return nil
}

// ---- reads for the layers above ----

// VariantClicks counts one variant's clicks.
type VariantClicks struct {
	VariantID       uuid.UUID `bun:"variant_id"`
	HumanClickers   int       `bun:"human_clickers"` // deliveries with at least one human click
	Clicks          int       `bun:"clicks"`         // human clicks
	AutomatedClicks int       `bun:"automated_clicks"`
}

// ClickCounts counts an experiment's clicks per variant.
func (s *Store) ClickCounts(ctx context.Context, experimentID uuid.UUID) ([]VariantClicks, error) {
	var out []VariantClicks
	if err := s.db.NewSelect().Table("clicks").
		ColumnExpr("variant_id").
		ColumnExpr("count(DISTINCT CASE WHEN NOT automated THEN delivery_id END) AS human_clickers").
		ColumnExpr("sum(CASE WHEN automated THEN 0 ELSE 1 END) AS clicks").
		ColumnExpr("sum(CASE WHEN automated THEN 1 ELSE 0 END) AS automated_clicks").
		Where("experiment_id = ?", experimentID).Group("variant_id").Scan(ctx, &out); err != nil {
		return nil, fmt.Errorf("tracking: click counts: %w", err)
	}
	return out, nil
}

// SendCount is what the counters hold for a variant or a week: messages sent
// and how many of them a person has clicked so far.
type SendCount struct {
	Sent    int `bun:"sent"`
	Clicked int `bun:"clicked"`
}

// SendTotals sums an experiment's counters per variant over all send weeks.
func (s *Store) SendTotals(ctx context.Context, experimentID uuid.UUID) (map[uuid.UUID]SendCount, error) {
	var rows []struct {
		VariantID uuid.UUID `bun:"variant_id"`
		SendCount
	}
	if err := s.db.NewSelect().Table("variant_weekly").ColumnExpr("variant_id, sum(sent) AS sent, sum(clicked) AS clicked").
		Where("experiment_id = ?", experimentID).Group("variant_id").Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("tracking: send totals: %w", err)
	}
	out := make(map[uuid.UUID]SendCount, len(rows))
	for _, r := range rows {
		out[r.VariantID] = r.SendCount
	}
	return out, nil
}

// SendWeeks sums the counters of the given experiments per send week.
func (s *Store) SendWeeks(ctx context.Context, experimentIDs []uuid.UUID, weeks []Week) (map[Week]SendCount, error) {
	out := map[Week]SendCount{}
	if len(experimentIDs) == 0 || len(weeks) == 0 {
		return out, nil
	}
	var rows []struct {
		Week string `bun:"week"`
		SendCount
	}
	if err := s.db.NewSelect().Table("variant_weekly").ColumnExpr("week, sum(sent) AS sent, sum(clicked) AS clicked").
		Where("experiment_id IN (?)", bun.In(experimentIDs)).Where("week IN (?)", bun.In(weekKeys(weeks))).Group("week").
		Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("tracking: send weeks: %w", err)
	}
	for _, r := range rows {
		if w, err := ParseWeek(r.Week); err == nil {
			out[w] = r.SendCount
		}
	}
	return out, nil
}

// DistinctClickers counts, per week, the distinct people with a human click
// in any of the experiments that week.
func (s *Store) DistinctClickers(ctx context.Context, experimentIDs []uuid.UUID, weeks []Week) (map[Week]int, error) {
	out := map[Week]int{}
	if len(experimentIDs) == 0 || len(weeks) == 0 {
		return out, nil
	}
	var rows []struct {
		Week string `bun:"week"`
		N    int    `bun:"n"`
	}
	if err := s.db.NewSelect().Table("weekly_clickers").ColumnExpr("week, count(DISTINCT contact_id) AS n").
		Where("experiment_id IN (?)", bun.In(experimentIDs)).Where("week IN (?)", bun.In(weekKeys(weeks))).Group("week").
		Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("tracking: clickers: %w", err)
	}
	for _, r := range rows {
		if w, err := ParseWeek(r.Week); err == nil {
			out[w] = r.N
		}
	}
	return out, nil
}

// Clicker is one person with a human click in an experiment in a week.
type Clicker struct {
	ExperimentID uuid.UUID `bun:"experiment_id"`
	ContactID    uuid.UUID `bun:"contact_id"`
}

// WeeklyClickers lists who clicked which of the experiments in a week.
func (s *Store) WeeklyClickers(ctx context.Context, experimentIDs []uuid.UUID, week Week) ([]Clicker, error) {
	var rows []Clicker
	if len(experimentIDs) == 0 {
		return rows, nil
	}
	if err := s.db.NewSelect().Table("weekly_clickers").Column("experiment_id", "contact_id").
		Where("experiment_id IN (?)", bun.In(experimentIDs)).Where("week = ?", week.String()).Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("tracking: weekly clickers: %w", err)
	}
	return rows, nil
}

// ExperimentWeek is one experiment's activity in one week.
type ExperimentWeek struct {
	SendCount     // of the messages sent that week
	Clickers  int // distinct people with a human click that week
}

// ExperimentWeeks gives, per experiment, the week's counters and distinct clickers.
func (s *Store) ExperimentWeeks(ctx context.Context, experimentIDs []uuid.UUID, week Week) (map[uuid.UUID]ExperimentWeek, error) {
	out := map[uuid.UUID]ExperimentWeek{}
	if len(experimentIDs) == 0 {
		return out, nil
	}
	var sends []struct {
		ExperimentID uuid.UUID `bun:"experiment_id"`
		SendCount
	}
	if err := s.db.NewSelect().Table("variant_weekly").ColumnExpr("experiment_id, sum(sent) AS sent, sum(clicked) AS clicked").
		Where("experiment_id IN (?)", bun.In(experimentIDs)).Where("week = ?", week.String()).Group("experiment_id").
		Scan(ctx, &sends); err != nil {
		return nil, fmt.Errorf("tracking: experiment weeks: %w", err)
	}
	var clickers []struct {
		ExperimentID uuid.UUID `bun:"experiment_id"`
		N            int       `bun:"n"`
	}
	if err := s.db.NewSelect().Table("weekly_clickers").ColumnExpr("experiment_id, count(*) AS n").
		Where("experiment_id IN (?)", bun.In(experimentIDs)).Where("week = ?", week.String()).Group("experiment_id").
		Scan(ctx, &clickers); err != nil {
		return nil, fmt.Errorf("tracking: experiment weeks: %w", err)
	}
	for _, r := range sends {
		ew := out[r.ExperimentID]
		ew.SendCount = r.SendCount
		out[r.ExperimentID] = ew
	}
	for _, r := range clickers {
		ew := out[r.ExperimentID]
		ew.Clickers = r.N
		out[r.ExperimentID] = ew
	}
	return out, nil
}

func weekKeys(weeks []Week) []string {
	keys := make([]string, len(weeks))
	for i, w := range weeks {
		keys[i] = w.String()
	}
	return keys
}
