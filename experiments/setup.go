package experiments

import (
	"context"
	"fmt"
	"strings"
)

// CanAnyoneSignIn tells whether some user has a password, i.e. whether the
// service has a first admin yet.
func (s *Service) CanAnyoneSignIn(ctx context.Context) (bool, error) {
	ok, err := s.db.NewSelect().Model((*User)(nil)).Where("password_hash <> ''").Exists(ctx)
	if err != nil {
		return false, fmt.Errorf("experiments: users: %w", err)
	}
	return ok, nil
}

// FirstAdminInput creates the first team and its admin.
type FirstAdminInput struct {
	TeamSlug, TeamName, Email, Name, Password string
}

// SetupFirstAdmin creates a team and its first admin, who can sign in with
// the password. It refuses (ConflictError) once anyone can sign in, and
// checks every field before it writes anything.
func (s *Service) SetupFirstAdmin(ctx context.Context, in FirstAdminInput) (Team, Member, error) {
	if ok, err := s.CanAnyoneSignIn(ctx); err != nil || ok {
		if err == nil {
			err = &ConflictError{Reason: "slicelab already has a user who can sign in; sign in, or ask an admin to add you"}
		}
		return Team{}, Member{}, err
	}
	fe := fieldErrors{}
	in.TeamSlug = strings.TrimSpace(in.TeamSlug)
	if !slugRE.MatchString(in.TeamSlug) {
		fe.add("team_slug", "use 1-63 lower-case letters, digits or dashes, such as growth")
	}
	if !ValidAddress(strings.TrimSpace(in.Email)) {
		fe.add("email", "%q is not an email address", strings.TrimSpace(in.Email))
	}
	if _, msg := hashPassword(in.Password); msg != "" {
		fe.add("password", "%s", msg)
	}
	if err := fe.err(); err != nil {
		return Team{}, Member{}, err
	}
	t, err := s.CreateTeam(ctx, in.TeamSlug, in.TeamName)
	if err != nil {
		return Team{}, Member{}, err
	}
	pw := in.Password
	m, err := s.AddMember(ctx, t.ID, MemberInput{Email: in.Email, Name: in.Name, Role: RoleAdmin, Password: &pw})
	return t, m, err
}
