package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"slicelab/experiments"
)

type contactsView struct {
	Q       string
	After   string
	Page    experiments.ContactSearch
	Counts  experiments.ContactCounts
	Import  *experiments.ImportResult
	Refused *experiments.ImportResult
	File    string
	Error   string
}

const contactsPerPage = 50

// contactsPage lists the team's contacts with search and keyset paging.
func (s *server) contactsPage(c echo.Context) error {
	v := contactsView{Q: c.QueryParam("q"), After: c.QueryParam("after")}
	return s.contacts(c, http.StatusOK, v)
}

func (s *server) contacts(c echo.Context, status int, v contactsView) error {
	ctx := c.Request().Context()
	team := principal(c).Team
	var err error
	if v.Page, err = s.Experiments.SearchContacts(ctx, team.ID, v.Q, v.After, contactsPerPage); err != nil {
		return err
	}
	if v.Counts, err = s.Experiments.ContactCounts(ctx, team.ID); err != nil {
		return err
	}
	return s.page(c, status, "contacts", "Contacts", "contacts", v)
}

// contactsUpload imports a CSV file (all or nothing) and shows the result on
// the contacts page: the counts, or the bad rows next to their row numbers.
func (s *server) contactsUpload(c echo.Context) error {
	fh, err := c.FormFile("file")
	v := contactsView{}
	if err != nil {
		v.Error = "Choose a CSV file to import."
		return s.contacts(c, http.StatusUnprocessableEntity, v)
	}
	v.File = fh.Filename
	f, err := fh.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := s.Experiments.ImportContactsCSV(c.Request().Context(), principal(c).Team.ID, f)
	var ie *experiments.ImportError
	if errors.As(err, &ie) {
		v.Refused = &ie.Result
		return s.contacts(c, http.StatusUnprocessableEntity, v)
	}
	if err != nil {
		return err
	}
	msg := "Imported " + itoa(res.Imported) + " " + map[bool]string{true: "contact", false: "contacts"}[res.Imported == 1] + " from " + fh.Filename + "."
	if res.Updated > 0 {
		msg += " " + itoa(res.Updated) + " were already in the team and were updated (name, tags, attributes; unsubscribes stay)."
	}
	if res.Skipped > 0 {
		msg += " " + itoa(res.Skipped) + " were already in the team as they are in the file."
	}
	return s.redirect(c, "/contacts", "success", strings.TrimSpace(msg))
}
