package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// apiErr is the error body of the API.
type apiErr struct {
	Error struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields"`
	} `json:"error"`
}

// TestDraftsChangeAndDelete: a draft can be changed (PATCH sends only what
// changes) and deleted; a launched experiment's content is read-only; bad
// changes store nothing.
func TestDraftsChangeAndDelete(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		e := startEnv(t, dbURL(t))
		tok := e.teamToken("growth", "editor")
		viewer := e.teamToken("growth", "viewer")
		e.api("POST", "/api/v1/teams/growth/contacts", tok, contactsCSV(12, "growth.test"), nil)
		var draft experimentJSON
		if st, raw := e.api("POST", "/api/v1/teams/growth/experiments", tok, experimentBody("First draft", 0), &draft); st != 201 {
			t.Fatalf("create: %d %s", st, raw)
		}
		path := "/api/v1/experiments/" + draft.ID

		var changed struct {
			experimentJSON
			Name     string `json:"name"`
			Holdout  float64
			Engine   string
			Variants []struct {
				Name    string `json:"name"`
				Subject string `json:"subject"`
			} `json:"variants"`
		}
		if st, raw := e.api("PATCH", path, tok, map[string]any{"name": "Second draft", "engine": "frequentist"}, &changed); st != 200 ||
			changed.Name != "Second draft" || changed.Engine != "frequentist" || len(changed.Variants) != 2 || changed.Variants[1].Subject != "You saved 3 hours this week" {
			t.Fatalf("patch name: %d %s", st, raw)
		}
		body := experimentBody("x", 0)
		vs := body["variants"].([]map[string]any)
		vs[1]["subject"] = "A new subject"
		if st, raw := e.api("PATCH", path, tok, map[string]any{"variants": vs}, &changed); st != 200 || changed.Name != "Second draft" ||
			changed.Variants[1].Subject != "A new subject" {
			t.Fatalf("patch variants: %d %s", st, raw)
		}
		// Bad changes: 422 with the field, and the draft stays as it was.
		for _, c := range []struct {
			name  string
			patch any
			field string
		}{
			{"empty name", map[string]any{"name": ""}, "name"},
			{"unknown engine", map[string]any{"engine": "astrology"}, "engine"},
			{"unknown field", map[string]any{"colour": "red"}, "body"},
			{"not an object", []int{1}, "body"},
		} {
			var ans apiErr
			if st, raw := e.api("PATCH", path, tok, c.patch, &ans); st != 422 || ans.Error.Fields[c.field] == "" {
				t.Errorf("%s: %d %s, want 422 naming %s", c.name, st, raw, c.field)
			}
		}
		var now experimentJSON
		e.api("GET", path, tok, nil, &changed)
		if changed.Name != "Second draft" || changed.Engine != "frequentist" {
			t.Errorf("a refused change was stored: %+v", changed)
		}
		if st, _ := e.api("PATCH", path, viewer, map[string]any{"name": "Viewer's"}, nil); st != 403 {
			t.Errorf("a viewer changed a draft: %d", st)
		}

		// Launched: read-only, and cannot be deleted.
		if st, raw := e.api("POST", path+"/launch", tok, nil, &now); st != 202 {
			t.Fatalf("launch: %d %s", st, raw)
		}
		var ans apiErr
		if st, raw := e.api("PATCH", path, tok, map[string]any{"name": "Too late"}, &ans); st != 409 || !strings.Contains(ans.Error.Message, "only a draft") {
			t.Errorf("patch of a launched experiment: %d %s", st, raw)
		}
		if st, raw := e.api("DELETE", path, tok, nil, nil); st != 409 {
			t.Errorf("delete of a launched experiment: %d %s", st, raw)
		}

		// A junk draft goes away, with its variants and links.
		var junk experimentJSON
		e.api("POST", "/api/v1/teams/growth/experiments", tok, experimentBody("Junk", 0), &junk)
		if st, raw := e.api("DELETE", "/api/v1/experiments/"+junk.ID, viewer, nil, nil); st != 403 {
			t.Errorf("a viewer deleted a draft: %d %s", st, raw)
		}
		if st, raw := e.api("DELETE", "/api/v1/experiments/"+junk.ID, tok, nil, nil); st != 204 {
			t.Fatalf("delete: %d %s", st, raw)
		}
		if st, _ := e.api("GET", "/api/v1/experiments/"+junk.ID, tok, nil, nil); st != 404 {
			t.Errorf("deleted draft still answers %d", st)
		}
		if st, _ := e.api("DELETE", "/api/v1/experiments/"+junk.ID, tok, nil, nil); st != 404 {
			t.Errorf("second delete answers %d", st)
		}
		if n, _ := e.app.st.db.NewSelect().Table("variants").Where("experiment_id = ?", junk.ID).Count(t.Context()); n != 0 {
			t.Errorf("%d variants of the deleted draft are left", n)
		}
	})
}

