package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"slicelab/experiments"
	"slicelab/tracking"
)

// The web UI's access rules over HTTP (no browser): cookies, CSRF, roles,
// the sign-in limit and the first admin's link; and the domain reads the
// pages stand on.

// webClient is a browser-like client: a cookie jar, no redirects followed.
type webClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newWebClient(t *testing.T, base string) *webClient {
	jar, _ := cookiejar.New(nil)
	return &webClient{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 2 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfRE = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func (w *webClient) get(path string) (*http.Response, string) {
	w.t.Helper()
	resp, err := w.c.Get(w.base + path)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// token reads the CSRF token of a page's forms.
func (w *webClient) token(path string) string {
	w.t.Helper()
	_, body := w.get(path)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		w.t.Fatalf("%s has no form with a CSRF token", path)
	}
	return m[1]
}

func (w *webClient) post(path string, form url.Values, hdr ...string) (*http.Response, string) {
	w.t.Helper()
	req, _ := http.NewRequest("POST", w.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := w.c.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (w *webClient) signIn(email, password string) *http.Response {
	w.t.Helper()
	tok := w.token("/signin")
	resp, _ := w.post("/signin", url.Values{"_csrf": {tok}, "email": {email}, "password": {password}})
	return resp
}

// member creates a team member who can sign in.
func (e *env) member(team, email, role string) {
	e.t.Helper()
	e.cli("team", "create", team, "--name", strings.ToUpper(team))
	var out, errb strings.Builder
	code := run(context.Background(), []string{"user", "create", email, "--team", team, "--role", role, "--password-stdin"},
		e.getenv, strings.NewReader("correct horse battery\n"), &out, &errb)
	if code != 0 {
		e.t.Fatalf("user create: %d %s", code, errb.String())
	}
}

func TestWebAccess(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		e := startEnv(t, dbURL(t), func(v map[string]string) { v["SLICELAB_BASE_URL"] = "https://slicelab.example" })
		base := "http://" + e.vars["SLICELAB_HTTP_ADDR"]
		tok := e.teamToken("growth", "editor")
		e.member("growth", "ed@example.com", "editor")
		e.member("growth", "vi@example.com", "viewer")
		exp := e.createAndLaunch(tok, "growth", experimentBody("launched", 0))
		var draft experimentJSON
		if st, raw := e.api("POST", "/api/v1/teams/growth/experiments", tok, experimentBody("draft", 0), &draft); st != 201 {
			t.Fatalf("create: %d %s", st, raw)
		}

		// Pages need a session: a GET goes to the sign-in page, a POST is refused.
		anon := newWebClient(t, base)
		if resp, _ := anon.get("/experiments"); resp.StatusCode != 303 || !strings.HasPrefix(resp.Header.Get("Location"), "/signin?next=") {
			t.Fatalf("anonymous GET: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}

		// The session cookie: HttpOnly, SameSite=Lax, Secure behind https.
		ed := newWebClient(t, base)
		resp := ed.signIn("ED@example.com ", "correct horse battery")
		if resp.StatusCode != 303 {
			t.Fatalf("sign in: %d", resp.StatusCode)
		}
		var session *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "slicelab_session" {
				session = c
			}
		}
		if session == nil || !session.HttpOnly || !session.Secure || session.SameSite != http.SameSiteLaxMode {
			t.Fatalf("session cookie %+v: want HttpOnly, Secure (https base URL) and SameSite=Lax", session)
		}
		// The jar keeps Secure cookies for https only; hand it over for this plain-http test listener.
		u, _ := url.Parse(base)
		session.Secure = false
		ed.c.Jar.SetCookies(u, []*http.Cookie{session})
		for _, c := range resp.Cookies() {
			if c.Name != "slicelab_session" {
				c.Secure = false
				ed.c.Jar.SetCookies(u, []*http.Cookie{c})
			}
		}
		if r, body := ed.get("/experiments"); r.StatusCode != 200 || !strings.Contains(body, "draft") {
			t.Fatalf("signed-in list: %d", r.StatusCode)
		}

		// CSRF: no token, a wrong token, a cross-site post: all refused; nothing changes.
		for _, c := range []struct {
			name string
			form url.Values
			hdr  []string
		}{
			{"no token", url.Values{}, nil},
			{"wrong token", url.Values{"_csrf": {"not-the-token"}}, nil},
			{"same-origin header alone", url.Values{}, []string{"Sec-Fetch-Site", "same-origin"}},
			{"cross-site", url.Values{"_csrf": {ed.token("/experiments")}}, []string{"Sec-Fetch-Site", "cross-site"}},
		} {
			if r, _ := ed.post("/experiments/"+draft.ID+"/delete", c.form, c.hdr...); r.StatusCode != 403 {
				t.Errorf("%s: delete answered %d, want 403", c.name, r.StatusCode)
			}
		}
		if st, _ := e.api("GET", "/api/v1/experiments/"+draft.ID, tok, nil, nil); st != 200 {
			t.Fatalf("the draft is gone after refused posts: %d", st)
		}

		// A viewer: no launch button, and a launch post with a good token is refused.
		vi := newWebClient(t, base)
		vr := vi.signIn("vi@example.com", "correct horse battery")
		for _, c := range vr.Cookies() {
			c.Secure = false
			vi.c.Jar.SetCookies(u, []*http.Cookie{c})
		}
		if _, body := vi.get("/experiments/" + draft.ID); strings.Contains(body, "/launch") || strings.Contains(body, "/delete") {
			t.Fatal("a viewer's page links to launch or delete")
		}
		vtok := vi.token("/experiments/" + draft.ID)
		for _, path := range []string{"/launch", "/delete", "/pause", "/cancel"} {
			if r, body := vi.post("/experiments/"+draft.ID+path, url.Values{"_csrf": {vtok}}); r.StatusCode != 403 || !strings.Contains(body, "viewer") {
				t.Errorf("viewer POST %s: %d", path, r.StatusCode)
			}
		}
		if r, _ := vi.post("/contacts", url.Values{"_csrf": {vtok}}); r.StatusCode != 403 {
			t.Errorf("viewer import: %d", r.StatusCode)
		}
		var d experimentJSON
		e.api("GET", "/api/v1/experiments/"+draft.ID, tok, nil, &d)
		if d.Status != "draft" {
			t.Fatalf("after a viewer's posts the draft is %s", d.Status)
		}
		// ... but answers the allocation survey for themself.
		if r, _ := vi.get("/allocation"); r.StatusCode != 200 {
			t.Fatalf("viewer survey: %d", r.StatusCode)
		}

		// Another team's experiment does not exist for this session.
		other := e.teamToken("other", "editor")
		var theirs experimentJSON
		e.api("POST", "/api/v1/teams/other/experiments", other, experimentBody("theirs", 0), &theirs)
		if r, _ := ed.get("/experiments/" + theirs.ID); r.StatusCode != 404 {
			t.Fatalf("another team's experiment: %d, want 404", r.StatusCode)
		}

		// The team switcher: a member of two teams looks at one at a time, with
		// the role they have there.
		if _, _, code := e.cli("user", "create", "ed@example.com", "--team", "other", "--role", "viewer"); code != 0 {
			t.Fatal("user create in a second team")
		}
		if _, body := ed.get("/"); !strings.Contains(body, `name="team"`) || !strings.Contains(body, "OTHER") {
			t.Fatal("no team switcher for a member of two teams")
		}
		stok := ed.token("/")
		if r, _ := ed.post("/team/switch", url.Values{"_csrf": {stok}, "team": {"other"}}); r.StatusCode != 303 {
			t.Fatalf("switch: %d", r.StatusCode)
		}
		if r, _ := ed.get("/experiments/" + theirs.ID); r.StatusCode != 200 {
			t.Fatalf("after switching, the other team's experiment: %d", r.StatusCode)
		}
		if r, _ := ed.post("/experiments/"+theirs.ID+"/delete", url.Values{"_csrf": {stok}}); r.StatusCode != 403 {
			t.Fatalf("a viewer of the other team deleting there: %d, want 403", r.StatusCode)
		}
		if r, _ := ed.post("/team/switch", url.Values{"_csrf": {stok}, "team": {"nobodys"}}); r.StatusCode != 404 {
			t.Fatalf("switching to a team one is not in: %d, want 404", r.StatusCode)
		}
		ed.post("/team/switch", url.Values{"_csrf": {stok}, "team": {"growth"}})

		// A launched experiment can no longer be changed or deleted.
		etok := ed.token("/experiments")
		if r, _ := ed.post("/experiments/"+exp.ID+"/delete", url.Values{"_csrf": {etok}}); r.StatusCode != 409 {
			t.Fatalf("deleting a launched experiment: %d, want 409", r.StatusCode)
		}

		// Wrong passwords: five answered 401, then 429 with Retry-After; a right
		// password is refused while the address waits.
		bad := newWebClient(t, base)
		for i := 1; i <= 6; i++ {
			r := bad.signIn("ed@example.com", "wrong password!")
			want := 401
			if i == 6 {
				want = 429
			}
			if r.StatusCode != want {
				t.Fatalf("wrong password %d: %d, want %d", i, r.StatusCode, want)
			}
			if i == 6 && r.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		}
		if r := bad.signIn("ed@example.com", "correct horse battery"); r.StatusCode != 429 {
			t.Fatalf("a right password while slowed down: %d, want 429", r.StatusCode)
		}

		// Signing out ends the session for good.
		otok := ed.token("/experiments")
		ed.post("/signout", url.Values{"_csrf": {otok}})
		ed.c.Jar.SetCookies(u, []*http.Cookie{{Name: "slicelab_session", Value: session.Value, Path: "/"}})
		if r, _ := ed.get("/experiments"); r.StatusCode != 303 {
			t.Fatalf("the old session cookie after sign-out: %d, want a redirect to sign in", r.StatusCode)
		}
	})
}

func TestFirstAdminLink(t *testing.T) {
	t.Parallel()
	e := startEnv(t, t.TempDir()+"/slicelab.db")
	// startEnv's server logged the link; the token is only in the handler, so
	// ask the app for one the same way serve does.
	tok, err := e.app.setupToken(context.Background())
	if err != nil || tok == "" {
		t.Fatalf("no set-up token on an empty database: %q %v", tok, err)
	}
	// The running server has its own token; a wrong one is not found.
	w := newWebClient(t, e.base)
	if r, _ := w.get("/setup/" + tok); r.StatusCode != 404 {
		t.Fatalf("a token the server did not make: %d, want 404", r.StatusCode)
	}
	// The domain refuses bad input and writes nothing.
	ctx := context.Background()
	_, _, err = e.app.exps.SetupFirstAdmin(ctx, experiments.FirstAdminInput{TeamSlug: "Bad Slug", Email: "nope", Password: "short"})
	var ve *experiments.ValidationError
	if !errors.As(err, &ve) || ve.Fields["team_slug"] == "" || ve.Fields["email"] == "" || ve.Fields["password"] == "" {
		t.Fatalf("bad set-up: %v", err)
	}
	if teams, _ := e.app.exps.Teams(ctx); len(teams) != 0 {
		t.Fatalf("a refused set-up created %d teams", len(teams))
	}
	if _, _, err := e.app.exps.SetupFirstAdmin(ctx, experiments.FirstAdminInput{TeamSlug: "growth", TeamName: "Growth", Email: "me@example.com", Password: "long enough password"}); err != nil {
		t.Fatal(err)
	}
	var ce *experiments.ConflictError
	if _, _, err := e.app.exps.SetupFirstAdmin(ctx, experiments.FirstAdminInput{TeamSlug: "second", Email: "x@example.com", Password: "long enough password"}); !errors.As(err, &ce) {
		t.Fatalf("a second set-up: %v, want a conflict", err)
	}
	if tok, _ := e.app.setupToken(ctx); tok != "" {
		t.Fatal("a set-up link once someone can sign in")
	}
	if r := w.signIn("me@example.com", "long enough password"); r.StatusCode != 303 {
		t.Fatalf("the first admin cannot sign in: %d", r.StatusCode)
	}
}

// LaunchPlan counts exactly what Launch then does: arms, holdout, the
// cool-down, unsubscribed and bounced contacts.
func TestLaunchPlanMatchesLaunch(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		e := startEnv(t, dbURL(t), func(v map[string]string) { v["SLICELAB_CONTACT_COOLDOWN"] = "24h" })
		ctx := context.Background()
		tok := e.teamToken("growth", "editor")
		e.api("POST", "/api/v1/teams/growth/contacts", tok, contactsCSV(300, "example.com"), nil)
		team, _ := e.app.exps.TeamBySlug(ctx, "growth")
		// A first experiment emails some contacts (the cool-down) ...
		first := experimentBody("first", 0)
		first["audience"] = map[string]any{"tags": []string{"beta"}}
		e.api("POST", "/api/v1/teams/growth/contacts", tok, csvBody("email,name,tags\nsoon1@example.com,S1,early\nsoon2@example.com,S2,early\n"), nil)
		first["audience"] = map[string]any{"tags": []string{"early"}}
		f := e.createAndLaunch(tok, "growth", first)
		e.waitDone(tok, f.ID, 2*time.Minute)
		// ... and one of them unsubscribes.
		msgs := e.smtp.messages()
		unsub := regexp.MustCompile(`/u/[A-Za-z0-9_-]+`).FindString(msgs[0].msg.Header.Get("List-Unsubscribe"))
		if st, _ := e.api("POST", unsub, "", "List-Unsubscribe=One-Click", nil); st != 200 {
			t.Fatalf("unsubscribe: %d", st)
		}
		var second experimentJSON
		body := experimentBody("second", 0.15)
		e.api("POST", "/api/v1/teams/growth/experiments", tok, body, &second)
		id := uuid.MustParse(second.ID)
		plan, err := e.app.exps.LaunchPlan(ctx, team.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		// What the plan must say of the two early contacts, each either held
		// out (assignment comes first) or skipped for its reason.
		soon, _ := e.app.exps.SearchContacts(ctx, team.ID, "soon", "", 10)
		wantUnsub, wantCool := 0, 0
		for _, c := range soon.Contacts {
			if experiments.Assign(id, c.ID, 0.15, []float64{1, 1}) < 0 {
				continue
			}
			if strings.EqualFold(c.Email, msgs[0].rcpt) {
				wantUnsub++
			} else {
				wantCool++
			}
		}
		if plan.Audience != 302 || plan.Unsub != wantUnsub || plan.Cooldown != wantCool || plan.HeldOut == 0 {
			t.Fatalf("plan %+v: want 302 contacts, %d unsubscribed, %d in the cool-down, some held out", plan, wantUnsub, wantCool)
		}
		if _, err := e.app.exps.Launch(ctx, team.ID, id, nil); err != nil {
			t.Fatal(err)
		}
		p := e.waitAssigned(team.ID, id).Progress
		if p.HeldOut != plan.HeldOut || p.Suppressed != plan.Unsub+plan.Cooldown+plan.Bounced || p.Queued+p.Sending+p.Sent != plan.Send {
			t.Fatalf("launch did %+v, the plan said %+v", p, plan)
		}
		r, _ := e.app.exps.Results(ctx, team.ID, id)
		for i, v := range r.Variants {
			if v.Assigned-v.Suppressed != plan.Variants[i].Send {
				t.Errorf("variant %s: %d assigned and sent to, the plan said %d", v.Name, v.Assigned-v.Suppressed, plan.Variants[i].Send)
			}
		}
		var ce *experiments.ConflictError
		if _, err := e.app.exps.LaunchPlan(ctx, team.ID, id); !errors.As(err, &ce) {
			t.Fatalf("a plan for a launched experiment: %v, want a conflict", err)
		}
		if _, err := e.app.exps.LaunchPlan(ctx, uuid.New(), id); !errors.Is(err, experiments.ErrNotFound) {
			t.Fatalf("another team's plan: %v", err)
		}
	})
}

func TestDraftsAndContactSearch(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		e := startEnv(t, dbURL(t))
		ctx := context.Background()
		tok := e.teamToken("growth", "editor")
		e.api("POST", "/api/v1/teams/growth/contacts", tok, contactsCSV(25, "example.com"), nil)
		team, _ := e.app.exps.TeamBySlug(ctx, "growth")
		var d experimentJSON
		e.api("POST", "/api/v1/teams/growth/experiments", tok, experimentBody("draft", 0.1), &d)
		id := uuid.MustParse(d.ID)

		// A bad update changes nothing and names the fields.
		bad := experiments.CreateInput{Name: " ", Variants: []experiments.VariantInput{{Name: "A", Control: true, Subject: "s", HTML: "{{.Contact.Nmae}}", Text: "t"}}}
		_, err := e.app.exps.UpdateDraft(ctx, team.ID, id, bad)
		var ve *experiments.ValidationError
		if !errors.As(err, &ve) || ve.Fields["name"] == "" || ve.Fields["variants[0].html"] == "" {
			t.Fatalf("bad update: %v", err)
		}
		before, _ := e.app.exps.Get(ctx, team.ID, id)
		if before.Name != "draft" || len(before.Variants) != 2 {
			t.Fatalf("a refused update changed the draft: %+v", before)
		}
		// A good one replaces the variants and their links.
		good := experiments.CreateInput{Name: "renamed", Holdout: 0.2, Audience: experiments.Audience{Tags: []string{"beta"}},
			Variants: []experiments.VariantInput{{Name: "only", Control: true, Subject: "Hi", HTML: `<a href="https://example.com/new">new</a>`, Text: "https://example.com/new"}}}
		after, err := e.app.exps.UpdateDraft(ctx, team.ID, id, good)
		if err != nil {
			t.Fatal(err)
		}
		if after.Name != "renamed" || after.Holdout != 0.2 || len(after.Variants) != 1 || fmt.Sprint(after.Variants[0].Links) != "[https://example.com/new]" ||
			fmt.Sprint(after.Tags) != "[beta]" {
			t.Fatalf("updated draft %+v links %v", after, after.Variants[0].Links)
		}
		if p, err := e.app.exps.Preview(ctx, team.ID, id, "only", ""); err != nil || !strings.Contains(p.HTML, "https://example.com/new") {
			t.Fatalf("preview after update: %v", err)
		}
		// Launched experiments are read-only; unknown ones are not found.
		var ce *experiments.ConflictError
		l := e.createAndLaunch(tok, "growth", experimentBody("launched", 0))
		if _, err := e.app.exps.UpdateDraft(ctx, team.ID, uuid.MustParse(l.ID), good); !errors.As(err, &ce) {
			t.Fatalf("update of a launched experiment: %v", err)
		}
		if err := e.app.exps.DeleteDraft(ctx, team.ID, uuid.MustParse(l.ID)); !errors.As(err, &ce) || !strings.Contains(ce.Reason, "read-only") {
			t.Fatalf("delete of a launched experiment: %v", err)
		}
		if err := e.app.exps.DeleteDraft(ctx, team.ID, uuid.New()); !errors.Is(err, experiments.ErrNotFound) {
			t.Fatalf("delete of an unknown experiment: %v", err)
		}
		if err := e.app.exps.DeleteDraft(ctx, team.ID, id); err != nil {
			t.Fatal(err)
		}
		if _, err := e.app.exps.Get(ctx, team.ID, id); !errors.Is(err, experiments.ErrNotFound) {
			t.Fatalf("the deleted draft: %v", err)
		}

		// Contact search: by address or name, case-insensitive, keyset pages, counts.
		res, err := e.app.exps.SearchContacts(ctx, team.ID, "USER1", "", 5)
		if err != nil {
			t.Fatal(err)
		}
		if res.Matches != 11 || len(res.Contacts) != 5 || res.Next == "" { // user1, user10..user19
			t.Fatalf("search: %d matches, %d on the page, next %q", res.Matches, len(res.Contacts), res.Next)
		}
		seen := map[string]bool{}
		for after := ""; ; {
			p, err := e.app.exps.SearchContacts(ctx, team.ID, "user1", after, 5)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range p.Contacts {
				seen[c.Email] = true
			}
			if p.Next == "" {
				break
			}
			after = p.Next
		}
		if len(seen) != 11 {
			t.Fatalf("paging saw %d contacts, want 11", len(seen))
		}
		if r, _ := e.app.exps.SearchContacts(ctx, team.ID, "50%_", "", 5); r.Matches != 0 {
			t.Fatalf("LIKE wildcards in a search matched %d", r.Matches)
		}
		if _, err := e.app.exps.SearchContacts(ctx, team.ID, "", "not-an-id", 5); !errors.As(err, &ve) {
			t.Fatalf("a bad cursor: %v", err)
		}
		c, err := e.app.exps.ContactCounts(ctx, team.ID)
		if err != nil || c.Total != 25 || c.Suppressed != 0 {
			t.Fatalf("counts %+v %v", c, err)
		}
	})
}

