package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"slicelab/experiments"
)

type importAnswer struct {
	Imported, Updated, Skipped int
	Errors                     []experiments.RowError
	Error                      struct{ Code, Message string }
}

type contactRow struct {
	Email      string
	Name       string
	Tags       []string
	Attributes map[string]string
}

// contactsOf reads all of a team's contacts through the API, by address.
func contactsOf(t *testing.T, e *env, tok string) map[string]contactRow {
	t.Helper()
	out := map[string]contactRow{}
	after := ""
	for {
		var page struct {
			Contacts []contactRow
			Next     string
		}
		if st, raw := e.api("GET", "/api/v1/teams/growth/contacts?limit=1000&after="+after, tok, nil, &page); st != 200 {
			t.Fatalf("list contacts: %d %s", st, raw)
		}
		for _, c := range page.Contacts {
			out[c.Email] = c
		}
		if page.Next == "" {
			return out
		}
		after = page.Next
	}
}

// tagsOf reads the tag index (contact_tags) of one address.
func tagsOf(t *testing.T, e *env, email string) []string {
	t.Helper()
	var tags []string
	if err := e.app.st.db.NewSelect().Table("contact_tags").Column("tag").
		Where("contact_id = (SELECT id FROM contacts WHERE email = ?)", email).Order("tag").Scan(context.Background(), &tags); err != nil {
		t.Fatal(err)
	}
	return tags
}

// TestImportUpdates: a re-import updates the addresses the team has (name
// and tags replaced, attributes merged, an unsubscribe kept) and says how
// many were new, updated and unchanged, in CSV and in JSON.
func TestImportUpdates(t *testing.T) {
	forEachDB(t, func(t *testing.T, dbURL func(*testing.T) string) {
		e := startEnv(t, dbURL(t))
		tok := e.teamToken("growth", "editor")
		var ans importAnswer
		first := "email,name,tags,plan,city\n" +
			"ada@example.test,Ada,a;b,pro,Paris\n" +
			"bob@example.test,Bob,a,free,Oslo\n" +
			"cy@example.test,Cy,,free,Rome\n"
		if st, raw := e.api("POST", "/api/v1/teams/growth/contacts", tok, csvBody(first), &ans); st != 200 || ans.Imported != 3 || ans.Updated != 0 || ans.Skipped != 0 {
			t.Fatalf("first import: %d %s", st, raw)
		}
		// Bob unsubscribes; a re-import must not undo it.
		if _, err := e.app.st.db.NewUpdate().Table("contacts").Set("unsubscribed_at = ?", e.clock.now()).
			Where("email = 'bob@example.test'").Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		second := "email,name,tags,plan\n" +
			"ADA@example.test,Ada,b;a,pro\n" + // the same values (address case, tag order aside): skipped
			"bob@example.test,Robert,c,pro\n" + // updated: name, tags, plan; city stays
			"dee@example.test,Dee,c,team\n" // new
		if st, raw := e.api("POST", "/api/v1/teams/growth/contacts", tok, csvBody(second), &ans); st != 200 || ans.Imported != 1 || ans.Updated != 1 || ans.Skipped != 1 {
			t.Fatalf("second import: %d %s, want imported 1, updated 1, skipped 1", st, raw)
		}
		got := contactsOf(t, e, tok)
		bob := got["bob@example.test"]
		if bob.Name != "Robert" || !slices.Equal(bob.Tags, []string{"c"}) || bob.Attributes["plan"] != "pro" || bob.Attributes["city"] != "Oslo" {
			t.Errorf("bob after the update: %+v", bob)
		}
		if tags := tagsOf(t, e, "bob@example.test"); !slices.Equal(tags, []string{"c"}) {
			t.Errorf("bob's tag index: %v, want [c]", tags)
		}
		if got["ada@example.test"].Name != "Ada" || len(got) != 4 {
			t.Errorf("contacts after the re-import: %+v", got)
		}
		var unsub int
		if err := e.app.st.db.NewSelect().Table("contacts").ColumnExpr("count(*)").Where("email = 'bob@example.test'").
			Where("unsubscribed_at IS NOT NULL").Scan(context.Background(), &unsub); err != nil || unsub != 1 {
			t.Errorf("bob's unsubscribe after the update: %d %v", unsub, err)
		}
		// A file without a name or tags column leaves them; JSON likewise.
		if st, raw := e.api("POST", "/api/v1/teams/growth/contacts", tok, csvBody("email,plan\ncy@example.test,team\n"), &ans); st != 200 || ans.Updated != 1 {
			t.Fatalf("third import: %d %s", st, raw)
		}
		if st, raw := e.api("POST", "/api/v1/teams/growth/contacts", tok,
			`[{"email":"dee@example.test","tags":["x","y"]},{"email":"ada@example.test","name":"Ada"},{"email":"eve@example.test"}]`, &ans); st != 200 ||
			ans.Imported != 1 || ans.Updated != 1 || ans.Skipped != 1 {
			t.Fatalf("JSON import: %d %s, want imported 1, updated 1, skipped 1", st, raw)
		}
		got = contactsOf(t, e, tok)
		if cy := got["cy@example.test"]; cy.Name != "Cy" || cy.Attributes["plan"] != "team" || cy.Attributes["city"] != "Rome" {
			t.Errorf("cy after a file with only a plan: %+v", cy)
		}
		if dee := got["dee@example.test"]; dee.Name != "Dee" || !slices.Equal(dee.Tags, []string{"x", "y"}) || dee.Attributes["plan"] != "team" {
			t.Errorf("dee after a JSON import of tags: %+v", dee)
		}
		if tags := tagsOf(t, e, "dee@example.test"); !slices.Equal(tags, []string{"x", "y"}) {
			t.Errorf("dee's tag index: %v", tags)
		}
		var counts struct{ Total int }
		if st, raw := e.api("GET", "/api/v1/teams/growth/contacts?limit=1", tok, nil, &counts); st != 200 || counts.Total != 5 {
			t.Errorf("total after the imports: %d %s, want 5", st, raw)
		}
		checkCountCounters(t, e)
	})
}