// TestValidationPeopleCanActOn: weight 0, links a mail client cannot follow
// and a past launch time are refused with the field; template errors and
// unknown attributes are said in the writer's terms.
func TestValidationPeopleCanActOn(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		e := startEnv(t, dbURL(t))
		tok := e.teamToken("growth", "editor")
		e.api("POST", "/api/v1/teams/growth/contacts", tok, contactsCSV(5, "growth.test"), nil)
		withVariant := func(i int, k string, v any) map[string]any {
			b := experimentBody("x", 0)
			b["variants"].([]map[string]any)[i][k] = v
			return b
		}
		for _, c := range []struct {
			name, field, says string
			body              map[string]any
		}{
			{"weight 0", "variants[1].weight", "above 0", withVariant(1, "weight", 0)},
			{"misspelt scheme", "variants[0].html", "not an absolute http(s) URL", withVariant(0, "html", `<a href="htps//example.com">x</a>`)},
			{"javascript link", "variants[1].html", "script", withVariant(1, "html", `<a href="javascript:alert(1)">x</a>`)},
			{"unknown field", "variants[0].html", "unknown field .Contact.Nmae; did you mean .Contact.Name?", withVariant(0, "html", `<p>Hi {{.Contact.Nmae}}</p>`)},
			{"unknown top field", "variants[0].text", "unknown field .Contakt; did you mean .Contact?", withVariant(0, "text", `Hi {{.Contakt.Name}}`)},
			{"Attr without a name", "variants[0].subject", `.Contact.Attr takes the attribute's name in quotes`, withVariant(0, "subject", `Hi {{.Contact.Attr}}`)},
		} {
			var ans apiErr
			st, raw := e.api("POST", "/api/v1/teams/growth/experiments", tok, c.body, &ans)
			msg := ans.Error.Fields[c.field]
			if st != 422 || !strings.Contains(msg, c.says) {
				t.Errorf("%s: %d %s, want 422 with %s saying %q", c.name, st, raw, c.field, c.says)
			}
			for _, leak := range []string{"experiments.", "templateData", "executing", "in type"} {
				if strings.Contains(string(raw), leak) {
					t.Errorf("%s: the error shows %q: %s", c.name, leak, raw)
				}
			}
		}

		// An attribute no contact has saves, with a warning naming the ones that exist.
		var created struct {
			ID       string `json:"id"`
			Warnings []struct {
				Field   string `json:"field"`
				Message string `json:"message"`
			} `json:"warnings"`
		}
		body := withVariant(1, "text", `Hi {{.Contact.Name}} on {{.Contact.Attr "plna"}}: https://example.com/`)
		if st, raw := e.api("POST", "/api/v1/teams/growth/experiments", tok, body, &created); st != 201 || len(created.Warnings) != 1 ||
			created.Warnings[0].Field != "variants[1].text" || !strings.Contains(created.Warnings[0].Message, `"plna"`) ||
			!strings.Contains(created.Warnings[0].Message, `did you mean "plan"?`) {
			t.Fatalf("attribute warning: %d %s", st, raw)
		}

		// A launch time in the past.
		var ans apiErr
		past := time.Now().Add(-2 * time.Hour).UTC().Format(time.RFC3339)
		if st, raw := e.api("POST", "/api/v1/experiments/"+created.ID+"/launch", tok, `{"at":"`+past+`"}`, &ans); st != 422 || !strings.Contains(ans.Error.Fields["at"], "in the past") {
			t.Errorf("past launch time: %d %s", st, raw)
		}
		var exp experimentJSON
		e.api("GET", "/api/v1/experiments/"+created.ID, tok, nil, &exp)
		if exp.Status != "draft" {
			t.Errorf("a refused launch changed the status to %s", exp.Status)
		}
	})
}

