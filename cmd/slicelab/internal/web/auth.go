package web

import (
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"slicelab/experiments"
)

const principalKey = "slicelab.principal"

// authenticate resolves the bearer token; every API handler then works within its team.
func (s *server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		token, ok := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
		if !ok {
			return experiments.ErrUnauthorized
		}
		p, err := s.Experiments.Authenticate(c.Request().Context(), strings.TrimSpace(token))
		if err != nil {
			return err
		}
		c.Set(principalKey, p)
		return next(c)
	}
}

func principal(c echo.Context) experiments.Principal {
	p, _ := c.Get(principalKey).(experiments.Principal)
	return p
}

// need requires a role of at least r.
func need(r experiments.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !principal(c).Role.Allows(r) {
				return experiments.ErrForbidden
			}
			return next(c)
		}
	}
}

// teamParam checks that :team is the caller's team; another team's slug is
// answered as if it did not exist.
func teamParam(c echo.Context) (experiments.Team, error) {
	p := principal(c)
	if c.Param("team") != p.Team.Slug {
		return experiments.Team{}, experiments.ErrNotFound
	}
	return p.Team, nil
}

func idParam(c echo.Context) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return uuid.Nil, experiments.ErrNotFound
	}
	return id, nil
}
