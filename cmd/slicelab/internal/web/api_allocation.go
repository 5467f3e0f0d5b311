package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"slicelab/okr"
)

func (s *server) getCategories(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	cats, err := s.OKR.Categories(c.Request().Context(), team.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, categoryList{Categories: cats})
}

// postCategory adds a category: {"name","elective","target","description"}
// (target: share of the elective time).
func (s *server) postCategory(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	var in okr.CategoryInput
	if err := decode(c, &in); err != nil {
		return err
	}
	cat, err := s.OKR.AddCategory(c.Request().Context(), team.ID, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, cat)
}

// updateCategory changes a category: {"name","target","description"}
// ("target": null removes the target).
func (s *server) updateCategory(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var p okr.CategoryPatch
	present, err := decodePatch(c, &p)
	if err != nil {
		return err
	}
	p.ClearTarget = string(present["target"]) == "null"
	cat, err := s.OKR.UpdateCategory(c.Request().Context(), team.ID, id, p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cat)
}

// putTargets sets the target mix: {"New": 0.6, "Improve": 0.2, "Productivity": 0.2}.
func (s *server) putTargets(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	var in map[string]float64
	if err := decode(c, &in); err != nil {
		return err
	}
	cats, err := s.OKR.SetTargets(c.Request().Context(), team.ID, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, categoryList{Categories: cats})
}

// postAllocation stores an answer: {"member_id","week","shares":{"KTLO":40,...}};
// 201 for a new answer, 200 when it replaced the member's earlier answer for the week.
func (s *server) postAllocation(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	var in okr.AllocationInput
	if err := decode(c, &in); err != nil {
		return err
	}
	r, err := s.OKR.RecordAllocation(c.Request().Context(), team.ID, in)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if r.Replaced {
		status = http.StatusOK
	}
	return c.JSON(status, r)
}

// getAllocationReport answers the report of ?week= (default: the current
// week in the team's time zone).
func (s *server) getAllocationReport(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	week, err := s.reportWeek(c, team)
	if err != nil {
		return err
	}
	r, err := s.OKR.AllocationReport(c.Request().Context(), team.ID, week)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}
