package main

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/uuid"
	"github.com/riverqueue/river/rivertype"

	"slicelab/experiments"
)

// TestNothingIsSentTwice: a second launch is refused, and a re-run of a send
// job (as after a crash) finds nothing queued and sends nothing.
func TestNothingIsSentTwice(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dbURL func(*testing.T) string) {
		e := startEnv(t, dbURL(t))
		tok := e.teamToken("growth", "editor")
		e.api("POST", "/api/v1/teams/growth/contacts", tok, contactsCSV(30, "example.test"), nil)
		exp := e.createAndLaunch(tok, "growth", experimentBody("Twice", 0))
		done := e.waitDone(tok, exp.ID, 2*time.Minute)
		if done.Progress.Sent != 30 || len(e.smtp.messages()) != 30 {
			t.Fatalf("progress %+v, smtp %d", done.Progress, len(e.smtp.messages()))
		}
		st, raw := e.api("POST", "/api/v1/experiments/"+exp.ID+"/launch", tok, nil, nil)
		if st != http.StatusConflict || !strings.Contains(string(raw), "can be launched") {
			t.Fatalf("second launch: %d %s", st, raw)
		}
		// Re-run every batch's send job.
		id := uuid.MustParse(exp.ID)
		var ids []int64
		for b := 0; b < 3; b++ {
			res, err := e.app.river.Insert(context.Background(), experiments.SendBatchArgs{ExperimentID: id, Batch: b}, nil)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, res.Job.ID)
		}
		for _, jid := range ids {
			waitJob(t, e, jid)
		}
		if n := len(e.smtp.messages()); n != 30 {
			t.Fatalf("after re-running the send jobs the SMTP server holds %d messages, want 30", n)
		}
		var again experimentJSON
		e.api("GET", "/api/v1/experiments/"+exp.ID, tok, nil, &again)
		if again.Progress != done.Progress {
			t.Fatalf("progress changed: %+v then %+v", done.Progress, again.Progress)
		}
	})
}

func waitJob(t *testing.T, e *env, id int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		j, err := e.app.river.JobGet(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State == rivertype.JobStateCompleted {
			return
		}
		if j.State == rivertype.JobStateDiscarded || j.State == rivertype.JobStateCancelled {
			t.Fatalf("job %d ended %s: %v", id, j.State, j.Errors)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("job %d did not complete", id)
}

// TestSMTPErrors: a 5xx fails that delivery (and bounces a missing mailbox)
// while the rest goes on; a 4xx is retried until it is accepted.
func TestSMTPErrors(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dbURL func(*testing.T) string) {
		e := startEnv(t, dbURL(t))
		e.smtp.reject = func(rcpt string, attempt int) error {
			switch {
			case strings.HasPrefix(rcpt, "user3@"):
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}
			case strings.HasPrefix(rcpt, "user4@"):
				return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "message too big"}
			case strings.HasPrefix(rcpt, "user7@") && attempt == 1:
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "greylisted, try again later"}
			}
			return nil
		}
		tok := e.teamToken("growth", "editor")
		e.api("POST", "/api/v1/teams/growth/contacts", tok, contactsCSV(20, "example.test"), nil)
		exp := e.createAndLaunch(tok, "growth", experimentBody("Errors", 0))
		// The greylisted batch waits for River's scheduler (every 5 s) to retry.
		done := e.waitDone(tok, exp.ID, 2*time.Minute)
		if done.Progress.Sent != 18 || done.Progress.Failed != 2 {
			t.Fatalf("progress %+v, want 18 sent and 2 failed", done.Progress)
		}
		got := map[string]bool{}
		for _, m := range e.smtp.messages() {
			got[m.rcpt] = true
		}
		if !got["user7@example.test"] || got["user3@example.test"] || got["user4@example.test"] || len(got) != 18 {
			t.Fatalf("delivered to %v", got)
		}
		type row struct {
			Email     string     `bun:"email"`
			Status    string     `bun:"status"`
			Attempts  int        `bun:"attempts"`
			LastError string     `bun:"last_error"`
			BouncedAt *time.Time `bun:"bounced_at"`
		}
		var rows []row
		if err := e.app.st.db.NewSelect().TableExpr("deliveries AS d").Join("JOIN contacts AS c ON c.id = d.contact_id").
			ColumnExpr("c.email, d.status, d.attempts, d.last_error, c.bounced_at").
			Where("c.email IN (?, ?, ?)", "user3@example.test", "user4@example.test", "user7@example.test").
			Order("c.email").Scan(context.Background(), &rows); err != nil {
			t.Fatal(err)
		}
		if len(rows) != 3 {
			t.Fatalf("rows %+v", rows)
		}
		if r := rows[0]; r.Status != "failed" || !strings.Contains(r.LastError, "550") || r.BouncedAt == nil || r.Attempts != 1 {
			t.Errorf("550 5.1.1: %+v", r)
		}
		if r := rows[1]; r.Status != "failed" || !strings.Contains(r.LastError, "552") || r.BouncedAt != nil {
			t.Errorf("552: %+v", r)
		}
		if r := rows[2]; r.Status != "sent" || r.Attempts != 2 {
			t.Errorf("451 then accepted: %+v", r)
		}
	})
}

