package main

import (
	"encoding/csv"
	"strings"
	"testing"
	"time"
)

// orgWeekJSON is the organisation's week as the API answers it.
type orgWeekJSON struct {
	Org   string `json:"org"`
	Week  string `json:"week"`
	Teams []struct {
		Team         string   `json:"team"`
		Responses    int      `json:"responses"`
		Members      int      `json:"members"`
		ResponseRate *float64 `json:"response_rate"`
		KTLOShare    *float64 `json:"ktlo_share"`
		Elective     []struct {
			Category string   `json:"category"`
			Share    *float64 `json:"share"`
			Target   *float64 `json:"target"`
		} `json:"elective"`
		Trend []struct {
			Week      string   `json:"week"`
			KTLOShare *float64 `json:"ktlo_share"`
		} `json:"trend"`
		KTLORising bool   `json:"ktlo_rising"`
		Flag       string `json:"flag"`
		Hidden     string `json:"hidden"`
	} `json:"teams"`
	Mix struct {
		Responses int      `json:"responses"`
		KTLOShare *float64 `json:"ktlo_share"`
		Elective  []struct {
			Category string   `json:"category"`
			Share    *float64 `json:"share"`
			Target   *float64 `json:"target"`
		} `json:"elective"`
	} `json:"mix"`
	Shared []struct {
		ID         string   `json:"id"`
		Title      string   `json:"title"`
		Team       string   `json:"team"`
		SharedWith []string `json:"shared_with"`
		Owners     []struct {
			Email    string `json:"email"`
			Function string `json:"function"`
		} `json:"owners"`
		KeyResults []struct {
			Title  string   `json:"title"`
			Kind   string   `json:"kind"`
			Value  *float64 `json:"value"`
			ByTeam []struct {
				Team  string  `json:"team"`
				Value float64 `json:"value"`
			} `json:"by_team"`
		} `json:"key_results"`
		Outcome *float64 `json:"outcome_share"`
	} `json:"shared_objectives"`
}

