package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"slicelab/tracking"
)

// TestContactPrivacy: everything stored about an address is exported (the
// contact, its deliveries, its clicks with their user agents, its events);
// erasing it leaves nothing that names the person, in the database or the
// click ledger, while the experiment's counts stay as they were; only an
// admin may do either, and a bad request changes nothing.
func TestContactPrivacy(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dbURL func(*testing.T) string) {
		e := startEnv(t, dbURL(t))
		admin := e.teamToken("growth", "admin")
		editor := e.teamToken("growth", "editor")
		e.api("POST", "/api/v1/teams/growth/contacts", admin, []map[string]any{{"email": "Ada@Example.test", "name": "Ada Lovelace",
			"tags": []string{"beta"}, "attributes": map[string]string{"plan": "pro"}}}, nil)
		e.api("POST", "/api/v1/teams/growth/contacts", admin, contactsCSV(9, "example.test"), nil)
		exp := e.createAndLaunch(admin, "growth", experimentBody("Privacy", 0))
		e.waitDone(admin, exp.ID, 2*time.Minute)
		var adaLink string
		for _, r := range e.smtp.messages() {
			if m := parse(t, r); strings.EqualFold(m.rcpt, "ada@example.test") {
				adaLink = trackedRE.FindString(m.html)
			}
		}
		if adaLink == "" {
			t.Fatal("no message to Ada")
		}
		click(t, "GET", adaLink, "Mozilla/5.0 (Ada's very own browser) AppleWebKit/537.36 Chrome/131.0 Safari/537.36")
		e.api("POST", "/api/v1/teams/growth/events", admin, map[string]any{"name": "signup", "email": "ada@example.test"}, nil)
		var before struct {
			Variants []struct {
				Sent          int `json:"sent"`
				HumanClickers int `json:"human_clickers"`
			} `json:"variants"`
		}
		e.api("GET", "/api/v1/experiments/"+exp.ID+"/results", admin, nil, &before)
		clickers := 0
		for _, v := range before.Variants {
			clickers += v.HumanClickers
		}
		if clickers != 1 {
			t.Fatalf("human clickers before the erasure: %+v", before)
		}

		// The export.
		var rec struct {
			ContactID  string            `json:"contact_id"`
			Email      string            `json:"email"`
			Name       string            `json:"name"`
			Tags       []string          `json:"tags"`
			Attributes map[string]string `json:"attributes"`
			Deliveries []struct{ Experiment, Status string }
			Clicks     []struct {
				UserAgent string `json:"user_agent"`
				URL       string `json:"url"`
			}
			Events []struct{ Name string }
		}
		if st, raw := e.api("GET", "/api/v1/teams/growth/contacts/export?email=ada@example.test", admin, nil, &rec); st != 200 {
			t.Fatalf("export: %d %s", st, raw)
		}
		if rec.Email != "Ada@Example.test" || rec.Name != "Ada Lovelace" || len(rec.Tags) != 1 || rec.Attributes["plan"] != "pro" ||
			len(rec.Deliveries) != 1 || rec.Deliveries[0].Experiment != "Privacy" || len(rec.Clicks) != 1 ||
			!strings.Contains(rec.Clicks[0].UserAgent, "Ada's very own browser") || rec.Clicks[0].URL == "" || len(rec.Events) != 1 {
			t.Fatalf("export: %+v", rec)
		}
		out, errs, code := e.cli("contacts", "export", "ada@example.test", "--team", "growth")
		if code != 0 || !json.Valid([]byte(out)) || !strings.Contains(out, "Ada Lovelace") {
			t.Fatalf("contacts export: %d %s %s", code, out, errs)
		}

		// Who may, and bad requests.
		for _, c := range []struct {
			token, body string
			want        int
		}{
			{editor, `{"email":"ada@example.test"}`, 403},
			{"", `{"email":"ada@example.test"}`, 401},
			{admin, `{"email":"not an address"}`, 422},
			{admin, `{"email":"nobody@example.test"}`, 404},
			{admin, `{"email":`, 422},
		} {
			if st, raw := e.api("POST", "/api/v1/teams/growth/contacts/erase", c.token, c.body, nil); st != c.want {
				t.Errorf("erase %s: %d %s, want %d", c.body, st, raw, c.want)
			}
		}
		if st, _ := e.api("GET", "/api/v1/teams/growth/contacts/export?email=ada@example.test", editor, nil, nil); st != 403 {
			t.Errorf("an editor's export: %d", st)
		}
		if _, errs, code := e.cli("contacts", "erase", "ada@example.test", "--team", "growth"); code != 2 || !strings.Contains(errs, "--yes") {
			t.Errorf("contacts erase without --yes: %d %s", code, errs)
		}
		if st, _ := e.api("GET", "/api/v1/teams/growth/contacts/export?email=ada@example.test", admin, nil, nil); st != 200 {
			t.Fatalf("the refused erasures erased: %d", st)
		}

		// The erasure.
		var er struct {
			Kept   int `json:"deliveries_kept"`
			Clicks int `json:"clicks_cleared"`
		}
		if st, raw := e.api("POST", "/api/v1/teams/growth/contacts/erase", admin, map[string]string{"email": "ADA@example.test"}, &er); st != 200 || er.Kept != 1 || er.Clicks != 1 {
			t.Fatalf("erase: %d %s", st, raw)
		}
		if st, _ := e.api("GET", "/api/v1/teams/growth/contacts/export?email=ada@example.test", admin, nil, nil); st != 404 {
			t.Errorf("export after the erasure: %d, want 404", st)
		}
		var after struct {
			Variants []struct {
				Sent          int `json:"sent"`
				HumanClickers int `json:"human_clickers"`
			} `json:"variants"`
		}
		e.api("GET", "/api/v1/experiments/"+exp.ID+"/results", admin, nil, &after)
		if len(after.Variants) != len(before.Variants) {
			t.Fatalf("results after: %+v", after)
		}
		for i := range after.Variants {
			if after.Variants[i] != before.Variants[i] {
				t.Errorf("variant %d before %+v, after %+v: the counts changed", i, before.Variants[i], after.Variants[i])
			}
		}
		// Nothing names Ada: not the contacts, not the ledger.
		_, raw := e.api("GET", "/api/v1/teams/growth/contacts?limit=100", admin, nil, nil)
		if strings.Contains(strings.ToLower(string(raw)), "ada@") || strings.Contains(string(raw), "Ada") || !strings.Contains(string(raw), "erased.invalid") {
			t.Errorf("contacts after the erasure: %s", raw)
		}
		id := uuid.MustParse(rec.ContactID)
		var deliveries []uuid.UUID
		if err := e.app.st.db.NewSelect().Table("deliveries").Column("id").Where("contact_id = ?", id).Scan(context.Background(), &deliveries); err != nil || len(deliveries) != 1 {
			t.Fatalf("deliveries kept: %v %v", deliveries, err)
		}
		raws, err := tracking.NewLedger(e.app.st.ledgerRead).Of(context.Background(), deliveries)
		if err != nil || len(raws) != 1 || raws[0].UserAgent != "" || raws[0].IP != "" {
			t.Errorf("the ledger after the erasure: %+v %v", raws, err)
		}
		// The CLI says so for an address that is not there (any more).
		if _, errs, code := e.cli("contacts", "erase", "ada@example.test", "--team", "growth", "--yes"); code == 0 || !strings.Contains(errs, "no contact") {
			t.Errorf("contacts erase of an erased address: %d %s", code, errs)
		}
	})
}
