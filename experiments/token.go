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

// apiToken is a bearer token of the API, acting for one team with one role.
// Only its hash is stored.
type apiToken struct {
	bun.BaseModel `bun:"table:api_tokens"`

	ID        uuid.UUID `bun:"id,pk,type:uuid"`
	TeamID    uuid.UUID `bun:"team_id,type:uuid"`
	Role      Role      `bun:"role"`
	TokenHash string    `bun:"token_hash"`
	CreatedAt time.Time `bun:"created_at"`
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
	token, err := randomToken("slk_")
	if err != nil {
		return "", err
	}
	row := apiToken{ID: tracking.NewID(), TeamID: t.ID, Role: role, TokenHash: hashToken(token), CreatedAt: s.now().UTC()}
	if _, err := s.db.NewInsert().Model(&row).Exec(ctx); err != nil {
		return "", fmt.Errorf("create token: %w", err)
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
		ColumnExpr("k.role, t.*").
		Where("k.token_hash = ?", hashToken(token)).Scan(ctx, &row)
	if errors.Is(err, sql.ErrNoRows) {
		return Principal{}, ErrUnauthorized
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	return Principal{Team: row.Team, Role: row.Role}, nil
}
