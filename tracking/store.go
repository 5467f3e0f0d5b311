package tracking

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// Store is tracking's SQL: the only code that names tracking's tables
// (links, clicks, first_clicks, weekly_clickers, variant_weekly,
// variant_clicks, click_projection; the ledger's is Ledger; see
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

// ---- the classified view (clicks) ----

// insertClassified stores the projector's classified clicks. A click whose
// id is there already (which Projector.pass rules out beforehand) is left
// as it was rather than stopping the projector. On PostgreSQL the chunk goes
// as one array per column into one prepared statement (see Ledger.Append).
func (s *Store) insertClassified(ctx context.Context, clicks []Click) error {
	if len(clicks) == 0 {
		return nil
	}
	if s.db.Dialect().Name() == dialect.PG {
		n := len(clicks)
		ids, deliveries, experiments, variants, contacts := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		links, at, automated, reasons := make([]int32, n), make([]time.Time, n), make([]bool, n), make([]string, n)
		for i, c := range clicks {
			ids[i], deliveries[i], experiments[i], variants[i], contacts[i] = c.ID.String(), c.DeliveryID.String(),
				c.ExperimentID.String(), c.VariantID.String(), c.ContactID.String()
			links[i], at[i], automated[i], reasons[i] = int32(c.LinkIdx), c.ClickedAt, c.Automated, c.Reason
		}
		if _, err := driverExec(s.db).ExecContext(ctx, `INSERT INTO clicks (id, delivery_id, experiment_id, variant_id, contact_id, link_idx, clicked_at, method, user_agent, ip, automated, reason)
			SELECT id, d, e, v, c, l, t, '', '', '', a, r FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::int[], $7::timestamptz[], $8::bool[], $9::text[])
				AS u (id, d, e, v, c, l, t, a, r)
			ON CONFLICT (id) DO NOTHING`, ids, deliveries, experiments, variants, contacts, links, at, automated, reasons); err != nil {
			return fmt.Errorf("tracking: store classified clicks: %w", err)
		}
		return nil
	}
	for start := 0; start < len(clicks); start += 2000 {
		part := clicks[start:min(len(clicks), start+2000)]
		if _, err := driverExec(s.db).ExecContext(ctx, string(insertClassifiedSQLite(part))); err != nil {
			return fmt.Errorf("tracking: store classified clicks: %w", err)
		}
	}
	return nil
}

// insertClassifiedSQLite is the INSERT of classified clicks into SQLite,
// written as appendSQLite writes the ledger's (the same literals as bun's,
// without its reflection). The request's method, user agent and IP stay in
// the ledger.
func insertClassifiedSQLite(clicks []Click) []byte {
	const head = "INSERT INTO clicks (id, delivery_id, experiment_id, variant_id, contact_id, link_idx, clicked_at, method, user_agent, ip, automated, reason) VALUES "
	b := make([]byte, 0, len(head)+len(clicks)*(5*39+80))
	b = append(b, head...)
	for i, c := range clicks {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '(')
		for _, id := range [...]uuid.UUID{c.ID, c.DeliveryID, c.ExperimentID, c.VariantID, c.ContactID} {
			b = appendSQLiteUUID(b, id)
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(c.LinkIdx), 10)
		b = append(b, ',')
		b = sqliteLiterals.AppendTime(b, c.ClickedAt)
		b = append(b, ',')
		b = sqliteLiterals.AppendString(b, c.Method)
		b = append(b, ',')
		b = sqliteLiterals.AppendString(b, c.UserAgent)
		b = append(b, ',')
		b = sqliteLiterals.AppendString(b, c.IP)
		b = append(b, ',')
		b = sqliteLiterals.AppendBool(b, c.Automated)
		b = append(b, ',')
		b = sqliteLiterals.AppendString(b, c.Reason)
		b = append(b, ')')
	}
	return append(b, " ON CONFLICT (id) DO NOTHING"...)
}

