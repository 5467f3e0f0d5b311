package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

type reviewJSON struct {
	Team       string `json:"team"`
	Week       string `json:"week"`
	Objectives []struct {
		ID         string   `json:"id"`
		Title      string   `json:"title"`
		Score      *float64 `json:"score"`
		Colour     string   `json:"colour"`
		KeyResults []struct {
			ID               string   `json:"id"`
			Title            string   `json:"title"`
			Value            *float64 `json:"value"`
			Progress         *float64 `json:"progress"`
			Score            *float64 `json:"score"`
			Source           string   `json:"source"`
			ExpectedProgress float64  `json:"expected_progress"`
			Status           string   `json:"status"`
			Confidence       *int     `json:"confidence"`
			Trend            []struct {
				Week  string   `json:"week"`
				Value *float64 `json:"value"`
			} `json:"trend"`
			Contributions []struct {
				ExperimentID string  `json:"experiment_id"`
				Name         string  `json:"name"`
				Value        float64 `json:"value"`
			} `json:"contributions"`
			Impact *struct {
				Treated      struct{ Contacts, Converted int } `json:"treated"`
				Holdout      struct{ Contacts, Converted int } `json:"holdout"`
				AbsoluteDiff *float64                          `json:"absolute_diff"`
				CI           *[2]float64                       `json:"ci"`
			} `json:"impact"`
		} `json:"key_results"`
	} `json:"objectives"`
	Experiments []struct {
		ID            string                 `json:"id"`
		Name          string                 `json:"name"`
		HumanClickers int                    `json:"human_clickers"`
		Sent          int                    `json:"sent"`
		CTR           *float64               `json:"ctr"`
		Verdict       struct{ State string } `json:"verdict"`
	} `json:"experiments"`
	Initiatives []struct {
		Name        string   `json:"name"`
		Experiments []string `json:"experiments"`
	} `json:"initiatives"`
}

// near compares a figure of the review, which rounds to 6 decimals (okr.Round).
func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

