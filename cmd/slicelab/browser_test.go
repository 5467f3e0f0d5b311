package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"slicelab/experiments"
	"slicelab/okr"
	"slicelab/tracking"
)

// The web UI in a real headless Chromium (Debian's chromium package),
// against the real server on SQLite and on PostgreSQL: every flow of the
// issue, with a screenshot of every page in cmd/slicelab/screenshots/<db>/
// (ignored by git). Without a browser the test skips, unless
// SLICELAB_TEST_BROWSER=1 says that one must be there.

// browserPath finds Chromium.
func browserPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("SLICELAB_TEST_BROWSER") == "1" {
		t.Fatal("SLICELAB_TEST_BROWSER=1 but no Chromium was found on PATH (install Debian's chromium package)")
	}
	t.Skip("no Chromium on PATH: the browser tests are skipped (apt-get install chromium, or set SLICELAB_TEST_BROWSER=1 to make this a failure)")
	return ""
}

// A desktop browser's user agent: a headless one counts as a bot.
const desktopUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

func TestBrowser(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	path := browserPath(t)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-default-browser-check", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900), chromedp.UserAgent(desktopUA))
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil { // one browser for every database
		t.Fatalf("start %s: %v", path, err)
	}
	forEachDB(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		e := startEnv(t, dbURL(t), func(v map[string]string) {
			v["SLICELAB_SMTP_URL"] = "" // the outbox, as on the embedded default
			v["SLICELAB_SEND_RATE"] = "20"
			v["SLICELAB_CONTACT_COOLDOWN"] = "24h"
		})
		tab, cancel := chromedp.NewContext(browser)
		defer cancel()
		if err := chromedp.Do(tab); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Call(tab, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join("screenshots", filepath.Base(t.Name()))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		b := &br{t: t, ctx: tab, base: e.base, dir: dir, start: time.Now()}
		browserFlows(t, e, b)
	})
}

// br drives one tab; every step fails the test on error.
type br struct {
	t     *testing.T
	ctx   context.Context
	base  string
	dir   string
	shots int
	start time.Time
}

func (b *br) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, 45*time.Second)
}

func (b *br) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// open navigates to a path and returns the response's status.
func (b *br) open(path string) int {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	for try := 0; ; try++ {
		resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(b.base+path))
		if (resp == nil || (err != nil && strings.Contains(err.Error(), "ERR_ABORTED"))) && try < 5 {
			time.Sleep(200 * time.Millisecond)
			continue // an earlier navigation (a tracked link to a site this machine cannot reach) was still going
		}
		if err != nil || resp == nil {
			b.t.Fatalf("open %s: %v (no response)", path, err)
		}
		return int(resp.Status)
	}
}

// submit clicks a button that posts a form and waits for the page it leads to.
func (b *br) submit(sel string) *network.Response {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("submit %s: %v", sel, err)
	}
	return resp
}

func (b *br) fill(sel, value string) {
	b.t.Helper()
	b.do("fill "+sel, chromedp.SetValue(chromedp.CSS(sel), value))
}

// typeIn replaces a field's value by typing, so that input events fire.
func (b *br) typeIn(sel, value string) {
	b.t.Helper()
	b.do("type into "+sel, chromedp.SetValue(chromedp.CSS(sel), ""), chromedp.SendKeys(chromedp.CSS(sel), value))
}

