package web

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"slicelab/experiments"
	"slicelab/okr"
	"slicelab/tracking"
)

type teamView struct {
	Members []experiments.Member
	Week    string
	Email   string
	Name    string
	Role    string
	Errs    map[string]string
	Jobs    bool
}

// teamPage is the admin's page: members, and the survey and digest now.
func (s *server) teamPage(c echo.Context) error {
	return s.team(c, http.StatusOK, teamView{Role: "viewer"})
}

func (s *server) team(c echo.Context, status int, v teamView) error {
	p := principal(c)
	ms, err := s.Experiments.Members(c.Request().Context(), p.Team.ID)
	if err != nil {
		return err
	}
	v.Members, v.Week, v.Jobs = ms, tracking.WeekOf(s.Now(), p.Team.Location()).String(), s.Jobs != nil
	return s.page(c, status, "team", "Team "+p.Team.Name, "team", v)
}

// addMemberForm adds a person with a role and, optionally, a first password.
func (s *server) addMemberForm(c echo.Context) error {
	v := teamView{Email: strings.TrimSpace(c.FormValue("email")), Name: c.FormValue("name"), Role: c.FormValue("role")}
	in := experiments.MemberInput{Email: v.Email, Name: v.Name, Role: experiments.Role(v.Role)}
	if pw := c.FormValue("password"); pw != "" {
		in.Password = &pw
	}
	m, err := s.Experiments.AddMember(c.Request().Context(), principal(c).Team.ID, in)
	var ve *experiments.ValidationError
	var ce *experiments.ConflictError
	switch {
	case errors.As(err, &ve):
		v.Errs = map[string]string{}
		for k, msg := range ve.Fields {
			v.Errs[k] = sentence(msg)
		}
		return s.team(c, http.StatusUnprocessableEntity, v)
	case errors.As(err, &ce):
		v.Errs = map[string]string{"email": sentence(ce.Reason)}
		return s.team(c, http.StatusConflict, v)
	case err != nil:
		return err
	}
	return s.redirect(c, "/team", "success", m.Email+" is now a member ("+string(m.Role)+").")
}

func (s *server) sendSurveyNow(c echo.Context) error {
	if s.Jobs == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "This process cannot queue jobs.")
	}
	week := tracking.WeekOf(s.Now(), principal(c).Team.Location())
	queued, err := okr.QueueSurvey(c.Request().Context(), s.Jobs, week)
	if err != nil {
		return err
	}
	if !queued {
		return s.redirect(c, "/team", "info", "The survey of "+week.String()+" was already sent; each week's survey goes out once. Members who lost the email can answer on the Time allocation page.")
	}
	return s.redirect(c, "/team", "success", "The survey of "+week.String()+" is being emailed to every member now.")
}

func (s *server) sendDigestNow(c echo.Context) error {
	if s.Jobs == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "This process cannot queue jobs.")
	}
	if err := okr.QueueDigest(c.Request().Context(), s.Jobs); err != nil {
		return err
	}
	prev := tracking.WeekOf(s.Now(), principal(c).Team.Location()).Prev().String()
	return s.redirect(c, "/team", "success", "The digest of "+prev+" is being emailed to every member now. Anyone who already got the digest of "+prev+" does not get it twice.")
}

// ---- the first admin ----

type setupView struct {
	CSRF, Token                 string
	Slug, TeamName, Email, Name string
	Errs                        map[string]string
}

func (s *server) setupAllowed(c echo.Context) error {
	if s.SetupToken == "" || subtle.ConstantTimeCompare([]byte(c.Param("token")), []byte(s.SetupToken)) != 1 {
		return experiments.ErrNotFound
	}
	ok, err := s.Experiments.CanAnyoneSignIn(c.Request().Context())
	if err != nil {
		return err
	}
	if ok {
		return s.redirect(c, "/signin", "info", "slicelab is set up already: sign in.")
	}
	return nil
}

func (s *server) setupPage(c echo.Context) error {
	if err := s.setupAllowed(c); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return s.page(c, http.StatusOK, "setup", "Set up slicelab", "", setupView{CSRF: csrfToken(c), Token: c.Param("token"), Slug: "growth", TeamName: "Growth"})
}

func (s *server) setup(c echo.Context) error {
	if err := s.setupAllowed(c); err != nil {
		return err
	}
	v := setupView{CSRF: csrfToken(c), Token: c.Param("token"), Slug: strings.TrimSpace(c.FormValue("team_slug")),
		TeamName: c.FormValue("team_name"), Email: strings.TrimSpace(c.FormValue("email")), Name: c.FormValue("name")}
	t, m, err := s.Experiments.SetupFirstAdmin(c.Request().Context(), experiments.FirstAdminInput{TeamSlug: v.Slug, TeamName: v.TeamName,
		Email: v.Email, Name: v.Name, Password: c.FormValue("password")})
	var ve *experiments.ValidationError
	var ce *experiments.ConflictError
	switch {
	case errors.As(err, &ve):
		v.Errs = map[string]string{}
		for k, msg := range ve.Fields {
			v.Errs[k] = sentence(msg)
		}
		return s.page(c, http.StatusUnprocessableEntity, "setup", "Set up slicelab", "", v)
	case errors.As(err, &ce):
		v.Errs = map[string]string{"team_slug": sentence(ce.Reason)}
		return s.page(c, http.StatusConflict, "setup", "Set up slicelab", "", v)
	case err != nil:
		return err
	}
	u, err := s.Experiments.CheckPassword(c.Request().Context(), m.Email, c.FormValue("password"))
	if err != nil {
		return err
	}
	return s.startSession(c, u, &t, "/")
}
