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

// An organisation is above teams (issue 13): every team belongs to one, the
// embedded default has one ("default"), and org admins see every team of
// it: its aggregates (the organisation's week), never one person's
// allocation answers.

// Org is an organisation.
type Org struct {
	bun.BaseModel `bun:"table:organisations"`

	ID        uuid.UUID `bun:"id,pk,type:uuid" json:"id"`
	Slug      string    `bun:"slug" json:"slug"`
	Name      string    `bun:"name" json:"name"`
	CreatedAt time.Time `bun:"created_at" json:"created_at"`
}

// DefaultOrgID is the id of the organisation that teams join when none is named.
var DefaultOrgID = uuid.MustParse("00000000-0000-7000-8000-000000000001")

type orgAdmin struct {
	bun.BaseModel `bun:"table:org_admins"`

	OrgID     uuid.UUID `bun:"org_id,pk,type:uuid"`
	UserID    uuid.UUID `bun:"user_id,pk,type:uuid"`
	CreatedAt time.Time `bun:"created_at"`
}

// defaultOrg makes sure the default organisation exists and returns it.
func (s *Service) defaultOrg(ctx context.Context, db bun.IDB) (Org, error) {
	o := Org{ID: DefaultOrgID, Slug: "default", Name: "Organisation", CreatedAt: s.now().UTC()}
	if _, err := db.NewInsert().Model(&o).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
		return Org{}, fmt.Errorf("default organisation: %w", err)
	}
	return o, nil
}

// CreateOrg creates an organisation.
func (s *Service) CreateOrg(ctx context.Context, slug, name string) (Org, error) {
	fe := fieldErrors{}
	if !slugRE.MatchString(slug) {
		fe.add("slug", "%q must be 1-63 lower-case letters, digits or dashes, starting with a letter or digit", slug)
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = slug
	}
	if utf8.RuneCountInString(name) > 100 || strings.ContainsFunc(name, unicode.IsControl) {
		fe.add("name", "must be at most 100 characters on one line")
	}
	if err := fe.err(); err != nil {
		return Org{}, err
	}
	o := Org{ID: tracking.NewID(), Slug: slug, Name: name, CreatedAt: s.now().UTC()}
	if exists, err := s.db.NewSelect().Model((*Org)(nil)).Where("slug = ?", slug).Exists(ctx); err != nil {
		return Org{}, fmt.Errorf("create organisation: %w", err)
	} else if exists {
		return Org{}, &ConflictError{Reason: fmt.Sprintf("organisation %q already exists", slug)}
	}
	if _, err := s.db.NewInsert().Model(&o).Exec(ctx); err != nil {
		return Org{}, fmt.Errorf("create organisation: %w", err)
	}
	return o, nil
}

// Orgs lists the organisations, by slug.
func (s *Service) Orgs(ctx context.Context) ([]Org, error) {
	out := []Org{}
	if err := s.db.NewSelect().Model(&out).Order("slug").Scan(ctx); err != nil {
		return nil, fmt.Errorf("organisations: %w", err)
	}
	return out, nil
}

// OrgBySlug finds an organisation; "" is the default one.
func (s *Service) OrgBySlug(ctx context.Context, slug string) (Org, error) {
	if slug == "" {
		return s.defaultOrg(ctx, s.db)
	}
	var o Org
	err := s.db.NewSelect().Model(&o).Where("slug = ?", slug).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Org{}, fmt.Errorf("organisation %q: %w", slug, ErrNotFound)
	}
	if err != nil {
		return Org{}, fmt.Errorf("organisation %q: %w", slug, err)
	}
	return o, nil
}

// Org finds an organisation by id.
func (s *Service) Org(ctx context.Context, id uuid.UUID) (Org, error) {
	var o Org
	err := s.db.NewSelect().Model(&o).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Org{}, fmt.Errorf("organisation %s: %w", id, ErrNotFound)
	}
	return o, err
}

// OrgTeams lists an organisation's teams, by name.
func (s *Service) OrgTeams(ctx context.Context, orgID uuid.UUID) ([]Team, error) {
	out := []Team{}
	if err := s.db.NewSelect().Model(&out).Where("org_id = ?", orgID).OrderExpr("name, slug").Scan(ctx); err != nil {
		return nil, fmt.Errorf("teams of the organisation: %w", err)
	}
	return out, nil
}

// AddOrgAdmin makes a person an admin of an organisation, creating the user
// the first time the address is seen.
func (s *Service) AddOrgAdmin(ctx context.Context, orgID uuid.UUID, email, name string) (User, error) {
	email, name = strings.TrimSpace(email), strings.TrimSpace(name)
	if !ValidAddress(email) {
		return User{}, &ValidationError{Fields: map[string]string{"email": fmt.Sprintf("%q is not an email address", email)}}
	}
	var u User
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if u, err = s.userFor(ctx, tx, email, name, ""); err != nil {
			return err
		}
		_, err = tx.NewInsert().Model(&orgAdmin{OrgID: orgID, UserID: u.ID, CreatedAt: s.now().UTC()}).On("CONFLICT DO NOTHING").Exec(ctx)
		return err
	})
	if err != nil {
		return User{}, fmt.Errorf("add organisation admin: %w", err)
	}
	return u, nil
}

