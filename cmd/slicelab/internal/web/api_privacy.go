package web

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"slicelab/experiments"
)

// A contact's personal data (GDPR): export all of it, or erase it while the
// experiments' counts stay (experiments.EraseContact).

type eraseRequest struct {
	Email string `json:"email"`
}

// exportContact answers everything stored about ?email= in the team.
func (s *server) exportContact(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	rec, err := s.Experiments.ExportContact(ctx, team.ID, c.QueryParam("email"))
	if err != nil {
		return err
	}
	events, err := s.OKR.ContactEvents(ctx, team.ID, rec.ContactID)
	if err != nil {
		return err
	}
	for _, e := range events {
		rec.Events = append(rec.Events, e)
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(http.StatusOK, rec)
}

// eraseContact erases an address's personal data from the team.
func (s *server) eraseContact(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	var in eraseRequest
	if err := json.NewDecoder(c.Request().Body).Decode(&in); err != nil {
		return &experiments.ValidationError{Fields: map[string]string{"body": `expected {"email": "…"}`}}
	}
	out, err := s.Experiments.EraseContact(c.Request().Context(), team.ID, in.Email)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}