// classified returns which of ids are in the classified view.
func (s *Store) classified(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
	out := map[uuid.UUID]bool{}
	for start := 0; start < len(ids); start += 1000 {
		var have []uuid.UUID
		if err := s.db.NewSelect().Model((*Click)(nil)).Column("id").Where("id IN (?)", bun.In(ids[start:min(len(ids), start+1000)])).
			Scan(ctx, &have); err != nil {
			return nil, fmt.Errorf("tracking: classified clicks: %w", err)
		}
		for _, id := range have {
			out[id] = true
		}
	}
	return out, nil
}

// lastClicks returns, per delivery and link, the latest click at or after since.
func (s *Store) lastClicks(ctx context.Context, deliveries []uuid.UUID, since time.Time) ([]linkLast, error) {
	var prior []linkLast
	if len(deliveries) == 0 {
		return prior, nil
	}
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
	if err := q.Returning("experiment_id, variant_id, delivery_id, contact_id, clicked_at, link_idx, reason").Scan(ctx, &out); err != nil {
		return nil, fmt.Errorf("tracking: mark automated: %w", err)
	}
	return out, nil
}

// firstHuman returns, for the deliveries, the time of their earliest human
// click (deliveries without one are left out).
func (s *Store) firstHuman(ctx context.Context, deliveries []uuid.UUID) (map[uuid.UUID]time.Time, error) {
	var rows []struct {
		DeliveryID uuid.UUID `bun:"delivery_id"`
		At         time.Time `bun:"at"`
	}
	if err := s.db.NewSelect().Table("clicks").ColumnExpr("delivery_id, min(clicked_at) AS at").
		Where("delivery_id IN (?)", bun.In(deliveries)).Where("NOT automated").Group("delivery_id").Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("tracking: first human clicks: %w", err)
	}
	out := make(map[uuid.UUID]time.Time, len(rows))
	for _, r := range rows {
		out[r.DeliveryID] = r.At
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
	if _, err := s.db.NewInsert().Model(&rows).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
		return fmt.Errorf("tracking: weekly clickers: %w", err)
	}
	return nil
}

// dropWeeklyClicker removes a person from an experiment's clickers of a week
// unless a human click of theirs in that week remains. A contact has one
// delivery per experiment, so their clicks in it are the delivery's.
func (s *Store) dropWeeklyClicker(ctx context.Context, experimentID, contactID, deliveryID uuid.UUID, week Week, loc *time.Location) error {
	from, to := week.Range(loc)
	_, err := s.db.NewDelete().Table("weekly_clickers").
		Where("experiment_id = ?", experimentID).Where("week = ?", week.String()).Where("contact_id = ?", contactID).
		Where("NOT EXISTS (SELECT 1 FROM clicks WHERE delivery_id = ? AND NOT automated AND clicked_at >= ? AND clicked_at < ?)",
			deliveryID, from, to).Exec(ctx)
	if err != nil {
		return fmt.Errorf("tracking: weekly clickers: %w", err)
	}
	return nil
}

// firstClicks returns the stored first human clicks of the deliveries.
func (s *Store) firstClicks(ctx context.Context, deliveries []uuid.UUID) (map[uuid.UUID]time.Time, error) {
	var rows []firstClick
	out := make(map[uuid.UUID]time.Time, len(deliveries))
	if len(deliveries) == 0 {
		return out, nil
	}
	if err := s.db.NewSelect().Model(&rows).Column("delivery_id", "clicked_at").Where("delivery_id IN (?)", bun.In(deliveries)).
		Scan(ctx); err != nil {
		return nil, fmt.Errorf("tracking: first clicks: %w", err)
	}
	for _, r := range rows {
		out[r.DeliveryID] = r.ClickedAt
	}
	return out, nil
}

func (s *Store) insertFirstClicks(ctx context.Context, rows []firstClick) error {
	if len(rows) == 0 {
		return nil
	}
	if _, err := s.db.NewInsert().Model(&rows).Exec(ctx); err != nil {
		return fmt.Errorf("tracking: first clicks: %w", err)
	}
	return nil
}

func (s *Store) moveFirstClick(ctx context.Context, deliveryID uuid.UUID, at time.Time) error {
	if _, err := s.db.NewUpdate().Model((*firstClick)(nil)).Set("clicked_at = ?", at).Where("delivery_id = ?", deliveryID).
		Exec(ctx); err != nil {
		return fmt.Errorf("tracking: first clicks: %w", err)
	}
	return nil
}

