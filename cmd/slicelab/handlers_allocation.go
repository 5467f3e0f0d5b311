package main

import (
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"slicelab/experiments"
	"slicelab/okr"
)

// allocationRoutes registers the time-allocation survey (public pages
// reached by a signed link, product.md §9 and §11) and the allocation and
// member API.
func (a *api) allocationRoutes(e *echo.Echo, g *echo.Group) {
	e.GET("/survey/:token", a.surveyPage)
	e.POST("/survey/:token", a.surveySubmit, middleware.BodyLimit("16K"))

	g.POST("/teams/:team/allocations", a.postAllocation, need(experiments.RoleEditor), middleware.BodyLimit("64K"))
	g.GET("/teams/:team/allocations", a.getAllocationReport)
	g.POST("/teams/:team/members", a.postMember, need(experiments.RoleAdmin), middleware.BodyLimit("16K"))
	g.GET("/teams/:team/members", a.getMembers)
	g.GET("/teams/:team/allocation-categories", a.getCategories)
	g.POST("/teams/:team/allocation-categories", a.postCategory, need(experiments.RoleAdmin), middleware.BodyLimit("16K"))
	g.PATCH("/teams/:team/allocation-categories/:id", a.renameCategory, need(experiments.RoleAdmin), middleware.BodyLimit("16K"))
}

func (a *api) getCategories(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	cats, err := a.okr.Categories(c.Request().Context(), team.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"categories": cats})
}