// IsOrgAdmin tells whether a user is an admin of an organisation.
func (s *Service) IsOrgAdmin(ctx context.Context, orgID, userID uuid.UUID) (bool, error) {
	return s.db.NewSelect().Model((*orgAdmin)(nil)).Where("org_id = ?", orgID).Where("user_id = ?", userID).Exists(ctx)
}

// OrgMember is a person of an organisation: the teams they are in, with
// their role and function there, and whether they are an org admin.
type OrgMember struct {
	ID       uuid.UUID    `json:"id"`
	Email    string       `json:"email"`
	Name     string       `json:"name"`
	OrgAdmin bool         `json:"org_admin"`
	Teams    []MemberTeam `json:"teams"`
}

// MemberTeam is one team of an organisation member.
type MemberTeam struct {
	Slug     string `json:"slug"`
	Name     string `json:"name"`
	Role     Role   `json:"role"`
	Function string `json:"function"`
}

// OrgMembers lists the people of an organisation (members of its teams and
// its admins), by name.
func (s *Service) OrgMembers(ctx context.Context, orgID uuid.UUID) ([]OrgMember, error) {
	var rows []struct {
		ID       uuid.UUID `bun:"id"`
		Email    string    `bun:"email"`
		Name     string    `bun:"name"`
		Slug     string    `bun:"slug"`
		TeamName string    `bun:"team_name"`
		Role     Role      `bun:"role"`
		Function string    `bun:"function"`
	}
	if err := s.db.NewSelect().TableExpr("memberships AS m").Join("JOIN users AS u ON u.id = m.user_id").
		Join("JOIN teams AS t ON t.id = m.team_id").
		ColumnExpr("u.id, u.email, u.name, t.slug, t.name AS team_name, m.role, m.function").
		Where("t.org_id = ?", orgID).OrderExpr("u.name, u.email_key, t.name").Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("organisation members: %w", err)
	}
	var admins []User
	if err := s.db.NewSelect().Model(&admins).Where("id IN (SELECT user_id FROM org_admins WHERE org_id = ?)", orgID).
		OrderExpr("name, email_key").Scan(ctx); err != nil {
		return nil, fmt.Errorf("organisation admins: %w", err)
	}
	out := []OrgMember{}
	at := map[uuid.UUID]int{}
	for _, r := range rows {
		i, ok := at[r.ID]
		if !ok {
			i = len(out)
			at[r.ID] = i
			out = append(out, OrgMember{ID: r.ID, Email: r.Email, Name: r.Name, Teams: []MemberTeam{}})
		}
		out[i].Teams = append(out[i].Teams, MemberTeam{Slug: r.Slug, Name: r.TeamName, Role: r.Role, Function: r.Function})
	}
	for _, a := range admins {
		i, ok := at[a.ID]
		if !ok {
			i = len(out)
			at[a.ID] = i
			out = append(out, OrgMember{ID: a.ID, Email: a.Email, Name: a.Name, Teams: []MemberTeam{}})
		}
		out[i].OrgAdmin = true
	}
	return out, nil
}

// orgToken is an API token of an organisation: it reads the organisation's
// reports, not its teams.
type orgToken struct {
	bun.BaseModel `bun:"table:org_tokens"`

	ID         uuid.UUID  `bun:"id,pk,type:uuid"`
	OrgID      uuid.UUID  `bun:"org_id,type:uuid"`
	Name       string     `bun:"name"`
	TokenHash  string     `bun:"token_hash"`
	CreatedAt  time.Time  `bun:"created_at"`
	ExpiresAt  *time.Time `bun:"expires_at"`
	RevokedAt  *time.Time `bun:"revoked_at"`
	LastUsedAt *time.Time `bun:"last_used_at"`
}

// CreateOrgToken makes an API token of an organisation (for its reports).
func (s *Service) CreateOrgToken(ctx context.Context, orgSlug, name string, expires time.Duration) (string, error) {
	o, err := s.OrgBySlug(ctx, orgSlug)
	if err != nil {
		return "", err
	}
	token, err := randomToken("slo_")
	if err != nil {
		return "", err
	}
	now := s.now().UTC()
	row := orgToken{ID: tracking.NewID(), OrgID: o.ID, Name: strings.TrimSpace(name), TokenHash: hashToken(token), CreatedAt: now}
	if expires > 0 {
		exp := now.Add(expires)
		row.ExpiresAt = &exp
	}
	if _, err := s.db.NewInsert().Model(&row).Exec(ctx); err != nil {
		return "", fmt.Errorf("create organisation token: %w", err)
	}
	return token, nil
}

// authenticateOrg resolves an organisation token.
func (s *Service) authenticateOrg(ctx context.Context, token string) (Principal, error) {
	var row struct {
		TokenID uuid.UUID `bun:"token_id"`
		Org
	}
	err := s.db.NewSelect().TableExpr("org_tokens AS k").Join("JOIN organisations AS o ON o.id = k.org_id").
		ColumnExpr("k.id AS token_id, o.*").Where("k.token_hash = ?", hashToken(token)).Where("k.revoked_at IS NULL").
		Where("(k.expires_at IS NULL OR k.expires_at > ?)", s.now().UTC()).Scan(ctx, &row)
	if errors.Is(err, sql.ErrNoRows) {
		return Principal{}, ErrUnauthorized
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	o := row.Org
	return Principal{Org: &o, OrgAdmin: true}, nil
}
