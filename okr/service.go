package okr

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"slicelab/experiments"
)

// Service owns the transactions of the OKR domain. It reports errors with
// the experiments package's vocabulary (ValidationError, ConflictError,
// ErrNotFound), so the transport maps every domain the same way.
type Service struct {
	db     *bun.DB
	exps   *experiments.Service
	now    func() time.Time
	survey *SurveySigner // signs the allocation survey links
}

// NewService builds the OKR service.
func NewService(db *bun.DB, exps *experiments.Service, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	s := &Service{db: db, exps: exps, now: now}
	if exps != nil {
		exps.SetLinker(s.linkNewExperiment)
	}
	return s
}

// linkNewExperiment links a new experiment to key results of its team, in
// the transaction that creates the experiment.
func (s *Service) linkNewExperiment(ctx context.Context, tx bun.IDB, teamID, experimentID uuid.UUID, krIDs []uuid.UUID) error {
	var mine []uuid.UUID
	if err := tx.NewSelect().Table("key_results").Column("id").Where("team_id = ?", teamID).
		Where("id IN (?)", bun.In(krIDs)).Where("source <> ?", SourceManual).Scan(ctx, &mine); err != nil {
		return err
	}
	ok := map[uuid.UUID]bool{}
	for _, id := range mine {
		ok[id] = true
	}
	fe := map[string]string{}
	for i, id := range krIDs {
		if !ok[id] {
			fe[fmt.Sprintf("key_result_ids[%d]", i)] = fmt.Sprintf("%s is not a clicks, ctr or events key result of this team", id)
		}
	}
	if len(fe) > 0 {
		return &experiments.ValidationError{Fields: fe}
	}
	for _, kr := range krIDs {
		if err := linkTx(ctx, tx, kr, []uuid.UUID{experimentID}); err != nil {
			return err
		}
		if _, err := tx.NewDelete().Table("kr_snapshots").Where("key_result_id = ?", kr).Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Member is a person of a team: answers the weekly allocation survey and
// gets the Monday digest.
type Member struct {
	bun.BaseModel `bun:"table:members"`

	ID        uuid.UUID `bun:"id,pk,type:uuid" json:"id"`
	TeamID    uuid.UUID `bun:"team_id,type:uuid" json:"-"`
	Email     string    `bun:"email" json:"email"`
	EmailKey  string    `bun:"email_key" json:"-"`
	Name      string    `bun:"name" json:"name"`
	CreatedAt time.Time `bun:"created_at" json:"created_at"`
}

func invalid(field, format string, args ...any) error {
	return &experiments.ValidationError{Fields: map[string]string{field: fmt.Sprintf(format, args...)}}
}

func newID() uuid.UUID {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.New()
	}
	return id
}

// AddMember adds a person to a team.
func (s *Service) AddMember(ctx context.Context, teamID uuid.UUID, email, name string) (Member, error) {
	email, name = strings.TrimSpace(email), strings.TrimSpace(name)
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
		return Member{}, invalid("email", "%q is not an email address", email)
	}
	if strings.ContainsAny(name, "\r\n") {
		return Member{}, invalid("name", "must not contain line breaks")
	}
	m := Member{ID: newID(), TeamID: teamID, Email: email, EmailKey: strings.ToLower(email), Name: name, CreatedAt: s.now().UTC()}
	exists, err := s.db.NewSelect().Model((*Member)(nil)).Where("team_id = ?", teamID).Where("email_key = ?", m.EmailKey).Exists(ctx)
	if err != nil {
		return Member{}, fmt.Errorf("okr: add member: %w", err)
	}
	if exists {
		return Member{}, &experiments.ConflictError{Reason: fmt.Sprintf("%s is already a member of the team", email)}
	}
	if _, err := s.db.NewInsert().Model(&m).Exec(ctx); err != nil {
		return Member{}, fmt.Errorf("okr: add member: %w", err)
	}
	return m, nil
}

// Members lists a team's members by name.
func (s *Service) Members(ctx context.Context, teamID uuid.UUID) ([]Member, error) {
	out := []Member{}
	if err := s.db.NewSelect().Model(&out).Where("team_id = ?", teamID).Order("name", "email_key").Scan(ctx); err != nil {
		return nil, fmt.Errorf("okr: members: %w", err)
	}
	return out, nil
}

// Member finds one member of a team.
func (s *Service) Member(ctx context.Context, teamID, id uuid.UUID) (Member, error) {
	var m Member
	err := s.db.NewSelect().Model(&m).Where("team_id = ?", teamID).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Member{}, experiments.ErrNotFound
	}
	return m, err
}

// SetTimeZone sets the IANA time zone in which the team's ISO weeks are counted.
func (s *Service) SetTimeZone(ctx context.Context, teamID uuid.UUID, tz string) error {
	if _, err := time.LoadLocation(tz); err != nil || tz == "" || strings.EqualFold(tz, "local") {
		return invalid("time_zone", "%q is not an IANA time zone such as Europe/Berlin", tz)
	}
	_, err := s.db.NewUpdate().Table("teams").Set("time_zone = ?", tz).Where("id = ?", teamID).Exec(ctx)
	return err
}

// Location is the team's time zone (UTC by default).
func (s *Service) Location(ctx context.Context, teamID uuid.UUID) (*time.Location, error) {
	var tz string
	if err := s.db.NewSelect().Table("teams").Column("time_zone").Where("id = ?", teamID).Scan(ctx, &tz); err != nil {
		return nil, fmt.Errorf("okr: team time zone: %w", err)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return time.UTC, nil
	}
	return loc, nil
}