// postCategory adds a category: {"name","elective","target"} (target: share of the elective time).
func (a *api) postCategory(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	var in struct {
		Name     string   `json:"name"`
		Elective bool     `json:"elective"`
		Target   *float64 `json:"target"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	cat, err := a.okr.AddCategory(c.Request().Context(), team.ID, in.Name, in.Elective, in.Target)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, cat)
}

// renameCategory renames a category: {"name"}.
func (a *api) renameCategory(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var in struct {
		Name string `json:"name"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	cat, err := a.okr.RenameCategory(c.Request().Context(), team.ID, id, in.Name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cat)
}

// surveyField is one category's input on the survey form.
type surveyField struct {
	Input       string // form field and element id: share_<category id>
	Name        string
	Description string
	Elective    bool
	Value       string
	Error       string
}

type surveyView struct {
	Action   string
	Name     string
	TeamName string
	Week     string
	Dates    string
	Prefill  string
	Fields   []surveyField
	Errors   []string
}

type surveyDoneView struct {
	Name     string
	Week     string
	Dates    string
	Again    string
	Replaced bool
	Shares   []surveyDoneShare
}

type surveyDoneShare struct {
	Name    string
	Percent int
}

func surveyHeaders(c echo.Context) {
	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set("Referrer-Policy", "no-referrer") // the link is the member's key
	h.Set("X-Robots-Tag", "noindex")
	h.Set(echo.HeaderXFrameOptions, "DENY")
}

func newSurveyView(c echo.Context, f *okr.SurveyForm) surveyView {
	name := f.Member.Name
	if name == "" {
		name = f.Member.Email
	}
	v := surveyView{Action: "/survey/" + c.Param("token"), Name: name, TeamName: f.TeamName, Week: f.Week.String(), Dates: okr.WeekDates(f.Week)}
	for _, cat := range f.Categories {
		v.Fields = append(v.Fields, surveyField{Input: "share_" + cat.ID.String(), Name: cat.Name, Description: cat.Description, Elective: cat.Elective})
	}
	return v
}

// surveyPage shows the form of a signed survey link, pre-filled with the
// member's answer for the week or else their latest earlier one.
func (a *api) surveyPage(c echo.Context) error {
	f, err := a.okr.OpenSurvey(c.Request().Context(), c.Param("token"))
	if err != nil {
		return err
	}
	v := newSurveyView(c, f)
	if p := f.Previous; p != nil {
		for i, cat := range f.Categories {
			v.Fields[i].Value = strconv.Itoa(p.ByCategory[cat.ID])
		}
		if p.Week == v.Week {
			v.Prefill = "This is your answer for this week; saving again replaces it."
		} else {
			v.Prefill = "Pre-filled with your answer for " + p.Week + "."
		}
	}
	surveyHeaders(c)
	return a.render(c, http.StatusOK, "survey", v)
}

// surveySubmit stores the answer of a signed survey link (form fields
// share_<category id>, whole percentages; empty means 0). The member and the
// week come from the link only. A bad answer stores nothing and shows the
// form again with what was entered and what is wrong (422).
func (a *api) surveySubmit(c echo.Context) error {
	ctx := c.Request().Context()
	tok := c.Param("token")
	f, err := a.okr.OpenSurvey(ctx, tok)
	if err != nil {
		return err
	}
	params, err := c.FormParams()
	if err != nil {
		return &experiments.ValidationError{Fields: map[string]string{"body": "not a form: " + err.Error()}}
	}
	v := newSurveyView(c, f)
	shares := map[string]int{}
	bad := false
	for i, cat := range f.Categories {
		raw := strings.TrimSpace(params.Get(v.Fields[i].Input))
		v.Fields[i].Value = raw
		if raw == "" {
			continue
		}
		n, err := strconv.Atoi(raw)
		if err != nil {
			v.Fields[i].Error = "Enter a whole number from 0 to 100."
			bad = true
			continue
		}
		shares[cat.ID.String()] = n
	}
	for k, vals := range params { // fields of categories the team does not have
		id, ok := strings.CutPrefix(k, "share_")
		if !ok || slices.ContainsFunc(v.Fields, func(sf surveyField) bool { return sf.Input == k }) {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(vals[0]))
		if err != nil {
			v.Errors = append(v.Errors, "The form has an unknown field "+k+".")
			bad = true
			continue
		}
		shares[id] = n
	}
	if !bad {
		r, err := a.okr.SubmitSurvey(ctx, tok, shares)
		if err == nil {
			done := surveyDoneView{Name: v.Name, Week: v.Week, Dates: v.Dates, Again: v.Action, Replaced: r.Replaced}
			for _, cat := range f.Categories {
				done.Shares = append(done.Shares, surveyDoneShare{Name: cat.Name, Percent: r.ByCategory[cat.ID]})
			}
			surveyHeaders(c)
			return a.render(c, http.StatusOK, "survey_done", done)
		}
		var ve *experiments.ValidationError
		if !errors.As(err, &ve) {
			return err
		}
		for _, k := range slices.Sorted(maps.Keys(ve.Fields)) {
			msg := ve.Fields[k]
			if name, ok := strings.CutPrefix(k, "shares."); ok {
				if i := slices.IndexFunc(v.Fields, func(sf surveyField) bool { return sf.Name == name }); i >= 0 {
					v.Fields[i].Error = surveySentence(name + " " + msg)
					continue
				}
			}
			v.Errors = append(v.Errors, surveySentence(msg))
		}
	}
	if len(v.Errors) == 0 {
		v.Errors = append(v.Errors, "Please correct the marked shares.")
	}
	surveyHeaders(c)
	return a.render(c, http.StatusUnprocessableEntity, "survey", v)
}

// surveySentence turns a field message into a sentence for the page.
func surveySentence(msg string) string {
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

// postAllocation stores an answer: {"member_id","week","shares":{"KTLO":40,...}};
// 201 for a new answer, 200 when it replaced the member's earlier answer for the week.
func (a *api) postAllocation(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	var in okr.AllocationInput
	if err := decode(c, &in); err != nil {
		return err
	}
	r, err := a.okr.RecordAllocation(c.Request().Context(), team.ID, in)
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
func (a *api) getAllocationReport(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	week, err := a.reportWeek(c, team)
	if err != nil {
		return err
	}
	r, err := a.okr.AllocationReport(c.Request().Context(), team.ID, week)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

// postMember adds a person to the team: {"email","name"}.
func (a *api) postMember(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	var in struct {
		Email string `json:"email"`
		Name  string `json:"name"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	m, err := a.okr.AddMember(c.Request().Context(), team.ID, in.Email, in.Name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, m)
}

func (a *api) getMembers(c echo.Context) error {
	team, err := teamParam(c)
	if err != nil {
		return err
	}
	ms, err := a.okr.Members(c.Request().Context(), team.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"members": ms})
}
