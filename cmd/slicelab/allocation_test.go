package main

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"slicelab/okr"
)

var surveyLinkRE = regexp.MustCompile(`https?://[^/\s"'<>]+/survey/[A-Za-z0-9_-]+`)
var surveyInputRE = regexp.MustCompile(`<label for="(share_[0-9a-f-]{36})">([^<(]+)`)

type allocationReportJSON struct {
	Week         string   `json:"week"`
	Responses    int      `json:"responses"`
	Members      int      `json:"members"`
	ResponseRate *float64 `json:"response_rate"`
	KTLOShare    *float64 `json:"ktlo_share"`
	Categories   []struct {
		Name          string   `json:"name"`
		Elective      bool     `json:"elective"`
		Share         *float64 `json:"share"`
		ElectiveShare *float64 `json:"elective_share"`
		Target        *float64 `json:"target"`
	} `json:"categories"`
	Trend []struct {
		Week      string   `json:"week"`
		KTLOShare *float64 `json:"ktlo_share"`
		Responses int      `json:"responses"`
	} `json:"trend"`
}

func postSurvey(t *testing.T, link string, form url.Values) (int, string) {
	t.Helper()
	resp, err := client.PostForm(link, form)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, readAll(resp)
}

func getSurveyPage(t *testing.T, link string) (int, string) {
	t.Helper()
	resp, err := client.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, readAll(resp)
}

