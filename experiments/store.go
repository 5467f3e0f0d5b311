package experiments

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"slicelab/tracking"
)

// This file holds the queries that the other packages make of the tables the
// experiments package owns (migrations.Owners): they call these functions
// and never name teams, contacts, experiments or deliveries themselves.

// DeliveryFacts implements tracking.Deliveries: the experiment, contact, send
// time and team time zone of each delivery, read within db (the click
// recorder's transaction).
func (s *Service) DeliveryFacts(ctx context.Context, db bun.IDB, ids []uuid.UUID) (map[uuid.UUID]tracking.DeliveryFacts, error) {
	out := make(map[uuid.UUID]tracking.DeliveryFacts, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		ID           uuid.UUID  `bun:"id"`
		ExperimentID uuid.UUID  `bun:"experiment_id"`
		ContactID    uuid.UUID  `bun:"contact_id"`
		SentAt       *time.Time `bun:"sent_at"`
		TimeZone     string     `bun:"time_zone"`
	}
	if err := db.NewSelect().TableExpr("deliveries AS d").Join("JOIN experiments AS e ON e.id = d.experiment_id").
		Join("JOIN teams AS t ON t.id = e.team_id").ColumnExpr("d.id, d.experiment_id, d.contact_id, d.sent_at, t.time_zone").
		Where("d.id IN (?)", bun.In(ids)).Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("delivery facts: %w", err)
	}
	zones := map[string]*time.Location{}
	for _, r := range rows {
		loc, ok := zones[r.TimeZone]
		if !ok {
			loc = Team{TimeZone: r.TimeZone}.Location()
			zones[r.TimeZone] = loc
		}
		out[r.ID] = tracking.DeliveryFacts{ExperimentID: r.ExperimentID, ContactID: r.ContactID, SentAt: r.SentAt, Location: loc}
	}
	return out, nil
}

// Recipient is the person behind a delivery, as the unsubscribe page shows it.
type Recipient struct {
	Email        string
	Unsubscribed bool
}

// Recipient tells whose a delivery is. It changes nothing.
func (s *Service) Recipient(ctx context.Context, deliveryID uuid.UUID) (Recipient, error) {
	var row struct {
		Email          string       `bun:"email"`
		UnsubscribedAt bun.NullTime `bun:"unsubscribed_at"`
	}
	err := s.db.NewSelect().TableExpr("deliveries AS d").Join("JOIN contacts AS c ON c.id = d.contact_id").
		ColumnExpr("c.email, c.unsubscribed_at").Where("d.id = ?", deliveryID).Scan(ctx, &row)
	if errors.Is(err, sql.ErrNoRows) {
		return Recipient{}, ErrNotFound
	}
	if err != nil {
		return Recipient{}, fmt.Errorf("recipient: %w", err)
	}
	return Recipient{Email: row.Email, Unsubscribed: !row.UnsubscribedAt.IsZero()}, nil
}

// Unsubscribe marks the contact of a delivery as unsubscribed: no experiment
// of the team emails it again. It is idempotent: the first time is kept.
func (s *Service) Unsubscribe(ctx context.Context, deliveryID uuid.UUID) (Recipient, error) {
	r, err := s.Recipient(ctx, deliveryID)
	if err != nil {
		return r, err
	}
	_, err = s.db.NewUpdate().Model((*Contact)(nil)).Set("unsubscribed_at = ?", s.now().UTC()).
		Where("id = (SELECT contact_id FROM deliveries WHERE id = ?)", deliveryID).
		Where("unsubscribed_at IS NULL").Exec(ctx)
	if err != nil {
		return r, fmt.Errorf("unsubscribe: %w", err)
	}
	r.Unsubscribed = true
	return r, nil
}

// Summary is an experiment as reports list it.
type Summary struct {
	ID          uuid.UUID  `bun:"id" json:"id"`
	TeamID      uuid.UUID  `bun:"team_id" json:"-"`
	Name        string     `bun:"name" json:"name"`
	Initiative  string     `bun:"initiative" json:"initiative"`
	Status      Status     `bun:"status" json:"status"`
	LaunchedAt  *time.Time `bun:"launched_at" json:"launched_at"`
	CompletedAt *time.Time `bun:"completed_at" json:"completed_at"`
}

