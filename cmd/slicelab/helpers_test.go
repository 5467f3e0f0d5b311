package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/uuid"

	"slicelab/experiments"
	"slicelab/migrations/migrationstest"
	"slicelab/tracking"
)

// forEachDB runs f on SQLite, and on PostgreSQL when SLICELAB_TEST_POSTGRES_URL is set.
func forEachDB(t *testing.T, f func(t *testing.T, dbURL func(t *testing.T) string)) {
	t.Run("sqlite", func(t *testing.T) {
		f(t, func(t *testing.T) string { return filepath.Join(t.TempDir(), "slicelab.db") })
	})
	t.Run("postgres", func(t *testing.T) {
		if os.Getenv("SLICELAB_TEST_POSTGRES_URL") == "" {
			t.Skip("SLICELAB_TEST_POSTGRES_URL is not set")
		}
		f(t, testPostgresURL)
	})
}

// testPostgresURL creates a fresh database on the test server and drops it afterwards.
func testPostgresURL(t *testing.T) string {
	t.Helper()
	return migrationstest.PostgresURL(t, "slicelab_test")
}

// testSMTP is a real SMTP server in the test process (go-smtp).
type testSMTP struct {
	addr string
	srv  *smtp.Server

	mu    sync.Mutex
	msgs  []received
	conns int
	// reject, when set, may refuse a recipient with an *smtp.SMTPError.
	reject func(rcpt string, attempt int) error
	tries  map[string]int
}

type received struct {
	rcpt string
	raw  []byte
	msg  *mail.Message
}

func startSMTP(t testing.TB) *testSMTP {
	t.Helper()
	s := &testSMTP{tries: map[string]int{}}
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	go func() { _ = s.srv.Serve(ln) }()
	t.Cleanup(func() { s.srv.Close() })
	return s
}

func (s *testSMTP) NewSession(*smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	s.conns++
	s.mu.Unlock()
	return &smtpSess{s: s}, nil
}

func (s *testSMTP) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

func (s *testSMTP) connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

type smtpSess struct {
	s     *testSMTP
	rcpts []string
}

func (x *smtpSess) Reset()                                         { x.rcpts = nil }
func (x *smtpSess) Logout() error                                  { return nil }
func (x *smtpSess) Mail(from string, opts *smtp.MailOptions) error { return nil }
func (x *smtpSess) Rcpt(to string, opts *smtp.RcptOptions) error {
	x.s.mu.Lock()
	x.s.tries[to]++
	n, reject := x.s.tries[to], x.s.reject
	x.s.mu.Unlock()
	if reject != nil {
		if err := reject(to, n); err != nil {
			return err
		}
	}
	x.rcpts = append(x.rcpts, to)
	return nil
}

func (x *smtpSess) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	for _, rc := range x.rcpts {
		x.s.msgs = append(x.s.msgs, received{rcpt: rc, raw: raw, msg: m})
	}
	x.s.mu.Unlock()
	return nil
}

// testClock is the service's clock in tests: real time plus an offset the
// test moves, or, once frozen, a fixed time plus that offset (for tests of
// rates, which a slow machine would otherwise refill).
type testClock struct{ off, frozen atomic.Int64 }

func (c *testClock) now() time.Time {
	if f := c.frozen.Load(); f != 0 {
		return time.Unix(0, f).Add(time.Duration(c.off.Load()))
	}
	return time.Now().Add(time.Duration(c.off.Load()))
}
func (c *testClock) freeze()                 { c.frozen.Store(time.Now().UnixNano()) }
func (c *testClock) advance(d time.Duration) { c.off.Add(int64(d)) }
func (c *testClock) set(t time.Time)         { c.off.Store(int64(time.Until(t))) }

// env is one running slicelab (real listener, real database, real SMTP).
type env struct {
	clock  *testClock
	t      testing.TB
	base   string
	app    *app
	smtp   *testSMTP
	vars   map[string]string
	cancel context.CancelFunc
	done   chan error
	// check, when set, sees every API request and its answer (the OpenAPI test validates them).
	check func(req *http.Request, reqBody []byte, status int, header http.Header, body []byte)
}

func (e *env) getenv(k string) string { return e.vars[k] }

