package web

import (
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"slicelab/experiments"
	"slicelab/okr"
	"slicelab/tracking"
)

// followLink answers GET|HEAD /c/:token with a 302 to the stored destination,
// once the click is durable (in the click ledger, or in the spool while the
// ledger cannot be written); it is classified and counted afterwards.
func (s *server) followLink(c echo.Context) error {
	r := c.Request()
	dest, err := s.Tracking.Follow(r.Context(), c.Param("token"), tracking.Hit{
		Method: r.Method, UserAgent: r.UserAgent(), IP: c.RealIP(),
	})
	if errors.Is(err, tracking.ErrNotFound) {
		return err
	}
	if err != nil {
		if dest == "" {
			return err
		}
		// The person still goes where the link says; the lost click is logged.
		s.Log.Error("click not recorded", "request_id", requestID(c), "err", err)
	}
	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Robots-Tag", "noindex")
	return c.Redirect(http.StatusFound, dest)
}

type unsubscribeView struct {
	Email        string
	Unsubscribed bool
	Action       string
}

// unsubscribePage shows the confirmation form; a GET never unsubscribes
// (mail scanners follow every link).
func (s *server) unsubscribePage(c echo.Context) error {
	ref, err := s.Tracking.OpenUnsubscribe(c.Param("token"))
	if err != nil {
		return err
	}
	rc, err := s.Experiments.Recipient(c.Request().Context(), ref.DeliveryID)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return s.render(c, http.StatusOK, "unsubscribe", unsubscribeView{
		Email: rc.Email, Unsubscribed: rc.Unsubscribed, Action: "/u/" + c.Param("token"),
	})
}

// unsubscribe handles the form and the RFC 8058 one-click POST
// (List-Unsubscribe=One-Click), which carries no cookie or CSRF token.
func (s *server) unsubscribe(c echo.Context) error {
	ref, err := s.Tracking.OpenUnsubscribe(c.Param("token"))
	if err != nil {
		return err
	}
	rc, err := s.Experiments.Unsubscribe(c.Request().Context(), ref.DeliveryID)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return s.render(c, http.StatusOK, "unsubscribed", rc)
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
	v := surveyView{Action: "/survey/" + c.Param("token"), Name: f.Member.DisplayName(), TeamName: f.TeamName, Week: f.Week.String(), Dates: f.Week.Dates()}
	for _, cat := range f.Categories {
		v.Fields = append(v.Fields, surveyField{Input: "share_" + cat.ID.String(), Name: cat.Name, Description: cat.Description, Elective: cat.Elective})
	}
	return v
}

// surveyPage shows the form of a signed survey link, pre-filled with the
// member's answer for the week or else their latest earlier one.
func (s *server) surveyPage(c echo.Context) error {
	f, err := s.OKR.OpenSurvey(c.Request().Context(), c.Param("token"))
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
	return s.render(c, http.StatusOK, "survey", v)
}

// surveySubmit stores the answer of a signed survey link (form fields
// share_<category id>, whole percentages; empty means 0). The member and the
// week come from the link only. A bad answer stores nothing and shows the
// form again with what was entered and what is wrong (422).
func (s *server) surveySubmit(c echo.Context) error {
	ctx := c.Request().Context()
	tok := c.Param("token")
	f, err := s.OKR.OpenSurvey(ctx, tok)
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
		r, err := s.OKR.SubmitSurvey(ctx, tok, shares)
		if err == nil {
			done := surveyDoneView{Name: v.Name, Week: v.Week, Dates: v.Dates, Again: v.Action, Replaced: r.Replaced}
			for _, cat := range f.Categories {
				done.Shares = append(done.Shares, surveyDoneShare{Name: cat.Name, Percent: r.ByCategory[cat.ID]})
			}
			surveyHeaders(c)
			return s.render(c, http.StatusOK, "survey_done", done)
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
	return s.render(c, http.StatusUnprocessableEntity, "survey", v)
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