// TestImportAllOrNothing: a bad row after several pages were written leaves
// the team's contacts exactly as they were, updates included; so does an
// address repeated pages apart.
func TestImportAllOrNothing(t *testing.T) {
	forEachDB(t, func(t *testing.T, dbURL func(*testing.T) string) {
		e := startEnv(t, dbURL(t))
		tok := e.teamToken("growth", "editor")
		var ans importAnswer
		if st, raw := e.api("POST", "/api/v1/teams/growth/contacts", tok, csvBody("email,name,tags\nold@example.test,Old,a\n"), &ans); st != 200 || ans.Imported != 1 {
			t.Fatalf("first import: %d %s", st, raw)
		}
		before := contactsOf(t, e, tok)
		big := func(bad string) csvBody {
			var b strings.Builder
			b.WriteString("email,name,tags\nold@example.test,Renamed,b\n")
			for i := range 1500 {
				fmt.Fprintf(&b, "user%d@example.test,User %d,t\n", i, i)
			}
			b.WriteString(bad)
			for i := range 10 {
				fmt.Fprintf(&b, "late%d@example.test,Late,t\n", i)
			}
			return csvBody(b.String())
		}
		for _, c := range []struct {
			name, bad string
			want      experiments.RowError
		}{
			{"bad address", "not-an-address,X,t\n", experiments.RowError{Row: 1503, Field: "email", Message: "not a valid email address"}},
			{"repeat pages apart", "USER3@example.test,X,t\n", experiments.RowError{Row: 1503, Field: "email", Message: "duplicate of row 6"}},
		} {
			st, raw := e.api("POST", "/api/v1/teams/growth/contacts", tok, big(c.bad), &ans)
			if st != 422 || ans.Error.Code != "invalid_rows" || len(ans.Errors) != 1 || ans.Imported != 0 || ans.Updated != 0 {
				t.Fatalf("%s: %d %s", c.name, st, raw)
			}
			if g := ans.Errors[0]; g.Row != c.want.Row || g.Field != c.want.Field || !strings.Contains(g.Message, c.want.Message) {
				t.Errorf("%s: error %+v, want %+v", c.name, g, c.want)
			}
			after := contactsOf(t, e, tok)
			if fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("%s: contacts changed by a refused import: %d contacts, old is %+v", c.name, len(after), after["old@example.test"])
			}
			if tags := tagsOf(t, e, "old@example.test"); !slices.Equal(tags, []string{"a"}) {
				t.Errorf("%s: old's tag index %v, want [a]", c.name, tags)
			}
		}
		var counts struct {
			Total    int
			Contacts []any
		}
		if st, raw := e.api("GET", "/api/v1/teams/growth/contacts?limit=1", tok, nil, &counts); st != 200 || counts.Total != 1 {
			t.Errorf("total after refused imports: %d %s, want 1", st, raw)
		}
		// A team without contacts is imported into without looking up
		// each page's addresses: a repeat pages apart is still found.
		fresh := e.teamToken("fresh", "editor")
		if st, raw := e.api("POST", "/api/v1/teams/fresh/contacts", fresh, big("USER3@example.test,X,t\n"), &ans); st != 422 || len(ans.Errors) != 1 ||
			ans.Errors[0].Row != 1503 || !strings.Contains(ans.Errors[0].Message, "duplicate of row 6") {
			t.Errorf("a repeat pages apart in a new team's first import: %d %.300s", st, raw)
		}
		if st, raw := e.api("GET", "/api/v1/teams/fresh/contacts?limit=1", fresh, nil, &counts); st != 200 || counts.Total != 0 {
			t.Errorf("the new team after a refused import: %d %s", st, raw)
		}
		// The same file without the bad row imports.
		if st, raw := e.api("POST", "/api/v1/teams/growth/contacts", tok, big(""), &ans); st != 200 || ans.Imported != 1510 || ans.Updated != 1 {
			t.Fatalf("the good file: %d %s", st, raw)
		}
		if st, raw := e.api("GET", "/api/v1/teams/growth/contacts?limit=1", tok, nil, &counts); st != 200 || counts.Total != 1511 {
			t.Errorf("total after the import: %d %s, want 1511", st, raw)
		}
		checkCountCounters(t, e)
	})
}