// startEnv starts slicelab serve in-process on a free port with its own data folder.
func startEnv(t testing.TB, dbURL string, mods ...func(map[string]string)) *env {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := startSMTP(t)
	e := &env{t: t, base: "http://" + ln.Addr().String(), smtp: s, done: make(chan error, 1), clock: &testClock{}}
	e.vars = map[string]string{
		"SLICELAB_DATA_DIR":         t.TempDir(),
		"SLICELAB_DATABASE_URL":     dbURL,
		"SLICELAB_HTTP_ADDR":        ln.Addr().String(),
		"SLICELAB_BASE_URL":         e.base,
		"SLICELAB_SMTP_URL":         "smtp://" + s.addr + "?tls=none",
		"SLICELAB_MAIL_FROM":        "Growth team <insights@slicelab.test>",
		"SLICELAB_SECRET":           "test-secret-0123456789abcdef0123456789abcdef",
		"SLICELAB_SEND_RATE":        "0",
		"SLICELAB_SEND_CONCURRENCY": "4", // (the default, 16, makes -race runs slower for nothing)
		"SLICELAB_BOT_WINDOW":       "0s",
		"SLICELAB_CONTACT_COOLDOWN": "0s",
		"SLICELAB_LOG_LEVEL":        "warn",
	}
	for _, m := range mods {
		m(e.vars)
	}
	cfg, err := loadConfig(e.getenv)
	if err != nil {
		t.Fatal(err)
	}
	cfg.BatchSize = 10 // several send jobs, even for small audiences
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	a := &app{cfg: cfg, log: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		now: e.clock.now, riverPoll: 50 * time.Millisecond, retryBase: 100 * time.Millisecond, tick: 100 * time.Millisecond}
	if v := e.vars[testRetryBase]; v != "" {
		if a.retryBase, err = time.ParseDuration(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.init(ctx, true); err != nil {
		cancel()
		t.Fatal(err)
	}
	e.app = a
	go func() { e.done <- a.run(ctx, ln) }()
	t.Cleanup(e.stop)
	return e
}

func (e *env) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	e.cancel = nil
	select {
	case err := <-e.done:
		if err != nil {
			e.t.Errorf("serve returned %v", err)
		}
	case <-time.After(60 * time.Second):
		e.t.Error("serve did not stop within 60s")
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// cli runs a slicelab command against the same configuration.
func (e *env) cli(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, e.getenv, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

// teamToken creates a team (if needed) and a token through the CLI.
func (e *env) teamToken(slug, role string) string {
	e.t.Helper()
	e.cli("team", "create", slug, "--name", strings.ToUpper(slug))
	out, errs, code := e.cli("token", "create", "--team", slug, "--role", role)
	if code != 0 {
		e.t.Fatalf("token create: %d %s", code, errs)
	}
	tok := strings.TrimSpace(out)
	if strings.Contains(tok, "\n") || !strings.HasPrefix(tok, "slk_") {
		e.t.Fatalf("token create printed %q, want the token alone", out)
	}
	return tok
}

var client = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       2 * time.Minute,
}

// api sends a request and decodes a JSON answer into out (when not nil).
func (e *env) api(method, path, token string, body any, out any) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	var sent []byte
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case csvBody:
		sent, ctype = []byte(b), "text/csv"
	case string:
		sent = []byte(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		sent = j
	}
	if body != nil {
		rd = bytes.NewReader(sent)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if e.check != nil {
		e.check(req, sent, resp.StatusCode, resp.Header, raw)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode, raw
}

type csvBody string

func contactsCSV(n int, domain string) csvBody {
	var b strings.Builder
	b.WriteString("email,name,tags,plan\n")
	for i := 0; i < n; i++ {
		plan := "pro"
		if i%3 == 0 {
			plan = "free"
		}
		fmt.Fprintf(&b, "user%d@%s,User %d,beta,%s\n", i, domain, i, plan)
	}
	return csvBody(b.String())
}

const destA = "https://example.com/insights?a=1&b=2"
const destB = "https://example.com/pricing"

func experimentBody(name string, holdout float64) map[string]any {
	html := `<p>Hi {{.Contact.Name}} ({{.Contact.Attr "plan"}}),</p><p>Your team saved 3 hours this week. ` +
		`<a href="https://example.com/insights?a=1&amp;b=2">See the insight</a> or <a href="` + destB + `">compare plans</a>.` +
		` <a href="mailto:help@example.com">Write to us</a></p>`
	return map[string]any{
		"name": name, "hypothesis": "An emailed insight raises weekly engagement", "holdout": holdout,
		"variants": []map[string]any{
			{"name": "control", "weight": 1, "control": true, "subject": "Your weekly insight",
				"html": html, "text": "Hi {{.Contact.Name}}, see " + destA + " or " + destB},
			{"name": "numbers", "weight": 1, "subject": "You saved 3 hours this week",
				"html": strings.Replace(html, "saved 3 hours", "saved <b>3 hours</b>", 1),
				"text": "Hi {{.Contact.Name}}, you saved 3 hours: " + destA + " or " + destB},
		},
	}
}

type experimentJSON struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Variants []struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Control bool   `json:"control"`
	} `json:"variants"`
	Progress struct {
		Total, Queued, Sending, Sent, Failed, Suppressed, Waiting, Cancelled int
		HeldOut                                                              int `json:"held_out"`
	} `json:"progress"`
}

// createAndLaunch creates an experiment and launches it, returning its id.
func (e *env) createAndLaunch(token, team string, body map[string]any) experimentJSON {
	e.t.Helper()
	var exp experimentJSON
	if st, raw := e.api("POST", "/api/v1/teams/"+team+"/experiments", token, body, &exp); st != 201 {
		e.t.Fatalf("create experiment: %d %s", st, raw)
	}
	if st, raw := e.api("POST", "/api/v1/experiments/"+exp.ID+"/launch", token, nil, nil); st != 202 {
		e.t.Fatalf("launch: %d %s", st, raw)
	}
	return exp
}

// waitDone polls the experiment until nothing is queued or sending.
func (e *env) waitDone(token, id string, within time.Duration) experimentJSON {
	e.t.Helper()
	deadline := time.Now().Add(within)
	var exp experimentJSON
	for time.Now().Before(deadline) {
		exp = experimentJSON{}
		e.api("GET", "/api/v1/experiments/"+id, token, nil, &exp)
		if exp.Status == "completed" {
			if e.app != nil { // a service in this process (not one started as its own process)
				checkDeliveryCounts(e.t, e, id)
			}
			return exp
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("experiment %s not completed after %s: %+v", id, within, exp)
	return exp
}

// waitClicks waits until every click answered so far is classified and
// rolled up: the projector has stored as many clicks as the ledger holds
// distinct ones (clicks are counted a moment after their redirect).
func (e *env) waitClicks() {
	e.t.Helper()
	ctx := context.Background()
	_, want, err := tracking.NewLedger(e.app.st.ledgerRead).Count(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := e.app.st.db.NewSelect().Table("clicks").Count(ctx)
		if err != nil {
			e.t.Fatal(err)
		}
		if n >= want {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%d of %d recorded clicks projected after 30s", n, want)
		}
		e.app.proj.Notify()
		time.Sleep(10 * time.Millisecond)
	}
}

var trackedRE = regexp.MustCompile(`https?://[^/"'\s<>]+/c/[A-Za-z0-9_-]+`)

// checkCounters asserts that the click ledger's rollups agree with the raw
// deliveries and clicks of an experiment.
func checkCounters(t *testing.T, e *env, expID string) {
	t.Helper()
	checkCountCounters(t, e)
	ctx := context.Background()
	var fromCounters, fromRaw []struct {
		VariantID string `bun:"variant_id"`
		Sent      int    `bun:"sent"`
		Clicked   int    `bun:"clicked"`
	}
	if err := e.app.st.db.NewSelect().Table("variant_weekly").ColumnExpr("variant_id, sum(sent) AS sent, sum(clicked) AS clicked").
		Where("experiment_id = ?", expID).Group("variant_id").Order("variant_id").Scan(ctx, &fromCounters); err != nil {
		t.Fatal(err)
	}
	if err := e.app.st.db.NewSelect().Table("deliveries").
		ColumnExpr("variant_id, count(*) AS sent").
		ColumnExpr("sum(CASE WHEN EXISTS (SELECT 1 FROM clicks k WHERE k.delivery_id = deliveries.id AND NOT k.automated) THEN 1 ELSE 0 END) AS clicked").
		Where("experiment_id = ?", expID).Where("status = 'sent'").Group("variant_id").Order("variant_id").Scan(ctx, &fromRaw); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(fromCounters) != fmt.Sprint(fromRaw) {
		t.Errorf("variant_weekly %v disagrees with the deliveries and clicks %v", fromCounters, fromRaw)
	}
	var stale int
	n, err := e.app.st.db.NewSelect().Table("deliveries").Where("experiment_id = ?", expID).
		Where("NOT EXISTS (SELECT 1 FROM first_clicks f WHERE f.delivery_id = deliveries.id) = EXISTS (SELECT 1 FROM clicks k WHERE k.delivery_id = deliveries.id AND NOT k.automated)").Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stale += n
	if stale != 0 {
		t.Errorf("%d deliveries have a first click (first_clicks) that disagrees with their clicks", stale)
	}
	var wc, raw int
	wc, _ = e.app.st.db.NewSelect().Table("weekly_clickers").Where("experiment_id = ?", expID).Count(ctx)
	if err := e.app.st.db.NewSelect().Table("clicks").ColumnExpr("count(DISTINCT contact_id)").Where("experiment_id = ?", expID).
		Where("NOT automated").Scan(ctx, &raw); err != nil {
		t.Fatal(err)
	}
	if wc < raw {
		t.Errorf("weekly_clickers has %d rows for %d distinct human clickers", wc, raw)
	}
}

// checkCountCounters asserts that the counters kept by triggers and imports
// (delivery_counts, contact_counts) agree with the rows they count.
func checkCountCounters(t testing.TB, e *env) {
	t.Helper()
	checkDeliveryCounts(t, e, "")
	ctx := context.Background()
	db := e.app.st.db
	type cc struct {
		TeamID       string `bun:"team_id"`
		Total        int    `bun:"total"`
		Unsubscribed int    `bun:"unsubscribed"`
		Bounced      int    `bun:"bounced"`
		Suppressed   int    `bun:"suppressed"`
	}
	var cCounters, cRows []cc
	if err := db.NewSelect().Table("contact_counts").ColumnExpr("team_id, sum(total) AS total, sum(unsubscribed) AS unsubscribed, sum(bounced) AS bounced, sum(suppressed) AS suppressed").
		Group("team_id").Having("sum(total) <> 0").Order("team_id").Scan(ctx, &cCounters); err != nil {
		t.Fatal(err)
	}
	if err := db.NewSelect().Table("contacts").ColumnExpr("team_id, count(*) AS total").
		ColumnExpr("sum(CASE WHEN unsubscribed_at IS NOT NULL THEN 1 ELSE 0 END) AS unsubscribed").
		ColumnExpr("sum(CASE WHEN bounced_at IS NOT NULL THEN 1 ELSE 0 END) AS bounced").
		ColumnExpr("sum(CASE WHEN unsubscribed_at IS NOT NULL OR bounced_at IS NOT NULL THEN 1 ELSE 0 END) AS suppressed").
		Group("team_id").Order("team_id").Scan(ctx, &cRows); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(cCounters) != fmt.Sprint(cRows) {
		t.Errorf("contact_counts %v disagree with the contacts %v", cCounters, cRows)
	}
}

// checkDeliveryCounts asserts that delivery_counts agree with the
// deliveries, of one experiment (or of all with expID "").
func checkDeliveryCounts(t testing.TB, e *env, expID string) {
	t.Helper()
	ctx := context.Background()
	db := e.app.st.db
	type dc struct {
		ExperimentID string `bun:"experiment_id"`
		VariantKey   string `bun:"variant_key"`
		Status       string `bun:"status"`
		N            int    `bun:"n"`
	}
	var fromCounters, fromRows []dc
	q := db.NewSelect().Table("delivery_counts").ColumnExpr("experiment_id, variant_key, status, sum(n) AS n").
		Group("experiment_id", "variant_key", "status").Having("sum(n) <> 0").Order("experiment_id", "variant_key", "status")
	r := db.NewSelect().Table("deliveries").ColumnExpr("experiment_id, COALESCE(variant_id, '00000000-0000-0000-0000-000000000000') AS variant_key, status, count(*) AS n").
		GroupExpr("experiment_id, COALESCE(variant_id, '00000000-0000-0000-0000-000000000000'), status").Order("experiment_id", "variant_key", "status")
	if expID != "" {
		q, r = q.Where("experiment_id = ?", expID), r.Where("experiment_id = ?", expID)
	}
	if err := q.Scan(ctx, &fromCounters); err != nil {
		t.Fatal(err)
	}
	if err := r.Scan(ctx, &fromRows); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(fromCounters) != fmt.Sprint(fromRows) {
		t.Errorf("delivery_counts %v disagree with the deliveries %v", fromCounters, fromRows)
	}
}

// waitAssigned polls a launched experiment until its audience is assigned
// (launch assigns in the background) and returns it.
func (e *env) waitAssigned(teamID, id uuid.UUID) *experiments.Experiment {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		x, err := e.app.exps.Get(context.Background(), teamID, id)
		if err != nil {
			e.t.Fatal(err)
		}
		if x.Assignment == nil || x.Assignment.Done || time.Now().After(deadline) {
			if x.Assignment != nil && !x.Assignment.Done {
				e.t.Fatalf("experiment %s: assignment not done after 30s: %+v", id, x.Assignment)
			}
			return x
		}
		time.Sleep(20 * time.Millisecond)
	}
}