// TestNotFound: tampered and unknown tokens and other teams' resources are 404, and nothing is recorded.
func TestNotFound(t *testing.T) {
	t.Parallel()
	e := startEnv(t, dbFile(t))
	tok := e.teamToken("growth", "editor")
	other := e.teamToken("rivals", "admin")
	e.api("POST", "/api/v1/teams/growth/contacts", tok, contactsCSV(5, "example.test"), nil)
	exp := e.createAndLaunch(tok, "growth", experimentBody("Private", 0))
	e.waitDone(tok, exp.ID, 2*time.Minute)
	link := trackedRE.FindString(parse(t, e.smtp.messages()[0]).html)
	token := link[strings.LastIndex(link, "/")+1:]

	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	bad := []string{
		flip(token, 0), flip(token, len(token)/2), flip(token, len(token)-1),
		token[:len(token)-3] + "AAA", token[:len(token)-1], token + "A", "x", uuid.NewString(),
		strings.Repeat("A", len(token)),
	}
	for _, b := range bad {
		for _, m := range []string{"GET", "HEAD"} {
			if resp := click(t, m, e.base+"/c/"+b, browserUA); resp.StatusCode != 404 || resp.Header.Get("Location") != "" {
				t.Errorf("%s /c/%s answered %d (location %q)", m, b, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
	}
	if resp := click(t, "GET", e.base+"/c/"+url.PathEscape("../../etc"), browserUA); resp.StatusCode != 404 {
		t.Errorf("path games answered %d", resp.StatusCode)
	}
	var res resultsJSON
	e.api("GET", "/api/v1/experiments/"+exp.ID+"/results", tok, nil, &res)
	for _, v := range res.Variants {
		if v.Clicks+v.AutomatedClicks != 0 {
			t.Fatalf("bad tokens were recorded: %+v", v)
		}
	}

	for _, c := range []struct{ method, path string }{
		{"GET", "/api/v1/experiments/" + exp.ID},
		{"GET", "/api/v1/experiments/" + exp.ID + "/results"},
		{"POST", "/api/v1/experiments/" + exp.ID + "/launch"},
		{"GET", "/api/v1/teams/growth/contacts"},
		{"POST", "/api/v1/teams/growth/experiments"},
		{"GET", "/api/v1/experiments/" + uuid.NewString()},
		{"GET", "/api/v1/experiments/not-a-uuid"},
	} {
		var body any
		if c.method == "POST" && strings.HasSuffix(c.path, "experiments") {
			body = experimentBody("Sneaky", 0)
		}
		if st, raw := e.api(c.method, c.path, other, body, nil); st != 404 || !strings.Contains(string(raw), `"not_found"`) {
			t.Errorf("another team's %s %s answered %d %s", c.method, c.path, st, raw)
		}
	}
	if st, _ := e.api("GET", "/api/v1/experiments/"+exp.ID, "", nil, nil); st != 401 {
		t.Errorf("no token: %d", st)
	}
	if st, _ := e.api("GET", "/api/v1/experiments/"+exp.ID, "slk_nope", nil, nil); st != 401 {
		t.Errorf("unknown token: %d", st)
	}
	viewer := e.teamToken("growth", "viewer")
	if st, _ := e.api("GET", "/api/v1/experiments/"+exp.ID, viewer, nil, nil); st != 200 {
		t.Errorf("viewer read: %d", st)
	}
	if st, _ := e.api("POST", "/api/v1/teams/growth/experiments", viewer, experimentBody("V", 0), nil); st != 403 {
		t.Errorf("viewer create: %d", st)
	}
}

func dbFile(t *testing.T) string { return t.TempDir() + "/slicelab.db" }

// TestUnsubscribe: GET shows a form and changes nothing; the RFC 8058 POST
// unsubscribes without cookies; the contact is suppressed next time.
func TestUnsubscribe(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dbURL func(*testing.T) string) {
		e := startEnv(t, dbURL(t))
		tok := e.teamToken("growth", "editor")
		e.api("POST", "/api/v1/teams/growth/contacts", tok, contactsCSV(10, "example.test"), nil)
		exp := e.createAndLaunch(tok, "growth", experimentBody("First", 0))
		e.waitDone(tok, exp.ID, 2*time.Minute)
		m := parse(t, e.smtp.messages()[0])
		unsub := strings.Trim(m.unsub, "<>")

		for i := 0; i < 3; i++ { // scanners follow links; GET must not unsubscribe
			req, _ := http.NewRequest("GET", unsub, nil)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(resp)
			if resp.StatusCode != 200 || !strings.Contains(body, "<form") || !strings.Contains(body, m.rcpt) {
				t.Fatalf("GET /u/: %d %s", resp.StatusCode, body)
			}
		}
		if unsubscribed(t, e, m.rcpt) {
			t.Fatal("a GET unsubscribed the contact")
		}
		if resp := click(t, "POST", unsub[:len(unsub)-2]+"zz", ""); resp.StatusCode != 404 {
			t.Fatalf("POST with a tampered token: %d", resp.StatusCode)
		}
		req, _ := http.NewRequest("POST", unsub, strings.NewReader("List-Unsubscribe=One-Click"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if body := readAll(resp); resp.StatusCode != 200 || !strings.Contains(body, "unsubscribed") {
			t.Fatalf("one-click POST: %d %s", resp.StatusCode, body)
		}
		if !unsubscribed(t, e, m.rcpt) {
			t.Fatal("the POST did not unsubscribe")
		}

		before := len(e.smtp.messages())
		exp2 := e.createAndLaunch(tok, "growth", experimentBody("Second", 0))
		done := e.waitDone(tok, exp2.ID, 2*time.Minute)
		if done.Progress.Suppressed != 1 || done.Progress.Sent != 9 || done.Progress.Total != 10 {
			t.Fatalf("second experiment progress %+v", done.Progress)
		}
		for _, r := range e.smtp.messages()[before:] {
			if r.rcpt == m.rcpt {
				t.Fatal("an unsubscribed contact was sent to")
			}
		}
	})
}

func unsubscribed(t *testing.T, e *env, email string) bool {
	t.Helper()
	n, err := e.app.st.db.NewSelect().Table("contacts").Where("email = ?", email).Where("unsubscribed_at IS NOT NULL").Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

// TestBadInput: bad CSV rows and bad experiment definitions get row- and
// field-level errors and store nothing.
func TestBadInput(t *testing.T) {
	t.Parallel()
	e := startEnv(t, dbFile(t))
	tok := e.teamToken("growth", "editor")
	type importAnswer struct {
		Imported, Skipped int
		Errors            []experiments.RowError
		Error             struct{ Code, Message string }
	}
	csvCases := []struct {
		name, body string
		want       []experiments.RowError // row and field; message checked for a word
	}{
		{"no email column", "name,tags\nAda,x\n", []experiments.RowError{{Row: 1, Field: "email", Message: "missing column"}}},
		{"bad rows", "email,name\nok@example.test,Ok\nnot-an-address,Bad\nOK@example.test,Dup\n,Empty\nx@example.test,\"Two\nLines\"\n",
			[]experiments.RowError{{Row: 3, Field: "email", Message: "not a valid"}, {Row: 4, Field: "email", Message: "duplicate of row 2"},
				{Row: 5, Field: "email", Message: "required"}, {Row: 6, Field: "name", Message: "line break"}}},
		{"field count", "email,name\na@example.test,A,extra\n", []experiments.RowError{{Row: 2, Field: "", Message: "number of fields"}}},
		{"bad utf-8", "email,name\nb@example.test,\xff\xfe\n", []experiments.RowError{{Row: 2, Field: "name", Message: "UTF-8"}}},
	}
	for _, c := range csvCases {
		var ans importAnswer
		st, raw := e.api("POST", "/api/v1/teams/growth/contacts", tok, csvBody(c.body), &ans)
		if st != 422 || ans.Imported != 0 || ans.Error.Code != "invalid_rows" || len(ans.Errors) != len(c.want) {
			t.Errorf("%s: %d %s", c.name, st, raw)
			continue
		}
		for i, w := range c.want {
			g := ans.Errors[i]
			if g.Row != w.Row || g.Field != w.Field || !strings.Contains(g.Message, w.Message) {
				t.Errorf("%s: error %d is %+v, want %+v", c.name, i, g, w)
			}
		}
	}
	if st, raw := e.api("POST", "/api/v1/teams/growth/contacts", tok, `[{"email":"a@example.test"},{"email":"bad"}]`, nil); st != 422 || !strings.Contains(string(raw), `"row":2`) {
		t.Errorf("JSON import: %d %s", st, raw)
	}
	if st, raw := e.api("POST", "/api/v1/teams/growth/contacts", tok, `{"email":"a@example.test"}`, nil); st != 422 || !strings.Contains(string(raw), `"body"`) {
		t.Errorf("JSON object: %d %s", st, raw)
	}
	var page struct{ Contacts []any }
	e.api("GET", "/api/v1/teams/growth/contacts", tok, nil, &page)
	if len(page.Contacts) != 0 {
		t.Fatalf("refused imports stored %d contacts", len(page.Contacts))
	}

	mutate := func(f func(b map[string]any, vs []map[string]any)) map[string]any {
		b := experimentBody("Bad", 0.1)
		f(b, b["variants"].([]map[string]any))
		return b
	}
	expCases := []struct {
		name  string
		body  any
		field string
	}{
		{"no name", mutate(func(b map[string]any, _ []map[string]any) { b["name"] = " " }), "name"},
		{"holdout 1", mutate(func(b map[string]any, _ []map[string]any) { b["holdout"] = 1 }), "holdout"},
		{"negative holdout", mutate(func(b map[string]any, _ []map[string]any) { b["holdout"] = -0.2 }), "holdout"},
		{"no variants", mutate(func(b map[string]any, _ []map[string]any) { b["variants"] = []any{} }), "variants"},
		{"two controls", mutate(func(_ map[string]any, vs []map[string]any) { vs[1]["control"] = true }), "variants"},
		{"no control", mutate(func(_ map[string]any, vs []map[string]any) { vs[0]["control"] = false }), "variants"},
		{"negative weight", mutate(func(_ map[string]any, vs []map[string]any) { vs[1]["weight"] = -1 }), "variants[1].weight"},
		{"zero weights", mutate(func(_ map[string]any, vs []map[string]any) { vs[0]["weight"] = 0; vs[1]["weight"] = 0 }), "variants[0].weight"},
		{"same names", mutate(func(_ map[string]any, vs []map[string]any) { vs[1]["name"] = "control" }), "variants[1].name"},
		{"template syntax", mutate(func(_ map[string]any, vs []map[string]any) { vs[0]["html"] = "<p>{{.Contact.Name</p>" }), "variants[0].html"},
		{"unknown field", mutate(func(_ map[string]any, vs []map[string]any) { vs[1]["text"] = "Hi {{.Contact.Phone}}" }), "variants[1].text"},
		{"bad url", mutate(func(_ map[string]any, vs []map[string]any) { vs[0]["html"] = `<a href="https://exa mple.com/">x</a>` }), "variants[0].html"},
		{"no host", mutate(func(_ map[string]any, vs []map[string]any) { vs[1]["html"] = `<a href="http://">x</a>` }), "variants[1].html"},
		{"subject injection", mutate(func(_ map[string]any, vs []map[string]any) { vs[0]["subject"] = "Hi\r\nBcc: all@example.com" }), "variants[0].subject"},
		{"no text", mutate(func(_ map[string]any, vs []map[string]any) { vs[0]["text"] = "" }), "variants[0].text"},
		{"not json", "{", "body"},
	}
	for _, c := range expCases {
		var ans struct {
			Error struct {
				Code   string
				Fields map[string]string
			}
		}
		st, raw := e.api("POST", "/api/v1/teams/growth/experiments", tok, c.body, &ans)
		if st != 422 || ans.Error.Code != "invalid" || ans.Error.Fields[c.field] == "" {
			t.Errorf("%s: %d %s, want 422 with field %s", c.name, st, raw, c.field)
		}
	}
	var list struct{ Experiments []any }
	e.api("GET", "/api/v1/teams/growth/experiments", tok, nil, &list)
	if len(list.Experiments) != 0 {
		t.Fatalf("refused experiments stored %d", len(list.Experiments))
	}
	if st, _ := e.api("POST", "/api/v1/teams/growth/contacts", tok, "x", nil); st != 422 {
		t.Errorf("garbage JSON import: %d", st)
	}
}

// TestCLI covers the commands of product.md §13 and their errors.
func TestCLI(t *testing.T) {
	t.Parallel()
	e := startEnv(t, dbFile(t))
	if _, errs, code := e.cli("team", "create", "Bad Slug"); code == 0 || !strings.Contains(errs, "slug") {
		t.Errorf("bad slug: %d %s", code, errs)
	}
	if _, _, code := e.cli("team", "create", "ops", "--name", "Ops"); code != 0 {
		t.Fatal("team create failed")
	}
	if _, errs, code := e.cli("team", "create", "ops"); code == 0 || !strings.Contains(errs, "already exists") {
		t.Errorf("duplicate team: %d %s", code, errs)
	}
	if _, errs, code := e.cli("token", "create", "--team", "ops", "--role", "owner"); code == 0 || !strings.Contains(errs, "role") {
		t.Errorf("bad role: %d %s", code, errs)
	}
	if _, errs, code := e.cli("token", "create", "--team", "nobody", "--role", "admin"); code == 0 || !strings.Contains(errs, "not found") {
		t.Errorf("unknown team: %d %s", code, errs)
	}
	csv := t.TempDir() + "/c.csv"
	writeFile(t, csv, string(contactsCSV(25, "ops.test")))
	out, errs, code := e.cli("contacts", "import", csv, "--team", "ops")
	if code != 0 || !strings.Contains(out, "imported 25") {
		t.Fatalf("contacts import: %d %s %s", code, out, errs)
	}
	writeFile(t, csv, "email\nnope\nfine@ops.test\n")
	if _, errs, code := e.cli("contacts", "import", csv, "--team", "ops"); code == 0 || !strings.Contains(errs, "row 2: email") {
		t.Errorf("bad csv: %d %s", code, errs)
	}
	if out, errs, code := e.cli("migrate", "status"); code != 0 || !strings.Contains(out, "applied") || !strings.Contains(out, "River") {
		t.Errorf("migrate status: %d %s %s", code, out, errs)
	}
	if _, errs, code := e.cli("frobnicate"); code != 2 || !strings.Contains(errs, "unknown command") {
		t.Errorf("unknown command: %d %s", code, errs)
	}
	// Every command has its own help, without configuration or a database;
	// a group name lists its commands.
	for _, c := range commands {
		args := append(strings.Fields(c.name), "--help")
		out, errs, code := runCLI(args...)
		if code != 0 || !strings.Contains(out, "Usage: slicelab "+c.name) || errs != "" {
			t.Errorf("%s: %d %q %q", strings.Join(args, " "), code, out, errs)
		}
	}
	if out, _, code := runCLI("team", "create", "--help"); code != 0 || !strings.Contains(out, "-name") {
		t.Errorf("team create --help: %d %s", code, out)
	}
	if out, _, code := runCLI("stats", "--help"); code != 0 || !strings.Contains(out, "stats compare") || !strings.Contains(out, "stats plan") {
		t.Errorf("stats --help: %d %s", code, out)
	}
	if out, _, code := runCLI("team"); code != 2 || !strings.Contains(out, "team create") {
		t.Errorf("team without a command: %d %s", code, out)
	}
	if _, errs, code := runCLI("team", "create"); code != 2 || !strings.Contains(errs, "takes one argument") || !strings.Contains(errs, "Usage: slicelab team create") {
		t.Errorf("team create without a slug: %d %s", code, errs)
	}
	if _, errs, code := runCLI("stats", "plan", "--baseline", "x"); code != 2 || !strings.Contains(errs, "--baseline") {
		t.Errorf("stats plan with a bad flag: %d %s", code, errs)
	}
	if out, _, code := runCLI("help"); code != 0 || !strings.Contains(out, "SLICELAB_DATABASE_URL") || !strings.Contains(out, "user create") {
		t.Errorf("help: %d %s", code, out)
	}
	var out2, errb strings.Builder
	code = run(context.Background(), []string{"serve"}, func(k string) string {
		return map[string]string{"SLICELAB_SEND_RATE": "fast", "SLICELAB_SMTP_URL": "http://x", "SLICELAB_BOT_WINDOW": "soon",
			"SLICELAB_CLICK_FSYNC": "sometimes", "SLICELAB_PPROF_ADDR": "6060"}[k]
	}, strings.NewReader(""), &out2, &errb)
	for _, w := range []string{"SLICELAB_SEND_RATE", "SLICELAB_SMTP_URL", "SLICELAB_BOT_WINDOW", "SLICELAB_CLICK_FSYNC", "SLICELAB_PPROF_ADDR"} {
		if code != 2 || !strings.Contains(errb.String(), w) {
			t.Errorf("bad configuration should name %s: %d %s", w, code, errb.String())
		}
	}
}

// runCLI runs a command with an empty environment.
func runCLI(args ...string) (string, string, int) {
	var out, errb strings.Builder
	code := run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
