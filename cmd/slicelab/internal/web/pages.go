package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"slicelab/experiments"
)

// The web UI: signed-in pages under one session cookie (pages_*.go). Every
// page and action runs with the member's principal (team and role), the
// same one the API uses, and routes.go requires the role of each action on
// the server: a hidden button is a convenience, not the check.

const (
	sessionCookie = "slicelab_session"
	flashCookie   = "slicelab_flash"
	sessionTTL    = 30 * 24 * time.Hour
	csrfField     = "_csrf"
	viewerKey     = "slicelab.viewer"
)

// viewer is the signed-in person, with the teams they can switch between.
type viewer struct {
	User    experiments.User
	Session experiments.Session
	Teams   []experiments.Membership
}

// session resolves the session cookie: the member's principal for the team
// the session looks at (their first team when it looks at none or at one
// they left). Without a valid session a GET goes to the sign-in page and
// anything else is refused.
func (s *server) session(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		ck, err := c.Cookie(sessionCookie)
		var ses experiments.Session
		var u experiments.User
		if err == nil {
			ses, u, err = s.Experiments.SessionByToken(ctx, ck.Value)
		}
		if err != nil {
			if !errors.Is(err, experiments.ErrUnauthorized) && !errors.Is(err, http.ErrNoCookie) {
				return err
			}
			if c.Request().Method == http.MethodGet {
				return c.Redirect(http.StatusSeeOther, "/signin?next="+url.QueryEscape(c.Request().URL.RequestURI()))
			}
			return echo.NewHTTPError(http.StatusUnauthorized, "Your session has ended. Sign in again, then repeat what you were doing.")
		}
		teams, err := s.Experiments.Memberships(ctx, u.ID)
		if err != nil {
			return err
		}
		v := viewer{User: u, Session: ses, Teams: teams}
		c.Set(viewerKey, v)
		if len(teams) == 0 {
			return echo.NewHTTPError(http.StatusForbidden, "You are not a member of any team yet. Ask an admin of your team to add you.")
		}
		m := teams[0]
		for _, t := range teams {
			if ses.TeamID != nil && t.Team.ID == *ses.TeamID {
				m = t
			}
		}
		pr := experiments.Principal{Team: m.Team, Role: m.Role, User: u.ID, Author: u.DisplayName()}
		// An admin of the team's organisation also reads the organisation's week.
		if admin, err := s.Experiments.IsOrgAdmin(ctx, m.Team.OrgID, u.ID); err != nil {
			return err
		} else if admin {
			org, err := s.Experiments.Org(ctx, m.Team.OrgID)
			if err != nil {
				return err
			}
			pr.Org, pr.OrgAdmin = &org, true
		}
		c.Set(principalKey, pr)
		c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
		c.Response().Header().Set(echo.HeaderXFrameOptions, "SAMEORIGIN")
		return next(c)
	}
}

func viewerOf(c echo.Context) (viewer, bool) {
	v, ok := c.Get(viewerKey).(viewer)
	return v, ok
}

// csrf is echo's CSRF middleware (a token in a cookie that every form posts
// back as _csrf, or an X-CSRF-Token header) with the token always required:
// echo would otherwise take a browser's Sec-Fetch-Site: same-origin alone as
// proof. A request a browser marks cross-site is refused outright.
func (s *server) csrf() echo.MiddlewareFunc {
	m := middleware.CSRFWithConfig(middleware.CSRFConfig{
		TokenLookup:    "form:" + csrfField + ",header:" + echo.HeaderXCSRFToken,
		CookieName:     "slicelab_csrf",
		CookiePath:     "/",
		CookieHTTPOnly: true,
		CookieSecure:   s.secure,
		CookieSameSite: http.SameSiteLaxMode,
		CookieMaxAge:   int(sessionTTL / time.Second),
		ErrorHandler: func(err error, c echo.Context) error {
			return echo.NewHTTPError(http.StatusForbidden, "This form was not sent from a slicelab page, or it is too old. Go back, reload the page and try again.").WithInternal(err)
		},
	})
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		h := m(next)
		return func(c echo.Context) error {
			r := c.Request()
			if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Header.Get(echo.HeaderSecFetchSite) == "cross-site" {
				return echo.NewHTTPError(http.StatusForbidden, "A form on another site tried to send this request; it was refused.")
			}
			r.Header.Del(echo.HeaderSecFetchSite)
			return h(c)
		}
	}
}

func csrfToken(c echo.Context) string {
	t, _ := c.Get("csrf").(string)
	return t
}

// appPage is what every signed-in page's template gets: the layout's
// parts, and the page's own data in Data.
type appPage struct {
	Title   string // the <title> and, usually, the <h1>
	Section string // the navigation entry to mark as current
	Me      experiments.User
	Team    experiments.Team
	Role    experiments.Role
	Teams   []experiments.Membership
	CSRF    string
	Flash   *flash
	// Refresh, when positive, reloads the page after so many seconds for
	// browsers without JavaScript (a send in progress).
	Refresh int
	Outbox  bool // the outbox viewer is available
	// OrgAdmin: the member is an admin of the team's organisation (the
	// organisation's week is in the navigation).
	OrgAdmin bool
	Data     any
}