// deleteFirstClicks forgets the first clicks of deliveries and returns them.
func (s *Store) deleteFirstClicks(ctx context.Context, deliveries []uuid.UUID) ([]firstClick, error) {
	var gone []firstClick
	if len(deliveries) == 0 {
		return gone, nil
	}
	if err := s.db.NewDelete().Model(&gone).Where("delivery_id IN (?)", bun.In(deliveries)).
		Returning("delivery_id, experiment_id, variant_id, send_week").Scan(ctx, &gone); err != nil {
		return nil, fmt.Errorf("tracking: first clicks: %w", err)
	}
	return gone, nil
}

// variantCount is a change of one variant's click counters.
type variantCount struct {
	bun.BaseModel `bun:"table:variant_clicks,alias:variant_clicks"`

	VariantID       uuid.UUID `bun:"variant_id,pk,type:uuid"`
	ExperimentID    uuid.UUID `bun:"experiment_id,type:uuid"`
	HumanClickers   int       `bun:"human_clickers"`
	Clicks          int       `bun:"clicks"`
	AutomatedClicks int       `bun:"automated_clicks"`
}

// addVariantClicks adds the changes to the variants' click counters, in one
// statement.
func (s *Store) addVariantClicks(ctx context.Context, rows []variantCount) error {
	if len(rows) == 0 {
		return nil
	}
	if _, err := s.db.NewInsert().Model(&rows).On("CONFLICT (variant_id) DO UPDATE").
		Set("human_clickers = variant_clicks.human_clickers + EXCLUDED.human_clickers").
		Set("clicks = variant_clicks.clicks + EXCLUDED.clicks").
		Set("automated_clicks = variant_clicks.automated_clicks + EXCLUDED.automated_clicks").Exec(ctx); err != nil {
		return fmt.Errorf("tracking: variant click counters: %w", err)
	}
	return nil
}

// linkCount is a change of one link's click counters.
type linkCount struct {
	bun.BaseModel `bun:"table:link_clicks,alias:link_clicks"`

	VariantID       uuid.UUID `bun:"variant_id,pk,type:uuid"`
	LinkIdx         int       `bun:"link_idx,pk"`
	ExperimentID    uuid.UUID `bun:"experiment_id,type:uuid"`
	Clicks          int       `bun:"clicks"`
	AutomatedClicks int       `bun:"automated_clicks"`
}

// reasonCount is a change of a variant's automated clicks of one reason.
type reasonCount struct {
	bun.BaseModel `bun:"table:automated_reasons,alias:automated_reasons"`

	VariantID    uuid.UUID `bun:"variant_id,pk,type:uuid"`
	Reason       string    `bun:"reason,pk"`
	ExperimentID uuid.UUID `bun:"experiment_id,type:uuid"`
	Clicks       int       `bun:"clicks"`
}