// TestImportLimits: each limit answers 422 with the field, through the
// server, and nothing is stored; a body over SLICELAB_IMPORT_MAX_BYTES is 413.
func TestImportLimits(t *testing.T) {
	forEachDB(t, func(t *testing.T, dbURL func(*testing.T) string) {
		e := startEnv(t, dbURL(t), func(v map[string]string) { v["SLICELAB_IMPORT_MAX_BYTES"] = "512KiB" })
		tok := e.teamToken("growth", "editor")
		var h strings.Builder
		h.WriteString("email")
		for range 200000 {
			h.WriteString(",c")
		}
		wide := h.String() + "\n"
		cases := []struct {
			name string
			body any
			want experiments.RowError
		}{
			{"200,000 columns", csvBody(wide), experiments.RowError{Row: 1, Field: "columns", Message: "at most 200 columns"}},
			{"201 columns", csvBody("email" + func() string {
				var b strings.Builder
				for i := range 200 {
					fmt.Fprintf(&b, ",k%d", i)
				}
				return b.String()
			}() + "\n"), experiments.RowError{Row: 1, Field: "columns", Message: "201 columns"}},
			{"attribute name", csvBody("email," + strings.Repeat("k", 101) + "\na@example.test,x\n"), experiments.RowError{Row: 1, Field: "column 2", Message: "at most 100"}},
			{"attribute value", csvBody("email,plan\na@example.test," + strings.Repeat("v", 1001) + "\n"), experiments.RowError{Row: 2, Field: "plan", Message: "at most 1000"}},
			{"row length", csvBody("email,a,b\na@example.test," + strings.Repeat("v", 1000) + ",\"" + strings.Repeat("w\n", 40000) + "\"\n"),
				experiments.RowError{Row: 2, Field: "row", Message: "64 KiB"}},
			{"JSON attributes", `[{"email":"a@example.test","attributes":{"` + strings.Repeat("k", 101) + `":"v"}}]`, experiments.RowError{Row: 1, Field: "attributes", Message: "at most 100"}},
		}
		for _, c := range cases {
			var ans importAnswer
			st, raw := e.api("POST", "/api/v1/teams/growth/contacts", tok, c.body, &ans)
			if st != 422 || ans.Error.Code != "invalid_rows" || len(ans.Errors) != 1 {
				t.Errorf("%s: %d %.300s", c.name, st, raw)
				continue
			}
			if g := ans.Errors[0]; g.Row != c.want.Row || g.Field != c.want.Field || !strings.Contains(g.Message, c.want.Message) {
				t.Errorf("%s: error %+v, want %+v", c.name, g, c.want)
			}
		}
		// Over the configured body limit: 413, sent with a length or chunked.
		var b strings.Builder
		b.WriteString("email\n")
		for i := 0; b.Len() < 600<<10; i++ {
			fmt.Fprintf(&b, "someone%d@example.test\n", i)
		}
		for _, chunked := range []bool{false, true} {
			var body io.Reader = strings.NewReader(b.String())
			if chunked {
				body = io.MultiReader(body)
			}
			req, _ := http.NewRequest("POST", e.base+"/api/v1/teams/growth/contacts", body)
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "text/csv")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 413 || !strings.Contains(string(raw), "512 KiB") {
				t.Errorf("a 600 KiB import over a 512 KiB limit (chunked %v): %d %s", chunked, resp.StatusCode, raw)
			}
		}
		if got := contactsOf(t, e, tok); len(got) != 0 {
			t.Errorf("%d contacts stored by refused imports", len(got))
		}
	})
}

func TestImportMaxBytesConfig(t *testing.T) {
	for v, want := range map[string]int64{"": 1 << 30, "2048": 2048, "512MiB": 512 << 20, "2GiB": 2 << 30, " 64 KiB ": 64 << 10} {
		cfg, err := loadConfig(func(k string) string {
			if k == "SLICELAB_IMPORT_MAX_BYTES" {
				return v
			}
			return ""
		})
		if err != nil || cfg.ImportMaxBytes != want {
			t.Errorf("SLICELAB_IMPORT_MAX_BYTES=%q: %d %v, want %d", v, cfg.ImportMaxBytes, err, want)
		}
	}
	for _, v := range []string{"lots", "-5", "1TB", "100"} {
		_, err := loadConfig(func(k string) string {
			if k == "SLICELAB_IMPORT_MAX_BYTES" {
				return v
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), "SLICELAB_IMPORT_MAX_BYTES") {
			t.Errorf("SLICELAB_IMPORT_MAX_BYTES=%q: %v, want an error naming it", v, err)
		}
	}
}
