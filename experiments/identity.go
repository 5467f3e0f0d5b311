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
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"golang.org/x/crypto/bcrypt"

	"slicelab/tracking"
)

// The one identity model (product.md §11): a user is a person with an email
// address, a name and (to sign in) a password; a membership puts a user in a
// team with a role; a session is a signed-in browser. The members of a team
// are also the recipients of its allocation survey and Monday digest. API
// tokens (tokens.go) act for a team with a role, without a user.

// Role is what a member or a token may do: viewer reads, editor creates and launches, admin does everything.
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

// Principal is who makes a request: a member of a team (signed in), an API
// token of the team (User is then uuid.Nil), or an organisation's token or
// admin (Org set, OrgAdmin true), which reads the organisation's reports.
type Principal struct {
	Team Team
	Role Role
	User uuid.UUID
	// Author names the caller in what it records (a check-in): the user's
	// name, or "API token" and the token's name.
	Author   string
	Org      *Org
	OrgAdmin bool
}

// User is a person who can belong to teams.
type User struct {
	bun.BaseModel `bun:"table:users"`

	ID           uuid.UUID `bun:"id,pk,type:uuid" json:"id"`
	Email        string    `bun:"email" json:"email"`
	EmailKey     string    `bun:"email_key" json:"-"`
	Name         string    `bun:"name" json:"name"`
	PasswordHash string    `bun:"password_hash" json:"-"`
	CreatedAt    time.Time `bun:"created_at" json:"created_at"`
}

// DisplayName is the user's name, or the address when there is none.
func (u User) DisplayName() string {
	if u.Name != "" {
		return u.Name
	}
	return u.Email
}

type membership struct {
	bun.BaseModel `bun:"table:memberships"`

	TeamID    uuid.UUID `bun:"team_id,pk,type:uuid"`
	UserID    uuid.UUID `bun:"user_id,pk,type:uuid"`
	Role      Role      `bun:"role"`
	Function  string    `bun:"function"`
	CreatedAt time.Time `bun:"created_at"`
}

// Member is a user as a member of one team. Its ID is the user's.
type Member struct {
	ID        uuid.UUID `bun:"id" json:"id"`
	Email     string    `bun:"email" json:"email"`
	Name      string    `bun:"name" json:"name"`
	Role      Role      `bun:"role" json:"role"`
	Function  string    `bun:"function" json:"function"` // product, engineering, design, …
	TeamID    uuid.UUID `bun:"team_id" json:"-"`
	CreatedAt time.Time `bun:"created_at" json:"created_at"` // when the user joined the team
}

// DisplayName is the member's name, or the address when there is none.
func (m Member) DisplayName() string {
	if m.Name != "" {
		return m.Name
	}
	return m.Email
}

// MemberInput adds a person to a team. An empty Role is a viewer; a nil
// Password leaves the user's password as it is (a new user without one
// cannot sign in yet).
type MemberInput struct {
	Email    string  `json:"email"`
	Name     string  `json:"name"`
	Role     Role    `json:"role"`
	Function string  `json:"function"` // what the person does: product, engineering, design, …
	Password *string `json:"-"`
}

// checkFunction says what is wrong with a member's function.
func checkFunction(f string) string {
	if utf8.RuneCountInString(f) > 40 || strings.ContainsFunc(f, func(r rune) bool { return !unicode.IsLetter(r) && r != ' ' && r != '-' }) {
		return "must be a word or two such as product, engineering or design (letters, spaces and dashes, at most 40)"
	}
	return ""
}

// MinPasswordLength is the shortest password a user may choose.
const MinPasswordLength = 10