// TestOneDecision: the results name their engine and say in one sentence
// what they mean, by that engine only.
func TestOneDecision(t *testing.T) {
	t.Parallel()
	e := startEnv(t, dbFile(t))
	tok := e.teamToken("growth", "editor")
	e.api("POST", "/api/v1/teams/growth/contacts", tok, contactsCSV(40, "growth.test"), nil)
	for _, engine := range []string{"", "frequentist"} {
		body := experimentBody("Engine "+engine, 0)
		if engine != "" {
			body["engine"] = engine
		}
		exp := e.createAndLaunch(tok, "growth", body)
		e.waitDone(tok, exp.ID, 2*time.Minute)
		var res struct {
			Engine  string `json:"engine"`
			Summary string `json:"summary"`
			Winner  *string
		}
		if st, raw := e.api("GET", "/api/v1/experiments/"+exp.ID+"/results", tok, nil, &res); st != 200 {
			t.Fatalf("results: %d %s", st, raw)
		}
		want := engine
		if want == "" {
			want = "bayesian"
		}
		if res.Engine != want || !strings.HasPrefix(res.Summary, "not enough data yet: ") || !strings.Contains(res.Summary, "per arm") || res.Winner != nil {
			t.Errorf("engine %q: %+v", engine, res)
		}
	}
}

