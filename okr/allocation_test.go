package okr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"github.com/uptrace/bun"

	"slicelab/experiments"
	"slicelab/migrations"
	"slicelab/templates"
	"slicelab/tracking"
)

// allocEnv is a migrated temp-file SQLite database with one team and a
// service whose clock the test sets.
type allocEnv struct {
	t    *testing.T
	ctx  context.Context
	db   *bun.DB
	exps *experiments.Service
	svc  *Service
	team uuid.UUID
	tmpl EmailTemplate
	mu   sync.Mutex
	now  time.Time
}

// allocNow is Friday of 2026-W48 (23 to 29 November 2026), 10:00 UTC.
var allocNow = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

const allocSecret = "okr-test-secret-0123456789abcdef0123456789"

func newAllocEnv(t *testing.T) *allocEnv {
	t.Helper()
	ctx := context.Background()
	db, err := migrations.OpenSQLite(ctx, filepath.Join(t.TempDir(), "okr.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := migrations.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	e := &allocEnv{t: t, ctx: ctx, db: db, now: allocNow}
	e.exps = experiments.NewService(db, experiments.Config{}, experiments.Deps{Now: e.clock})
	e.svc = e.service(allocSecret)
	html, text, err := templates.Email("survey")
	if err != nil {
		t.Fatal(err)
	}
	e.tmpl = EmailTemplate{HTML: html, Text: text}
	e.team = e.addTeam("growth")
	return e
}

// service builds an OKR service over the environment's database with a secret.
func (e *allocEnv) service(secret string) *Service {
	e.t.Helper()
	svc, err := NewService(e.db, e.exps, tracking.NewStore(e.db), Config{Secret: []byte(secret)}, e.clock)
	if err != nil {
		e.t.Fatal(err)
	}
	return svc
}

// mailer builds the survey worker over a fake transport.
func (e *allocEnv) mailer(svc *Service, fm *allocMailer, from, base string) *SurveyMailer {
	return NewSurveyMailer(svc, Mail{Mailer: fm, From: from, BaseURL: base}, e.tmpl)
}

// token is the survey token of a member for a week.
func (e *allocEnv) token(m experiments.Member, w tracking.Week) string {
	return e.svc.SurveyToken(m.TeamID, m.ID, w)
}

func (e *allocEnv) setTimeZone(team uuid.UUID, tz string) {
	e.t.Helper()
	if _, err := e.exps.SetTimeZone(e.ctx, team, tz); err != nil {
		e.t.Fatal(err)
	}
}

func (e *allocEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *allocEnv) setNow(t time.Time) {
	e.mu.Lock()
	e.now = t
	e.mu.Unlock()
}

func (e *allocEnv) addTeam(slug string) uuid.UUID {
	e.t.Helper()
	team, err := e.exps.CreateTeam(e.ctx, slug, strings.ToUpper(slug))
	if err != nil {
		e.t.Fatal(err)
	}
	return team.ID
}

func (e *allocEnv) member(team uuid.UUID, email string) experiments.Member {
	e.t.Helper()
	m, err := e.exps.AddMember(e.ctx, team, experiments.MemberInput{Email: email, Name: strings.Split(email, "@")[0]})
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

func (e *allocEnv) week(s string) tracking.Week {
	e.t.Helper()
	w, err := tracking.ParseWeek(s)
	if err != nil {
		e.t.Fatal(err)
	}
	return w
}

func (e *allocEnv) submit(m experiments.Member, week string, shares map[string]int) AllocationResponse {
	e.t.Helper()
	r, err := e.svc.SubmitAllocation(e.ctx, m.TeamID, m.ID, e.week(week), shares)
	if err != nil {
		e.t.Fatalf("submit %s %v: %v", week, shares, err)
	}
	return r
}

// stored counts the stored answers and share rows.
func (e *allocEnv) stored() (responses, shares int) {
	e.t.Helper()
	var err error
	if responses, err = e.db.NewSelect().Table("allocation_responses").Count(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	if shares, err = e.db.NewSelect().Table("allocation_shares").Count(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	return responses, shares
}

func allocNear(p *float64, want float64) bool { return p != nil && math.Abs(*p-want) < 1e-9 }

func allocFmt(p *float64) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

func allocFields(t *testing.T, err error) map[string]string {
	t.Helper()
	var ve *experiments.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v, want a ValidationError", err)
	}
	return ve.Fields
}

func TestAllocationDefaultCategories(t *testing.T) {
	e := newAllocEnv(t)
	cats, err := e.svc.Categories(e.ctx, e.team)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name     string
		elective bool
		target   *float64
	}{{"KTLO", false, nil}, {"New", true, allocPtr(0.6)}, {"Improve", true, allocPtr(0.2)}, {"Productivity", true, allocPtr(0.2)}}
	if len(cats) != len(want) {
		t.Fatalf("%d default categories, want 4: %+v", len(cats), cats)
	}
	for i, w := range want {
		c := cats[i]
		if c.Name != w.name || c.Elective != w.elective || (w.target == nil) != (c.Target == nil) ||
			(w.target != nil && !allocNear(c.Target, *w.target)) || c.Position != i || c.Description == "" {
			t.Errorf("category %d = %+v (target %s), want %+v", i, c, allocFmt(c.Target), w)
		}
	}
	if cats[0].Description != "incidents and fires, on-call, security fixes, customer bugs, routine operations and upkeep" {
		t.Errorf("KTLO description %q", cats[0].Description)
	}
	again, err := e.svc.Categories(e.ctx, e.team)
	if err != nil || len(again) != 4 || again[0].ID != cats[0].ID {
		t.Fatalf("second call: %v %+v", err, again)
	}
	if _, err := e.svc.Categories(e.ctx, uuid.New()); !errors.Is(err, experiments.ErrNotFound) {
		t.Errorf("categories of an unknown team: %v", err)
	}

	// Add.
	support, err := e.svc.AddCategory(e.ctx, e.team, CategoryInput{Name: "  Support rotation ", Elective: true, Description: "the support rota"})
	if err != nil {
		t.Fatal(err)
	}
	if support.Name != "Support rotation" || !support.Elective || support.Target != nil || support.Position != 4 || support.Description != "the support rota" {
		t.Errorf("added %+v", support)
	}
	for _, c := range []struct {
		name     string
		elective bool
		target   *float64
		field    string
		msg      string
	}{
		{"ktlo", true, nil, "name", `already has a category named "KTLO"`},
		{"   ", true, nil, "name", "must not be empty"},
		{"a\nb", true, nil, "name", "control characters"},
		{strings.Repeat("x", 41), true, nil, "name", "at most 40"},
		{uuid.NewString(), true, nil, "name", "category id"},
		{"Research", true, allocPtr(1.5), "target", "between 0 and 1"},
		{"Research", true, allocPtr(-0.1), "target", "between 0 and 1"},
		{"Research", true, allocPtr(math.NaN()), "target", "between 0 and 1"},
		{"Ops", false, allocPtr(0.1), "target", "only elective"},
		{"Research", true, allocPtr(0.1), "target", "add up to 110 %"},
	} {
		_, err := e.svc.AddCategory(e.ctx, e.team, CategoryInput{Name: c.name, Elective: c.elective, Target: c.target})
		if f := allocFields(t, err); !strings.Contains(f[c.field], c.msg) {
			t.Errorf("AddCategory(%q, %v, %s): %v, want %s: ...%s...", c.name, c.elective, allocFmt(c.target), f, c.field, c.msg)
		}
	}
	if ops, err := e.svc.AddCategory(e.ctx, e.team, CategoryInput{Name: "Interrupts"}); err != nil || ops.Elective || ops.Target != nil || ops.Position != 5 {
		t.Errorf("non-elective category: %+v %v", ops, err)
	}

	// Rename keeps the id, the position and the description.
	renamed, err := e.svc.UpdateCategory(e.ctx, e.team, cats[0].ID, CategoryPatch{Name: allocStr("Keep the lights on")})
	if err != nil {
		t.Fatal(err)
	}
	if renamed.ID != cats[0].ID || renamed.Name != "Keep the lights on" || renamed.Description != cats[0].Description {
		t.Errorf("renamed %+v", renamed)
	}
	if _, err := e.svc.UpdateCategory(e.ctx, e.team, cats[1].ID, CategoryPatch{Name: allocStr("new")}); err != nil { // only the case changes
		t.Errorf("rename to another case of the same name: %v", err)
	}
	if f := allocFields(t, func() error {
		_, err := e.svc.UpdateCategory(e.ctx, e.team, cats[1].ID, CategoryPatch{Name: allocStr("IMPROVE")})
		return err
	}()); f["name"] == "" {
		t.Errorf("rename onto another category's name: %v", f)
	}
	if _, err := e.svc.UpdateCategory(e.ctx, e.team, uuid.New(), CategoryPatch{Name: allocStr("X")}); !errors.Is(err, experiments.ErrNotFound) {
		t.Errorf("rename of an unknown category: %v", err)
	}
	other := e.addTeam("other")
	if _, err := e.svc.UpdateCategory(e.ctx, other, cats[2].ID, CategoryPatch{Name: allocStr("X")}); !errors.Is(err, experiments.ErrNotFound) {
		t.Errorf("rename of another team's category: %v", err)
	}
	cats, _ = e.svc.Categories(e.ctx, e.team)
	var names []string
	for _, c := range cats {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "Keep the lights on,new,Improve,Productivity,Support rotation,Interrupts" {
		t.Errorf("categories now %v", names)
	}
}

func allocPtr(x float64) *float64 { return &x }

func allocStr(s string) *string { return &s }

// The target mix: changed one category at a time only while it adds up to
// 100 %, or all at once; descriptions are stored and changed.
func TestAllocationTargets(t *testing.T) {
	e := newAllocEnv(t)
	cats, err := e.svc.Categories(e.ctx, e.team)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.UpdateCategory(e.ctx, e.team, cats[1].ID, CategoryPatch{Target: allocPtr(0.5)}); !strings.Contains(allocFields(t, err)["target"], "add up to 90 %") {
		t.Errorf("one target changed alone: %v", err)
	}
	if _, err := e.svc.SetTargets(e.ctx, e.team, map[string]float64{"new": 0.5, "Improve": 0.3, "Productivity": 0.1}); !strings.Contains(allocFields(t, err)["targets"], "90 %") {
		t.Errorf("a mix of 90 %%: %v", err)
	}
	if _, err := e.svc.SetTargets(e.ctx, e.team, map[string]float64{"KTLO": 0.5, "New": 0.5}); allocFields(t, err)["targets.KTLO"] == "" {
		t.Errorf("a target for KTLO: %v", err)
	}
	if _, err := e.svc.SetTargets(e.ctx, e.team, map[string]float64{"Meetings": 1}); allocFields(t, err)["targets.Meetings"] == "" {
		t.Errorf("a target for an unknown category: %v", err)
	}
	got, err := e.svc.SetTargets(e.ctx, e.team, map[string]float64{"new": 0.5, "Improve": 0.3, cats[3].ID.String(): 0.2})
	if err != nil || !allocNear(got[1].Target, 0.5) || !allocNear(got[2].Target, 0.3) || !allocNear(got[3].Target, 0.2) || got[0].Target != nil {
		t.Fatalf("SetTargets: %+v %v", got, err)
	}
	d := "fires and upkeep"
	c, err := e.svc.UpdateCategory(e.ctx, e.team, cats[0].ID, CategoryPatch{Description: &d})
	if err != nil || c.Description != d {
		t.Errorf("description: %+v %v", c, err)
	}
	again, _ := e.svc.Categories(e.ctx, e.team)
	if again[0].Description != d || !allocNear(again[1].Target, 0.5) {
		t.Errorf("stored: %+v", again)
	}
	// Clearing every target but one leaves 100 % on that one, or none at all.
	if _, err := e.svc.UpdateCategory(e.ctx, e.team, cats[1].ID, CategoryPatch{ClearTarget: true}); allocFields(t, err)["target"] == "" {
		t.Errorf("clearing one target of three: %v", err)
	}
}

func TestSubmitAllocation(t *testing.T) {
	e := newAllocEnv(t)
	ada := e.member(e.team, "ada@team.test")
	r := e.submit(ada, "2026-W48", map[string]int{"KTLO": 40, "new": 30, "Improve": 20, "Productivity": 10})
	if r.Week != "2026-W48" || r.MemberID != ada.ID || r.Replaced || r.Shares["KTLO"] != 40 || r.Shares["New"] != 30 ||
		r.Shares["Improve"] != 20 || r.Shares["Productivity"] != 10 {
		t.Errorf("stored %+v", r)
	}
	if n, s := e.stored(); n != 1 || s != 4 {
		t.Errorf("%d responses and %d shares stored, want 1 and 4", n, s)
	}
	got, err := e.svc.AllocationOf(e.ctx, e.team, ada.ID, e.week("2026-W48"))
	if err != nil || got == nil || got.ID != r.ID || got.Shares["New"] != 30 || got.Shares["KTLO"] != 40 {
		t.Fatalf("AllocationOf: %+v %v", got, err)
	}

	// By category id; left-out categories count as 0. An earlier week is fine.
	cats, _ := e.svc.Categories(e.ctx, e.team)
	r2 := e.submit(ada, "2026-W47", map[string]int{cats[0].ID.String(): 100})
	if r2.Shares["KTLO"] != 100 || r2.Shares["New"] != 0 || len(r2.Shares) != 4 {
		t.Errorf("by id: %+v", r2)
	}
	// Pre-fill: the latest answer up to a week.
	if got, _ := e.svc.AllocationOf(e.ctx, e.team, ada.ID, e.week("2026-W47")); got == nil || got.Week != "2026-W47" {
		t.Errorf("AllocationOf W47: %+v", got)
	}
	if got, _ := e.svc.AllocationOf(e.ctx, e.team, ada.ID, e.week("2026-W46")); got != nil {
		t.Errorf("AllocationOf W46: %+v, want none", got)
	}

	// Through the API input.
	r3, err := e.svc.RecordAllocation(e.ctx, e.team, AllocationInput{MemberID: ada.ID.String(), Week: "2026-W46", Shares: map[string]int{"KTLO": 50, "New": 50}})
	if err != nil || r3.Week != "2026-W46" || r3.Shares["KTLO"] != 50 {
		t.Errorf("RecordAllocation: %+v %v", r3, err)
	}
}

func TestSubmitAllocationRejects(t *testing.T) {
	e := newAllocEnv(t)
	ada := e.member(e.team, "ada@team.test")
	other := e.addTeam("other")
	stranger := e.member(other, "sam@other.test")
	good := map[string]int{"KTLO": 40, "New": 30, "Improve": 20, "Productivity": 10}
	for _, c := range []struct {
		name   string
		member uuid.UUID
		week   string
		shares map[string]int
		field  string
		msg    string
	}{
		{"sum 95", ada.ID, "2026-W48", map[string]int{"KTLO": 40, "New": 30, "Improve": 20, "Productivity": 5}, "shares", "the shares add up to 95; they must add up to 100"},
		{"sum 105", ada.ID, "2026-W48", map[string]int{"KTLO": 40, "New": 35, "Improve": 20, "Productivity": 10}, "shares", "the shares add up to 105; they must add up to 100"},
		{"nothing", ada.ID, "2026-W48", map[string]int{}, "shares", "the shares add up to 0; they must add up to 100"},
		{"negative", ada.ID, "2026-W48", map[string]int{"KTLO": -10, "New": 110}, "shares.KTLO", "is -10; each share must be a whole percentage from 0 to 100"},
		{"over 100", ada.ID, "2026-W48", map[string]int{"KTLO": 0, "New": 120, "Improve": -20}, "shares.New", "is 120; each share must be a whole percentage from 0 to 100"},
		{"unknown category", ada.ID, "2026-W48", map[string]int{"KTLO": 40, "Meetings": 60}, "shares.Meetings", `"Meetings" is not a category of this team; the categories are KTLO, New, Improve, Productivity`},
		{"twice", ada.ID, "2026-W48", map[string]int{"KTLO": 40, "ktlo": 60}, "shares.KTLO", "given twice"},
		{"future week", ada.ID, "2026-W49", good, "week", "2026-W49 has not started yet (the current week is 2026-W48)"},
		{"next year", ada.ID, "2027-W01", good, "week", "has not started yet"},
		{"bad week", ada.ID, "2026-W60", good, "week", "ISO year 2026 has weeks W01 to W53"},
		{"bad week form", ada.ID, "2026-48", good, "week", "expected YYYY-Www"},
		{"no week", ada.ID, "", good, "week", "is required"},
		{"another team's member", stranger.ID, "2026-W48", good, "member_id", "is not a member of this team"},
		{"unknown member", uuid.New(), "2026-W48", good, "member_id", "is not a member of this team"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.svc.RecordAllocation(e.ctx, e.team, AllocationInput{MemberID: c.member.String(), Week: c.week, Shares: c.shares})
			f := allocFields(t, err)
			if f[c.field] == "" || !strings.Contains(f[c.field], c.msg) {
				t.Errorf("fields %v, want %s: ...%s...", f, c.field, c.msg)
			}
			if n, s := e.stored(); n != 0 || s != 0 {
				t.Errorf("a bad answer stored %d responses and %d shares", n, s)
			}
		})
	}
	// The typed entry point too.
	if _, err := e.svc.SubmitAllocation(e.ctx, e.team, ada.ID, tracking.Week{}, good); allocFields(t, err)["week"] == "" {
		t.Errorf("zero week: %v", err)
	}
	if _, err := e.svc.SubmitAllocation(e.ctx, e.team, ada.ID, e.week("2026-W49"), good); allocFields(t, err)["week"] == "" {
		t.Errorf("future week: %v", err)
	}
	_, err := e.svc.RecordAllocation(e.ctx, e.team, AllocationInput{MemberID: "nobody", Week: "2026-W48", Shares: good})
	if f := allocFields(t, err); !strings.Contains(f["member_id"], "not a member id") {
		t.Errorf("bad member id: %v", f)
	}
	// A bad re-submission leaves the earlier answer alone.
	first := e.submit(ada, "2026-W48", good)
	if _, err := e.svc.SubmitAllocation(e.ctx, e.team, ada.ID, e.week("2026-W48"), map[string]int{"KTLO": 90}); err == nil {
		t.Fatal("sum 90 accepted")
	}
	got, _ := e.svc.AllocationOf(e.ctx, e.team, ada.ID, e.week("2026-W48"))
	if got == nil || got.ID != first.ID || got.Shares["KTLO"] != 40 || got.Shares["New"] != 30 {
		t.Errorf("after a bad re-submission: %+v", got)
	}
}

func TestSubmitAllocationReplaces(t *testing.T) {
	e := newAllocEnv(t)
	ada := e.member(e.team, "ada@team.test")
	first := e.submit(ada, "2026-W48", map[string]int{"KTLO": 40, "New": 60})
	e.setNow(allocNow.Add(time.Hour))
	second := e.submit(ada, "2026-W48", map[string]int{"KTLO": 10, "Productivity": 90})
	if !second.Replaced || second.ID != first.ID || !second.CreatedAt.Equal(first.CreatedAt) {
		t.Errorf("second answer %+v, first %+v", second, first)
	}
	if n, s := e.stored(); n != 1 || s != 4 {
		t.Errorf("%d responses, %d shares after re-submitting, want 1 and 4", n, s)
	}
	got, _ := e.svc.AllocationOf(e.ctx, e.team, ada.ID, e.week("2026-W48"))
	if got.Shares["KTLO"] != 10 || got.Shares["New"] != 0 || got.Shares["Productivity"] != 90 || !got.UpdatedAt.Equal(allocNow.Add(time.Hour)) {
		t.Errorf("after re-submitting: %+v", got)
	}
	rep, err := e.svc.AllocationReport(e.ctx, e.team, e.week("2026-W48"))
	if err != nil || rep.Responses != 1 || !allocNear(rep.KTLOShare, 0.1) {
		t.Errorf("report after re-submitting: %+v %v", rep, err)
	}
}

func TestAllocationReport(t *testing.T) {
	e := newAllocEnv(t)
	e.setNow(allocNow.AddDate(0, 0, -21)) // members join in W45
	ada, bob, cy := e.member(e.team, "ada@team.test"), e.member(e.team, "bob@team.test"), e.member(e.team, "cy@team.test")
	e.setNow(allocNow)
	e.submit(ada, "2026-W48", map[string]int{"KTLO": 40, "New": 30, "Improve": 20, "Productivity": 10})
	e.submit(bob, "2026-W48", map[string]int{"KTLO": 20, "New": 60, "Improve": 10, "Productivity": 10})
	e.submit(ada, "2026-W46", map[string]int{"KTLO": 50, "New": 50})
	e.submit(cy, "2026-W40", map[string]int{"KTLO": 100})
	e.submit(bob, "2026-W40", map[string]int{"KTLO": 20, "Improve": 80})
	e.submit(cy, "2026-W36", map[string]int{"KTLO": 10, "New": 90}) // the oldest week of the trend
	e.submit(cy, "2026-W35", map[string]int{"KTLO": 90, "New": 10}) // before the trend
	// Another team's answers count nowhere here.
	other := e.addTeam("other")
	e.submit(e.member(other, "zed@other.test"), "2026-W48", map[string]int{"KTLO": 100})

	rep, err := e.svc.AllocationReport(e.ctx, e.team, e.week("2026-W48"))
	if err != nil {
		t.Fatal(err)
	}
	// Hand-computed: KTLO (40+20)/200 = 0.3; New 90/200 = 0.45, Improve 30/200 = 0.15,
	// Productivity 20/200 = 0.1; elective time 140: New 90/140, Improve 30/140, Productivity 20/140.
	if rep.Week != "2026-W48" || rep.Responses != 2 || rep.Members != 3 || !allocNear(rep.ResponseRate, 2.0/3) || !allocNear(rep.KTLOShare, 0.3) {
		t.Errorf("report %+v (rate %s, ktlo %s)", rep, allocFmt(rep.ResponseRate), allocFmt(rep.KTLOShare))
	}
	want := []struct {
		name          string
		elective      bool
		share         float64
		electiveShare *float64
		target        *float64
	}{
		{"KTLO", false, 0.3, nil, nil},
		{"New", true, 0.45, allocPtr(90.0 / 140), allocPtr(0.6)},
		{"Improve", true, 0.15, allocPtr(30.0 / 140), allocPtr(0.2)},
		{"Productivity", true, 0.1, allocPtr(20.0 / 140), allocPtr(0.2)},
	}
	if len(rep.Categories) != len(want) {
		t.Fatalf("categories %+v", rep.Categories)
	}
	sum, electiveSum := 0.0, 0.0
	for i, w := range want {
		c := rep.Categories[i]
		ok := c.Name == w.name && c.Elective == w.elective && allocNear(c.Share, w.share) &&
			(w.electiveShare == nil) == (c.ElectiveShare == nil) && (w.electiveShare == nil || allocNear(c.ElectiveShare, *w.electiveShare)) &&
			(w.target == nil) == (c.Target == nil) && (w.target == nil || allocNear(c.Target, *w.target))
		if !ok {
			t.Errorf("category %s: share %s, elective share %s, target %s; want %v %v %s %s", c.Name, allocFmt(c.Share),
				allocFmt(c.ElectiveShare), allocFmt(c.Target), w.name, w.share, allocFmt(w.electiveShare), allocFmt(w.target))
		}
		sum += *c.Share
		if c.ElectiveShare != nil {
			electiveSum += *c.ElectiveShare
		}
	}
	if math.Abs(sum-1) > 1e-9 || math.Abs(electiveSum-1) > 1e-9 {
		t.Errorf("shares add up to %v, elective shares to %v; want 1 and 1", sum, electiveSum)
	}

	// Trend: the 12 weeks before, oldest first.
	if len(rep.Trend) != 12 || rep.Trend[0].Week != "2026-W36" || rep.Trend[11].Week != "2026-W47" {
		t.Fatalf("trend %+v", rep.Trend)
	}
	for _, p := range rep.Trend {
		switch p.Week {
		case "2026-W36":
			if p.Responses != 1 || !allocNear(p.KTLOShare, 0.1) {
				t.Errorf("trend %s: %d %s", p.Week, p.Responses, allocFmt(p.KTLOShare))
			}
		case "2026-W40":
			if p.Responses != 2 || !allocNear(p.KTLOShare, 0.6) {
				t.Errorf("trend %s: %d %s", p.Week, p.Responses, allocFmt(p.KTLOShare))
			}
		case "2026-W46":
			if p.Responses != 1 || !allocNear(p.KTLOShare, 0.5) {
				t.Errorf("trend %s: %d %s", p.Week, p.Responses, allocFmt(p.KTLOShare))
			}
		default:
			if p.Responses != 0 || p.KTLOShare != nil {
				t.Errorf("trend %s: %d %s, want 0 and null", p.Week, p.Responses, allocFmt(p.KTLOShare))
			}
		}
	}

	// The JSON names that product.md §13 and the issue fix.
	raw, _ := json.Marshal(rep)
	var j map[string]any
	if err := json.Unmarshal(raw, &j); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"responses", "members", "response_rate", "ktlo_share", "categories", "trend"} {
		if _, ok := j[k]; !ok {
			t.Errorf("report JSON has no %q: %s", k, raw)
		}
	}
	c0 := j["categories"].([]any)[1].(map[string]any)
	for _, k := range []string{"name", "elective", "share", "elective_share", "target"} {
		if _, ok := c0[k]; !ok {
			t.Errorf("category JSON has no %q: %v", k, c0)
		}
	}
	p0 := j["trend"].([]any)[0].(map[string]any)
	for _, k := range []string{"week", "ktlo_share", "responses"} {
		if _, ok := p0[k]; !ok {
			t.Errorf("trend JSON has no %q: %v", k, p0)
		}
	}

	// A week without answers: no shares, response rate 0.
	empty, err := e.svc.AllocationReport(e.ctx, e.team, e.week("2026-W47"))
	if err != nil || empty.Responses != 0 || empty.Members != 3 || !allocNear(empty.ResponseRate, 0) || empty.KTLOShare != nil ||
		empty.Categories[1].Share != nil || empty.Categories[1].ElectiveShare != nil || !allocNear(empty.Categories[1].Target, 0.6) {
		t.Errorf("empty week: %+v %v", empty, err)
	}
	// All time on KTLO: no elective time, so no elective split.
	w40, _ := e.svc.AllocationReport(e.ctx, e.team, e.week("2026-W40"))
	if !allocNear(w40.KTLOShare, 0.6) || !allocNear(w40.Categories[2].ElectiveShare, 1) || !allocNear(w40.Categories[1].ElectiveShare, 0) {
		t.Errorf("W40: %+v", w40)
	}
	e.submit(ada, "2026-W44", map[string]int{"KTLO": 100})
	w44, _ := e.svc.AllocationReport(e.ctx, e.team, e.week("2026-W44"))
	if !allocNear(w44.KTLOShare, 1) || w44.Categories[1].ElectiveShare != nil || !allocNear(w44.Categories[1].Share, 0) {
		t.Errorf("all KTLO: %+v", w44)
	}
	// Members who joined after a week do not count for it, unless they answered it.
	if w40.Members != 2 || !allocNear(w40.ResponseRate, 1) {
		t.Errorf("W40 (before anyone joined): %d members, rate %s; want 2 (the two who answered) and 1", w40.Members, allocFmt(w40.ResponseRate))
	}
	if _, err := e.svc.AllocationReport(e.ctx, e.team, tracking.Week{}); allocFields(t, err)["week"] == "" {
		t.Errorf("zero week: %v", err)
	}
}

// TestAllocationTimeZone: whether a week has started depends on the team's time zone.
func TestAllocationTimeZone(t *testing.T) {
	e := newAllocEnv(t)
	e.setNow(time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)) // Sunday of W48 in UTC, Monday 01:00 of W49 in Auckland
	nz := e.addTeam("kiwi")
	e.setTimeZone(nz, "Pacific/Auckland")
	kiwi, ada := e.member(nz, "kiwi@team.test"), e.member(e.team, "ada@team.test")
	shares := map[string]int{"KTLO": 100}
	if _, err := e.svc.SubmitAllocation(e.ctx, nz, kiwi.ID, e.week("2026-W49"), shares); err != nil {
		t.Errorf("W49 has started in Auckland: %v", err)
	}
	if _, err := e.svc.SubmitAllocation(e.ctx, e.team, ada.ID, e.week("2026-W49"), shares); allocFields(t, err)["week"] == "" {
		t.Errorf("W49 has not started in UTC: %v", err)
	}
}

func TestSurveyToken(t *testing.T) {
	e := newAllocEnv(t)
	ada, bob := e.member(e.team, "ada@team.test"), e.member(e.team, "bob@team.test")
	w48 := e.week("2026-W48")
	tok := e.token(ada, w48)
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{40,}$`).MatchString(tok) {
		t.Errorf("token %q is not long base64url", tok)
	}
	ref, err := e.svc.survey.Open(tok)
	if err != nil || ref.UserID != ada.ID || ref.TeamID != e.team || ref.Week != w48 {
		t.Fatalf("round trip: %+v %v", ref, err)
	}
	other := e.addTeam("other")
	if e.token(bob, w48) == tok || e.token(ada, w48.Prev()) == tok || e.svc.SurveyToken(other, ada.ID, w48) == tok {
		t.Error("tokens of other members, teams or weeks are the same")
	}
	for i := range tok { // every altered character
		b := []byte(tok)
		b[i] = "AB"[0+allocBtoi(b[i] == 'A')]
		if _, err := e.svc.survey.Open(string(b)); !errors.Is(err, experiments.ErrNotFound) {
			t.Errorf("token altered at %d: %v", i, err)
		}
	}
	for _, bad := range []string{"", "x", tok[:len(tok)-1], tok + "A", strings.ToUpper(tok), "../../etc/passwd", strings.Repeat("A", len(tok))} {
		if _, err := e.svc.survey.Open(bad); !errors.Is(err, experiments.ErrNotFound) {
			t.Errorf("token %q: %v", bad, err)
		}
	}
	foreign := e.service("another-secret-0123456789abcdef0123456789")
	if _, err := foreign.survey.Open(tok); !errors.Is(err, experiments.ErrNotFound) {
		t.Errorf("token of another secret: %v", err)
	}
	if _, err := foreign.survey.Open(foreign.SurveyToken(e.team, ada.ID, w48)); err != nil {
		t.Errorf("foreign round trip: %v", err)
	}
	if _, err := NewService(e.db, e.exps, tracking.NewStore(e.db), Config{}, e.clock); err == nil {
		t.Error("a service without a secret was built")
	}
	// Ada's link names her team: it does not open for another team, where she is no member.
	if _, err := e.svc.OpenSurvey(e.ctx, e.svc.SurveyToken(other, ada.ID, w48)); !errors.Is(err, experiments.ErrNotFound) {
		t.Errorf("link of another team: %v", err)
	}

	// The form of Ada's link is Ada's; her answer is stored for her only,
	// whatever the answer says.
	form, err := e.svc.OpenSurvey(e.ctx, tok)
	if err != nil || form.Member.ID != ada.ID || form.Week != w48 || form.TeamName != "GROWTH" || len(form.Categories) != 4 || form.Previous != nil {
		t.Fatalf("OpenSurvey: %+v %v", form, err)
	}
	if _, err := e.svc.SubmitSurvey(e.ctx, tok, map[string]int{"KTLO": 30, "New": 70}); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.svc.AllocationOf(e.ctx, e.team, ada.ID, w48); got == nil || got.Shares["KTLO"] != 30 {
		t.Errorf("Ada's answer: %+v", got)
	}
	if got, _ := e.svc.AllocationOf(e.ctx, e.team, bob.ID, w48); got != nil {
		t.Errorf("Ada's link answered for Bob: %+v", got)
	}
	// A share keyed by Bob's member id is just an unknown category.
	_, err = e.svc.SubmitSurvey(e.ctx, tok, map[string]int{"KTLO": 30, bob.ID.String(): 70})
	if f := allocFields(t, err); f["shares."+bob.ID.String()] == "" {
		t.Errorf("member id as a share: %v", f)
	}
	if form, _ := e.svc.OpenSurvey(e.ctx, tok); form.Previous == nil || form.Previous.Shares["New"] != 70 {
		t.Errorf("pre-filled with %+v", form.Previous)
	}
	// Next week's link shows last week's answer as the pre-fill, and is
	// refused until that week has started.
	next := e.token(ada, w48.Next())
	if form, err := e.svc.OpenSurvey(e.ctx, next); err != nil || form.Previous == nil || form.Previous.Week != "2026-W48" {
		t.Errorf("next week's form: %+v %v", form, err)
	}
	if _, err := e.svc.SubmitSurvey(e.ctx, next, map[string]int{"KTLO": 100}); allocFields(t, err)["week"] == "" {
		t.Errorf("next week's answer: %v", err)
	}
	// Links are valid for their week and SurveyLinkWeeks after it.
	old := e.token(ada, e.week("2026-W44"))
	if _, err := e.svc.OpenSurvey(e.ctx, old); err != nil {
		t.Errorf("a link of 4 weeks ago: %v", err)
	}
	older := e.token(ada, e.week("2026-W43"))
	if _, err := e.svc.OpenSurvey(e.ctx, older); !errors.Is(err, ErrSurveyLinkExpired) {
		t.Errorf("a link of 5 weeks ago: %v, want ErrSurveyLinkExpired", err)
	}
	if _, err := e.svc.SubmitSurvey(e.ctx, older, map[string]int{"KTLO": 100}); !errors.Is(err, ErrSurveyLinkExpired) {
		t.Errorf("an answer through an expired link: %v", err)
	}
	if _, err := e.svc.SubmitSurvey(e.ctx, tok[:10], map[string]int{"KTLO": 100}); !errors.Is(err, experiments.ErrNotFound) {
		t.Errorf("submit with a bad token: %v", err)
	}
	// A member who left: the link is dead.
	if _, err := e.db.NewDelete().TableExpr("memberships").Where("user_id = ?", bob.ID).Exec(e.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.OpenSurvey(e.ctx, e.token(bob, w48)); !errors.Is(err, experiments.ErrNotFound) {
		t.Errorf("link of a removed member: %v", err)
	}
}

func allocBtoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestSurveyPeriodicSchedule(t *testing.T) {
	s := SurveyPeriodicSchedule()
	auckland, err := time.LoadLocation("Pacific/Auckland")
	if err != nil {
		t.Fatal(err)
	}
	fri := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct{ from, want time.Time }{
		{time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), fri},                                          // Monday
		{time.Date(2026, 11, 25, 12, 30, 0, 0, time.UTC), fri},                                        // Wednesday
		{time.Date(2026, 11, 27, 8, 59, 59, 0, time.UTC), fri},                                        // Friday just before
		{fri, fri.AddDate(0, 0, 7)},                                                                   // exactly then: the next one
		{time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), fri.AddDate(0, 0, 7)},                        // Friday after
		{time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC), fri.AddDate(0, 0, 7)},                         // Saturday
		{time.Date(2026, 11, 29, 23, 59, 0, 0, time.UTC), fri.AddDate(0, 0, 7)},                       // Sunday
		{time.Date(2026, 11, 27, 10, 0, 0, 0, auckland), fri},                                         // Friday 10:00 in Auckland is Thursday 21:00 UTC
		{time.Date(2026, 12, 31, 12, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 9, 0, 0, 0, time.UTC)}, // over the new year
		{time.Date(2028, 2, 28, 12, 0, 0, 0, time.UTC), time.Date(2028, 3, 3, 9, 0, 0, 0, time.UTC)},  // over a leap day
	} {
		got := s.Next(c.from)
		if !got.Equal(c.want) || got.Weekday() != time.Friday || got.Location() != time.UTC {
			t.Errorf("Next(%s) = %s, want %s", c.from, got, c.want)
		}
	}
	if job := newAllocEnv(t).svc.SurveyPeriodicJob(); job == nil {
		t.Error("no periodic job")
	}
}

// allocMailer records messages; fail may refuse one.
type allocMailer struct {
	mu   sync.Mutex
	msgs []experiments.Message
	fail func(to string) error
}

func (f *allocMailer) Open(context.Context) (experiments.MailSession, error) { return f, nil }
func (f *allocMailer) Close() error                                          { return nil }
func (f *allocMailer) Send(_ context.Context, m experiments.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		if err := f.fail(m.To); err != nil {
			return err
		}
	}
	f.msgs = append(f.msgs, m)
	return nil
}

func (f *allocMailer) sent() []experiments.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]experiments.Message(nil), f.msgs...)
}

var allocLinkRE = regexp.MustCompile(`https://slicelab\.test/survey/([A-Za-z0-9_-]+)`)

func TestSurveyMailer(t *testing.T) {
	e := newAllocEnv(t)
	ada, bob := e.member(e.team, "ada@team.test"), e.member(e.team, "bob@team.test")
	nz := e.addTeam("kiwi")
	e.setTimeZone(nz, "Pacific/Auckland")
	kiwi := e.member(nz, "kiwi@team.test")
	e.addTeam("empty")
	fm := &allocMailer{}
	w := e.mailer(e.svc, fm, "Growth team <insights@slicelab.test>", "https://slicelab.test/")
	job := &river.Job[SurveyReminderArgs]{JobRow: &rivertype.JobRow{}, Args: SurveyReminderArgs{Week: "2026-W48"}}
	if err := w.Work(e.ctx, job); err != nil {
		t.Fatal(err)
	}
	msgs := fm.sent()
	if len(msgs) != 3 {
		t.Fatalf("%d emails, want 3 (one per member)", len(msgs))
	}
	byTo := map[string]experiments.Message{}
	for _, m := range msgs {
		byTo[m.To] = m
	}
	for _, mem := range []experiments.Member{ada, bob, kiwi} {
		m, ok := byTo[mem.Email]
		if !ok {
			t.Errorf("no email to %s", mem.Email)
			continue
		}
		if m.From != "Growth team <insights@slicelab.test>" || m.ToName != mem.Name || m.UnsubscribeURL != "" ||
			!strings.Contains(m.Subject, "2026-W48") || !strings.HasSuffix(m.MessageID, "@slicelab.test") {
			t.Errorf("email to %s: %+v", mem.Email, m)
		}
		link := allocLinkRE.FindStringSubmatch(m.Text)
		if link == nil || !strings.Contains(m.HTML, link[0]) || !strings.Contains(m.Text, "incidents and fires") ||
			!strings.Contains(m.Text, "Monday 23 to Sunday 29 November 2026") {
			t.Errorf("email to %s:\n%s\n%s", mem.Email, m.Text, m.HTML)
			continue
		}
		ref, err := e.svc.survey.Open(link[1])
		if err != nil || ref.UserID != mem.ID || ref.TeamID != mem.TeamID || ref.Week.String() != "2026-W48" {
			t.Errorf("link of %s opens to %+v %v", mem.Email, ref, err)
		}
	}

	// The job's week is used unless a team is still in an earlier week; a
	// job without a week takes each team's current week.
	e.setNow(time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)) // W48 in UTC, W49 in Auckland
	fm2 := &allocMailer{}
	w2 := e.mailer(e.svc, fm2, "insights@slicelab.test", "https://slicelab.test")
	if err := w2.Work(e.ctx, &river.Job[SurveyReminderArgs]{JobRow: &rivertype.JobRow{}, Args: SurveyReminderArgs{}}); err != nil {
		t.Fatal(err)
	}
	for _, m := range fm2.sent() {
		want := "2026-W48"
		if m.To == kiwi.Email {
			want = "2026-W49"
		}
		ref, err := e.svc.survey.Open(allocLinkRE.FindStringSubmatch(m.Text)[1])
		if err != nil || ref.Week.String() != want {
			t.Errorf("link to %s for %v (%v), want %s", m.To, ref.Week, err, want)
		}
	}

	// A retry skips whoever an earlier attempt emailed (the recorded output).
	fm3 := &allocMailer{}
	w3 := e.mailer(e.svc, fm3, "insights@slicelab.test", "https://slicelab.test")
	md, _ := json.Marshal(map[string]any{"output": surveyProgress{Sent: []string{memberKey(e.team, ada.ID)}, Failed: map[string]string{memberKey(nz, kiwi.ID): "550 no such user"}}})
	if err := w3.Work(e.ctx, &river.Job[SurveyReminderArgs]{JobRow: &rivertype.JobRow{Metadata: md}, Args: SurveyReminderArgs{Week: "2026-W48"}}); err != nil {
		t.Fatal(err)
	}
	if got := fm3.sent(); len(got) != 1 || got[0].To != bob.Email {
		t.Errorf("retry sent %+v, want Bob's email only", got)
	}

	// A permanent refusal skips that member; a temporary one stops the run for a retry.
	fm4 := &allocMailer{fail: func(to string) error {
		if to == ada.Email {
			return &experiments.SendError{Code: 550, Message: "no such user"}
		}
		return nil
	}}
	if err := e.mailer(e.svc, fm4, "insights@slicelab.test", "https://slicelab.test").Work(e.ctx, job); err != nil {
		t.Errorf("a permanent refusal failed the job: %v", err)
	}
	if got := fm4.sent(); len(got) != 2 {
		t.Errorf("%d sent around a refused address, want 2", len(got))
	}
	fm5 := &allocMailer{fail: func(to string) error {
		return &experiments.SendError{Temporary: true, Code: 451, Message: "try later"}
	}}
	if err := e.mailer(e.svc, fm5, "insights@slicelab.test", "https://slicelab.test").Work(e.ctx, job); err == nil {
		t.Error("a temporary failure did not fail the job")
	}
}

// TestSurveyReminderUnique: River inserts the job once per week.
func TestSurveyReminderUnique(t *testing.T) {
	e := newAllocEnv(t)
	drv := riversqlite.New(e.db.DB)
	rm, err := rivermigrate.New(drv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rm.Migrate(e.ctx, rivermigrate.DirectionUp, nil); err != nil {
		t.Fatal(err)
	}
	client, err := river.NewClient(drv, &river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct {
		week string
		dup  bool
	}{{"2026-W48", false}, {"2026-W48", true}, {"2026-W49", false}, {"2026-W48", true}} {
		res, err := client.Insert(e.ctx, SurveyReminderArgs{Week: c.week}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.UniqueSkippedAsDuplicate != c.dup {
			t.Errorf("insert %d (%s): skipped as duplicate = %v, want %v", i, c.week, res.UniqueSkippedAsDuplicate, c.dup)
		}
	}
}
