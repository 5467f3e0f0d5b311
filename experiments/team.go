package experiments

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"slicelab/tracking"
)

// Team owns contacts, experiments and everything else; people belong to it
// through memberships (identity.go).
type Team struct {
	bun.BaseModel `bun:"table:teams"`

	ID        uuid.UUID `bun:"id,pk,type:uuid" json:"id"`
	OrgID     uuid.UUID `bun:"org_id,type:uuid,nullzero" json:"org_id"` // the organisation it belongs to
	Slug      string    `bun:"slug" json:"slug"`
	Name      string    `bun:"name" json:"name"`
	TimeZone  string    `bun:"time_zone" json:"time_zone"` // IANA name; ISO weeks are counted in it
	CreatedAt time.Time `bun:"created_at" json:"created_at"`

	// The team's sender: its experiments' emails come From this name and
	// address (empty: the service's SLICELAB_MAIL_FROM), with an optional Reply-To.
	MailFromName    string `bun:"mail_from_name" json:"mail_from_name"`
	MailFromAddress string `bun:"mail_from_address" json:"mail_from_address"`
	ReplyTo         string `bun:"reply_to" json:"reply_to"`
}

// From is the team's From header, or fallback when the team has none.
func (t Team) From(fallback string) string {
	if t.MailFromAddress == "" {
		return fallback
	}
	return (&mail.Address{Name: t.MailFromName, Address: t.MailFromAddress}).String()
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

// CreateTeam creates a team in the default organisation; slugs are
// lower-case letters, digits and dashes.
func (s *Service) CreateTeam(ctx context.Context, slug, name string) (Team, error) {
	return s.CreateTeamInOrg(ctx, "", slug, name)
}

// CreateTeamInOrg creates a team in an organisation (by slug; "" is the default one).
func (s *Service) CreateTeamInOrg(ctx context.Context, orgSlug, slug, name string) (Team, error) {
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
	org, err := s.OrgBySlug(ctx, orgSlug)
	if err != nil {
		return Team{}, err
	}
	t := Team{ID: tracking.NewID(), OrgID: org.ID, Slug: slug, Name: name, TimeZone: "UTC", CreatedAt: s.now().UTC()}
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

// TeamPatch changes a team's settings; each field given replaces the stored one.
type TeamPatch struct {
	Name     *string `json:"name"`
	TimeZone *string `json:"time_zone"`
	// MailFrom is "Name <address>" or a bare address; "" goes back to the service's.
	MailFrom *string `json:"mail_from"`
	// ReplyTo is an address for replies; "" removes it.
	ReplyTo *string `json:"reply_to"`
}

// UpdateTeam changes a team's name, time zone or sender.
func (s *Service) UpdateTeam(ctx context.Context, teamID uuid.UUID, p TeamPatch) (Team, error) {
	t, err := s.Team(ctx, teamID)
	if err != nil {
		return Team{}, err
	}
	fe := fieldErrors{}
	if p.Name != nil {
		name := strings.TrimSpace(*p.Name)
		switch {
		case name == "":
			fe.add("name", "must not be empty")
		case utf8.RuneCountInString(name) > 100:
			fe.add("name", "must be at most 100 characters")
		case strings.ContainsFunc(name, unicode.IsControl):
			fe.add("name", "must not contain line breaks or other control characters")
		}
		t.Name = name
	}
	if p.TimeZone != nil {
		tz := *p.TimeZone
		if _, err := time.LoadLocation(tz); err != nil || tz == "" || strings.EqualFold(tz, "local") || len(tz) > 64 {
			fe.add("time_zone", "%q is not an IANA time zone such as Europe/Berlin", tz)
		}
		t.TimeZone = tz
	}
	if p.MailFrom != nil {
		t.MailFromName, t.MailFromAddress = "", ""
		if v := strings.TrimSpace(*p.MailFrom); v != "" {
			a, msg := parseSender(v)
			if msg != "" {
				fe.add("mail_from", "%s", msg)
			} else {
				t.MailFromName, t.MailFromAddress = a.Name, a.Address
			}
		}
	}
	if p.ReplyTo != nil {
		t.ReplyTo = ""
		if v := strings.TrimSpace(*p.ReplyTo); v != "" {
			a, msg := parseSender(v)
			switch {
			case msg != "":
				fe.add("reply_to", "%s", msg)
			case a.Name != "":
				fe.add("reply_to", "must be an address alone, such as replies@example.com")
			default:
				t.ReplyTo = a.Address
			}
		}
	}
	if err := fe.err(); err != nil {
		return Team{}, err
	}
	if _, err := s.db.NewUpdate().Model(&t).Column("name", "time_zone", "mail_from_name", "mail_from_address", "reply_to").
		WherePK().Exec(ctx); err != nil {
		return Team{}, fmt.Errorf("update team: %w", err)
	}
	return t, nil
}

// parseSender reads "Name <address>" or an address for a header, refusing
// anything that could inject a header or that a mail server would refuse.
func parseSender(v string) (*mail.Address, string) {
	if strings.ContainsAny(v, "\r\n") || strings.ContainsFunc(v, unicode.IsControl) {
		return nil, "must not contain line breaks or other control characters"
	}
	if len(v) > 320 {
		return nil, "must be at most 320 characters"
	}
	a, err := mail.ParseAddress(v)
	if err != nil || !ValidAddress(a.Address) {
		return nil, fmt.Sprintf("%q is not an address such as \"Growth team <growth@example.com>\"", v)
	}
	if utf8.RuneCountInString(a.Name) > 100 {
		return nil, "the name must be at most 100 characters"
	}
	return a, ""
}

// SetTimeZone sets the IANA time zone in which the team's ISO weeks are counted.
func (s *Service) SetTimeZone(ctx context.Context, teamID uuid.UUID, tz string) (Team, error) {
	return s.UpdateTeam(ctx, teamID, TeamPatch{TimeZone: &tz})
}