// TestWeeklyReview: two objectives, key results of every type and source,
// two experiments sharing clickers over two weeks, in Europe/Berlin; the
// review equals hand-computed values, and the CSV and CLI agree with the JSON.
func TestWeeklyReview(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dbURL func(*testing.T) string) {
		e := startEnv(t, dbURL(t))
		berlin, _ := time.LoadLocation("Europe/Berlin")
		// Monday 2026-11-02 10:00 in Berlin: week 2026-W45 of 2026-Q4 (W40…W53, 14 weeks).
		e.clock.set(time.Date(2026, 11, 2, 10, 0, 0, 0, berlin))
		tok := e.teamToken("growth", "admin")
		if st, raw := e.api("PATCH", "/api/v1/teams/growth", tok, map[string]string{"time_zone": "Europe/Berlin"}, nil); st != 200 {
			t.Fatalf("time zone: %d %s", st, raw)
		}
		e.api("POST", "/api/v1/teams/growth/contacts", tok, contactsCSV(60, "example.test"), nil)

		post := func(path string, body any, out any) {
			t.Helper()
			if st, raw := e.api("POST", path, tok, body, out); st != 201 && st != 202 && st != 204 {
				t.Fatalf("POST %s: %d %s", path, st, raw)
			}
		}
		var growth, quality struct{ ID string }
		post("/api/v1/teams/growth/objectives", map[string]string{"title": "Grow engaged readers", "period": "2026-Q4", "kind": "committed"}, &growth)
		post("/api/v1/teams/growth/objectives", map[string]string{"title": "Keep quality high", "period": "2026-Q4", "kind": "aspirational"}, &quality)

		expA := e.createAndLaunch(tok, "growth", withInitiative(experimentBody("Insight A", 0), "Digest"))
		expB := e.createAndLaunch(tok, "growth", withInitiative(experimentBody("Insight B", 0.2), "Digest"))
		e.waitDone(tok, expA.ID, 2*time.Minute)
		e.waitDone(tok, expB.ID, 2*time.Minute)
		type kr struct{ ID string }
		var clicksKR, ctrKR, eventsKR, fewerBugs, bounce, launched, staleKR, baseline kr
		post("/api/v1/objectives/"+growth.ID+"/key-results", map[string]any{"title": "Weekly clickers", "type": "metric", "start": 0, "target": 20,
			"source": "clicks", "unit": "people", "experiment_ids": []string{expA.ID, expB.ID}}, &clicksKR)
		post("/api/v1/objectives/"+growth.ID+"/key-results", map[string]any{"title": "Insight CTR", "type": "threshold", "target": 0.2,
			"comparison": "at_or_above", "source": "ctr", "unit": "%", "experiment_ids": []string{expA.ID}}, &ctrKR)
		post("/api/v1/objectives/"+growth.ID+"/key-results", map[string]any{"title": "Sign-ups", "type": "metric", "start": 0, "target": 10,
			"source": "events", "event_name": "signup", "experiment_ids": []string{expB.ID}}, &eventsKR)
		post("/api/v1/objectives/"+quality.ID+"/key-results", map[string]any{"title": "Open bugs", "type": "metric", "start": 100, "target": 60, "source": "manual"}, &fewerBugs)
		post("/api/v1/objectives/"+quality.ID+"/key-results", map[string]any{"title": "Bounce rate", "type": "threshold", "target": 2.0,
			"comparison": "at_or_below", "source": "manual", "unit": "%"}, &bounce)
		post("/api/v1/objectives/"+quality.ID+"/key-results", map[string]any{"title": "Ship the digest", "type": "milestone", "source": "manual"}, &launched)
		post("/api/v1/objectives/"+quality.ID+"/key-results", map[string]any{"title": "Support NPS", "type": "metric", "start": 20, "target": 40, "source": "manual"}, &staleKR)
		post("/api/v1/objectives/"+quality.ID+"/key-results", map[string]any{"title": "Measure time to insight", "type": "baseline", "source": "manual"}, &baseline)

		// Who got what: recipient → tracked link, per experiment.
		linkOf := map[string]map[string]string{}
		for _, r := range e.smtp.messages() {
			m := parse(t, r)
			exp := "B"
			if experimentOfMessage(e, m.messageID) == expA.ID {
				exp = "A"
			}
			if linkOf[exp] == nil {
				linkOf[exp] = map[string]string{}
			}
			linkOf[exp][m.rcpt] = trackedRE.FindString(m.html)
		}
		var both, onlyA, onlyB []string
		for rcpt := range linkOf["A"] {
			if _, ok := linkOf["B"][rcpt]; ok {
				both = append(both, rcpt)
			} else {
				onlyA = append(onlyA, rcpt)
			}
		}
		for rcpt := range linkOf["B"] {
			if _, ok := linkOf["A"][rcpt]; !ok {
				onlyB = append(onlyB, rcpt)
			}
		}
		if len(both) < 25 || len(onlyA) == 0 || len(onlyB) != 0 || len(linkOf["A"]) != 60 {
			t.Fatalf("recipients: %d of A, %d of B, %d both", len(linkOf["A"]), len(linkOf["B"]), len(both))
		}
		// Week 45: 5 people click A only, 5 click both, 5 click B only.
		for _, p := range both[:5] {
			click(t, "GET", linkOf["A"][p], browserUA)
			click(t, "GET", linkOf["B"][p], browserUA)
		}
		for _, p := range both[5:10] {
			click(t, "GET", linkOf["A"][p], browserUA)
		}
		for _, p := range both[10:15] {
			click(t, "GET", linkOf["B"][p], browserUA)
		}
		click(t, "HEAD", linkOf["A"][both[19]], browserUA)   // a scanner: counts nowhere
		click(t, "GET", linkOf["A"][onlyA[0]], "curl/8.5.0") // nor does a script
		e.waitClicks()
		checkIn := func(id, week string, value any, conf int) {
			t.Helper()
			body := map[string]any{"week": week, "confidence": conf, "note": "weekly"}
			if value != nil {
				body["value"] = value
			}
			post("/api/v1/key-results/"+id+"/check-ins", body, nil)
		}
		checkIn(fewerBugs.ID, "2026-W45", 80, 7)
		checkIn(bounce.ID, "2026-W45", 1.9, 8)
		checkIn(staleKR.ID, "2026-W45", 25, 5)
		checkIn(launched.ID, "2026-W45", 0, 6)
		checkIn(clicksKR.ID, "2026-W45", nil, 9) // confidence only

		var w45 reviewJSON
		e.api("GET", "/api/v1/teams/growth/reports/weekly?week=2026-W45", tok, nil, &w45)
		krOf := func(r reviewJSON, id string) (out struct {
			Value    *float64
			Progress *float64
			Score    *float64
			Expected float64
			Status   string
			Contrib  map[string]float64
		}) {
			for _, o := range r.Objectives {
				for _, k := range o.KeyResults {
					if k.ID == id {
						out.Value, out.Progress, out.Score, out.Expected, out.Status = k.Value, k.Progress, k.Score, k.ExpectedProgress, k.Status
						out.Contrib = map[string]float64{}
						for _, c := range k.Contributions {
							out.Contrib[c.Name] = c.Value
						}
					}
				}
			}
			return
		}
		c45 := krOf(w45, clicksKR.ID)
		if c45.Value == nil || *c45.Value != 15 || !near(c45.Contrib["Insight A"], 7.5) || !near(c45.Contrib["Insight B"], 7.5) {
			t.Fatalf("W45 clickers %v, contributions %v; want 15 = 7.5 + 7.5", c45.Value, c45.Contrib)
		}
		if !near(c45.Expected, 6.0/14) || !near(*c45.Progress, 0.75) || c45.Status != "on_track" {
			t.Errorf("W45 clicks KR: %+v", c45)
		}
		sentA := 60
		ctr45 := krOf(w45, ctrKR.ID)
		if ctr45.Value == nil || !near(*ctr45.Value, 10.0/float64(sentA)) {
			t.Fatalf("W45 CTR %v, want %v", ctr45.Value, 10.0/float64(sentA))
		}

		// Week 46: 4 come back to A, 3 new people click B; a late click on A's week-45 email.
		e.clock.set(time.Date(2026, 11, 9, 10, 0, 0, 0, berlin))
		for _, p := range both[:4] {
			click(t, "GET", linkOf["A"][p], browserUA)
		}
		for _, p := range both[20:23] {
			click(t, "GET", linkOf["B"][p], browserUA)
		}
		newB := 3
		click(t, "GET", linkOf["A"][both[15]], browserUA) // late: A was sent in W45
		checkIn(fewerBugs.ID, "2026-W46", 70, 8)
		checkIn(bounce.ID, "2026-W46", 2.3, 4)
		checkIn(launched.ID, "2026-W46", 1, 10)
		var events []map[string]any
		var treatedSignup, heldSignup int
		for i, p := range both[:6] {
			events = append(events, map[string]any{"name": "signup", "email": p})
			treatedSignup += 1
			_ = i
		}
		for _, p := range heldOut(e, expB.ID)[:2] {
			events = append(events, map[string]any{"name": "signup", "email": p})
			heldSignup++
		}
		// A minute before seven days after the launch (which answers at once
		// now, so the margin is no longer the launch request's run time).
		e.clock.set(time.Date(2026, 11, 9, 9, 59, 0, 0, berlin))
		post("/api/v1/teams/growth/events", events, nil)
		e.waitClicks() // (after the events: they are seven days after the launch, just)

		var w46 reviewJSON
		e.api("GET", "/api/v1/teams/growth/reports/weekly?week=2026-W46", tok, nil, &w46)
		c46 := krOf(w46, clicksKR.ID)
		want46 := float64(4 + newB + 1)
		if c46.Value == nil || *c46.Value != want46 || !near(c46.Contrib["Insight A"], 5) || !near(c46.Contrib["Insight B"], float64(newB)) {
			t.Fatalf("W46 clickers %v, contributions %v; want %v", c46.Value, c46.Contrib, want46)
		}
		if !near(c46.Expected, 7.0/14) || !near(*c46.Progress, want46/20) {
			t.Errorf("W46 clicks KR: %+v", c46)
		}
		if want := statusFor(want46/20, 0.5); c46.Status != want {
			t.Errorf("W46 clicks KR status %s, want %s", c46.Status, want)
		}
		// The late click changed week 45's CTR (by send week), not its clickers.
		var w45again reviewJSON
		e.api("GET", "/api/v1/teams/growth/reports/weekly?week=2026-W45", tok, nil, &w45again)
		if v := krOf(w45again, ctrKR.ID).Value; v == nil || !near(*v, 11.0/float64(sentA)) {
			t.Errorf("W45 CTR after the late click %v, want %v", v, 11.0/float64(sentA))
		}
		if v := krOf(w45again, clicksKR.ID).Value; v == nil || *v != 15 {
			t.Errorf("W45 clickers after the late click %v, want 15", v)
		}
		if k := krOf(w46, ctrKR.ID); k.Value != nil || k.Status != "stale" {
			t.Errorf("W46 CTR (nothing sent that week) %+v, want no value and stale", k)
		}
		bugs := krOf(w46, fewerBugs.ID)
		if !near(*bugs.Progress, 0.75) || *bugs.Score != 0.75 || bugs.Status != "on_track" {
			t.Errorf("decreasing metric: %+v", bugs)
		}
		if b := krOf(w46, bounce.ID); !near(*b.Progress, 0.5) || b.Status != "off_track" {
			t.Errorf("threshold: %+v", b)
		}
		if m := krOf(w46, launched.ID); *m.Score != 1 || m.Status != "done" {
			t.Errorf("milestone: %+v", m)
		}
		if s := krOf(w46, staleKR.ID); s.Status != "stale" || !near(*s.Progress, 0.25) || *s.Progress != *s.Score {
			t.Errorf("stale KR: %+v", s)
		}
		// A baseline without a target is measured: no score, no part in the objective's.
		if b := krOf(w46, baseline.ID); b.Score != nil || b.Status != "baseline" {
			t.Errorf("baseline: %+v", b)
		}
		ev := krOf(w46, eventsKR.ID)
		if ev.Value == nil || *ev.Value != float64(treatedSignup+heldSignup) {
			t.Errorf("events KR value %v, want %d", ev.Value, treatedSignup+heldSignup)
		}
		for _, o := range w46.Objectives {
			var sum float64
			n := 0
			for _, k := range o.KeyResults {
				if k.Score != nil {
					sum += *k.Score
					n++
				}
			}
			want := sum / float64(n)
			if o.Score == nil || !near(*o.Score, want) {
				t.Errorf("objective %s score %v, want %v", o.Title, o.Score, want)
			}
			for _, k := range o.KeyResults {
				if k.ID == eventsKR.ID {
					imp := k.Impact
					if imp == nil || imp.Treated.Converted != treatedSignup || imp.Holdout.Converted != heldSignup || imp.AbsoluteDiff == nil || imp.CI == nil {
						t.Errorf("impact %+v", imp)
					}
				}
			}
		}
		var withAlloc struct {
			Allocation struct {
				Responses  *int `json:"responses"`
				Members    *int `json:"members"`
				Categories []struct {
					Name     string   `json:"name"`
					Elective *bool    `json:"elective"`
					Share    *float64 `json:"share"`
				} `json:"categories"`
			} `json:"allocation"`
		}
		e.api("GET", "/api/v1/teams/growth/reports/weekly?week=2026-W46", tok, nil, &withAlloc)
		if al := withAlloc.Allocation; al.Responses == nil || al.Members == nil || len(al.Categories) != 4 || al.Categories[0].Elective == nil {
			t.Errorf("allocation in the review: %+v", withAlloc.Allocation)
		}
		if len(w46.Experiments) != 2 || len(w46.Initiatives) != 1 || w46.Initiatives[0].Name != "Digest" || len(w46.Initiatives[0].Experiments) != 2 {
			t.Errorf("experiments %+v, initiatives %+v", w46.Experiments, w46.Initiatives)
		}

		// CSV (API and CLI) and the CLI's JSON agree with the API's JSON.
		req := "/api/v1/teams/growth/reports/weekly?week=2026-W46&format=csv"
		st, csvRaw := e.api("GET", req, tok, nil, nil)
		if st != 200 {
			t.Fatalf("csv: %d %s", st, csvRaw)
		}
		rows, err := csv.NewReader(bytes.NewReader(csvRaw)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range w46.Objectives {
			for _, k := range o.KeyResults {
				found := false
				for _, r := range rows {
					if r[0] == "key_result" && r[2] == k.ID {
						found = true
						value := numStr(k.Value)
						if k.Source == "ctr" { // rates are percentages in the CSV
							value = pctStr(k.Value)
						}
						if r[5] != value || r[7] != pctStr(k.Progress) || r[8] != pctStr(k.Score) || r[10] != k.Status {
							t.Errorf("CSV row %v disagrees with JSON %+v", r, k)
						}
					}
				}
				if !found {
					t.Errorf("CSV lacks key result %s", k.Title)
				}
			}
		}
		out, errs, code := e.cli("report", "week", "--team", "growth", "--week", "2026-W46", "--format", "csv")
		if code != 0 || out != string(csvRaw) {
			t.Errorf("CLI CSV differs from the API's (%d %s):\n%s\n---\n%s", code, errs, out, csvRaw)
		}
		out, errs, code = e.cli("report", "week", "--team", "growth", "--week", "2026-W46", "--format", "json")
		var cliJSON, apiJSON map[string]any
		_, apiRaw := e.api("GET", "/api/v1/teams/growth/reports/weekly?week=2026-W46", tok, nil, nil)
		json.Unmarshal([]byte(out), &cliJSON)
		json.Unmarshal(apiRaw, &apiJSON)
		// as_of moves on while the projector is idle (once a second): the two
		// reads may see two of its values.
		if cliJSON["as_of"] == nil || apiJSON["as_of"] == nil {
			t.Errorf("as_of missing: CLI %v, API %v", cliJSON["as_of"], apiJSON["as_of"])
		}
		delete(cliJSON, "as_of")
		delete(apiJSON, "as_of")
		if code != 0 || fmt.Sprint(cliJSON) != fmt.Sprint(apiJSON) {
			t.Errorf("CLI JSON differs from the API's (%d %s)", code, errs)
		}
		if out, _, code := e.cli("report", "week", "--team", "growth", "--week", "2026-W46"); code != 0 || !strings.Contains(out, "Weekly clickers") {
			t.Errorf("CLI table: %d %s", code, out)
		}
	})
}

