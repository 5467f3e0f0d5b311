package experiments

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"slicelab/tracking"
)

// Team owns contacts, experiments and everything else; people belong to it
// through memberships (identity.go).
type Team struct {
	bun.BaseModel `bun:"table:teams"`

	ID        uuid.UUID `bun:"id,pk,type:uuid" json:"id"`
	Slug      string    `bun:"slug" json:"slug"`
	Name      string    `bun:"name" json:"name"`
	TimeZone  string    `bun:"time_zone" json:"time_zone"` // IANA name; ISO weeks are counted in it
	CreatedAt time.Time `bun:"created_at" json:"created_at"`
}

// Location is the team's time zone (UTC when unset or unknown).
func (t Team) Location() *time.Location {
	if t.TimeZone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(t.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// CreateTeam creates a team; slugs are lower-case letters, digits and dashes.
func (s *Service) CreateTeam(ctx context.Context, slug, name string) (Team, error) {
	fe := fieldErrors{}
	if !slugRE.MatchString(slug) {
		fe.add("slug", "%q must be 1-63 lower-case letters, digits or dashes, starting with a letter or digit", slug)
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = slug
	}
	if strings.ContainsAny(name, "\r\n") {
		fe.add("name", "must not contain line breaks")
	}
	if err := fe.err(); err != nil {
		return Team{}, err
	}
	t := Team{ID: tracking.NewID(), Slug: slug, Name: name, TimeZone: "UTC", CreatedAt: s.now().UTC()}
	exists, err := s.db.NewSelect().Model((*Team)(nil)).Where("slug = ?", slug).Exists(ctx)
	if err != nil {
		return Team{}, fmt.Errorf("create team: %w", err)
	}
	if exists {
		return Team{}, &ConflictError{Reason: fmt.Sprintf("team %q already exists", slug)}
	}
	if _, err := s.db.NewInsert().Model(&t).Exec(ctx); err != nil {
		return Team{}, fmt.Errorf("create team: %w", err)
	}
	return t, nil
}

// TeamBySlug finds a team.
func (s *Service) TeamBySlug(ctx context.Context, slug string) (Team, error) {
	return s.team(ctx, "slug = ?", slug)
}

// Team finds a team by id.
func (s *Service) Team(ctx context.Context, id uuid.UUID) (Team, error) {
	return s.team(ctx, "id = ?", id)
}

func (s *Service) team(ctx context.Context, where string, arg any) (Team, error) {
	var t Team
	err := s.db.NewSelect().Model(&t).Where(where, arg).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Team{}, fmt.Errorf("team %v: %w", arg, ErrNotFound)
	}
	if err != nil {
		return Team{}, fmt.Errorf("team %v: %w", arg, err)
	}
	return t, nil
}

// Teams lists every team, by slug.
func (s *Service) Teams(ctx context.Context) ([]Team, error) {
	out := []Team{}
	if err := s.db.NewSelect().Model(&out).Order("slug").Scan(ctx); err != nil {
		return nil, fmt.Errorf("teams: %w", err)
	}
	return out, nil
}

// SetTimeZone sets the IANA time zone in which the team's ISO weeks are counted.
func (s *Service) SetTimeZone(ctx context.Context, teamID uuid.UUID, tz string) (Team, error) {
	if _, err := time.LoadLocation(tz); err != nil || tz == "" || strings.EqualFold(tz, "local") {
		return Team{}, &ValidationError{Fields: map[string]string{"time_zone": fmt.Sprintf("%q is not an IANA time zone such as Europe/Berlin", tz)}}
	}
	if _, err := s.db.NewUpdate().Model((*Team)(nil)).Set("time_zone = ?", tz).Where("id = ?", teamID).Exec(ctx); err != nil {
		return Team{}, fmt.Errorf("set time zone: %w", err)
	}
	return s.Team(ctx, teamID)
}
