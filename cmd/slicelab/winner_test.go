package main

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestTestThenWinner: the test share gets the variants; after the wait (by
// the service clock, across a restart in the middle of it) the winner goes
// to exactly the remaining contacts, and nobody gets two messages.
func TestTestThenWinner(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dbURL func(*testing.T) string) {
		db := dbURL(t)
		e := startEnv(t, db)
		tok := e.teamToken("growth", "editor")
		e.api("POST", "/api/v1/teams/growth/contacts", tok, contactsCSV(160, "example.test"), nil)
		body := experimentBody("Winner", 0.05)
		body["winner"] = map[string]any{"test_share": 0.5, "wait": "4h", "min_per_arm": 10}
		exp := e.createAndLaunch(tok, "growth", body)
		// The test phase: wait until nothing is queued.
		var mid experimentJSON
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			mid = experimentJSON{}
			e.api("GET", "/api/v1/experiments/"+exp.ID, tok, nil, &mid)
			if mid.Progress.Queued+mid.Progress.Sending == 0 && mid.Progress.Sent > 0 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		p := mid.Progress
		if mid.Status != "running" || p.Waiting < 50 || p.Sent < 50 || p.Sent+p.Waiting+p.HeldOut != 160 {
			t.Fatalf("after the test phase: %s %+v", mid.Status, p)
		}
		// People like the numbers variant much more: three in four of its
		// recipients click, one in four of the control's. Counted per
		// variant, not by arrival order: messages of the two arms can
		// arrive interleaved in step with the arrival index, and CI once
		// left the control with 2 clicks of 37 that way, too few for the
		// relative lift to reach the 95 % chance.
		first := e.smtp.messages()
		seenBy := map[string]int{}
		for _, r := range first {
			m := parse(t, r)
			i := seenBy[m.subject]
			seenBy[m.subject]++
			if (m.subject == "You saved 3 hours this week" && i%4 != 0) || (m.subject != "You saved 3 hours this week" && i%4 == 0) {
				if resp := click(t, "GET", trackedRE.FindString(m.html), browserUA); resp.StatusCode != 302 {
					t.Fatalf("click: %d", resp.StatusCode)
				}
			}
		}
		e.waitClicks() // counted before the wait is over
		var before struct {
			Winner struct {
				VariantID *string `json:"variant_id"`
				PickedAt  *string `json:"picked_at"`
			} `json:"winner"`
		}
		e.api("GET", "/api/v1/experiments/"+exp.ID, tok, nil, &before)
		if before.Winner.PickedAt != nil || before.Winner.VariantID != nil {
			t.Fatalf("a winner was picked before the wait is over: %+v", before.Winner)
		}
		e.clock.advance(time.Hour)
		time.Sleep(300 * time.Millisecond) // ticks that find nothing due
		e.stop()                           // restart in the middle of the wait
		if n := len(e.smtp.messages()); n != len(first) {
			t.Fatalf("sent %d during the wait", n-len(first))
		}

		e2 := startEnv(t, db, func(v map[string]string) { v["SLICELAB_DATA_DIR"] = e.vars["SLICELAB_DATA_DIR"] })
		e2.clock.advance(2 * time.Hour) // the second process's own clock: 2 h after launch
		time.Sleep(500 * time.Millisecond)
		if n := len(e2.smtp.messages()); n != 0 {
			t.Fatalf("the winner went out %d messages early", n)
		}
		e2.clock.advance(2*time.Hour + time.Minute) // the wait is over
		done := e2.waitDone(tok, exp.ID, 2*time.Minute)
		second := e2.smtp.messages()
		if len(second) != p.Waiting || done.Progress.Sent != p.Sent+p.Waiting || done.Progress.Waiting != 0 {
			t.Fatalf("the winner went to %d contacts, %d were waiting; progress %+v", len(second), p.Waiting, done.Progress)
		}
		seen := map[string]bool{}
		for _, r := range first {
			seen[r.rcpt] = true
		}
		for _, r := range second {
			if seen[r.rcpt] {
				t.Fatalf("%s got two messages", r.rcpt)
			}
			seen[r.rcpt] = true
			if s := r.msg.Header.Get("Subject"); s != "You saved 3 hours this week" {
				_, raw := e2.api("GET", "/api/v1/experiments/"+exp.ID, tok, nil, nil)
				_, res := e2.api("GET", "/api/v1/experiments/"+exp.ID+"/results", tok, nil, nil)
				t.Fatalf("the rest got %q, not the winner\n%s\n%s", s, raw, res)
			}
		}
		var res resultsJSON
		e2.api("GET", "/api/v1/experiments/"+exp.ID+"/results", tok, nil, &res)
		var numbers string
		for _, v := range res.Variants {
			if v.Name == "numbers" {
				numbers = v.ID
			}
		}
		if res.Winner == nil || *res.Winner != numbers {
			t.Fatalf("results winner %v, want %s", res.Winner, numbers)
		}
	})
}