// AddMember adds a person to a team with a role, creating the user the first
// time the address is seen (addresses compare case-insensitively). A person
// who already is a member of the team is a ConflictError.
func (s *Service) AddMember(ctx context.Context, teamID uuid.UUID, in MemberInput) (Member, error) {
	fe := fieldErrors{}
	email, name := strings.TrimSpace(in.Email), strings.TrimSpace(in.Name)
	if !ValidAddress(email) {
		fe.add("email", "%q is not an email address", email)
	}
	switch {
	case strings.ContainsAny(name, "\r\n"):
		fe.add("name", "must not contain line breaks")
	case utf8.RuneCountInString(name) > 200:
		fe.add("name", "must be at most 200 characters")
	}
	role := in.Role
	if role == "" {
		role = RoleViewer
	}
	if role.rank() == 0 {
		fe.add("role", "%q is not one of viewer, editor, admin", in.Role)
	}
	function := strings.ToLower(strings.TrimSpace(in.Function))
	if msg := checkFunction(function); msg != "" {
		fe.add("function", "%s", msg)
	}
	var hash string
	if in.Password != nil {
		h, msg := hashPassword(*in.Password)
		if msg != "" {
			fe.add("password", "%s", msg)
		}
		hash = h
	}
	if err := fe.err(); err != nil {
		return Member{}, err
	}
	now := s.now().UTC()
	var userID uuid.UUID
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		u, err := s.userFor(ctx, tx, email, name, hash)
		if err != nil {
			return err
		}
		userID = u.ID
		exists, err := tx.NewSelect().Model((*membership)(nil)).Where("team_id = ?", teamID).Where("user_id = ?", u.ID).Exists(ctx)
		if err != nil {
			return err
		}
		if exists {
			return &ConflictError{Reason: fmt.Sprintf("%s is already a member of the team", email)}
		}
		_, err = tx.NewInsert().Model(&membership{TeamID: teamID, UserID: u.ID, Role: role, Function: function, CreatedAt: now}).Exec(ctx)
		return err
	})
	var ce *ConflictError
	if errors.As(err, &ce) {
		return Member{}, err
	}
	if err != nil {
		return Member{}, fmt.Errorf("add member: %w", err)
	}
	return s.Member(ctx, teamID, userID)
}

// userFor finds the user with an address, or creates one; a name fills an
// empty name, and a password hash replaces the password.
func (s *Service) userFor(ctx context.Context, tx bun.IDB, email, name, hash string) (User, error) {
	key := strings.ToLower(email)
	var u User
	err := tx.NewSelect().Model(&u).Where("email_key = ?", key).Scan(ctx)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		u = User{ID: tracking.NewID(), Email: email, EmailKey: key, Name: name, PasswordHash: hash, CreatedAt: s.now().UTC()}
		_, err := tx.NewInsert().Model(&u).Exec(ctx)
		return u, err
	case err != nil:
		return User{}, err
	}
	q := tx.NewUpdate().Model(&u).WherePK()
	set := false
	if u.Name == "" && name != "" {
		u.Name = name
		q, set = q.Set("name = ?", name), true
	}
	if hash != "" {
		u.PasswordHash = hash
		q, set = q.Set("password_hash = ?", hash), true
	}
	if set {
		if _, err := q.Exec(ctx); err != nil {
			return User{}, err
		}
	}
	return u, nil
}

func (s *Service) membersQuery(teamID uuid.UUID) *bun.SelectQuery {
	return s.db.NewSelect().TableExpr("memberships AS m").Join("JOIN users AS u ON u.id = m.user_id").
		ColumnExpr("u.id, u.email, u.name, m.role, m.function, m.team_id, m.created_at").Where("m.team_id = ?", teamID)
}

// Members lists a team's members by name.
func (s *Service) Members(ctx context.Context, teamID uuid.UUID) ([]Member, error) {
	out := []Member{}
	if err := s.membersQuery(teamID).OrderExpr("u.name, u.email_key").Scan(ctx, &out); err != nil {
		return nil, fmt.Errorf("members: %w", err)
	}
	return out, nil
}

// Member finds one member of a team by user id; someone who is not a member
// of the team is ErrNotFound.
func (s *Service) Member(ctx context.Context, teamID, userID uuid.UUID) (Member, error) {
	var m Member
	err := s.membersQuery(teamID).Where("u.id = ?", userID).Scan(ctx, &m)
	if errors.Is(err, sql.ErrNoRows) {
		return Member{}, ErrNotFound
	}
	if err != nil {
		return Member{}, fmt.Errorf("member: %w", err)
	}
	return m, nil
}

// Membership is one team of a user, with the user's role in it. An admin
// of the team's organisation who is not a member sees it as a viewer (ViaOrg).
type Membership struct {
	Team   Team
	Role   Role
	ViaOrg bool
}

// Memberships lists the teams of a user, by team name.
func (s *Service) Memberships(ctx context.Context, userID uuid.UUID) ([]Membership, error) {
	var rows []struct {
		Team
		Role Role `bun:"role"`
	}
	if err := s.db.NewSelect().TableExpr("memberships AS m").Join("JOIN teams AS t ON t.id = m.team_id").
		ColumnExpr("t.*, m.role").Where("m.user_id = ?", userID).
		OrderExpr("t.name, t.slug").Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("memberships: %w", err)
	}
	out := make([]Membership, len(rows))
	in := map[uuid.UUID]bool{}
	for i, r := range rows {
		out[i] = Membership{Team: r.Team, Role: r.Role}
		in[r.Team.ID] = true
	}
	var orgTeams []Team
	if err := s.db.NewSelect().Model(&orgTeams).Where("org_id IN (SELECT org_id FROM org_admins WHERE user_id = ?)", userID).
		OrderExpr("name, slug").Scan(ctx); err != nil {
		return nil, fmt.Errorf("memberships: %w", err)
	}
	for _, t := range orgTeams {
		if !in[t.ID] {
			out = append(out, Membership{Team: t, Role: RoleViewer, ViaOrg: true})
		}
	}
	return out, nil
}

