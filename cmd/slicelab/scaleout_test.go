package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"slicelab/experiments"
)

// PostgreSQL without SLICELAB_SECRET is a start-up error: each instance
// would make a secret of its own, and links minted by one would be 404 on
// the others. SQLite keeps making one in the data folder.
func TestPostgresNeedsSecret(t *testing.T) {
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	pg := map[string]string{"SLICELAB_DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "SLICELAB_DATA_DIR": t.TempDir()}
	if _, err := loadConfig(env(pg)); err == nil || !strings.Contains(err.Error(), "SLICELAB_SECRET: is required with PostgreSQL") {
		t.Errorf("PostgreSQL without a secret: %v", err)
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"serve"}, env(pg), strings.NewReader(""), &out, &errb); code == 0 ||
		!strings.Contains(errb.String(), "SLICELAB_SECRET") {
		t.Errorf("serve on PostgreSQL without a secret: exit %d, %q", code, errb.String())
	}
	pg["SLICELAB_SECRET"] = "test-secret-0123456789abcdef0123456789abcdef"
	if _, err := loadConfig(env(pg)); err != nil {
		t.Errorf("PostgreSQL with a secret: %v", err)
	}
	if _, err := loadConfig(env(map[string]string{"SLICELAB_DATA_DIR": t.TempDir()})); err != nil {
		t.Errorf("SQLite without a secret: %v", err)
	}
}

