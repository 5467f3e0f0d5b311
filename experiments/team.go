package experiments

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// Team owns contacts, experiments and everything else.
type Team struct {
	bun.BaseModel `bun:"table:teams"`

	ID        uuid.UUID `bun:"id,pk,type:uuid" json:"id"`
	Slug      string    `bun:"slug" json:"slug"`
	Name      string    `bun:"name" json:"name"`
	CreatedAt time.Time `bun:"created_at" json:"created_at"`
}

// Role is what a token may do: viewer reads, editor creates and launches, admin does everything.
type Role string

// Roles.
const (
	RoleViewer Role = "viewer"
	RoleEditor Role = "editor"
	RoleAdmin  Role = "admin"
)

func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleEditor:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Allows tells whether r includes need.
func (r Role) Allows(need Role) bool { return r.rank() >= need.rank() && need.rank() > 0 }

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if r.rank() == 0 {
		return "", &ValidationError{Fields: map[string]string{"role": fmt.Sprintf("%q is not one of viewer, editor, admin", s)}}
	}
	return r, nil
}

// Principal is the caller behind an API token.
type Principal struct {
	Team Team
	Role Role
}

type apiToken struct {
	bun.BaseModel `bun:"table:api_tokens"`

	ID        uuid.UUID `bun:"id,pk,type:uuid"`
	TeamID    uuid.UUID `bun:"team_id,type:uuid"`
	Role      Role      `bun:"role"`
	TokenHash string    `bun:"token_hash"`
	CreatedAt time.Time `bun:"created_at"`
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
	t := Team{ID: newID(), Slug: slug, Name: name, CreatedAt: s.now().UTC()}
	exists, err := s.db.NewSelect().Model((*Team)(nil)).Where("slug = ?", slug).Exists(ctx)
	if err != nil {
		return Team{}, fmt.Errorf("experiments: create team: %w", err)
	}
	if exists {
		return Team{}, &ConflictError{Reason: fmt.Sprintf("team %q already exists", slug)}
	}
	if _, err := s.db.NewInsert().Model(&t).Exec(ctx); err != nil {
		return Team{}, fmt.Errorf("experiments: create team: %w", err)
	}
	return t, nil
}

// TeamBySlug finds a team.
func (s *Service) TeamBySlug(ctx context.Context, slug string) (Team, error) {
	var t Team
	err := s.db.NewSelect().Model(&t).Where("slug = ?", slug).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Team{}, fmt.Errorf("experiments: team %q: %w", slug, ErrNotFound)
	}
	if err != nil {
		return Team{}, fmt.Errorf("experiments: team %q: %w", slug, err)
	}
	return t, nil
}

// CreateToken makes a new API token for a team and returns it; only its hash is stored.
func (s *Service) CreateToken(ctx context.Context, teamSlug string, role Role) (string, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return "", err
	}
	t, err := s.TeamBySlug(ctx, teamSlug)
	if err != nil {
		return "", err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("experiments: token: %w", err)
	}
	token := "slk_" + base64.RawURLEncoding.EncodeToString(raw[:])
	row := apiToken{ID: newID(), TeamID: t.ID, Role: role, TokenHash: hashToken(token), CreatedAt: s.now().UTC()}
	if _, err := s.db.NewInsert().Model(&row).Exec(ctx); err != nil {
		return "", fmt.Errorf("experiments: token: %w", err)
	}
	return token, nil
}

// Authenticate resolves a bearer token to its team and role.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	if token == "" {
		return Principal{}, ErrUnauthorized
	}
	var row struct {
		Role Role `bun:"role"`
		Team
	}
	err := s.db.NewSelect().TableExpr("api_tokens AS k").Join("JOIN teams AS t ON t.id = k.team_id").
		ColumnExpr("k.role, t.id, t.slug, t.name, t.created_at").
		Where("k.token_hash = ?", hashToken(token)).Scan(ctx, &row)
	if errors.Is(err, sql.ErrNoRows) {
		return Principal{}, ErrUnauthorized
	}
	if err != nil {
		return Principal{}, fmt.Errorf("experiments: authenticate: %w", err)
	}
	return Principal{Team: row.Team, Role: row.Role}, nil
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func newID() uuid.UUID {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.New()
	}
	return id
}