// Summaries lists the experiments of teams, by name.
func (s *Service) Summaries(ctx context.Context, teamIDs ...uuid.UUID) ([]Summary, error) {
	var out []Summary
	if len(teamIDs) == 0 {
		return out, nil
	}
	if err := s.db.NewSelect().Model((*Experiment)(nil)).Column("id", "team_id", "name", "initiative", "status", "launched_at", "completed_at").
		Where("team_id IN (?)", bun.In(teamIDs)).Order("name").Scan(ctx, &out); err != nil {
		return nil, fmt.Errorf("experiment summaries: %w", err)
	}
	return out, nil
}

// OfTeam returns which of ids are experiments of the team.
func (s *Service) OfTeam(ctx context.Context, teamID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
	return s.OfTeams(ctx, []uuid.UUID{teamID}, ids)
}

// OfTeams returns which of ids are experiments of any of the teams.
func (s *Service) OfTeams(ctx context.Context, teamIDs, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
	out := map[uuid.UUID]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	var mine []uuid.UUID
	if err := s.db.NewSelect().Model((*Experiment)(nil)).Column("id").Where("team_id IN (?)", bun.In(teamIDs)).
		Where("id IN (?)", bun.In(ids)).Scan(ctx, &mine); err != nil {
		return nil, fmt.Errorf("experiments of teams: %w", err)
	}
	for _, id := range mine {
		out[id] = true
	}
	return out, nil
}

// ContactRefs resolves contacts of a team given by lower-case address or by
// id: the ids by address, and which of the ids are the team's.
func (s *Service) ContactRefs(ctx context.Context, teamID uuid.UUID, emailKeys []string, ids []uuid.UUID) (map[string]uuid.UUID, map[uuid.UUID]bool, error) {
	byEmail, known := map[string]uuid.UUID{}, map[uuid.UUID]bool{}
	if len(emailKeys) > 0 {
		var rows []struct {
			ID       uuid.UUID `bun:"id"`
			EmailKey string    `bun:"email_key"`
		}
		if err := s.db.NewSelect().Model((*Contact)(nil)).Column("id", "email_key").Where("team_id = ?", teamID).
			Where("email_key IN (?)", bun.In(emailKeys)).Scan(ctx, &rows); err != nil {
			return nil, nil, fmt.Errorf("contacts: %w", err)
		}
		for _, r := range rows {
			byEmail[r.EmailKey] = r.ID
		}
	}
	if len(ids) > 0 {
		var mine []uuid.UUID
		if err := s.db.NewSelect().Model((*Contact)(nil)).Column("id").Where("team_id = ?", teamID).
			Where("id IN (?)", bun.In(ids)).Scan(ctx, &mine); err != nil {
			return nil, nil, fmt.Errorf("contacts: %w", err)
		}
		for _, id := range mine {
			known[id] = true
		}
	}
	return byEmail, known, nil
}

// Reach counts the contacts of one arm of an experiment (those sent the
// email, or those held out) and how many of them are in converted: a query,
// built by the caller over its own tables, that selects contact ids.
func (s *Service) Reach(ctx context.Context, experimentID uuid.UUID, heldOut bool, converted *bun.SelectQuery) (contacts, inSet int, err error) {
	status := DeliverySent
	if heldOut {
		status = DeliveryHeldOut
	}
	var c struct {
		N         int `bun:"n"`
		Converted int `bun:"converted"`
	}
	if err := s.db.NewSelect().TableExpr("deliveries AS d").ColumnExpr("count(*) AS n").
		ColumnExpr("COALESCE(sum(CASE WHEN d.contact_id IN (?) THEN 1 ELSE 0 END), 0) AS converted", converted).
		Where("d.experiment_id = ?", experimentID).Where("d.status = ?", status).Scan(ctx, &c); err != nil {
		return 0, 0, fmt.Errorf("reach: %w", err)
	}
	return c.N, c.Converted, nil
}
