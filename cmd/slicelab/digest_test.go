package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"slicelab/okr"
)

// TestMondayDigest: every team member gets the review of the week that just
// ended, once, by email.
func TestMondayDigest(t *testing.T) {
	t.Parallel()
	e := startEnv(t, dbFile(t))
	e.clock.set(time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC)) // 2026-W45
	tok := e.teamToken("growth", "editor")
	for _, m := range []string{"ada@team.test", "grace@team.test"} {
		if out, errs, code := e.cli("user", "create", m, "--team", "growth", "--name", strings.Split(m, "@")[0]); code != 0 {
			t.Fatalf("user create: %s %s", out, errs)
		}
	}
	if _, errs, code := e.cli("user", "create", "ada@team.test", "--team", "growth"); code == 0 || !strings.Contains(errs, "already") {
		t.Errorf("duplicate member: %d %s", code, errs)
	}
	var obj struct{ ID string }
	e.api("POST", "/api/v1/teams/growth/objectives", tok, map[string]string{"title": "Grow engaged readers", "period": "2026-Q4"}, &obj)
	var kr struct{ ID string }
	e.api("POST", "/api/v1/objectives/"+obj.ID+"/key-results", tok, map[string]any{"title": "Open bugs", "type": "metric", "start": 100, "target": 60, "source": "manual"}, &kr)
	e.api("POST", "/api/v1/key-results/"+kr.ID+"/check-ins", tok, map[string]any{"week": "2026-W45", "value": 80, "confidence": 7}, nil)
	e.clock.set(time.Date(2026, 11, 9, 7, 0, 0, 0, time.UTC)) // Monday of W46
	for i := 0; i < 2; i++ {                                  // the job running twice sends nothing twice
		if _, err := e.app.river.Insert(context.Background(), okr.DigestArgs{}, nil); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(e.smtp.messages()) < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	msgs := e.smtp.messages()
	if len(msgs) != 2 {
		t.Fatalf("%d digests, want 2 (one per member)", len(msgs))
	}
	for _, r := range msgs {
		m := parse(t, r)
		if m.subject != "Weekly review of GROWTH, 2026-W45" || !strings.Contains(m.text, "Open bugs: 80, progress 50% of") ||
			!strings.Contains(m.html, "Grow engaged readers") || !strings.Contains(m.text, "/reports/weekly?week=2026-W45") {
			t.Errorf("digest to %s: %q\n%s", m.rcpt, m.subject, m.text)
		}
	}
	if next := (okr.WeeklyAt{Day: time.Monday, Hour: 7}).Next(time.Date(2026, 11, 9, 7, 0, 0, 0, time.UTC)); !next.Equal(time.Date(2026, 11, 16, 7, 0, 0, 0, time.UTC)) {
		t.Errorf("next Monday 07:00 after a Monday 07:00 is %s", next)
	}
}
