package main

import (
	"strings"
	"testing"
)

// TestAllocationCategories: teams rename and add categories; bad names are refused.
func TestAllocationCategories(t *testing.T) {
	t.Parallel()
	e := startEnv(t, dbFile(t))
	tok := e.teamToken("growth", "admin")
	var cats struct {
		Categories []struct {
			ID       string   `json:"id"`
			Name     string   `json:"name"`
			Elective bool     `json:"elective"`
			Target   *float64 `json:"target"`
		} `json:"categories"`
	}
	if st, raw := e.api("GET", "/api/v1/teams/growth/allocation-categories", tok, nil, &cats); st != 200 || len(cats.Categories) != 4 {
		t.Fatalf("defaults: %d %s", st, raw)
	}
	want := map[string]bool{"KTLO": false, "New": true, "Improve": true, "Productivity": true}
	for _, c := range cats.Categories {
		if el, ok := want[c.Name]; !ok || el != c.Elective {
			t.Errorf("default category %+v", c)
		}
	}
	improve := cats.Categories[2].ID
	if st, raw := e.api("PATCH", "/api/v1/teams/growth/allocation-categories/"+improve, tok, map[string]string{"name": "Polish"}, nil); st != 200 {
		t.Fatalf("rename: %d %s", st, raw)
	}
	if st, raw := e.api("PATCH", "/api/v1/teams/growth/allocation-categories/"+improve, tok, map[string]string{"name": "new"}, nil); st != 409 && st != 422 {
		t.Errorf("rename onto another category's name: %d %s", st, raw)
	}
	// A target that breaks the mix is refused; a category without one, or a whole new mix, is fine.
	if st, raw := e.api("POST", "/api/v1/teams/growth/allocation-categories", tok, map[string]any{"name": "Research", "elective": true, "target": 0.1}, nil); st != 422 || !strings.Contains(string(raw), "110 %") {
		t.Errorf("a target beyond 100 %%: %d %s", st, raw)
	}
	if st, raw := e.api("POST", "/api/v1/teams/growth/allocation-categories", tok,
		map[string]any{"name": "Research", "elective": true, "description": "spikes and prototypes"}, nil); st != 201 || !strings.Contains(string(raw), "spikes and prototypes") {
		t.Fatalf("add: %d %s", st, raw)
	}
	if st, raw := e.api("PUT", "/api/v1/teams/growth/allocation-targets", tok, map[string]float64{"New": 0.5, "Polish": 0.2, "Productivity": 0.2, "Research": 0.2}, nil); st != 422 || !strings.Contains(string(raw), "110 %") {
		t.Errorf("a mix of 110 %%: %d %s", st, raw)
	}
	if st, raw := e.api("PUT", "/api/v1/teams/growth/allocation-targets", tok, map[string]float64{"New": 0.5, "Polish": 0.2, "Productivity": 0.2, "Research": 0.1}, nil); st != 200 {
		t.Errorf("a mix of 100 %%: %d %s", st, raw)
	}
	if st, raw := e.api("PATCH", "/api/v1/teams/growth/allocation-categories/"+improve, tok, map[string]any{"target": 0.3, "description": "polish"}, nil); st != 422 {
		t.Errorf("one target changed alone: %d %s", st, raw)
	}
	if st, raw := e.api("PATCH", "/api/v1/teams/growth/allocation-categories/"+improve, tok, map[string]any{"description": "polish what we have"}, nil); st != 200 || !strings.Contains(string(raw), `"polish what we have"`) {
		t.Errorf("description: %d %s", st, raw)
	}
	if st, raw := e.api("POST", "/api/v1/teams/growth/allocation-categories", tok, map[string]any{"name": " ", "elective": true}, nil); st != 422 {
		t.Errorf("empty name: %d %s", st, raw)
	}
	e.api("GET", "/api/v1/teams/growth/allocation-categories", tok, nil, &cats)
	names := ""
	for _, c := range cats.Categories {
		names += c.Name + ","
	}
	if names != "KTLO,New,Polish,Productivity,Research," {
		t.Errorf("categories now %s", names)
	}
	editor := e.teamToken("growth", "editor")
	if st, _ := e.api("POST", "/api/v1/teams/growth/allocation-categories", editor, map[string]any{"name": "X", "elective": true}, nil); st != 403 {
		t.Errorf("an editor added a category: %d", st)
	}
}