// The demo loads a full team once, through the domain services, and refuses
// clearly the second time.
func TestDemo(t *testing.T) {
	t.Parallel()
	e := startEnv(t, t.TempDir()+"/slicelab.db")
	out, errs, code := e.cli("demo", "--contacts", "400")
	if code != 0 || !strings.Contains(out, "sign in as") || !strings.Contains(out, demoPM) {
		t.Fatalf("demo: %d\n%s\n%s", code, out, errs)
	}
	ctx := context.Background()
	team, err := e.app.exps.TeamBySlug(ctx, demoSlug)
	if err != nil {
		t.Fatal(err)
	}
	week := tracking.WeekOf(time.Now(), team.Location()).Prev()
	r, err := e.app.okr.WeeklyReview(ctx, team, week)
	if err != nil {
		t.Fatal(err)
	}
	types, sources := map[string]bool{}, map[string]bool{}
	for _, o := range r.Objectives {
		for _, k := range o.KeyResults {
			types[k.Type], sources[k.Source] = true, true
			if k.Value == nil && k.Type != "baseline" && k.Source != "ctr" { // a ctr KR has a value only in weeks its experiments sent
				t.Errorf("KR %q has no value for %s", k.Title, week)
			}
		}
	}
	if len(types) != 4 || len(sources) != 4 {
		t.Fatalf("the demo's KRs cover types %v and sources %v, want all four of each", types, sources)
	}
	if r.Allocation.Responses != 4 {
		t.Fatalf("allocation answers for %s: %d, want 4", week, r.Allocation.Responses)
	}
	sums, _ := e.app.exps.Summaries(ctx, team.ID)
	status := map[experiments.Status]int{}
	for _, s := range sums {
		status[s.Status]++
		if s.Status == experiments.StatusCompleted {
			res, _ := e.app.exps.Results(ctx, team.ID, s.ID)
			human, bots := 0, 0
			for _, v := range res.Variants {
				human += v.HumanClickers
				bots += v.AutomatedClicks
			}
			if human == 0 || bots == 0 { // the demo's recipients vary with the contacts' random ids, so only "some of each" is certain

				t.Errorf("%s: %d human clickers and %d automated clicks, want both", s.Name, human, bots)
			}
		}
	}
	if status[experiments.StatusCompleted] != 2 || status[experiments.StatusRunning] != 1 || status[experiments.StatusDraft] != 1 {
		t.Fatalf("demo experiments by status %v", status)
	}
	if _, errs, code := e.cli("demo", "--contacts", "400"); code != 1 || !strings.Contains(errs, "exists already") {
		t.Fatalf("a second demo: %d %s", code, errs)
	}
}