// CanEdit tells whether the member may create, change and launch.
func (p appPage) CanEdit() bool { return p.Role.Allows(experiments.RoleEditor) }

// IsAdmin tells whether the member may manage the team.
func (p appPage) IsAdmin() bool { return p.Role.Allows(experiments.RoleAdmin) }

// flash is a one-time message shown on the page after a redirect.
type flash struct {
	Kind string // info | success | warning | error
	Text string
}

// page renders a signed-in page.
func (s *server) page(c echo.Context, status int, name, title, section string, data any) error {
	p := s.pageData(c, title, section, data)
	return s.render(c, status, name, p)
}

func (s *server) pageData(c echo.Context, title, section string, data any) appPage {
	v, _ := viewerOf(c)
	pr := principal(c)
	p := appPage{Title: title, Section: section, Me: v.User, Team: pr.Team, Role: pr.Role, Teams: v.Teams,
		CSRF: csrfToken(c), Outbox: s.OutboxDir != "", OrgAdmin: pr.OrgAdmin, Data: data}
	if ck, err := c.Cookie(flashCookie); err == nil {
		if kind, text, ok := strings.Cut(ck.Value, ":"); ok {
			if t, err := url.QueryUnescape(text); err == nil {
				p.Flash = &flash{Kind: kind, Text: t}
			}
		}
		c.SetCookie(&http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	}
	return p
}

// redirect answers a form post with 303 See Other to to, with a message for
// the next page.
func (s *server) redirect(c echo.Context, to, kind, text string) error {
	if text != "" {
		c.SetCookie(&http.Cookie{Name: flashCookie, Value: kind + ":" + url.QueryEscape(text), Path: "/", MaxAge: 60,
			HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	}
	return c.Redirect(http.StatusSeeOther, to)
}

// staticCache serves the embedded assets with long cache headers: they
// change only with the binary, and their URLs carry its version.
func staticCache(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=31536000, immutable")
		return next(c)
	}
}

// home redirects / to the team's home page.
func (s *server) switchTeam(c echo.Context) error {
	v, _ := viewerOf(c)
	slug := c.FormValue("team")
	for _, m := range v.Teams {
		if m.Team.Slug == slug {
			if err := s.Experiments.SetSessionTeam(c.Request().Context(), v.Session.ID, m.Team.ID); err != nil {
				return err
			}
			return s.redirect(c, "/", "info", "You are now looking at "+m.Team.Name+".")
		}
	}
	return experiments.ErrNotFound
}

// ---- sign-in, sign-out, first admin ----

type signinView struct {
	CSRF, Email, Next, Error string
	Setup                    bool
}

func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

func (s *server) signinPage(c echo.Context) error {
	if ck, err := c.Cookie(sessionCookie); err == nil {
		if _, _, err := s.Experiments.SessionByToken(c.Request().Context(), ck.Value); err == nil {
			return c.Redirect(http.StatusSeeOther, safeNext(c.QueryParam("next")))
		}
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return s.page(c, http.StatusOK, "signin", "Sign in", "", signinView{CSRF: csrfToken(c), Next: safeNext(c.QueryParam("next"))})
}

// signin checks the password. Failed attempts are limited per client
// address: after five, one more a minute (429 with Retry-After).
func (s *server) signin(c echo.Context) error {
	ip := c.RealIP()
	v := signinView{CSRF: csrfToken(c), Email: strings.TrimSpace(c.FormValue("email")), Next: safeNext(c.FormValue("next"))}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	if d := s.signins.wait(ip); d > 0 {
		secs := int((d + time.Second - 1) / time.Second)
		c.Response().Header().Set(echo.HeaderRetryAfter, itoa(secs))
		v.Error = "Too many wrong passwords from your address. Wait " + itoa(secs) + " seconds, then try again."
		return s.page(c, http.StatusTooManyRequests, "signin", "Sign in", "", v)
	}
	ctx := c.Request().Context()
	u, err := s.Experiments.CheckPassword(ctx, v.Email, c.FormValue("password"))
	if errors.Is(err, experiments.ErrBadCredentials) {
		s.signins.fail(ip)
		v.Error = "Wrong email address or password."
		return s.page(c, http.StatusUnauthorized, "signin", "Sign in", "", v)
	}
	if err != nil {
		return err
	}
	return s.startSession(c, u, nil, v.Next)
}

func (s *server) startSession(c echo.Context, u experiments.User, team *experiments.Team, next string) error {
	var teamID *uuid.UUID
	if team != nil {
		teamID = &team.ID
	}
	tok, _, err := s.Experiments.CreateSession(c.Request().Context(), u.ID, teamID, sessionTTL)
	if err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{Name: sessionCookie, Value: tok, Path: "/", MaxAge: int(sessionTTL / time.Second),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	return c.Redirect(http.StatusSeeOther, safeNext(next))
}

// signout ends the session, if there is one, and goes to the sign-in page.
func (s *server) signout(c echo.Context) error {
	if ck, err := c.Cookie(sessionCookie); err == nil {
		if err := s.Experiments.EndSession(c.Request().Context(), ck.Value); err != nil {
			return err
		}
	}
	c.SetCookie(&http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	return s.redirect(c, "/signin", "info", "You are signed out.")
}

func itoa(n int) string { return strconv.Itoa(n) }