// TestOrgWeek: two teams of one organisation with different allocations and
// one shared objective. The organisation's week shows each team's mix, the
// org mix weighted by answers (computed by hand below), the three-week KTLO
// flag, a team with too few answers to show, and the shared objective once
// with both teams' contributions; who may read what is checked on the way.
func TestOrgWeek(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dbURL func(*testing.T) string) {
		e := startEnv(t, dbURL(t))
		e.clock.set(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)) // Wednesday of 2026-W48
		mustCLI := func(args ...string) string {
			t.Helper()
			out, errs, code := e.cli(args...)
			if code != 0 {
				t.Fatalf("slicelab %s: %d %s", strings.Join(args, " "), code, errs)
			}
			return out
		}
		mustCLI("org", "create", "acme", "--name", "Acme")
		for _, team := range []string{"alpha", "beta", "gamma"} {
			mustCLI("team", "create", team, "--org", "acme", "--name", strings.ToUpper(team[:1])+team[1:])
		}
		mustCLI("team", "create", "elsewhere") // the default organisation
		alpha := e.teamToken("alpha", "admin")
		beta := e.teamToken("beta", "admin")
		gamma := e.teamToken("gamma", "admin")
		elsewhere := e.teamToken("elsewhere", "admin")
		orgTok := strings.TrimSpace(mustCLI("token", "create", "--org", "acme", "--name", "vp"))
		if !strings.HasPrefix(orgTok, "slo_") {
			t.Fatalf("org token %q", orgTok)
		}
		if _, errs, code := e.cli("token", "create", "--team", "alpha", "--org", "acme"); code != 2 || !strings.Contains(errs, "one of them") {
			t.Errorf("token create with --team and --org: %d %s", code, errs)
		}
		if _, errs, code := e.cli("org", "create", "acme"); code == 0 || !strings.Contains(errs, "already exists") {
			t.Errorf("second org create acme: %d %s", code, errs)
		}
		if _, errs, code := e.cli("team", "create", "delta", "--org", "nope"); code == 0 || !strings.Contains(errs, `"nope"`) {
			t.Errorf("team create in an unknown organisation: %d %s", code, errs)
		}

		// Members, with their functions: three in alpha, four in beta, one in gamma.
		addMember := func(team, email, function string) string {
			t.Helper()
			mustCLI("user", "create", email, "--team", team, "--name", strings.Split(email, "@")[0], "--function", function)
			out := mustCLI("org", "show", "acme")
			if !strings.Contains(out, email) || !strings.Contains(out, function) {
				t.Fatalf("org show lacks %s (%s):\n%s", email, function, out)
			}
			var list struct {
				Members []struct{ ID, Email string }
			}
			tok := map[string]string{"alpha": alpha, "beta": beta, "gamma": gamma}[team]
			e.api("GET", "/api/v1/teams/"+team+"/members", tok, nil, &list)
			for _, m := range list.Members {
				if m.Email == email {
					return m.ID
				}
			}
			t.Fatalf("member %s not listed", email)
			return ""
		}
		if _, errs, code := e.cli("user", "create", "x@alpha.test", "--team", "alpha", "--function", "Product\nManager"); code == 0 || !strings.Contains(errs, "function") {
			t.Errorf("a function on two lines: %d %s", code, errs)
		}
		a := []string{addMember("alpha", "pm@alpha.test", "product"), addMember("alpha", "eng1@alpha.test", "engineering"), addMember("alpha", "eng2@alpha.test", "engineering")}
		b := []string{addMember("beta", "eng@beta.test", "engineering"), addMember("beta", "b2@beta.test", "design"), addMember("beta", "b3@beta.test", "engineering"), addMember("beta", "b4@beta.test", "product")}
		g := addMember("gamma", "solo@gamma.test", "engineering")
		mustCLI("org", "admin", "add", "vp@acme.test", "--org", "acme", "--name", "VP")

		put := func(tok, team string, targets map[string]float64) {
			t.Helper()
			if st, raw := e.api("PUT", "/api/v1/teams/"+team+"/allocation-targets", tok, targets, nil); st != 200 {
				t.Fatalf("targets of %s: %d %s", team, st, raw)
			}
		}
		put(alpha, "alpha", map[string]float64{"New": 0.5, "Improve": 0.25, "Productivity": 0.25})
		put(beta, "beta", map[string]float64{"New": 0.2, "Improve": 0.3, "Productivity": 0.5})
		answer := func(tok, team, member, week string, shares map[string]int) {
			t.Helper()
			if st, raw := e.api("POST", "/api/v1/teams/"+team+"/allocations", tok, map[string]any{"member_id": member, "week": week, "shares": shares}, nil); st != 201 {
				t.Fatalf("answer of %s for %s: %d %s", member, week, st, raw)
			}
		}
		// Alpha's KTLO share rises three weeks in a row (20, 30, 40, 50 %); beta's stays at 25 %.
		for i, week := range []string{"2026-W45", "2026-W46", "2026-W47"} {
			for _, m := range a {
				answer(alpha, "alpha", m, week, map[string]int{"KTLO": 20 + 10*i, "New": 80 - 10*i})
			}
			for _, m := range b {
				answer(beta, "beta", m, week, map[string]int{"KTLO": 25, "New": 75})
			}
		}
		answer(alpha, "alpha", a[0], "2026-W48", map[string]int{"KTLO": 50, "New": 50})
		answer(alpha, "alpha", a[1], "2026-W48", map[string]int{"KTLO": 50, "New": 30, "Improve": 20})
		answer(alpha, "alpha", a[2], "2026-W48", map[string]int{"KTLO": 50, "New": 20, "Improve": 30})
		answer(beta, "beta", b[0], "2026-W48", map[string]int{"KTLO": 10, "New": 90})
		answer(beta, "beta", b[1], "2026-W48", map[string]int{"KTLO": 20, "Productivity": 80})
		answer(beta, "beta", b[2], "2026-W48", map[string]int{"KTLO": 30, "New": 70})
		answer(beta, "beta", b[3], "2026-W48", map[string]int{"KTLO": 40, "Improve": 60})
		answer(gamma, "gamma", g, "2026-W48", map[string]int{"KTLO": 90, "New": 10}) // one answer: never shown

		// The shared objective: alpha owns it, beta shares it; a product
		// owner from alpha and an engineering owner from beta.
		var obj struct {
			ID         string
			SharedWith []string `json:"shared_with"`
		}
		body := map[string]any{"title": "Activate new readers", "period": "2026-Q4", "shared_with": []string{"beta"}, "owner_ids": []string{a[0], b[0]}}
		if st, raw := e.api("POST", "/api/v1/teams/alpha/objectives", alpha, body, &obj); st != 201 || len(obj.SharedWith) != 1 {
			t.Fatalf("shared objective: %d %s", st, raw)
		}
		for field, bad := range map[string]map[string]any{
			"shared_with[0]": {"title": "x", "period": "2026-Q4", "shared_with": []string{"elsewhere"}},
			"owner_ids[0]":   {"title": "x", "period": "2026-Q4", "owner_ids": []string{g}},
		} {
			var er apiErr
			if st, raw := e.api("POST", "/api/v1/teams/alpha/objectives", alpha, bad, &er); st != 422 || er.Error.Fields[field] == "" {
				t.Errorf("objective with a bad %s: %d %s", field, st, raw)
			}
		}
		var clicksKR, shipKR, revenueKR struct {
			ID   string
			Kind string
		}
		e.api("POST", "/api/v1/objectives/"+obj.ID+"/key-results", alpha, map[string]any{"title": "Readers who click", "type": "metric",
			"start": 0, "target": 20, "source": "clicks"}, &clicksKR)
		e.api("POST", "/api/v1/objectives/"+obj.ID+"/key-results", alpha, map[string]any{"title": "Ship onboarding", "type": "milestone", "source": "manual"}, &shipKR)
		e.api("POST", "/api/v1/objectives/"+obj.ID+"/key-results", alpha, map[string]any{"title": "Revenue", "type": "metric", "start": 0,
			"target": 1000, "unit": "EUR", "source": "manual"}, &revenueKR)
		if clicksKR.Kind != "outcome" || shipKR.Kind != "output" || revenueKR.Kind != "outcome" {
			t.Errorf("kinds by the rule: clicks %q, milestone %q, revenue %q", clicksKR.Kind, shipKR.Kind, revenueKR.Kind)
		}

		// Each team runs an experiment to its own readers and links it to the shared KR.
		e.api("POST", "/api/v1/teams/alpha/contacts", alpha, contactsCSV(10, "readers-a.test"), nil)
		e.api("POST", "/api/v1/teams/beta/contacts", beta, contactsCSV(10, "readers-b.test"), nil)
		expA := e.createAndLaunch(alpha, "alpha", experimentBody("Alpha insight", 0))
		expB := e.createAndLaunch(beta, "beta", experimentBody("Beta insight", 0))
		e.waitDone(alpha, expA.ID, 2*time.Minute)
		e.waitDone(beta, expB.ID, 2*time.Minute)
		if st, raw := e.api("POST", "/api/v1/key-results/"+clicksKR.ID+"/experiments", alpha, map[string]string{"experiment_id": expA.ID}, nil); st != 204 && st != 201 && st != 200 {
			t.Fatalf("link alpha's experiment: %d %s", st, raw)
		}
		if st, raw := e.api("POST", "/api/v1/key-results/"+clicksKR.ID+"/experiments", beta, map[string]string{"experiment_id": expB.ID}, nil); st != 204 && st != 201 && st != 200 {
			t.Fatalf("link beta's experiment to the shared KR: %d %s", st, raw)
		}
		clicked := map[string]int{}
		for _, r := range e.smtp.messages() {
			m := parse(t, r)
			domain := m.rcpt[strings.Index(m.rcpt, "@")+1:]
			if (domain == "readers-a.test" && clicked[domain] < 3) || (domain == "readers-b.test" && clicked[domain] < 2) {
				click(t, "GET", trackedRE.FindString(m.html), browserUA)
				clicked[domain]++
			}
		}
		// Beta checks in on the shared revenue KR: one value for both teams, and it says who.
		var ci struct{ Author string }
		if st, raw := e.api("POST", "/api/v1/key-results/"+revenueKR.ID+"/check-ins", beta, map[string]any{"value": 400, "note": "first invoices"}, &ci); st != 201 {
			t.Fatalf("beta's check-in on the shared KR: %d %s", st, raw)
		} else if !strings.Contains(ci.Author, "API token") {
			t.Errorf("check-in author %q", ci.Author)
		}
		// Elsewhere (another organisation) cannot see it.
		if st, _ := e.api("GET", "/api/v1/objectives/"+obj.ID, elsewhere, nil, nil); st != 404 {
			t.Errorf("another organisation's team read the shared objective: %d", st)
		}
		// Beta sees it in its own review, owned by alpha.
		var review struct {
			Objectives []struct {
				Title        string
				Team         string
				SharedWith   []string `json:"shared_with"`
				OutcomeShare *float64 `json:"outcome_share"`
			}
		}
		e.api("GET", "/api/v1/teams/beta/reports/weekly?week=2026-W48", beta, nil, &review)
		if len(review.Objectives) != 1 || review.Objectives[0].Team != "alpha" || review.Objectives[0].OutcomeShare == nil ||
			!near(*review.Objectives[0].OutcomeShare, 2.0/3) {
			t.Errorf("beta's review: %+v", review.Objectives)
		}

		// Who may read what.
		if st, _ := e.api("GET", "/api/v1/teams/beta/allocations?week=2026-W48", alpha, nil, nil); st != 404 {
			t.Errorf("alpha's admin read beta's allocations: %d", st)
		}
		if st, _ := e.api("GET", "/api/v1/org/reports/weekly?week=2026-W48", alpha, nil, nil); st != 403 {
			t.Errorf("a team token read the organisation's week: %d", st)
		}
		for _, path := range []string{"/api/v1/teams/beta/allocations?week=2026-W48", "/api/v1/teams/beta/members", "/api/v1/teams/alpha/objectives"} {
			if st, _ := e.api("GET", path, orgTok, nil, nil); st != 403 && st != 404 {
				t.Errorf("the organisation's token read %s: %d (it reads aggregates only)", path, st)
			}
		}
		if st, _ := e.api("POST", "/api/v1/teams/alpha/allocations", orgTok, map[string]any{"member_id": a[0], "week": "2026-W48", "shares": map[string]int{"KTLO": 100}}, nil); st != 403 && st != 404 {
			t.Errorf("the organisation's token answered for a member: %d", st)
		}

		var info struct {
			Org   struct{ Slug string }
			Teams []struct{ Slug string }
		}
		if st, raw := e.api("GET", "/api/v1/org", orgTok, nil, &info); st != 200 || info.Org.Slug != "acme" || len(info.Teams) != 3 {
			t.Errorf("GET /org: %d %s", st, raw)
		}
		var people struct {
			Members []struct {
				Email    string
				OrgAdmin bool `json:"org_admin"`
				Teams    []struct{ Slug, Function string }
			}
		}
		e.api("GET", "/api/v1/org/members", orgTok, nil, &people)
		if len(people.Members) != 9 {
			t.Errorf("org members: %d, want 8 members and the VP", len(people.Members))
		}
		for _, p := range people.Members {
			if p.Email == "vp@acme.test" && (!p.OrgAdmin || len(p.Teams) != 0) {
				t.Errorf("the VP: %+v", p)
			}
			if p.Email == "pm@alpha.test" && (len(p.Teams) != 1 || p.Teams[0].Function != "product") {
				t.Errorf("the PM: %+v", p)
			}
		}

		var ow orgWeekJSON
		if st, raw := e.api("GET", "/api/v1/org/reports/weekly?week=2026-W48", orgTok, nil, &ow); st != 200 {
			t.Fatalf("org week: %d %s", st, raw)
		}
		if len(ow.Teams) != 3 {
			t.Fatalf("teams in the org week: %+v", ow.Teams)
		}
		team := map[string]int{}
		for i, tw := range ow.Teams {
			team[tw.Team] = i
		}
		al, be, ga := ow.Teams[team["alpha"]], ow.Teams[team["beta"]], ow.Teams[team["gamma"]]
		share := func(es []struct {
			Category string   `json:"category"`
			Share    *float64 `json:"share"`
			Target   *float64 `json:"target"`
		}, name string) (float64, float64) {
			for _, x := range es {
				if x.Category == name {
					s, tg := -1.0, -1.0
					if x.Share != nil {
						s = *x.Share
					}
					if x.Target != nil {
						tg = *x.Target
					}
					return s, tg
				}
			}
			t.Fatalf("no category %s in %+v", name, es)
			return 0, 0
		}
		approx := func(what string, got, want float64) {
			t.Helper()
			if d := got - want; d > 0.0005 || d < -0.0005 {
				t.Errorf("%s = %v, want %.4f", what, got, want)
			}
		}
		// Alpha: 3 answers of 300 points, 150 KTLO; elective 150: New 100, Improve 50.
		if al.KTLOShare == nil || al.Responses != 3 || al.Members != 3 {
			t.Fatalf("alpha: %+v", al)
		}
		approx("alpha KTLO", *al.KTLOShare, 0.5)
		s, tg := share(al.Elective, "New")
		approx("alpha New", s, 100.0/150)
		approx("alpha New target", tg, 0.5)
		s, _ = share(al.Elective, "Improve")
		approx("alpha Improve", s, 50.0/150)
		// Beta: 4 answers of 400 points, 100 KTLO; elective 300: New 160, Improve 60, Productivity 80.
		approx("beta KTLO", *be.KTLOShare, 0.25)
		s, tg = share(be.Elective, "Productivity")
		approx("beta Productivity", s, 80.0/300)
		approx("beta Productivity target", tg, 0.5)
		// The organisation: 7 answers, 700 points, KTLO 250; elective 450: New 260, Improve 110, Productivity 80.
		if ow.Mix.Responses != 7 || ow.Mix.KTLOShare == nil {
			t.Fatalf("org mix: %+v", ow.Mix)
		}
		approx("org KTLO", *ow.Mix.KTLOShare, 250.0/700)
		s, tg = share(ow.Mix.Elective, "New")
		approx("org New", s, 260.0/450)
		approx("org New target (weighted by answers)", tg, (0.5*3+0.2*4)/7)
		s, _ = share(ow.Mix.Elective, "Improve")
		approx("org Improve", s, 110.0/450)
		s, _ = share(ow.Mix.Elective, "Productivity")
		approx("org Productivity", s, 80.0/450)
		// The flag: alpha's KTLO rose three weeks in a row, beta's did not.
		if !al.KTLORising || al.Flag == "" || be.KTLORising {
			t.Errorf("KTLO flags: alpha %v %q, beta %v", al.KTLORising, al.Flag, be.KTLORising)
		}
		if n := len(al.Trend); n != 13 || al.Trend[n-1].Week != "2026-W48" || al.Trend[n-4].KTLOShare == nil || !near(*al.Trend[n-4].KTLOShare, 0.2) {
			t.Errorf("alpha's trend: %+v", al.Trend)
		}
		// Gamma: one answer, so nothing that would show it.
		if ga.Responses != 1 || ga.KTLOShare != nil || len(ga.Elective) != 0 || ga.Hidden == "" || ga.Trend[len(ga.Trend)-1].KTLOShare != nil {
			t.Errorf("gamma (one answer) shows: %+v", ga)
		}
		// The shared objective, once, with both teams' contributions.
		if len(ow.Shared) != 1 {
			t.Fatalf("shared objectives: %+v", ow.Shared)
		}
		so := ow.Shared[0]
		if so.Team != "alpha" || len(so.SharedWith) != 1 || so.SharedWith[0] != "beta" || len(so.Owners) != 2 {
			t.Errorf("shared objective: %+v", so)
		}
		for _, k := range so.KeyResults {
			switch k.Title {
			case "Readers who click":
				if k.Value == nil || *k.Value != 5 || len(k.ByTeam) != 2 || k.ByTeam[0].Team != "alpha" || k.ByTeam[0].Value != 3 || k.ByTeam[1].Value != 2 {
					t.Errorf("shared clicks KR: value %v, by team %+v; want 5 = alpha 3 + beta 2", k.Value, k.ByTeam)
				}
			case "Revenue":
				if k.Value == nil || *k.Value != 400 {
					t.Errorf("shared revenue KR after beta's check-in: %v", k.Value)
				}
			}
		}

		// The same as CSV, and from the CLI.
		st, raw := e.api("GET", "/api/v1/org/reports/weekly?week=2026-W48&format=csv", orgTok, nil, nil)
		rows, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
		if st != 200 || err != nil || len(rows) < 10 || rows[0][0] != "section" {
			t.Fatalf("org week CSV: %d %v %s", st, err, raw)
		}
		out := mustCLI("report", "org", "--org", "acme", "--week", "2026-W48")
		for _, want := range []string{"Alpha", "Beta", "50.00%", "25.00%", "rose three weeks", "shown from 3 answers", "Activate new readers", "from alpha: 3"} {
			if !strings.Contains(out, want) {
				t.Errorf("report org lacks %q:\n%s", want, out)
			}
		}
		if st, _ := e.api("GET", "/api/v1/org/reports/weekly?week=2026-W60", orgTok, nil, nil); st != 422 {
			t.Errorf("a bad week: %d", st)
		}
	})
}
