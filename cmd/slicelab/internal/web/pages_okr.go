package web

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"slicelab/experiments"
	"slicelab/okr"
	"slicelab/tracking"
)

type okrsView struct {
	Week        string
	Weeks       []string // weeks a check-in may name, newest first
	Quarters    []string
	Objectives  []objectiveView
	Experiments []experiments.Summary
	// Form keeps what a refused form held and its errors, by form key:
	// "objective", "kr-<objective id>", "ci-<kr id>", "link-<kr id>".
	Form  string
	Vals  map[string]string
	Errs  map[string]string
	Top   string
	Names map[uuid.UUID]string
	// OtherTeams are the organisation's other teams (to share an objective
	// with); Members the team's people (to own one).
	OtherTeams []experiments.Team
	Members    []experiments.Member
}

type objectiveView struct {
	O      *okr.Objective
	Review *okr.ObjectiveReview
	KRs    []krView
	Owned  bool // the team owns it (else another team shares it with this one)
	// Sharing is the edit form's teams and owners, checked as they are.
	Sharing sharingChoices
}

// sharingChoices are the checkboxes of an objective form: the teams to
// share it with and the people who may own it.
type sharingChoices struct {
	Form              string
	Teams             []choice
	Owners            []choice
	ErrTeams, ErrOwns string
}

type choice struct {
	Value, Label string
	Checked      bool
}

// sharingChoicesFor builds the checkboxes: the organisation's other teams
// and the team's members, plus current owners from other teams (so that
// saving keeps them).
func (v okrsView) sharingChoicesFor(form string, shared []string, owners []okr.Owner) sharingChoices {
	sc := sharingChoices{Form: form, ErrTeams: v.Err(form, "shared_with"), ErrOwns: v.Err(form, "owner_ids")}
	for _, t := range v.OtherTeams {
		sc.Teams = append(sc.Teams, choice{Value: t.Slug, Label: t.Name, Checked: slices.Contains(shared, t.Slug)})
	}
	seen := map[uuid.UUID]bool{}
	for _, m := range v.Members {
		label := m.DisplayName()
		if m.Function != "" {
			label += " (" + m.Function + ")"
		}
		checked := slices.ContainsFunc(owners, func(o okr.Owner) bool { return o.ID == m.ID })
		sc.Owners = append(sc.Owners, choice{Value: m.ID.String(), Label: label, Checked: checked})
		seen[m.ID] = true
	}
	for _, o := range owners {
		if !seen[o.ID] {
			label := orWord(o.Name, o.Email)
			if o.Function != "" {
				label += " (" + o.Function + ")"
			}
			sc.Owners = append(sc.Owners, choice{Value: o.ID.String(), Label: label, Checked: true})
		}
	}
	return sc
}

// NewSharing is the new-objective form's checkboxes.
func (v okrsView) NewSharing() sharingChoices { return v.sharingChoicesFor("objective", nil, nil) }

type krView struct {
	K      *okr.KeyResult
	R      *okr.KRReview
	Linked []string
}

// Err returns the error of a field of a form, when that form was refused.
func (v okrsView) Err(form, field string) string {
	if v.Form != form {
		return ""
	}
	return v.Errs[field]
}

// Val returns what a refused form held in a field, or def.
func (v okrsView) Val(form, field, def string) string {
	if v.Form != form {
		return def
	}
	if x, ok := v.Vals[field]; ok {
		return x
	}
	return def
}

// Open tells whether a form should be shown open (it was refused).
func (v okrsView) Open(form string) bool { return v.Form == form }

func (s *server) okrsPage(c echo.Context) error {
	return s.okrs(c, http.StatusOK, okrsView{})
}