func pctStr(p *float64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(math.Round(*p*1e4)/1e2, 'f', -1, 64)
}

func numStr(p *float64) string {
	if p == nil {
		return ""
	}
	b, _ := json.Marshal(*p)
	return string(b)
}

func statusFor(score, expected float64) string {
	switch gap := expected - score; {
	case score >= 1:
		return "done"
	case gap <= 0.10+1e-9:
		return "on_track"
	case gap <= 0.25+1e-9:
		return "at_risk"
	}
	return "off_track"
}

func withInitiative(b map[string]any, name string) map[string]any {
	b["initiative"] = name
	return b
}

// experimentOfMessage finds the experiment of a message by its Message-ID (<delivery id@domain>).
func experimentOfMessage(e *env, msgID string) string {
	id := strings.TrimPrefix(strings.SplitN(msgID, "@", 2)[0], "<")
	var exp string
	e.app.st.db.NewSelect().Table("deliveries").Column("experiment_id").Where("id = ?", id).Scan(e.t.Context(), &exp)
	return exp
}

// heldOut lists the emails of an experiment's holdout.
func heldOut(e *env, expID string) []string {
	var out []string
	e.app.st.db.NewSelect().TableExpr("deliveries AS d").Join("JOIN contacts AS c ON c.id = d.contact_id").
		ColumnExpr("c.email").Where("d.experiment_id = ?", expID).Where("d.status = 'held_out'").Order("c.email").Scan(e.t.Context(), &out)
	return out
}