// TestStatsCLIMatchesResults: `slicelab stats compare|srm` print the same
// numbers as the results endpoint for the same counts.
func TestStatsCLIMatchesResults(t *testing.T) {
	t.Parallel()
	e := startEnv(t, dbFile(t))
	tok := e.teamToken("growth", "editor")
	e.api("POST", "/api/v1/teams/growth/contacts", tok, contactsCSV(200, "example.test"), nil)
	exp := e.createAndLaunch(tok, "growth", experimentBody("CLI", 0.1))
	e.waitDone(tok, exp.ID, 2*time.Minute)
	for i, r := range e.smtp.messages() {
		m := parse(t, r)
		if i%3 == 0 || (m.subject == "Your weekly insight" && i%5 == 0) {
			click(t, "GET", trackedRE.FindString(m.html), browserUA)
		}
	}
	e.waitClicks()
	var raw map[string]any
	if st, b := e.api("GET", "/api/v1/experiments/"+exp.ID+"/results", tok, nil, &raw); st != 200 {
		t.Fatalf("results: %d %s", st, b)
	}
	vs := raw["variants"].([]any)
	var control, variant map[string]any
	for _, v := range vs {
		m := v.(map[string]any)
		if m["control"] == true {
			control = m
		} else {
			variant = m
		}
	}
	count := func(m map[string]any) string { return fmt.Sprintf("%v/%v", m["human_clickers"], m["sent"]) }
	out, errs, code := e.cli("stats", "compare", "--control", count(control), "--variant", count(variant), "--format", "json")
	if code != 0 {
		t.Fatalf("stats compare: %d %s", code, errs)
	}
	var cmp struct {
		Control  map[string]any   `json:"control"`
		Variants []map[string]any `json:"variants"`
	}
	if err := json.Unmarshal([]byte(out), &cmp); err != nil {
		t.Fatal(err)
	}
	same := func(what string, a, b any) {
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) {
			t.Errorf("%s: CLI %s, results %s", what, ja, jb)
		}
	}
	same("control rate", cmp.Control["rate"], control["ctr"])
	same("control ci", cmp.Control["ci"], control["ctr_ci"])
	same("variant rate", cmp.Variants[0]["rate"], variant["ctr"])
	same("variant ci", cmp.Variants[0]["ci"], variant["ctr_ci"])
	for _, f := range []string{"absolute_diff", "lift", "lift_ci", "p_value", "chance_to_beat_control", "expected_loss"} {
		if variant[f] == nil {
			t.Errorf("results %s is null for %s and %s", f, count(control), count(variant))
		}
		same(f, cmp.Variants[0][f], variant[f])
	}
	// The results page's daily activity adds up to the same sends and clickers.
	team, err := e.app.exps.TeamBySlug(context.Background(), "growth")
	if err != nil {
		t.Fatal(err)
	}
	act, err := e.app.exps.Activity(context.Background(), team.ID, uuid.MustParse(exp.ID))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range act.Variants {
		m := control
		if v.Name == variant["name"] {
			m = variant
		}
		sends, firsts := 0, 0
		for i := range act.Days {
			sends, firsts = sends+v.Sends[i], firsts+v.FirstClicks[i]
		}
		same(v.Name+" daily sends", sends, m["sent"])
		same(v.Name+" daily first clicks", firsts, m["human_clickers"])
	}
	out, errs, code = e.cli("stats", "srm", "--observed", fmt.Sprintf("%v,%v", control["assigned"], variant["assigned"]), "--weights", "1,1", "--format", "json")
	if code != 0 {
		t.Fatalf("stats srm: %d %s", code, errs)
	}
	var srm map[string]any
	json.Unmarshal([]byte(out), &srm)
	same("srm p-value", srm["p_value"], raw["srm"].(map[string]any)["assigned_p_value"])
	for _, bad := range [][]string{
		{"stats", "compare", "--control", "5/3", "--variant", "1/10"},
		{"stats", "compare", "--control", "1/10"},
		{"stats", "srm", "--observed", "1,2", "--weights", "1"},
		{"stats", "plan", "--baseline", "0", "--mde", "0.1", "--weekly", "100"},
		{"stats", "plan", "--baseline", "0.1", "--mde", "0.1", "--weekly", "100", "--format", "xml"},
	} {
		if _, errs, code := e.cli(bad...); code != 2 || errs == "" {
			t.Errorf("%v: exit %d, %q", bad, code, errs)
		}
	}
}