// TestManageOKRs: objectives and key results are read, changed and
// archived; a check-in without a week is for this week; a milestone checks
// in 0 or 1; a baseline has no score until it has a target.
func TestManageOKRs(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		e := startEnv(t, dbURL(t))
		e.clock.set(time.Date(2026, 11, 4, 12, 0, 0, 0, time.UTC)) // 2026-W45
		tok := e.teamToken("growth", "editor")
		var obj struct {
			ID     string `json:"id"`
			Title  string `json:"title"`
			Kind   string `json:"kind"`
			Period string `json:"period"`
		}
		e.api("POST", "/api/v1/teams/growth/objectives", tok, map[string]string{"title": "Grow", "period": "2026-Q4"}, &obj)
		op := "/api/v1/objectives/" + obj.ID
		if st, raw := e.api("PATCH", op, tok, map[string]string{"title": "Grow engaged readers", "kind": "aspirational"}, &obj); st != 200 ||
			obj.Title != "Grow engaged readers" || obj.Kind != "aspirational" || obj.Period != "2026-Q4" {
			t.Fatalf("patch objective: %d %s", st, raw)
		}
		var ans apiErr
		if st, raw := e.api("PATCH", op, tok, map[string]string{"period": "2026-Q9"}, &ans); st != 422 || ans.Error.Fields["period"] == "" {
			t.Errorf("bad period: %d %s", st, raw)
		}
		type kr struct {
			ID     string   `json:"id"`
			Target *float64 `json:"target"`
			Title  string   `json:"title"`
		}
		var milestone, baseline, metric kr
		e.api("POST", op+"/key-results", tok, map[string]any{"title": "Ship the page", "type": "milestone", "source": "manual"}, &milestone)
		e.api("POST", op+"/key-results", tok, map[string]any{"title": "Weekly readers", "type": "baseline", "source": "manual"}, &baseline)
		e.api("POST", op+"/key-results", tok, map[string]any{"title": "Signups", "type": "metric", "start": 0, "target": 100, "source": "manual"}, &metric)
		if st, raw := e.api("POST", "/api/v1/key-results/"+milestone.ID+"/check-ins", tok, map[string]any{"value": 2}, &ans); st != 422 ||
			!strings.Contains(ans.Error.Fields["value"], "done (1) or not yet (0)") {
			t.Errorf("milestone 2: %d %s", st, raw)
		}
		var ci struct{ Week string }
		if st, raw := e.api("POST", "/api/v1/key-results/"+milestone.ID+"/check-ins", tok, map[string]any{"value": 1}, &ci); st != 201 || ci.Week != "2026-W45" {
			t.Errorf("check-in without a week: %d %s, want 2026-W45", st, raw)
		}
		e.api("POST", "/api/v1/key-results/"+baseline.ID+"/check-ins", tok, map[string]any{"value": 40}, nil)
		e.api("POST", "/api/v1/key-results/"+metric.ID+"/check-ins", tok, map[string]any{"value": 30}, nil)

		review := func() (scores map[string]*float64, statuses map[string]string, objScore *float64, titles []string) {
			var r reviewJSON
			e.api("GET", "/api/v1/teams/growth/reports/weekly?week=2026-W45", tok, nil, &r)
			scores, statuses = map[string]*float64{}, map[string]string{}
			for _, o := range r.Objectives {
				titles = append(titles, o.Title)
				objScore = o.Score
				for _, k := range o.KeyResults {
					scores[k.ID], statuses[k.ID] = k.Score, k.Status
				}
			}
			return
		}
		scores, statuses, objScore, _ := review()
		if scores[baseline.ID] != nil || statuses[baseline.ID] != "baseline" {
			t.Errorf("baseline without a target: score %v, status %s", scores[baseline.ID], statuses[baseline.ID])
		}
		if objScore == nil || !near(*objScore, (1+0.3)/2) {
			t.Errorf("objective score %v, want the mean of the milestone and the metric only (0.65)", objScore)
		}

		// The baseline gets a target: measured from its first value (40) towards 60.
		var got kr
		if st, raw := e.api("PATCH", "/api/v1/key-results/"+baseline.ID, tok, map[string]any{"target": 60}, &got); st != 200 || got.Target == nil || *got.Target != 60 {
			t.Fatalf("patch target: %d %s", st, raw)
		}
		if st, raw := e.api("PATCH", "/api/v1/key-results/"+baseline.ID, tok, map[string]any{"type": "metric"}, &ans); st != 422 || ans.Error.Fields["type"] == "" {
			t.Errorf("type change: %d %s", st, raw)
		}
		if st, raw := e.api("GET", "/api/v1/key-results/"+baseline.ID, tok, nil, &got); st != 200 || got.Title != "Weekly readers" {
			t.Errorf("get key result: %d %s", st, raw)
		}
		scores, _, _, _ = review()
		if s := scores[baseline.ID]; s == nil || *s != 0 {
			t.Errorf("baseline with a target, still at its first value: score %v, want 0", s)
		}

		// Archive a key result, then the objective: both leave the review and the lists.
		if st, raw := e.api("DELETE", "/api/v1/key-results/"+metric.ID, tok, nil, nil); st != 204 {
			t.Fatalf("archive key result: %d %s", st, raw)
		}
		if scores, _, _, _ = review(); scores[metric.ID] != nil || len(scores) != 2 {
			t.Errorf("archived key result still reviewed: %v", scores)
		}
		if st, raw := e.api("POST", "/api/v1/key-results/"+metric.ID+"/check-ins", tok, map[string]any{"value": 50}, nil); st != 409 {
			t.Errorf("check-in of an archived key result: %d %s", st, raw)
		}
		if st, raw := e.api("DELETE", op, tok, nil, nil); st != 204 {
			t.Fatalf("archive objective: %d %s", st, raw)
		}
		if _, _, _, titles := review(); len(titles) != 0 {
			t.Errorf("archived objective still reviewed: %v", titles)
		}
		var list struct{ Objectives []json.RawMessage }
		e.api("GET", "/api/v1/teams/growth/objectives", tok, nil, &list)
		if len(list.Objectives) != 0 {
			t.Errorf("archived objective still listed")
		}
	})
}

