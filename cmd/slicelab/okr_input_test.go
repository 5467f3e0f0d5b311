package main

import (
	"strings"
	"testing"
	"time"
)

// TestOKRBadInput: each kind of bad OKR input gets a field error and stores nothing.
func TestOKRBadInput(t *testing.T) {
	t.Parallel()
	e := startEnv(t, dbFile(t))
	e.clock.set(time.Date(2026, 11, 4, 12, 0, 0, 0, time.UTC)) // 2026-W45
	tok := e.teamToken("growth", "editor")
	other := e.teamToken("rivals", "editor")
	e.api("POST", "/api/v1/teams/rivals/contacts", other, contactsCSV(3, "rivals.test"), nil)
	var theirs experimentJSON
	e.api("POST", "/api/v1/teams/rivals/experiments", other, experimentBody("Theirs", 0), &theirs)

	expect := func(name, method, path string, body any, field string) {
		t.Helper()
		var ans struct {
			Error struct {
				Fields map[string]string
			}
		}
		st, raw := e.api(method, path, tok, body, &ans)
		if st != 422 || ans.Error.Fields[field] == "" {
			t.Errorf("%s: %d %s, want 422 naming %s", name, st, raw, field)
		}
	}
	expect("no title", "POST", "/api/v1/teams/growth/objectives", map[string]string{"period": "2026-Q4"}, "title")
	expect("bad quarter", "POST", "/api/v1/teams/growth/objectives", map[string]string{"title": "x", "period": "2026-Q5"}, "period")
	expect("bad kind", "POST", "/api/v1/teams/growth/objectives", map[string]string{"title": "x", "period": "2026-Q4", "kind": "stretch"}, "kind")
	expect("end before start", "POST", "/api/v1/teams/growth/objectives", map[string]string{"title": "x", "start": "2026-12-01", "end": "2026-11-01"}, "start")
	var obj struct{ ID string }
	e.api("POST", "/api/v1/teams/growth/objectives", tok, map[string]string{"title": "Grow", "period": "2026-Q4"}, &obj)
	kr := "/api/v1/objectives/" + obj.ID + "/key-results"
	expect("target == start", "POST", kr, map[string]any{"title": "x", "type": "metric", "start": 5, "target": 5, "source": "manual"}, "target")
	expect("no target", "POST", kr, map[string]any{"title": "x", "type": "metric", "start": 5, "source": "manual"}, "target")
	expect("bad type", "POST", kr, map[string]any{"title": "x", "type": "okr", "source": "manual"}, "type")
	expect("bad source", "POST", kr, map[string]any{"title": "x", "type": "milestone", "source": "vibes"}, "source")
	expect("events without a name", "POST", kr, map[string]any{"title": "x", "type": "metric", "start": 0, "target": 5, "source": "events"}, "event_name")
	expect("another team's experiment", "POST", kr, map[string]any{"title": "x", "type": "metric", "start": 0, "target": 5,
		"source": "clicks", "experiment_ids": []string{theirs.ID}}, "experiment_ids[0]")
	expect("bad comparison", "POST", kr, map[string]any{"title": "x", "type": "threshold", "target": 5, "comparison": "about", "source": "manual"}, "comparison")
	var list struct {
		Objectives []struct {
			KeyResults []any `json:"key_results"`
		}
	}
	e.api("GET", "/api/v1/teams/growth/objectives", tok, nil, &list)
	if len(list.Objectives) != 1 || len(list.Objectives[0].KeyResults) != 0 {
		t.Fatalf("refused input was stored: %+v", list)
	}
	var k struct{ ID string }
	e.api("POST", kr, tok, map[string]any{"title": "Bugs", "type": "metric", "start": 100, "target": 60, "source": "manual"}, &k)
	ci := "/api/v1/key-results/" + k.ID + "/check-ins"
	expect("unknown week", "POST", ci, map[string]any{"week": "2026-W60", "value": 1}, "week")
	expect("not a week", "POST", ci, map[string]any{"week": "last week", "value": 1}, "week")
	expect("week outside the period", "POST", ci, map[string]any{"week": "2026-W30", "value": 1}, "week")
	expect("future week", "POST", ci, map[string]any{"week": "2026-W50", "value": 1}, "week")
	expect("confidence 11", "POST", ci, map[string]any{"week": "2026-W45", "value": 1, "confidence": 11}, "confidence")
	expect("confidence -1", "POST", ci, map[string]any{"week": "2026-W45", "value": 1, "confidence": -1}, "confidence")
	expect("empty check-in", "POST", ci, map[string]any{"week": "2026-W45"}, "value")
	expect("events: no name", "POST", "/api/v1/teams/growth/events", []map[string]any{{"name": ""}}, "events[0].name")
	expect("events: unknown contact", "POST", "/api/v1/teams/growth/events", []map[string]any{{"name": "signup", "email": "nobody@x.test"}}, "events[0].email")
	expect("bad week in report", "GET", "/api/v1/teams/growth/reports/weekly?week=2026-48", nil, "week")
	if st, _ := e.api("PATCH", "/api/v1/teams/growth", tok, map[string]string{"time_zone": "Europe/Paris"}, nil); st != 403 {
		t.Errorf("an editor changed team settings: %d", st)
	}
	tok = e.teamToken("growth", "admin")
	expect("bad time zone", "PATCH", "/api/v1/teams/growth", map[string]string{"time_zone": "Mars/Olympus"}, "time_zone")
	if st, _ := e.api("GET", "/api/v1/teams/rivals/reports/weekly", tok, nil, nil); st != 404 {
		t.Errorf("another team's review: %d", st)
	}
	if st, _ := e.api("POST", "/api/v1/key-results/"+k.ID+"/check-ins", other, map[string]any{"week": "2026-W45", "value": 1}, nil); st != 404 {
		t.Errorf("another team's key result: %d", st)
	}
	var clicksKR struct{ ID string }
	e.api("POST", kr, tok, map[string]any{"title": "Clickers", "type": "metric", "start": 0, "target": 10, "source": "clicks"}, &clicksKR)
	var body experimentJSON
	b := experimentBody("Linked", 0)
	b["key_result_ids"] = []string{k.ID}
	if st, raw := e.api("POST", "/api/v1/teams/growth/experiments", tok, b, nil); st != 422 || !strings.Contains(string(raw), "key_result_ids[0]") {
		t.Errorf("experiment linked to a manual KR: %d %s", st, raw)
	}
	b["key_result_ids"] = []string{clicksKR.ID}
	if st, raw := e.api("POST", "/api/v1/teams/growth/experiments", tok, b, &body); st != 201 {
		t.Errorf("experiment linked to a KR: %d %s", st, raw)
	}
	if st, raw := e.api("POST", "/api/v1/teams/rivals/experiments", other, b, nil); st != 422 || !strings.Contains(string(raw), "key_result_ids[0]") {
		t.Errorf("experiment linked to another team's KR: %d %s", st, raw)
	}
}