// hashPassword checks a new password and hashes it with bcrypt; msg says what
// is wrong with it.
func hashPassword(pw string) (hash, msg string) {
	switch n := utf8.RuneCountInString(pw); {
	case !utf8.ValidString(pw):
		return "", "must be valid UTF-8"
	case n < MinPasswordLength:
		return "", fmt.Sprintf("must be at least %d characters", MinPasswordLength)
	case len(pw) > 72: // bcrypt reads no further
		return "", "must be at most 72 bytes"
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return "", err.Error()
	}
	return string(h), ""
}

// ErrBadCredentials is a sign-in with an unknown address or a wrong password;
// the two are not told apart.
var ErrBadCredentials = errors.New("wrong email address or password")

// dummyHash is compared when the address is unknown, so that a sign-in takes
// as long whether or not the address exists.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("slicelab-no-such-user"), bcrypt.MinCost)

// CheckPassword returns the user with that address and password.
func (s *Service) CheckPassword(ctx context.Context, email, password string) (User, error) {
	var u User
	err := s.db.NewSelect().Model(&u).Where("email_key = ?", strings.ToLower(strings.TrimSpace(email))).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && u.PasswordHash == "") {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return User{}, ErrBadCredentials
	}
	if err != nil {
		return User{}, fmt.Errorf("sign in: %w", err)
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil {
		return User{}, ErrBadCredentials
	}
	return u, nil
}

// Session is a signed-in browser of a user; TeamID is the team it looks at.
type Session struct {
	bun.BaseModel `bun:"table:sessions"`

	ID         uuid.UUID  `bun:"id,pk,type:uuid"`
	TokenHash  string     `bun:"token_hash"`
	UserID     uuid.UUID  `bun:"user_id,type:uuid"`
	TeamID     *uuid.UUID `bun:"team_id,type:uuid"`
	CreatedAt  time.Time  `bun:"created_at"`
	LastSeenAt time.Time  `bun:"last_seen_at"`
	ExpiresAt  time.Time  `bun:"expires_at"`
}

// CreateSession starts a session of a user that lasts ttl, and returns its
// secret token (for the cookie); only a hash of the token is stored.
func (s *Service) CreateSession(ctx context.Context, userID uuid.UUID, teamID *uuid.UUID, ttl time.Duration) (string, Session, error) {
	token, err := randomToken("sls_")
	if err != nil {
		return "", Session{}, err
	}
	now := s.now().UTC()
	ses := Session{ID: tracking.NewID(), TokenHash: hashToken(token), UserID: userID, TeamID: teamID,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(ttl)}
	if _, err := s.db.NewInsert().Model(&ses).Exec(ctx); err != nil {
		return "", Session{}, fmt.Errorf("create session: %w", err)
	}
	return token, ses, nil
}

// SessionByToken finds the live session of a token and its user; an unknown
// or expired token is ErrUnauthorized.
func (s *Service) SessionByToken(ctx context.Context, token string) (Session, User, error) {
	if token == "" {
		return Session{}, User{}, ErrUnauthorized
	}
	var ses Session
	err := s.db.NewSelect().Model(&ses).Where("token_hash = ?", hashToken(token)).Where("expires_at > ?", s.now().UTC()).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, User{}, ErrUnauthorized
	}
	if err != nil {
		return Session{}, User{}, fmt.Errorf("session: %w", err)
	}
	var u User
	if err := s.db.NewSelect().Model(&u).Where("id = ?", ses.UserID).Scan(ctx); err != nil {
		return Session{}, User{}, fmt.Errorf("session user: %w", err)
	}
	return ses, u, nil
}

// SetSessionTeam makes a session look at another of its user's teams.
func (s *Service) SetSessionTeam(ctx context.Context, sessionID, teamID uuid.UUID) error {
	_, err := s.db.NewUpdate().Model((*Session)(nil)).Set("team_id = ?", teamID).Set("last_seen_at = ?", s.now().UTC()).
		Where("id = ?", sessionID).Exec(ctx)
	return err
}

// EndSession signs a session out.
func (s *Service) EndSession(ctx context.Context, token string) error {
	_, err := s.db.NewDelete().Model((*Session)(nil)).Where("token_hash = ?", hashToken(token)).Exec(ctx)
	return err
}

func randomToken(prefix string) (string, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(raw[:]), nil
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