// Two instances starting together on a fresh PostgreSQL database migrate
// one after the other (an advisory lock): both start, the schema is whole.
func TestConcurrentMigrations(t *testing.T) {
	db := testPostgresURL(t)
	cfg, err := loadConfig(func(k string) string {
		return map[string]string{"SLICELAB_DATABASE_URL": db, "SLICELAB_SECRET": "test-secret-0123456789abcdef0123456789abcdef",
			"SLICELAB_DATA_DIR": t.TempDir()}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := openStore(ctx, cfg.db)
			if err != nil {
				errs[i] = err
				return
			}
			defer st.Close()
			errs[i] = st.migrateUp(ctx, nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migration %d: %v", i, err)
		}
	}
	st, err := openStore(ctx, cfg.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out bytes.Buffer
	if err := st.migrateStatus(ctx, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "pending") {
		t.Errorf("after concurrent migrations:\n%s", out.String())
	}
}

// Resume while a batch's job waits to retry (temporary failures) does not
// give the batch a second job.
func TestResumeDuringRetryWait(t *testing.T) {
	forEachDB(t, func(t *testing.T, dbURL func(*testing.T) string) {
		e := startEnv(t, dbURL(t), func(v map[string]string) { v[testRetryBase] = "1h" })
		e.smtp.mu.Lock()
		e.smtp.reject = func(string, int) error {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		}
		e.smtp.mu.Unlock()
		tok := e.teamToken("growth", "editor")
		e.api("POST", "/api/v1/teams/growth/contacts", tok, contactsCSV(20, "example.test"), nil)
		exp := e.createAndLaunch(tok, "growth", experimentBody("Retry wait", 0))
		jobs := func() map[string]int {
			var rows []struct {
				State string `bun:"state"`
				N     int    `bun:"n"`
			}
			if err := e.app.st.db.NewSelect().TableExpr("river_job").ColumnExpr("state, count(*) AS n").
				Where("kind = ?", experiments.SendBatchArgs{}.Kind()).Group("state").Scan(context.Background(), &rows); err != nil {
				t.Fatal(err)
			}
			out := map[string]int{}
			for _, r := range rows {
				out[r.State] = r.N
			}
			return out
		}
		var p experimentJSON
		e.api("GET", "/api/v1/experiments/"+exp.ID, tok, nil, &p)
		deadline := time.Now().Add(30 * time.Second)
		for jobs()["retryable"] < 2 && time.Now().Before(deadline) { // 20 contacts, batches of 10
			time.Sleep(20 * time.Millisecond)
		}
		if j := jobs(); j["retryable"] != 2 || len(j) != 1 {
			t.Fatalf("send jobs %v, want 2 waiting to retry", j)
		}
		for _, action := range []string{"pause", "resume"} {
			if st, raw := e.api("POST", "/api/v1/experiments/"+exp.ID+"/"+action, tok, nil, nil); st != 200 {
				t.Fatalf("%s: %d %s", action, st, raw)
			}
		}
		if j := jobs(); j["retryable"] != 2 || len(j) != 1 {
			t.Errorf("after resume during the retry wait, send jobs %v; want the same 2 waiting to retry", j)
		}
	})
}

// testRetryBase, in startEnv's variables, sets the send retry delay.
const testRetryBase = "test:retry_base"

// The binary, built once for the tests that run it as a process.
var (
	buildOnce sync.Once
	binPath   string
	binErr    error
)

func slicelabBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "slicelab-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "slicelab")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// proc is `slicelab serve` running as a process.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	base string
	smtp *testSMTP
	logs *bytes.Buffer
}

func startProc(t *testing.T, vars map[string]string) *proc {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := startSMTP(t)
	p := &proc{t: t, base: "http://" + addr, smtp: s, logs: &bytes.Buffer{}}
	p.cmd = exec.Command(slicelabBinary(t), "serve")
	p.cmd.Env = append(os.Environ(), "SLICELAB_HTTP_ADDR="+addr, "SLICELAB_BASE_URL="+p.base, "SLICELAB_DATA_DIR="+t.TempDir(),
		"SLICELAB_SMTP_URL=smtp://"+s.addr+"?tls=none")
	for k, v := range vars {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("log of %s:\n%s", p.base, p.logs.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(p.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("slicelab serve did not answer within 30s:\n%s", p.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends sig and waits for the process to end.
func (p *proc) stop(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		p.t.Fatalf("slicelab serve did not stop within 90s after %s", sig)
	}
}

// TestKillMidSend and TestTermMidSend: two instances on one PostgreSQL
// database send one experiment of 2,000 contacts; one is stopped mid-send
// (SIGKILL: the process dies at once; SIGTERM: it shuts down) and started
// again. Every contact gets exactly one message, except deliveries recorded
// ambiguous (only after SIGKILL: at most one per SMTP connection of the
// killed instance), and the experiment completes within two minutes.
func TestKillMidSend(t *testing.T) { testStopMidSend(t, syscall.SIGKILL) }
func TestTermMidSend(t *testing.T) { testStopMidSend(t, syscall.SIGTERM) }

func testStopMidSend(t *testing.T, sig syscall.Signal) {
	db := testPostgresURL(t)
	const contacts, concurrency = 2000, 4
	vars := map[string]string{
		"SLICELAB_DATABASE_URL":     db,
		"SLICELAB_SECRET":           "test-secret-0123456789abcdef0123456789abcdef",
		"SLICELAB_SEND_RATE":        "150", // per process: about 7 s for the whole audience
		"SLICELAB_SEND_CONCURRENCY": fmt.Sprint(concurrency),
		"SLICELAB_CONTACT_COOLDOWN": "0s",
		"SLICELAB_BOT_WINDOW":       "0s",
		"SLICELAB_LOG_LEVEL":        "warn",
	}
	a := startProc(t, vars)
	b := startProc(t, vars)
	cliVars := map[string]string{"SLICELAB_DATA_DIR": t.TempDir()}
	for k, v := range vars {
		cliVars[k] = v
	}
	e := &env{t: t, base: a.base, vars: cliVars}
	tok := e.teamToken("growth", "editor")
	if st, raw := e.api("POST", "/api/v1/teams/growth/contacts", tok, contactsCSV(contacts, "example.test"), nil); st != 200 && st != 201 {
		t.Fatalf("import: %d %s", st, raw)
	}
	exp := e.createAndLaunch(tok, "growth", experimentBody("Stop mid-send", 0))
	start := time.Now()
	for len(a.smtp.messages()) < 200 {
		if time.Since(start) > 60*time.Second {
			t.Fatalf("instance A sent %d, B %d in a minute", len(a.smtp.messages()), len(b.smtp.messages()))
		}
		time.Sleep(10 * time.Millisecond)
	}
	a.stop(sig)
	if n := len(a.smtp.messages()) + len(b.smtp.messages()); n >= contacts {
		t.Fatalf("everything was sent before the stop (%d)", n)
	}
	a2 := startProc(t, vars)
	e.base = b.base
	done := e.waitDone(tok, exp.ID, 2*time.Minute)

	got := map[string]int{}
	for _, s := range []*testSMTP{a.smtp, b.smtp, a2.smtp} {
		for _, m := range s.messages() {
			got[m.rcpt]++
		}
	}
	st, err := openStore(context.Background(), dbTarget{postgres: true, dsn: db})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var ambiguous []string
	if err := st.db.NewSelect().TableExpr("deliveries AS d").Join("JOIN contacts AS c ON c.id = d.contact_id").
		ColumnExpr("c.email").Where("d.status = 'failed'").Where("d.last_error LIKE 'ambiguous%'").
		Scan(context.Background(), &ambiguous); err != nil {
		t.Fatal(err)
	}
	amb := map[string]bool{}
	for _, a := range ambiguous {
		amb[a] = true
	}
	for i := 0; i < contacts; i++ {
		rcpt := fmt.Sprintf("user%d@example.test", i)
		if n := got[rcpt]; n > 1 || (n == 0 && !amb[rcpt]) {
			t.Errorf("%s received %d messages (ambiguous: %v)", rcpt, n, amb[rcpt])
		}
	}
	max := concurrency
	if sig != syscall.SIGKILL {
		max = 0
	}
	if len(ambiguous) > max {
		t.Errorf("%d deliveries ambiguous after %s, want at most %d", len(ambiguous), sig, max)
	}
	if done.Progress.Sent+done.Progress.Failed != contacts || done.Progress.Failed != len(ambiguous) {
		t.Errorf("progress %+v, %d ambiguous", done.Progress, len(ambiguous))
	}
	t.Logf("%s: A sent %d before the stop, B %d, A again %d; %d ambiguous; completed %.1f s after the launch",
		sig, len(a.smtp.messages()), len(b.smtp.messages()), len(a2.smtp.messages()), len(ambiguous), time.Since(start).Seconds())
}

// The experiment's JSON shows the background assignment, and /metrics the
// sends by outcome, the SMTP latency, the send queue and the assignments,
// and each connection pool (on SQLite the reading pool serves the reads).
func TestSendProgressAndMetrics(t *testing.T) {
	e := startEnv(t, filepath.Join(t.TempDir(), "slicelab.db"))
	tok := e.teamToken("growth", "editor")
	e.api("POST", "/api/v1/teams/growth/contacts", tok, contactsCSV(30, "example.test"), nil)
	exp := e.createAndLaunch(tok, "growth", experimentBody("Metrics", 0))
	e.waitDone(tok, exp.ID, 2*time.Minute)
	var got struct {
		Assignment *struct {
			Assigned int  `json:"assigned"`
			Done     bool `json:"done"`
		} `json:"assignment"`
	}
	e.api("GET", "/api/v1/experiments/"+exp.ID, tok, nil, &got)
	if got.Assignment == nil || got.Assignment.Assigned != 30 || !got.Assignment.Done {
		t.Errorf("assignment %+v, want 30 assigned and done", got.Assignment)
	}
	m := e.metrics()
	if m[`slicelab_sends_total{outcome="sent"}`] != 30 || m[`slicelab_sends_total{outcome="ambiguous"}`] != 0 ||
		m["slicelab_smtp_send_seconds_count"] != 30 || m["slicelab_send_commit_messages_sum"] != 30 {
		t.Errorf("send metrics: sent %v, ambiguous %v, SMTP latencies %v, outcomes committed %v", m[`slicelab_sends_total{outcome="sent"}`],
			m[`slicelab_sends_total{outcome="ambiguous"}`], m["slicelab_smtp_send_seconds_count"], m["slicelab_send_commit_messages_sum"])
	}
	if m[`go_sql_max_open_connections{db_name="main"}`] != 1 || m[`go_sql_max_open_connections{db_name="main_read"}`] != sqliteReadConns ||
		m[`go_sql_max_open_connections{db_name="ledger"}`] != 1 || m[`go_sql_open_connections{db_name="main_read"}`] < 1 {
		t.Errorf("pool metrics: main %v, main_read %v (open %v), ledger %v connections at most", m[`go_sql_max_open_connections{db_name="main"}`],
			m[`go_sql_max_open_connections{db_name="main_read"}`], m[`go_sql_open_connections{db_name="main_read"}`], m[`go_sql_max_open_connections{db_name="ledger"}`])
	}
	for _, k := range []string{`slicelab_send_queue_jobs{state="available"}`, "slicelab_assignments_running", "slicelab_assignment_contacts_assigned"} {
		if v, ok := m[k]; !ok || v != 0 {
			t.Errorf("%s = %v (present %v), want 0 once done", k, v, ok)
		}
	}
}