func (b *br) text(sel string) string {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func evalJS[T any](b *br, expr string) T {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it holds (the page may reload
// meanwhile: an evaluation that a navigation interrupts is tried again).
func (b *br) waitFor(what, cond string) {
	b.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			body, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body.innerText.slice(0, 2000)`))
			b.t.Fatalf("waiting for %s: %v\npage: %s", what, err, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (b *br) bodyHas(s string) bool {
	b.t.Helper()
	return evalJS[bool](b, fmt.Sprintf(`document.body.innerText.includes(%q)`, s))
}

func (b *br) mustSee(s string) {
	b.t.Helper()
	if !b.bodyHas(s) {
		body := evalJS[string](b, `document.body.innerText.slice(0, 3000)`)
		b.t.Fatalf("the page does not say %q:\n%s", s, body)
	}
}

// shot saves a full-page screenshot, numbered in the order of the flow.
func (b *br) shot(name string) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	// The viewport grows to the page's height for the picture: Chromium's
	// full-page capture leaves the sandboxed iframes (previews) blank.
	h, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`Math.max(document.documentElement.scrollHeight, 900)`))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, h)); err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	time.Sleep(150 * time.Millisecond) // let the frames paint at the new size
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	b.shots++
	b.t.Logf("%s: screenshot %d %s", time.Since(b.start).Round(100*time.Millisecond), b.shots, name)
	if err := os.WriteFile(filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", b.shots, name)), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func (b *br) signIn(email, password string) *network.Response {
	b.t.Helper()
	b.open("/signin")
	b.fill("#email", email)
	b.fill("#password", password)
	return b.submit(`form[action="/signin"] button[type=submit]`)
}

func (b *br) signOut() {
	b.t.Helper()
	b.submit(`form[action="/signout"] button`)
}

var expIDRE = regexp.MustCompile(`/experiments/([0-9a-f-]{36})`)

func browserFlows(t *testing.T, e *env, b *br) {
	ctx := context.Background()
	if out, errs, code := e.cli("demo", "--contacts", "300"); code != 0 {
		t.Fatalf("demo: %d %s %s", code, out, errs)
	}
	team, err := e.app.exps.TeamBySlug(ctx, demoSlug)
	if err != nil {
		t.Fatal(err)
	}

	// Signing in.
	if st := b.open("/"); st != 200 || !strings.Contains(evalJS[string](b, `location.pathname`), "/signin") {
		t.Fatalf("/ without a session: status %d at %s, want the sign-in page", st, evalJS[string](b, `location.href`))
	}
	b.shot("signin")
	if resp := b.signIn(demoPM, demoPassword); resp.Status != 200 || !strings.HasSuffix(resp.URL, "/") {
		t.Fatalf("sign in: %d at %s", resp.Status, resp.URL)
	}
	b.mustSee("Needs attention")
	b.mustSee("Running now")
	b.shot("home")

	// Import a CSV: first one with a bad row (nothing is imported), then a good one.
	csvDir := t.TempDir()
	bad := filepath.Join(csvDir, "bad.csv")
	good := filepath.Join(csvDir, "people.csv")
	var rows strings.Builder
	rows.WriteString("email,name,tags,plan\n")
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&rows, "browser%d@example.org,Reader %d,browser,pro\n", i, i)
	}
	os.WriteFile(good, []byte(rows.String()), 0o644)
	os.WriteFile(bad, []byte("email,name\nok@example.org,Ok\nnot-an-address,Bad\n"), 0o644)
	before, _ := e.app.exps.ContactCounts(ctx, team.ID)
	b.open("/contacts")
	b.do("open the import form", chromedp.Evaluate[chromedp.Void](`document.querySelector('details.inline-form').open = true`))
	b.do("choose the bad file", chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{bad}))
	if resp := b.submit(`form[action="/contacts"] button[type=submit]`); resp.Status != 422 {
		t.Fatalf("bad CSV: status %d, want 422", resp.Status)
	}
	b.mustSee("Nothing was imported")
	if got := b.text("#import-errors tbody"); !strings.Contains(got, "3") || !strings.Contains(got, "not-an-address") {
		t.Fatalf("row errors %q: want row 3 and the bad address", got)
	}
	b.shot("contacts-import-errors")
	if after, _ := e.app.exps.ContactCounts(ctx, team.ID); after.Total != before.Total {
		t.Fatalf("a refused import stored contacts: %d → %d", before.Total, after.Total)
	}
	b.do("open the import form", chromedp.Evaluate[chromedp.Void](`document.querySelector('details.inline-form').open = true`))
	b.do("choose the good file", chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{good}))
	b.submit(`form[action="/contacts"] button[type=submit]`)
	b.mustSee("Imported 40 contacts from people.csv.")
	b.fill("#q", "browser1")
	b.submit(`form[role=search] button`)
	b.mustSee("11 contacts match")
	b.shot("contacts")

	// Create a two-variant experiment: a template error first, shown next to its field.
	b.open("/experiments/new")
	b.fill("#f-name", "Browser test: saved hours")
	b.fill("#f-hypothesis", "Saying how many hours the team saved makes more people click.")
	b.fill("#f-tags", "browser")
	b.fill("#v0-subject", "Your weekly insight")
	b.fill("#v1-name", "numbers")
	b.fill("#v1-subject", "You saved 3 hours this week")
	b.fill("#v1-html", `<p>Hi {{.Contact.Nmae}}, you saved <b>3 hours</b>. <a href="https://example.com/hours">See how</a></p>`)
	b.fill("#v1-text", "Hi {{.Contact.Name}}, you saved 3 hours: https://example.com/hours")
	if resp := b.submit(`form[action="/experiments"] button[type=submit]`); resp.Status != 422 {
		t.Fatalf("a template error: status %d, want 422", resp.Status)
	}
	if msg := b.text("#v1-html-error"); !strings.Contains(msg, "Nmae") {
		t.Fatalf("the template error next to the field says %q", msg)
	}
	b.shot("experiment-editor-errors")
	b.fill("#v1-html", `<p>Hi {{.Contact.Name}}, you saved <b>3 hours</b>. <a href="https://example.com/hours">See how</a></p>`)
	b.submit(`form[action="/experiments"] button[type=submit]`)
	b.mustSee("Draft saved")
	m := expIDRE.FindStringSubmatch(evalJS[string](b, `location.pathname`))
	if m == nil {
		t.Fatalf("after saving, at %s", evalJS[string](b, `location.href`))
	}
	expID := uuid.MustParse(m[1])
	b.waitFor("the previews", `document.querySelectorAll('iframe.preview-frame').length === 2 &&
		performance.getEntriesByType('resource').filter(e => e.name.includes('/preview?') && e.responseEnd > 0).length >= 2`)
	b.shot("experiment-editor")

	// The launch confirmation states the audience exactly as Launch will assign it.
	b.open("/experiments/" + expID.String() + "/launch")
	plan, err := e.app.exps.LaunchPlan(ctx, team.ID, expID)
	if err != nil {
		t.Fatal(err)
	}
	sentence := b.text("#launch-sentence")
	want := fmt.Sprintf("Send to %d contacts now: %d control, %d numbers.", plan.Send, plan.Variants[0].Send, plan.Variants[1].Send)
	if sentence != want || plan.Audience != 40 || plan.Send+plan.HeldOut+plan.Cooldown+plan.Unsub+plan.Bounced != 40 {
		t.Fatalf("launch sentence %q, want %q (plan %+v)", sentence, want, plan)
	}
	b.mustSee(fmt.Sprintf("%d held out", plan.HeldOut))
	b.mustSee("24-hour cool-down")
	b.shot("launch-confirmation")
	b.submit("#launch-button")
	b.mustSee("Launched: sending to")
	b.shot("experiment-sending")
	b.waitFor("the progress bar at 100 %", `document.querySelector('#send-progress') !== null && document.querySelector('#send-progress').innerText.includes('sent (100 %)')`)
	got, err := e.app.exps.Get(ctx, team.ID, expID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Progress.Sent != plan.Send {
		t.Fatalf("sent %d, the confirmation said %d", got.Progress.Sent, plan.Send)
	}
	b.shot("experiment-sent")

	// The outbox: open the newest message of this experiment and click its
	// tracked link, as its recipient. (Not just the newest message: the
	// demo's own sends may still be going out.)
	b.open("/outbox")
	b.mustSee("You saved 3 hours this week")
	b.shot("outbox")
	b.open(evalJS[string](b, `[...document.querySelectorAll('table tbody tr a')].find(a => a.textContent.trim() === 'You saved 3 hours this week').getAttribute('href')`))
	b.mustSee("Links in this message")
	b.waitFor("the rendered message", `document.querySelector('iframe.preview-frame') !== null &&
		performance.getEntriesByType('resource').filter(e => e.name.endsWith('/html') && e.responseEnd > 0).length >= 1`)
	b.shot("outbox-message")
	href := evalJS[string](b, `document.querySelector('a.tracked-link').href`)
	if !strings.HasPrefix(href, e.base+"/c/") {
		t.Fatalf("the message's link %q is not a tracked link of %s", href, e.base)
	}
	// The link's own click (not a mouse event at coordinates that a resize
	// may have moved); it goes on to example.com, which this machine cannot reach.
	_ = chromedp.Do(b.ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector('a.tracked-link').click()`))
	deadline := time.Now().Add(time.Minute)
	for {
		r, err := e.app.exps.Results(ctx, team.ID, expID)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, v := range r.Variants {
			n += v.HumanClickers
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			rows, _, err := tracking.NewLedger(e.app.st.ledgerRead).Count(ctx)
			st, _ := tracking.NewStore(e.app.st.db).ProjectionState(ctx)
			t.Fatalf("the click on %s was not counted (ledger rows %d, %v; projection %+v): %+v", href, rows, err, st, r.Variants)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The click shows in the results: the table and the chart.
	b.open("/experiments/" + expID.String())
	clickers := evalJS[int](b, `Array.from(document.querySelectorAll('#results-table tbody tr td:nth-child(3)')).reduce((s, td) => s + parseInt(td.innerText, 10), 0)`)
	if clickers != 1 {
		t.Fatalf("the results table shows %d people who clicked, want 1", clickers)
	}
	label := evalJS[string](b, `document.querySelector('svg.chart-interval').getAttribute('aria-label')`)
	if !regexp.MustCompile(`(control|numbers): [1-9][0-9.]* %`).MatchString(label) {
		t.Fatalf("the CTR chart does not show the click: %q", label)
	}
	b.shot("experiment-results-one-click")
	sums, _ := e.app.exps.Summaries(ctx, team.ID)
	for _, s := range sums {
		if s.Name == "Numbers in the subject" || s.Name == "Onboarding checklist email" {
			b.open("/experiments/" + s.ID.String())
			b.mustSee("Human and automated clicks")
			b.shot("experiment-results-" + strings.ToLower(strings.Fields(s.Name)[0]))
		}
	}
	b.open("/experiments")
	b.shot("experiments")

	// A check-in, this week preselected.
	objs, err := e.app.okr.Objectives(ctx, team.ID)
	if err != nil {
		t.Fatal(err)
	}
	var manual *okr.KeyResult
	for _, o := range objs {
		for _, k := range o.KeyResults {
			if k.Source == okr.SourceManual && k.Type == okr.TypeMetric {
				manual = k
			}
		}
	}
	week := tracking.WeekOf(time.Now(), team.Location()).String()
	b.open("/okrs")
	ci := "ci-" + manual.ID.String()
	b.do("open the check-in", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.getElementById(%q).closest('details').open = true`, ci+"-value")))
	if sel := evalJS[string](b, fmt.Sprintf(`document.getElementById(%q).value`, ci+"-week")); sel != week {
		t.Fatalf("the check-in form preselects %s, want this week %s", sel, week)
	}
	b.fill("#"+ci+"-value", "12.5")
	b.fill("#"+ci+"-note", "checked in from the browser test")
	b.submit(fmt.Sprintf(`form[action="/okrs/key-results/%s/check-in"] button`, manual.ID))
	b.mustSee("Check-in for " + week + " saved.")
	b.shot("okrs")

	// The allocation survey: a running total, then the answer.
	b.open("/allocation")
	inputs := evalJS[[]string](b, `Array.from(document.querySelectorAll('form[data-total] input[type=number]')).map(i => i.id)`)
	if len(inputs) != 4 {
		t.Fatalf("survey fields %v", inputs)
	}
	for i, v := range []string{"35", "40", "15", "10"} {
		b.typeIn("#"+inputs[i], v)
	}
	if total := b.text("#alloc-total"); total != "100 %" || !evalJS[bool](b, `document.getElementById('alloc-total').parentNode.classList.contains('total-ok')`) {
		t.Fatalf("running total %q", total)
	}
	b.shot("allocation-survey")
	b.submit(`form[data-total] button[type=submit]`)
	b.mustSee("Thanks: your split of " + week + " is saved.")

	// The weekly review, and its CSV.
	b.open("/review")
	b.mustSee("Are we getting closer?")
	if n := evalJS[int](b, `document.querySelectorAll('svg.sparkline').length`); n < 6 {
		t.Fatalf("the review has %d trend sparklines, want one per key result", n)
	}
	b.shot("review")
	if csv := evalJS[string](b, `fetch(document.querySelector('a[download]').href).then(r => r.text())`); !strings.Contains(csv, "Weekly people clicking") {
		t.Fatalf("review CSV: %.300s", csv)
	}
	b.open("/review?week=" + tracking.WeekOf(time.Now(), team.Location()).Prev().Prev().String())
	b.shot("review-two-weeks-ago")

	// The admin's team page: the survey now, and what a second click does.
	b.open("/team")
	b.shot("team")
	b.submit(`form[action="/team/survey"] button`)
	b.mustSee("is being emailed to every member now")
	b.submit(`form[action="/team/survey"] button`)
	b.mustSee("was already sent")

	orgFlow(t, e, b, week)

	// A viewer sees no launch button, and a forged launch is refused.
	b.signOut()
	b.signIn(demoViewer, demoPassword)
	var draft experiments.Summary
	for _, s := range sums {
		if s.Status == experiments.StatusDraft && s.Name == "Pricing page teaser" {
			draft = s
		}
	}
	b.open("/experiments/" + draft.ID.String())
	if b.bodyHas("Review and launch") || evalJS[int](b, `document.querySelectorAll('form[action$="/launch"], a[href$="/launch"], form[action$="/delete"]').length`) != 0 {
		t.Fatal("a viewer sees launch or delete controls")
	}
	b.shot("viewer-draft")
	forged := evalJS[int](b, fmt.Sprintf(`fetch('/experiments/%s/launch', {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'},
		body: new URLSearchParams({_csrf: document.querySelector('input[name=_csrf]').value})}).then(r => r.status)`, draft.ID))
	if forged != 403 {
		t.Fatalf("a viewer's launch POST (with a valid CSRF token) answered %d, want 403", forged)
	}
	if x, _ := e.app.exps.Get(ctx, team.ID, draft.ID); x.Status != experiments.StatusDraft {
		t.Fatalf("after a viewer's launch POST the experiment is %s", x.Status)
	}
	if st := b.open("/experiments/" + draft.ID.String() + "/launch"); st != 403 {
		t.Fatalf("a viewer opening the launch page: %d, want 403", st)
	}
	b.shot("viewer-forbidden")
	if b.bodyHas("Organisation") {
		t.Fatal("a viewer who is no organisation admin sees the organisation in the navigation")
	}
	if st := b.open("/org"); st != 403 {
		t.Fatalf("a viewer opening the organisation's week: %d, want 403", st)
	}

	// A form post without its CSRF token is refused, and changes nothing.
	noToken := evalJS[int](b, fmt.Sprintf(`fetch('/allocation', {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'},
		body: new URLSearchParams({week: %q})}).then(r => r.status)`, week))
	if noToken != 403 {
		t.Fatalf("a post without the CSRF token answered %d, want 403", noToken)
	}

	// Six wrong passwords from one address: the sixth is slowed down.
	b.signOut()
	for i := 1; i <= 6; i++ {
		resp := b.signIn(demoPM, "not the password")
		switch {
		case i < 6 && resp.Status != 401:
			t.Fatalf("wrong password %d: status %d, want 401", i, resp.Status)
		case i == 6 && resp.Status != 429:
			t.Fatalf("wrong password %d: status %d, want 429", i, resp.Status)
		case i == 6 && resp.Headers["Retry-After"] == nil && resp.Headers["retry-after"] == nil:
			t.Fatalf("429 without Retry-After: %v", resp.Headers)
		}
	}
	b.mustSee("Too many wrong passwords")
	b.shot("signin-slowed-down")
}

// orgFlow: a second team of the organisation answers the survey, the PM
// becomes an organisation admin, shares an objective with that team from the
// OKR page, and reads the organisation's week.
func orgFlow(t *testing.T, e *env, b *br, week string) {
	tok := e.teamToken("platform", "admin")
	var members []string
	for i, f := range []string{"engineering", "engineering", "design"} {
		var m struct{ ID string }
		if st, raw := e.api("POST", "/api/v1/teams/platform/members", tok, map[string]string{"email": fmt.Sprintf("p%d@platform.test", i),
			"name": fmt.Sprintf("Platform %d", i), "function": f}, &m); st != 201 {
			t.Fatalf("platform member: %d %s", st, raw)
		}
		members = append(members, m.ID)
	}
	for i, m := range members {
		if st, raw := e.api("POST", "/api/v1/teams/platform/allocations", tok, map[string]any{"member_id": m, "week": week,
			"shares": map[string]int{"KTLO": 60 + 10*i, "Improve": 40 - 10*i}}, nil); st != 201 {
			t.Fatalf("platform answer: %d %s", st, raw)
		}
	}
	if st := b.open("/org"); st != 403 {
		t.Fatalf("the organisation's week before the PM is an organisation admin: %d, want 403", st)
	}
	if _, errs, code := e.cli("org", "admin", "add", demoPM); code != 0 {
		t.Fatalf("org admin add: %s", errs)
	}
	// Share an objective with the platform team, with an owner, from the OKR page.
	b.open("/okrs")
	b.fill("#o-title", "Cut support load together")
	b.do("share with the platform team", chromedp.Evaluate[chromedp.Void](`document.querySelector('form[action="/okrs/objectives"] input[name=shared_with][value=platform]').checked = true;
		document.querySelector('form[action="/okrs/objectives"] input[name=owner_ids]').checked = true`))
	if resp := b.submit(`form[action="/okrs/objectives"] button[type=submit]`); resp.Status != 200 {
		t.Fatalf("share an objective: %d %s", resp.Status, b.text("main"))
	}
	b.mustSee("Objective “Cut support load together” added")
	b.mustSee("Shared by")

	b.open("/")
	if !b.bodyHas("Organisation") {
		t.Fatal("an organisation admin does not see the organisation in the navigation")
	}
	if st := b.open("/org?week=" + week); st != 200 {
		t.Fatalf("the organisation's week: %d", st)
	}
	b.mustSee("How much went to new versus existing things?")
	b.mustSee("PLATFORM")
	b.mustSee("Cut support load together")
	if n := evalJS[int](b, `document.querySelectorAll('table tbody tr').length`); n < 3 {
		t.Fatalf("the organisation's week lists %d rows, want both teams and the organisation", n)
	}
	b.shot("org")
	if csv := evalJS[string](b, `fetch(document.querySelector('a[download]').href).then(r => r.text())`); !strings.HasPrefix(csv, "section,team") || !strings.Contains(csv, "platform") {
		t.Fatalf("organisation CSV: %.300s", csv)
	}
}