// TestAllocationSurvey: members are added through the API, the Friday job
// emails each one a signed survey link (once, however often it runs), the
// form rejects a bad split without storing it, takes a good one, refuses an
// altered link, answers only for the link's member, and the report shows
// the answers.
func TestAllocationSurvey(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dbURL func(*testing.T) string) {
		e := startEnv(t, dbURL(t))
		e.clock.set(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)) // Friday of 2026-W48
		admin := e.teamToken("growth", "admin")
		editor := e.teamToken("growth", "editor")
		viewer := e.teamToken("growth", "viewer")
		otherTeam := e.teamToken("other", "admin")

		// Members through the API.
		ids := map[string]string{}
		for _, m := range []struct{ email, name string }{{"ada@team.test", "Ada"}, {"bob@team.test", "Bob"}, {"cy@team.test", "Cy"}} {
			var out struct {
				ID    string `json:"id"`
				Email string `json:"email"`
				Name  string `json:"name"`
			}
			if st, raw := e.api("POST", "/api/v1/teams/growth/members", admin, map[string]string{"email": m.email, "name": m.name}, &out); st != 201 || out.Email != m.email || out.Name != m.name {
				t.Fatalf("add member %s: %d %s", m.email, st, raw)
			}
			ids[m.email] = out.ID
		}
		if st, raw := e.api("POST", "/api/v1/teams/growth/members", admin, map[string]string{"email": "ADA@team.test"}, nil); st != 409 {
			t.Errorf("duplicate member: %d %s", st, raw)
		}
		if st, raw := e.api("POST", "/api/v1/teams/growth/members", admin, map[string]string{"email": "not an address"}, nil); st != 422 || !strings.Contains(string(raw), `"email"`) {
			t.Errorf("bad email: %d %s", st, raw)
		}
		if st, _ := e.api("POST", "/api/v1/teams/growth/members", viewer, map[string]string{"email": "x@team.test"}, nil); st != 403 {
			t.Errorf("viewer adds a member: %d", st)
		}
		if st, _ := e.api("POST", "/api/v1/teams/growth/members", otherTeam, map[string]string{"email": "x@team.test"}, nil); st != 404 {
			t.Errorf("another team's token adds a member: %d", st)
		}
		var list struct {
			Members []struct{ ID, Email, Name string } `json:"members"`
		}
		if st, raw := e.api("GET", "/api/v1/teams/growth/members", viewer, nil, &list); st != 200 || len(list.Members) != 3 || list.Members[0].Name != "Ada" {
			t.Fatalf("members: %d %s", st, raw)
		}

		// The Friday job, inserted twice for the same week: one email per member.
		for i := 0; i < 2; i++ {
			if _, err := e.app.river.Insert(context.Background(), okr.SurveyReminderArgs{Week: "2026-W48"}, nil); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(20 * time.Second)
		for len(e.smtp.messages()) < 3 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond)
		msgs := e.smtp.messages()
		if len(msgs) != 3 {
			t.Fatalf("%d survey emails, want 3 (one per member)", len(msgs))
		}
		links := map[string]string{}
		for _, r := range msgs {
			m := parse(t, r)
			link := surveyLinkRE.FindString(m.text)
			if link == "" || !strings.HasPrefix(link, e.base+"/survey/") || !strings.Contains(m.html, link) ||
				!strings.Contains(m.subject, "2026-W48") || m.unsub != "" {
				t.Fatalf("survey email to %s: %q (List-Unsubscribe %q)\n%s", m.rcpt, m.subject, m.unsub, m.text)
			}
			if links[m.rcpt] != "" {
				t.Errorf("%s got two survey emails", m.rcpt)
			}
			links[m.rcpt] = link
		}
		ada, bob := links["ada@team.test"], links["bob@team.test"]
		if ada == "" || bob == "" || ada == bob {
			t.Fatalf("links %v", links)
		}

		// The form: the member's name, the week, one labelled input per category with its description.
		st, page := getSurveyPage(t, ada)
		if st != 200 || !strings.Contains(page, "Ada") || !strings.Contains(page, "2026-W48") || !strings.Contains(page, "<form") ||
			!strings.Contains(page, "incidents and fires, on-call, security fixes, customer bugs, routine operations and upkeep") {
			t.Fatalf("GET survey: %d %s", st, page)
		}
		inputs := map[string]string{} // category name → form field
		for _, m := range surveyInputRE.FindAllStringSubmatch(page, -1) {
			inputs[strings.TrimSpace(m[2])] = m[1]
		}
		if len(inputs) != 4 || inputs["KTLO"] == "" || inputs["New"] == "" || inputs["Improve"] == "" || inputs["Productivity"] == "" {
			t.Fatalf("inputs %v in\n%s", inputs, page)
		}
		form := func(ktlo, new, improve, prod string) url.Values {
			return url.Values{inputs["KTLO"]: {ktlo}, inputs["New"]: {new}, inputs["Improve"]: {improve}, inputs["Productivity"]: {prod}}
		}
		report := func() allocationReportJSON {
			t.Helper()
			var r allocationReportJSON
			if st, raw := e.api("GET", "/api/v1/teams/growth/allocations?week=2026-W48", viewer, nil, &r); st != 200 {
				t.Fatalf("report: %d %s", st, raw)
			}
			return r
		}

		// Bad answers: shown again with the message and the entered values, nothing stored.
		st, page = postSurvey(t, ada, form("40", "30", "10", "10"))
		if st != 422 || !strings.Contains(page, "The shares add up to 90; they must add up to 100") || !strings.Contains(page, `value="30"`) || !strings.Contains(page, "<form") {
			t.Errorf("sum 90: %d %s", st, page)
		}
		st, page = postSurvey(t, ada, form("40", "lots", "", ""))
		if st != 422 || !strings.Contains(page, "Enter a whole number from 0 to 100") || !strings.Contains(page, `value="lots"`) {
			t.Errorf("not a number: %d %s", st, page)
		}
		st, page = postSurvey(t, ada, form("-10", "110", "", ""))
		if st != 422 || !strings.Contains(page, "KTLO is -10; each share must be a whole percentage from 0 to 100") {
			t.Errorf("negative: %d %s", st, page)
		}
		if r := report(); r.Responses != 0 {
			t.Fatalf("bad answers were stored: %+v", r)
		}

		// A good answer (an empty field counts as 0).
		st, page = postSurvey(t, ada, form("40", "40", "20", ""))
		if st != 200 || !strings.Contains(page, "Thank you, Ada") || !strings.Contains(page, "KTLO: 40 %") {
			t.Fatalf("good answer: %d %s", st, page)
		}

		// An altered link is not found, for the form and for answers.
		alt := []byte(ada)
		i := len(alt) - 5
		alt[i] = "AB"[map[bool]int{true: 1}[alt[i] == 'A']]
		for _, l := range []string{string(alt), ada[:len(ada)-3], e.base + "/survey/nothing"} {
			if st, _ := getSurveyPage(t, l); st != 404 {
				t.Errorf("GET %s: %d, want 404", l, st)
			}
			if st, _ := postSurvey(t, l, form("100", "", "", "")); st != 404 {
				t.Errorf("POST %s: %d, want 404", l, st)
			}
		}

		r := report()
		if r.Week != "2026-W48" || r.Responses != 1 || r.Members != 3 || r.KTLOShare == nil || !near(*r.KTLOShare, 0.4) ||
			r.ResponseRate == nil || !near(*r.ResponseRate, 1.0/3) || len(r.Categories) != 4 || len(r.Trend) != 12 {
			t.Fatalf("report %+v", r)
		}
		if c := r.Categories[1]; c.Name != "New" || !c.Elective || c.Share == nil || !near(*c.Share, 0.4) ||
			c.ElectiveShare == nil || !near(*c.ElectiveShare, 40.0/60) || c.Target == nil || !near(*c.Target, 0.6) {
			t.Errorf("New in the report: %+v", c)
		}

		// Ada's link answers for Ada only, whatever the form says.
		st, page = postSurvey(t, ada, url.Values{inputs["KTLO"]: {"100"}, "member_id": {ids["bob@team.test"]}, "member": {"bob@team.test"}})
		if st != 200 || !strings.Contains(page, "Thank you, Ada") || !strings.Contains(page, "replaces your earlier answer") {
			t.Errorf("Ada again: %d %s", st, page)
		}
		if r := report(); r.Responses != 1 || !near(*r.KTLOShare, 1) {
			t.Errorf("after Ada answered again with Bob's id in the form: %+v", r)
		}
		// The form now shows Ada's answer.
		if _, page := getSurveyPage(t, ada); !strings.Contains(page, `value="100"`) {
			t.Errorf("the form is not pre-filled with the answer:\n%s", page)
		}
		// Bob answers through his own link.
		if st, page := postSurvey(t, bob, form("20", "50", "20", "10")); st != 200 || !strings.Contains(page, "Thank you, Bob") {
			t.Errorf("Bob: %d %s", st, page)
		}

		// The API: editors answer for a member; viewers may not; bad answers are 422 with fields.
		cy := map[string]any{"member_id": ids["cy@team.test"], "week": "2026-W48", "shares": map[string]int{"KTLO": 30, "New": 70}}
		if st, raw := e.api("POST", "/api/v1/teams/growth/allocations", viewer, cy, nil); st != 403 {
			t.Errorf("viewer answers: %d %s", st, raw)
		}
		if st, raw := e.api("POST", "/api/v1/teams/growth/allocations", editor, cy, nil); st != 201 {
			t.Errorf("API answer: %d %s", st, raw)
		}
		if st, raw := e.api("POST", "/api/v1/teams/growth/allocations", editor, cy, nil); st != 200 {
			t.Errorf("API answer again: %d %s", st, raw)
		}
		var bad struct {
			Error struct {
				Fields map[string]string `json:"fields"`
			} `json:"error"`
		}
		badBody := map[string]any{"member_id": ids["cy@team.test"], "week": "2026-W49", "shares": map[string]int{"KTLO": 30, "New": 65, "Lunch": 1}}
		if st, raw := e.api("POST", "/api/v1/teams/growth/allocations", editor, badBody, &bad); st != 422 ||
			bad.Error.Fields["week"] == "" || bad.Error.Fields["shares.Lunch"] == "" {
			t.Errorf("bad API answer: %d %s", st, raw)
		}
		if st, raw := e.api("POST", "/api/v1/teams/growth/allocations", otherTeam, cy, nil); st != 404 {
			t.Errorf("another team's token: %d %s", st, raw)
		}
		if st, raw := e.api("GET", "/api/v1/teams/growth/allocations?week=2026-W99", viewer, nil, nil); st != 422 {
			t.Errorf("bad week: %d %s", st, raw)
		}

		r = report()
		// Ada KTLO 100, Bob 20/50/20/10, Cy 30/70: KTLO 150/300 = 0.5; New 120/300 = 0.4; elective time 150: New 120/150.
		if r.Responses != 3 || r.Members != 3 || !near(*r.ResponseRate, 1) || !near(*r.KTLOShare, 0.5) ||
			!near(*r.Categories[1].Share, 0.4) || !near(*r.Categories[1].ElectiveShare, 0.8) {
			t.Errorf("final report %+v", r)
		}
		if st, _ := e.api("GET", "/api/v1/teams/growth/allocations", "", nil, nil); st != 401 {
			t.Errorf("report without a token: %d", st)
		}
		if resp, err := http.Get(e.base + "/api/v1/teams/growth/members"); err != nil || resp.StatusCode != 401 {
			t.Errorf("members without a token: %v %v", resp, err)
		}
	})
}