func (s *server) okrs(c echo.Context, status int, v okrsView) error {
	ctx := c.Request().Context()
	team := principal(c).Team
	week := tracking.WeekOf(s.Now(), team.Location())
	v.Week = week.String()
	for w, i := week, 0; i < 8; i, w = i+1, w.Prev() {
		v.Weeks = append(v.Weeks, w.String())
	}
	q := (int(s.Now().In(team.Location()).Month())-1)/3 + 1
	y := s.Now().In(team.Location()).Year()
	for i := 0; i < 4; i++ {
		v.Quarters = append(v.Quarters, fmt.Sprintf("%d-Q%d", y, q))
		if q++; q > 4 {
			q, y = 1, y+1
		}
	}
	objs, err := s.OKR.Objectives(ctx, team.ID)
	if err != nil {
		return err
	}
	rev, err := s.OKR.WeeklyReview(ctx, team, week)
	if err != nil {
		return err
	}
	if v.Experiments, err = s.Experiments.Summaries(ctx, team.ID); err != nil {
		return err
	}
	v.Names = map[uuid.UUID]string{}
	for _, e := range v.Experiments {
		v.Names[e.ID] = e.Name
	}
	byID := map[uuid.UUID]*okr.ObjectiveReview{}
	krs := map[uuid.UUID]*okr.KRReview{}
	for i := range rev.Objectives {
		o := &rev.Objectives[i]
		byID[o.ID] = o
		for j := range o.KeyResults {
			krs[o.KeyResults[j].ID] = &o.KeyResults[j]
		}
	}
	others, err := s.Experiments.OrgTeams(ctx, team.OrgID)
	if err != nil {
		return err
	}
	for _, t := range others {
		if t.ID != team.ID {
			v.OtherTeams = append(v.OtherTeams, t)
		}
	}
	if v.Members, err = s.Experiments.Members(ctx, team.ID); err != nil {
		return err
	}
	for _, o := range objs {
		ov := objectiveView{O: o, Review: byID[o.ID], Owned: o.TeamID == team.ID}
		ov.Sharing = v.sharingChoicesFor("eo-"+o.ID.String(), o.SharedWith, o.Owners)
		for _, k := range o.KeyResults {
			kv := krView{K: k, R: krs[k.ID]}
			for _, id := range k.ExperimentIDs {
				kv.Linked = append(kv.Linked, v.Names[id])
			}
			ov.KRs = append(ov.KRs, kv)
		}
		v.Objectives = append(v.Objectives, ov)
	}
	return s.page(c, status, "okrs", "Objectives and key results", "okrs", v)
}

// refused shows the OKR page again with the form's values and its errors
// next to its fields; nothing was stored.
func (s *server) refused(c echo.Context, form string, err error) error {
	var ve *experiments.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	params, _ := c.FormParams()
	v := okrsView{Form: form, Vals: map[string]string{}, Errs: map[string]string{}}
	for k := range params {
		v.Vals[k] = params.Get(k)
	}
	for _, k := range slices.Sorted(maps.Keys(ve.Fields)) {
		field := k
		switch {
		case strings.HasPrefix(k, "experiment_ids"):
			field = "experiment_id"
		case strings.HasPrefix(k, "shared_with"):
			field = "shared_with"
		case strings.HasPrefix(k, "owner_ids"):
			field = "owner_ids"
		}
		v.Errs[field] = sentence(ve.Fields[k])
	}
	return s.okrs(c, http.StatusUnprocessableEntity, v)
}

// sharingForm reads an objective form's teams to share with and owners
// (checkboxes; never nil).
func sharingForm(c echo.Context) (shared []string, owners []uuid.UUID, err error) {
	params, err := c.FormParams()
	if err != nil {
		return nil, nil, err
	}
	shared, owners = []string{}, []uuid.UUID{}
	for _, slug := range params["shared_with"] {
		shared = append(shared, strings.TrimSpace(slug))
	}
	for i, raw := range params["owner_ids"] {
		id, err := uuid.Parse(raw)
		if err != nil {
			return nil, nil, &experiments.ValidationError{Fields: map[string]string{fmt.Sprintf("owner_ids[%d]", i): "is not a member"}}
		}
		owners = append(owners, id)
	}
	return shared, owners, nil
}

func optFloat(raw, field string, fe map[string]string) *float64 {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil
	}
	x, err := strconv.ParseFloat(strings.ReplaceAll(raw, ",", ""), 64)
	if err != nil {
		fe[field] = "Enter a number such as 42 or 3.5."
		return nil
	}
	return &x
}

func (s *server) createObjectiveForm(c echo.Context) error {
	in := okr.ObjectiveInput{Title: c.FormValue("title"), Period: strings.TrimSpace(c.FormValue("period")), Kind: c.FormValue("kind")}
	shared, owners, err := sharingForm(c)
	if err != nil {
		return s.refused(c, "objective", err)
	}
	if len(shared) > 0 {
		in.SharedWith = shared
	}
	if len(owners) > 0 {
		in.OwnerIDs = owners
	}
	if _, err := s.OKR.CreateObjective(c.Request().Context(), principal(c).Team.ID, in); err != nil {
		return s.refused(c, "objective", err)
	}
	return s.redirect(c, "/okrs", "success", "Objective “"+strings.TrimSpace(in.Title)+"” added. Now add its key results.")
}