// addLinkClicks adds the changes to the links' and the reasons' counters,
// one statement each.
func (s *Store) addLinkClicks(ctx context.Context, links []linkCount, reasons []reasonCount) error {
	if len(links) > 0 {
		if _, err := s.db.NewInsert().Model(&links).On("CONFLICT (variant_id, link_idx) DO UPDATE").
			Set("clicks = link_clicks.clicks + EXCLUDED.clicks").
			Set("automated_clicks = link_clicks.automated_clicks + EXCLUDED.automated_clicks").Exec(ctx); err != nil {
			return fmt.Errorf("tracking: link click counters: %w", err)
		}
	}
	if len(reasons) > 0 {
		if _, err := s.db.NewInsert().Model(&reasons).On("CONFLICT (variant_id, reason) DO UPDATE").
			Set("clicks = automated_reasons.clicks + EXCLUDED.clicks").Exec(ctx); err != nil {
			return fmt.Errorf("tracking: automated reason counters: %w", err)
		}
	}
	return nil
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

// ClickCounts returns an experiment's click counters per variant (the
// rollup the projector keeps; see ProjectionState for how far it has come).
func (s *Store) ClickCounts(ctx context.Context, experimentID uuid.UUID) ([]VariantClicks, error) {
	var out []VariantClicks
	if err := s.db.NewSelect().Table("variant_clicks").Column("variant_id", "human_clickers", "clicks", "automated_clicks").
		Where("experiment_id = ?", experimentID).Scan(ctx, &out); err != nil {
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

// ---- the projector's state (click_projection) ----

// ProjectionState is how far the projector has come.
type ProjectionState struct {
	// Position is the last ledger row projected.
	Position LedgerPos
	// AsOf: every click recorded before it is in the rollups.
	AsOf time.Time
	// Projected counts the ledger rows projected so far.
	Projected int64
	// Holder is the process holding the lease ("" when free), until LeaseUntil.
	Holder     string
	LeaseUntil *time.Time
}

type projectionRow struct {
	bun.BaseModel `bun:"table:click_projection"`

	Name        string     `bun:"name,pk"`
	PositionXid int64      `bun:"position_xid"`
	PositionSeq int64      `bun:"position_seq"`
	Holder      string     `bun:"holder"`
	LeaseUntil  *time.Time `bun:"lease_until"`
	AsOf        time.Time  `bun:"as_of"`
	Projected   int64      `bun:"projected"`
	UpdatedAt   time.Time  `bun:"updated_at"`
}

const projectionName = "clicks"

// ProjectionState reads the projector's state.
func (s *Store) ProjectionState(ctx context.Context) (ProjectionState, error) {
	var r projectionRow
	if err := s.db.NewSelect().Model(&r).Where("name = ?", projectionName).Scan(ctx); err != nil {
		return ProjectionState{}, fmt.Errorf("tracking: click projection state: %w", err)
	}
	return ProjectionState{Position: LedgerPos{Xid: r.PositionXid, Seq: r.PositionSeq}, AsOf: r.AsOf.UTC(), Projected: r.Projected,
		Holder: r.Holder, LeaseUntil: r.LeaseUntil}, nil
}

// ClicksAsOf is the time up to which every recorded click is in the rollups.
func (s *Store) ClicksAsOf(ctx context.Context) (time.Time, error) {
	st, err := s.ProjectionState(ctx)
	return st.AsOf, err
}

// takeLease makes holder the projector until until, when the lease is free,
// expired at now, or holder's already.
func (s *Store) takeLease(ctx context.Context, holder string, now, until time.Time) (bool, error) {
	res, err := s.db.NewUpdate().Model((*projectionRow)(nil)).Set("holder = ?", holder).Set("lease_until = ?", until).
		Where("name = ?", projectionName).
		WhereGroup(" AND ", func(q *bun.UpdateQuery) *bun.UpdateQuery {
			return q.Where("holder = ?", holder).WhereOr("holder = ''").WhereOr("lease_until IS NULL").WhereOr("lease_until < ?", now)
		}).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("tracking: click projector lease: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (s *Store) releaseLease(ctx context.Context, holder string) error {
	_, err := s.db.NewUpdate().Model((*projectionRow)(nil)).Set("holder = ''").Set("lease_until = NULL").
		Where("name = ?", projectionName).Where("holder = ?", holder).Exec(ctx)
	return err
}

// advance moves the position from from to to, if holder still holds the
// lease and the position is still from (errLeaseLost otherwise), renewing
// the lease.
func (s *Store) advance(ctx context.Context, holder string, from, to LedgerPos, asOf time.Time, rows int, now, until time.Time) error {
	res, err := s.db.NewUpdate().Model((*projectionRow)(nil)).
		Set("position_xid = ?", to.Xid).Set("position_seq = ?", to.Seq).Set("as_of = ?", asOf.UTC()).
		Set("projected = projected + ?", rows).Set("lease_until = ?", until).Set("updated_at = ?", now).
		Where("name = ?", projectionName).Where("holder = ?", holder).
		Where("position_xid = ?", from.Xid).Where("position_seq = ?", from.Seq).Exec(ctx)
	if err != nil {
		return fmt.Errorf("tracking: click projection: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return errLeaseLost
	}
	return nil
}