// TestTeamSender: a team sets its From and Reply-To; header injection and
// bad addresses are refused with the field.
func TestTeamSender(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		e := startEnv(t, dbURL(t))
		admin := e.teamToken("growth", "admin")
		var team map[string]any
		if st, raw := e.api("PATCH", "/api/v1/teams/growth", admin, map[string]string{"mail_from": "Growth team <growth@example.com>", "reply_to": "replies@example.com"}, &team); st != 200 ||
			team["mail_from"] != `"Growth team" <growth@example.com>` || team["reply_to"] != "replies@example.com" {
			t.Fatalf("sender: %d %s", st, raw)
		}
		for _, c := range []struct {
			name  string
			patch map[string]string
			field string
		}{
			{"header injection", map[string]string{"mail_from": "Growth <growth@example.com>\r\nBcc: all@example.com"}, "mail_from"},
			{"not an address", map[string]string{"mail_from": "growth team"}, "mail_from"},
			{"reply-to with a name", map[string]string{"reply_to": "Replies <r@example.com>"}, "reply_to"},
			{"bad time zone", map[string]string{"time_zone": "Mars/Olympus"}, "time_zone"},
		} {
			var ans apiErr
			if st, raw := e.api("PATCH", "/api/v1/teams/growth", admin, c.patch, &ans); st != 422 || ans.Error.Fields[c.field] == "" {
				t.Errorf("%s: %d %s, want 422 naming %s", c.name, st, raw, c.field)
			}
		}
		e.api("GET", "/api/v1/teams/growth", admin, nil, &team)
		if team["mail_from"] != `"Growth team" <growth@example.com>` {
			t.Errorf("a refused change was stored: %v", team)
		}
		if st, _ := e.api("PATCH", "/api/v1/teams/growth", e.teamToken("growth", "editor"), map[string]string{"reply_to": ""}, nil); st != 403 {
			t.Errorf("an editor changed the sender: %d", st)
		}
		// The team's experiments go out From its sender, with its Reply-To.
		editor := e.teamToken("growth", "editor")
		e.api("POST", "/api/v1/teams/growth/contacts", editor, contactsCSV(3, "example.test"), nil)
		exp := e.createAndLaunch(editor, "growth", experimentBody("From the team", 0))
		e.waitDone(editor, exp.ID, 2*time.Minute)
		msgs := e.smtp.messages()
		if len(msgs) == 0 {
			t.Fatal("nothing was sent")
		}
		for _, m := range msgs {
			if from, rt := m.msg.Header.Get("From"), m.msg.Header.Get("Reply-To"); from != `"Growth team" <growth@example.com>` || rt != "<replies@example.com>" {
				t.Errorf("message to %s: From %q, Reply-To %q", m.rcpt, from, rt)
			}
		}
	})
}

// TestAPITokens: tokens are listed (never shown again), revoked, and expire.
func TestAPITokens(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		e := startEnv(t, dbURL(t))
		admin := e.teamToken("growth", "admin")
		out, errs, code := e.cli("token", "create", "--team", "growth", "--role", "viewer", "--name", "dashboard", "--expires", "2d")
		if code != 0 {
			t.Fatalf("token create: %d %s", code, errs)
		}
		short := strings.TrimSpace(out)
		if st, _ := e.api("GET", "/api/v1/teams/growth/contacts", short, nil, nil); st != 200 {
			t.Fatalf("a fresh token answers %d", st)
		}
		out, _, code = e.cli("token", "list", "--team", "growth")
		if code != 0 || !strings.Contains(out, "dashboard") || !strings.Contains(out, "viewer") || strings.Contains(out, short) {
			t.Errorf("token list: %d\n%s", code, out)
		}
		var list struct {
			Tokens []struct {
				ID, Name  string
				ExpiresAt *time.Time `json:"expires_at"`
			}
		}
		if st, raw := e.api("GET", "/api/v1/teams/growth/tokens", admin, nil, &list); st != 200 || len(list.Tokens) != 2 || strings.Contains(string(raw), "slk_") {
			t.Fatalf("tokens: %d %s", st, raw)
		}
		var dash string
		for _, k := range list.Tokens {
			if k.Name == "dashboard" {
				dash = k.ID
				if k.ExpiresAt == nil {
					t.Errorf("the dashboard token has no expiry")
				}
			}
		}
		if st, _ := e.api("GET", "/api/v1/teams/growth/tokens", short, nil, nil); st != 403 {
			t.Errorf("a viewer listed tokens: %d", st)
		}
		// Expired after two days.
		e.clock.advance(49 * time.Hour)
		if st, _ := e.api("GET", "/api/v1/teams/growth/contacts", short, nil, nil); st != 401 {
			t.Errorf("an expired token answers %d, want 401", st)
		}
		e.clock.advance(-49 * time.Hour)
		// Revoked for good.
		if _, errs, code := e.cli("token", "revoke", dash, "--team", "growth"); code != 0 {
			t.Fatalf("token revoke: %d %s", code, errs)
		}
		if st, _ := e.api("GET", "/api/v1/teams/growth/contacts", short, nil, nil); st != 401 {
			t.Errorf("a revoked token answers %d, want 401", st)
		}
		other := e.teamToken("rivals", "admin")
		if st, _ := e.api("DELETE", "/api/v1/teams/rivals/tokens/"+dash, other, nil, nil); st != 404 {
			t.Errorf("another team revoked a token: %d", st)
		}
		for _, bad := range [][]string{{"--expires", "soon"}, {"--expires", "-1d"}, {"--role", "owner"}} {
			args := append([]string{"token", "create", "--team", "growth"}, bad...)
			if _, _, code := e.cli(args...); code != 2 {
				t.Errorf("token create %v: exit %d, want 2", bad, code)
			}
		}
	})
}

