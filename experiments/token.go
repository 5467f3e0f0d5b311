package experiments

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"slicelab/tracking"
)

// APIToken is a bearer token of the API, acting for one team with one role.
// Only a hash of the token is stored; it is shown once, when created.
type APIToken struct {
	bun.BaseModel `bun:"table:api_tokens"`

	ID         uuid.UUID  `bun:"id,pk,type:uuid" json:"id"`
	TeamID     uuid.UUID  `bun:"team_id,type:uuid" json:"-"`
	Name       string     `bun:"name" json:"name"`
	Role       Role       `bun:"role" json:"role"`
	TokenHash  string     `bun:"token_hash" json:"-"`
	CreatedAt  time.Time  `bun:"created_at" json:"created_at"`
	ExpiresAt  *time.Time `bun:"expires_at" json:"expires_at"`
	RevokedAt  *time.Time `bun:"revoked_at" json:"revoked_at"`
	LastUsedAt *time.Time `bun:"last_used_at" json:"last_used_at"`
}

// TokenInput describes a new API token: its role, an optional name (what it
// is for) and an optional lifetime (0: it does not expire).
type TokenInput struct {
	Role    Role
	Name    string
	Expires time.Duration
}

// CreateToken makes a new API token for a team and returns it with its
// record; only its hash is stored.
func (s *Service) CreateToken(ctx context.Context, teamSlug string, in TokenInput) (string, APIToken, error) {
	fe := fieldErrors{}
	if in.Role.rank() == 0 {
		fe.add("role", "%q is not one of viewer, editor, admin", in.Role)
	}
	name := strings.TrimSpace(in.Name)
	if utf8.RuneCountInString(name) > 100 || strings.ContainsFunc(name, unicode.IsControl) {
		fe.add("name", "must be at most 100 characters on one line")
	}
	if in.Expires < 0 || in.Expires > 5*366*24*time.Hour {
		fe.add("expires", "must be a lifetime of up to 5 years, such as 720h")
	}
	if err := fe.err(); err != nil {
		return "", APIToken{}, err
	}
	t, err := s.TeamBySlug(ctx, teamSlug)
	if err != nil {
		return "", APIToken{}, err
	}
	token, err := randomToken("slk_")
	if err != nil {
		return "", APIToken{}, err
	}
	now := s.now().UTC()
	row := APIToken{ID: tracking.NewID(), TeamID: t.ID, Name: name, Role: in.Role, TokenHash: hashToken(token), CreatedAt: now}
	if in.Expires > 0 {
		exp := now.Add(in.Expires)
		row.ExpiresAt = &exp
	}
	if _, err := s.db.NewInsert().Model(&row).Exec(ctx); err != nil {
		return "", APIToken{}, fmt.Errorf("create token: %w", err)
	}
	return token, row, nil
}

// Tokens lists a team's API tokens, newest first (revoked ones too).
func (s *Service) Tokens(ctx context.Context, teamID uuid.UUID) ([]APIToken, error) {
	out := []APIToken{}
	if err := s.db.NewSelect().Model(&out).Where("team_id = ?", teamID).OrderExpr("created_at DESC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	return out, nil
}

// RevokeToken revokes one of a team's tokens for good (again: no change).
func (s *Service) RevokeToken(ctx context.Context, teamID, id uuid.UUID) (APIToken, error) {
	var t APIToken
	err := s.db.NewSelect().Model(&t).Where("id = ?", id).Where("team_id = ?", teamID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return APIToken{}, fmt.Errorf("token %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return APIToken{}, fmt.Errorf("revoke token: %w", err)
	}
	if t.RevokedAt == nil {
		now := s.now().UTC()
		t.RevokedAt = &now
		if _, err := s.db.NewUpdate().Model(&t).Column("revoked_at").WherePK().Exec(ctx); err != nil {
			return APIToken{}, fmt.Errorf("revoke token: %w", err)
		}
	}
	return t, nil
}

// tokenTouchEvery is how seldom a token's last use is written down.
const tokenTouchEvery = time.Hour

// Authenticate resolves a bearer token to its team and role; revoked and
// expired tokens are ErrUnauthorized.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	if token == "" {
		return Principal{}, ErrUnauthorized
	}
	if strings.HasPrefix(token, "slo_") {
		return s.authenticateOrg(ctx, token)
	}
	var row struct {
		TokenID    uuid.UUID  `bun:"token_id"`
		TokenName  string     `bun:"token_name"`
		Role       Role       `bun:"role"`
		LastUsedAt *time.Time `bun:"last_used_at"`
		Team
	}
	now := s.now().UTC()
	err := s.db.NewSelect().TableExpr("api_tokens AS k").Join("JOIN teams AS t ON t.id = k.team_id").
		ColumnExpr("k.id AS token_id, k.name AS token_name, k.role, k.last_used_at, t.*").
		Where("k.token_hash = ?", hashToken(token)).Where("k.revoked_at IS NULL").
		Where("(k.expires_at IS NULL OR k.expires_at > ?)", now).Scan(ctx, &row)
	if errors.Is(err, sql.ErrNoRows) {
		return Principal{}, ErrUnauthorized
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	if row.LastUsedAt == nil || now.Sub(*row.LastUsedAt) > tokenTouchEvery {
		_, _ = s.db.NewUpdate().Model((*APIToken)(nil)).Set("last_used_at = ?", now).Where("id = ?", row.TokenID).Exec(ctx)
	}
	return Principal{Team: row.Team, Role: row.Role, Author: strings.TrimSpace("API token " + row.TokenName)}, nil
}