func (s *server) createKeyResultForm(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	form := "kr-" + id.String()
	fe := map[string]string{}
	in := okr.KeyResultInput{Title: c.FormValue("title"), Type: c.FormValue("type"), Unit: c.FormValue("unit"),
		Source: c.FormValue("source"), EventName: c.FormValue("event_name"), Comparison: c.FormValue("comparison"),
		Start: optFloat(c.FormValue("start"), "start", fe), Target: optFloat(c.FormValue("target"), "target", fe)}
	if in.Type != okr.TypeThreshold {
		in.Comparison = ""
	}
	if len(fe) > 0 {
		return s.refused(c, form, &experiments.ValidationError{Fields: fe})
	}
	if _, err := s.OKR.CreateKeyResult(c.Request().Context(), principal(c).Team.ID, id, in); err != nil {
		return s.refused(c, form, err)
	}
	return s.redirect(c, "/okrs", "success", "Key result “"+strings.TrimSpace(in.Title)+"” added.")
}

func (s *server) checkInForm(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	form := "ci-" + id.String()
	fe := map[string]string{}
	in := okr.CheckInInput{Week: strings.TrimSpace(c.FormValue("week")), Note: c.FormValue("note"), Value: optFloat(c.FormValue("value"), "value", fe)}
	if raw := strings.TrimSpace(c.FormValue("confidence")); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil {
			fe["confidence"] = "Choose a confidence from 1 to 10."
		}
		in.Confidence = &n
	}
	if len(fe) > 0 {
		return s.refused(c, form, &experiments.ValidationError{Fields: fe})
	}
	ci, err := s.OKR.CheckIn(c.Request().Context(), principal(c).Team.ID, id, in, author(principal(c)))
	if err != nil {
		return s.refused(c, form, err)
	}
	return s.redirect(c, "/okrs#kr-"+id.String(), "success", "Check-in for "+ci.Week+" saved.")
}

func (s *server) linkExperimentForm(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	form := "link-" + id.String()
	exp, err := uuid.Parse(c.FormValue("experiment_id"))
	if err != nil {
		return s.refused(c, form, &experiments.ValidationError{Fields: map[string]string{"experiment_id": "Choose an experiment."}})
	}
	if err := s.OKR.LinkExperiment(c.Request().Context(), principal(c).Team.ID, id, exp); err != nil {
		return s.refused(c, form, err)
	}
	return s.redirect(c, "/okrs#kr-"+id.String(), "success", "Experiment linked: its clicks now count towards the key result.")
}

func (s *server) updateObjectiveForm(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	title, kind := c.FormValue("title"), c.FormValue("kind")
	patch := okr.ObjectivePatch{Title: &title, Kind: &kind}
	if c.FormValue("sharing") == "1" { // the form shows the sharing (only to the owning team): empty means none
		shared, owners, err := sharingForm(c)
		if err != nil {
			return s.refused(c, "eo-"+id.String(), err)
		}
		patch.SharedWith, patch.OwnerIDs = shared, owners
	}
	if _, err := s.OKR.UpdateObjective(c.Request().Context(), principal(c).Team.ID, id, patch); err != nil {
		return s.refused(c, "eo-"+id.String(), err)
	}
	return s.redirect(c, "/okrs#obj-"+id.String(), "success", "Objective saved.")
}

func (s *server) archiveObjectiveForm(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if err := s.OKR.ArchiveObjective(c.Request().Context(), principal(c).Team.ID, id); err != nil {
		return err
	}
	return s.redirect(c, "/okrs", "success", "Objective archived: it leaves this page and the weekly review; its history is kept.")
}

func (s *server) updateKeyResultForm(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	form := "ek-" + id.String()
	fe := map[string]string{}
	title, unit := c.FormValue("title"), c.FormValue("unit")
	p := okr.KeyResultPatch{Title: &title, Unit: &unit, Start: optFloat(c.FormValue("start"), "start", fe), Target: optFloat(c.FormValue("target"), "target", fe)}
	if len(fe) > 0 {
		return s.refused(c, form, &experiments.ValidationError{Fields: fe})
	}
	if _, err := s.OKR.UpdateKeyResult(c.Request().Context(), principal(c).Team.ID, id, p); err != nil {
		return s.refused(c, form, err)
	}
	return s.redirect(c, "/okrs#kr-"+id.String(), "success", "Key result saved.")
}

func (s *server) archiveKeyResultForm(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if err := s.OKR.ArchiveKeyResult(c.Request().Context(), principal(c).Team.ID, id); err != nil {
		return err
	}
	return s.redirect(c, "/okrs", "success", "Key result archived: it no longer counts towards its objective; its history is kept.")
}