// TestSecretsAndFiles: every source of the secret needs 32 characters; the
// data folder, the database and the secret are private; links signed with a
// previous secret keep working until the configured end.
func TestSecretsAndFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := func(kv ...string) func(string) string {
		m := map[string]string{"SLICELAB_DATA_DIR": dir, "SLICELAB_HTTP_ADDR": "127.0.0.1:0", "SLICELAB_LOG_LEVEL": "error"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	runWith := func(getenv func(string) string, args ...string) (string, int) {
		var out, errb strings.Builder
		code := run(t.Context(), args, getenv, strings.NewReader(""), &out, &errb)
		return errb.String(), code
	}
	if errs, code := runWith(env("SLICELAB_SECRET", "short"), "team", "create", "x"); code != 2 || !strings.Contains(errs, "SLICELAB_SECRET") {
		t.Errorf("short SLICELAB_SECRET: %d %s", code, errs)
	}
	for _, content := range []string{"", "abc\n"} {
		writeFile(t, dir+"/secret", content)
		if errs, code := runWith(env(), "team", "create", "x"); code == 0 || !strings.Contains(errs, "needs at least 32") {
			t.Errorf("a secret file of %q: %d %s", content, code, errs)
		}
	}
	if err := os.Remove(dir + "/secret"); err != nil {
		t.Fatal(err)
	}
	if errs, code := runWith(env(), "team", "create", "x"); code != 0 {
		t.Fatalf("team create: %d %s", code, errs)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, dir + "/secret": 0o600, dir + "/slicelab.db": 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v %v, want mode %v", path, fi.Mode().Perm(), err, want)
		}
	}
	if errs, code := runWith(env("SLICELAB_PREVIOUS_SECRETS", strings.Repeat("p", 32)), "team", "create", "y"); code != 2 || !strings.Contains(errs, "SLICELAB_PREVIOUS_SECRETS_UNTIL") {
		t.Errorf("previous secrets without an end: %d %s", code, errs)
	}

	// Rotation: a link minted under the old secret still redirects while
	// the old secret is listed, and not once its time is over.
	oldSecret := "old-secret-0123456789abcdef0123456789"
	e := startEnv(t, dbFile(t), func(v map[string]string) { v["SLICELAB_SECRET"] = oldSecret })
	tok := e.teamToken("growth", "editor")
	e.api("POST", "/api/v1/teams/growth/contacts", tok, contactsCSV(4, "growth.test"), nil)
	exp := e.createAndLaunch(tok, "growth", experimentBody("Rotate", 0))
	e.waitDone(tok, exp.ID, 2*time.Minute)
	link := trackedRE.FindString(parse(t, e.smtp.messages()[0]).html)
	db := e.vars["SLICELAB_DATABASE_URL"]
	e.stop()
	for _, c := range []struct {
		until string
		want  int
	}{{time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339), 302}, {time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), 404}} {
		e2 := startEnv(t, db, func(v map[string]string) {
			v["SLICELAB_SECRET"] = "new-secret-0123456789abcdef0123456789"
			v["SLICELAB_PREVIOUS_SECRETS"] = oldSecret
			v["SLICELAB_PREVIOUS_SECRETS_UNTIL"] = c.until
		})
		path := link[strings.Index(link, "/c/"):]
		if resp := click(t, "GET", e2.base+path, browserUA); resp.StatusCode != c.want {
			t.Errorf("old link with the old secret listed until %s: %d, want %d", c.until, resp.StatusCode, c.want)
		}
		e2.stop()
	}
}
