package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"slicelab/cmd/slicelab/internal/web"
	"slicelab/migrations"
	"slicelab/tracking"
)

// TestMain lets the test binary be slicelab itself: with
// SLICELAB_TEST_RUN_MAIN set it runs that command line (a child process of
// a test) instead of the tests.
func TestMain(m *testing.M) {
	if args := os.Getenv("SLICELAB_TEST_RUN_MAIN"); args != "" {
		os.Exit(process(strings.Fields(args)))
	}
	os.Exit(m.Run())
}

// clickLoad follows tracked links from several connections until stopped,
// each request with a user agent of its own, and keeps the user agents of
// the requests answered with a 302.
type clickLoad struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	answered []string    // user agents of the 302s
	at       []time.Time // when each 302 came
	other    map[string]int
}

func startLoad(base string, paths []string, workers int) *clickLoad {
	ctx, cancel := context.WithCancel(context.Background())
	l := &clickLoad{cancel: cancel, other: map[string]int{}}
	for w := range workers {
		l.wg.Go(func() {
			tr := &http.Transport{MaxIdleConnsPerHost: 2}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 10 * time.Second,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			for i := 0; ctx.Err() == nil; i++ {
				ua := fmt.Sprintf("%s load/%d/%d", browserUA, w, i)
				req, _ := http.NewRequestWithContext(ctx, "GET", base+paths[(w*7919+i)%len(paths)], nil)
				req.Header.Set("User-Agent", ua)
				resp, err := c.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						l.count("error")
						time.Sleep(5 * time.Millisecond)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusFound {
					l.count(strconv.Itoa(resp.StatusCode))
					continue
				}
				l.mu.Lock()
				l.answered = append(l.answered, ua)
				l.at = append(l.at, time.Now())
				l.mu.Unlock()
			}
		})
	}
	return l
}

func (l *clickLoad) count(what string) {
	l.mu.Lock()
	l.other[what]++
	l.mu.Unlock()
}

// n is how many 302s came so far.
func (l *clickLoad) n() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.answered)
}

func (l *clickLoad) stop() ([]string, []time.Time, map[string]int) {
	l.cancel()
	l.wg.Wait()
	return l.answered, l.at, l.other
}

// waitLoad waits until the load has had n answers in all.
func waitLoad(t *testing.T, l *clickLoad, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for l.n() < n {
		if time.Now().After(deadline) {
			_, _, other := l.stop()
			t.Fatalf("%d of %d clicks answered after 60s (other answers: %v)", l.n(), n, other)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// launchForClicks sends an experiment to n contacts and returns the paths
// (/c/…) of the tracked links in the messages.
func launchForClicks(t *testing.T, e *env, n int) (tok string, exp experimentJSON, paths []string) {
	t.Helper()
	tok = e.teamToken("growth", "editor")
	e.api("POST", "/api/v1/teams/growth/contacts", tok, contactsCSV(n, "example.test"), nil)
	exp = e.createAndLaunch(tok, "growth", experimentBody("Load", 0))
	e.waitDone(tok, exp.ID, 2*time.Minute)
	for _, r := range e.smtp.messages() {
		for _, l := range trackedRE.FindAllString(parse(t, r).html, 2) { // the two visible links
			u, err := url.Parse(l)
			if err != nil {
				t.Fatal(err)
			}
			paths = append(paths, u.Path)
		}
	}
	if len(paths) < n {
		t.Fatalf("%d tracked links in %d messages", len(paths), n)
	}
	return tok, exp, paths
}

// ledgerAgents opens the database afresh and returns the user agents in the
// click ledger, with how many times each is there.
func ledgerAgents(t *testing.T, db dbTarget) map[string]int {
	t.Helper()
	st, err := openStore(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := tracking.NewLedger(st.ledgerRead).All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.UserAgent]++
	}
	return out
}

// Every click answered with a 302 while the service is stopped with SIGTERM,
// in the middle of a load, is in the ledger afterwards. The service is this
// test binary run as `slicelab serve` in a process of its own.
func TestClicksAnsweredWhileStoppingAreInTheLedger(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dbURL func(*testing.T) string) {
		dataDir := t.TempDir()
		e := startEnv(t, dbURL(t), func(v map[string]string) { v["SLICELAB_DATA_DIR"] = dataDir })
		_, _, paths := launchForClicks(t, e, 40)
		e.stop()

		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "SLICELAB_TEST_RUN_MAIN=serve")
		for k, v := range e.vars {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		cmd.Env = append(cmd.Env, "SLICELAB_HTTP_ADDR="+addr, "SLICELAB_BASE_URL=http://"+addr, "SLICELAB_LOG_LEVEL=warn")
		cmd.Stdout, cmd.Stderr = testWriter{t}, testWriter{t}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
		})
		base := "http://" + addr
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Get(base + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatal("the service did not start")
			}
			time.Sleep(20 * time.Millisecond)
		}

		load := startLoad(base, paths, 8)
		waitLoad(t, load, 300)
		stopped := time.Now()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("slicelab exited with %v after SIGTERM", err)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("slicelab did not exit within 60s of SIGTERM")
		}
		answered, at, other := load.stop()
		late := 0
		for _, a := range at {
			if a.After(stopped) {
				late++
			}
		}

		have := ledgerAgents(t, e.app.cfg.db)
		missing := 0
		for _, ua := range answered {
			if have[ua] == 0 {
				if missing++; missing <= 5 {
					t.Errorf("click %q was answered with a 302 but is not in the ledger", ua)
				}
			}
		}
		if missing > 0 {
			t.Errorf("%d of %d answered clicks are not in the ledger", missing, len(answered))
		}
		t.Logf("%d clicks answered (%d after SIGTERM was sent); other answers %v; %d distinct user agents in the ledger",
			len(answered), late, other, len(have))
	})
}

// tcpProxy forwards connections to a server until cut: then it closes them
// all and refuses new ones, as a database that went away would, until
// restored.
type tcpProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]bool
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.setCut(true)
	})
	return p
}

func (p *tcpProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		cut := p.cut
		p.mu.Unlock()
		if cut {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[s] = true, true
		p.mu.Unlock()
		go p.pipe(c, s)
		go p.pipe(s, c)
	}
}

func (p *tcpProxy) pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

func (p *tcpProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
	}
}

var metricLine = regexp.MustCompile(`(?m)^((?:slicelab|go_sql)_[a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$`)

// metrics scrapes /metrics.
func (e *env) metrics() map[string]float64 {
	e.t.Helper()
	resp, err := http.Get(e.base + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	for _, m := range metricLine.FindAllStringSubmatch(string(body), -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		out[m[1]] = v
	}
	return out
}

// With the database away for a few seconds under click load, people are
// still redirected (the clicks go to the spool file), and once it is back
// every answered click reaches the ledger, and the results. On PostgreSQL
// the service reaches the (shared) server through a proxy that the test
// cuts; on SQLite another connection holds the ledger file's write lock,
// which is what a writer sees of a database it cannot write.
func TestClicksWhileTheDatabaseIsAway(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dbURL func(*testing.T) string) {
		db := dbURL(t)
		var away, back func()
		if strings.HasPrefix(db, "postgres") {
			u, err := url.Parse(db)
			if err != nil {
				t.Fatal(err)
			}
			proxy := startProxy(t, u.Host)
			u.Host = proxy.ln.Addr().String()
			db = u.String()
			away, back = func() { proxy.setCut(true) }, func() { proxy.setCut(false) }
		} else {
			var conn *migrationsConn
			away = func() { conn = lockSQLite(t, migrations.LedgerPath(db)) }
			back = func() { conn.release(t) }
		}
		e := startEnv(t, db)
		tok, exp, paths := launchForClicks(t, e, 30)
		// The destinations of every variant are cached, as they are once
		// people have started clicking.
		for _, p := range paths {
			if resp := click(t, "GET", e.base+p, browserUA); resp.StatusCode != http.StatusFound {
				t.Fatalf("%s answered %d", p, resp.StatusCode)
			}
		}
		load := startLoad(e.base, paths, 6)
		waitLoad(t, load, 100)
		before := e.metrics()

		away()
		atCut, cutAt := load.n(), time.Now()
		var awayFor time.Duration
		waitLoad(t, load, atCut+300) // answered while the database is away, for a few seconds
		for time.Since(cutAt) < 3*time.Second {
			time.Sleep(10 * time.Millisecond)
		}
		whileAway := load.n() - atCut
		if strings.HasPrefix(db, "postgres") {
			// A link whose destinations are not cached cannot be followed
			// without the database: 503, try again, rather than an error page.
			req, _ := http.NewRequest("GET", e.app.trk.ClickURL(uuid.New(), uuid.New(), 0), nil)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
				t.Errorf("an uncached link while the database is away: %d, Retry-After %q; want 503 with Retry-After",
					resp.StatusCode, resp.Header.Get("Retry-After"))
			}
		}
		if !e.app.rec.Spooling() {
			t.Error("clicks answered while the database is away, but the recorder is not spooling")
		}
		during := e.metrics()
		back()
		awayFor = time.Since(cutAt)
		waitLoad(t, load, load.n()+100)
		answered, _, other := load.stop()
		if len(other) > 0 {
			t.Errorf("answers other than 302 under load: %v", other)
		}
		deadline := time.Now().Add(60 * time.Second)
		for e.app.rec.Spooling() || e.app.spool.Pending() > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("the spool was not replayed within 60s of the database coming back (%d pending)", e.app.spool.Pending())
			}
			time.Sleep(20 * time.Millisecond)
		}
		after := e.metrics()

		have := ledgerAgents(t, e.app.cfg.db)
		missing := 0
		for _, ua := range answered {
			if have[ua] == 0 {
				if missing++; missing <= 5 {
					t.Errorf("click %q was answered with a 302 but is not in the ledger", ua)
				}
			}
		}
		if missing > 0 {
			t.Errorf("%d of %d answered clicks are not in the ledger", missing, len(answered))
		}
		spooled := after[`slicelab_clicks_recorded_total{to="spool"}`]
		replayed := after["slicelab_clicks_replayed_total"]
		if spooled < 300 || replayed != spooled || before[`slicelab_clicks_recorded_total{to="spool"}`] != 0 {
			t.Errorf("spooled %v (before the cut %v), replayed %v: want at least 300 spooled while away, all replayed",
				spooled, before[`slicelab_clicks_recorded_total{to="spool"}`], replayed)
		}
		if during["slicelab_click_spool_depth"] == 0 || after["slicelab_click_spool_depth"] != 0 {
			t.Errorf("spool depth %v while away, %v after: want some, then none", during["slicelab_click_spool_depth"], after["slicelab_click_spool_depth"])
		}
		if lost := after[`slicelab_clicks_recorded_total{to="lost"}`]; lost != 0 {
			t.Errorf("%v clicks lost", lost)
		}
		if got, want := after["slicelab_clicks_received_total"], float64(len(answered)); got < want {
			t.Errorf("received %v clicks, %v were answered", got, want)
		}

		// And the results count them, once projected.
		e.waitClicks()
		var res resultsJSON
		e.api("GET", "/api/v1/experiments/"+exp.ID+"/results", tok, nil, &res)
		counted := 0
		for _, v := range res.Variants {
			counted += v.Clicks + v.AutomatedClicks
		}
		if counted < len(answered) {
			t.Errorf("results count %d clicks, %d were answered", counted, len(answered))
		}
		t.Logf("%d clicks answered, %d while the database was away (%v); spooled %v, replayed %v; results count %d",
			len(answered), whileAway, awayFor.Round(time.Millisecond), spooled, replayed, counted)
	})
}

// migrationsConn is a connection holding a SQLite file's write lock.
type migrationsConn struct {
	close func() error
}

// lockSQLite takes the write lock of the SQLite file at path from another
// connection, as another process could.
func lockSQLite(t *testing.T, path string) *migrationsConn {
	t.Helper()
	ctx := context.Background()
	other, err := migrations.SQLitePool{}.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	return &migrationsConn{close: func() error {
		_, err := conn.ExecContext(ctx, "ROLLBACK")
		return errors.Join(err, conn.Close(), other.Close())
	}}
}

func (c *migrationsConn) release(t *testing.T) {
	t.Helper()
	if err := c.close(); err != nil {
		t.Error(err)
	}
}

// syncBuffer is a log destination that tests read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Every request gets an id (or keeps the one a proxy gave it), which its log
// line carries; redirected clicks are logged at debug level only.
func TestRequestLogsCarryRequestIDs(t *testing.T) {
	t.Parallel()
	e := startEnv(t, dbFile(t))
	_, _, paths := launchForClicks(t, e, 2)
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		t.Run(level.String(), func(t *testing.T) {
			var logs syncBuffer
			h, err := web.New(web.Deps{Experiments: e.app.exps, OKR: e.app.okr, Tracking: e.app.trk, Ready: e.app.st.db.PingContext,
				Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: level})), Now: e.app.now})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			get := func(path, id string) string {
				t.Helper()
				req, _ := http.NewRequest("GET", srv.URL+path, nil)
				req.Header.Set("User-Agent", browserUA)
				if id != "" {
					req.Header.Set("X-Request-Id", id)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.Header.Get("X-Request-Id")
			}
			health, health2 := get("/healthz", ""), get("/healthz", "")
			given := get("/healthz", "proxy-id-42")
			clickID := get(paths[0], "")
			missID := get("/c/not-a-token", "")
			if health == "" || health2 == "" || health == health2 || given != "proxy-id-42" || clickID == "" || missID == "" {
				t.Fatalf("request ids %q %q %q %q %q: want distinct ids, and the proxy's kept", health, health2, given, clickID, missID)
			}
			out := logs.String()
			for _, want := range []string{
				"request_id=" + health + " method=GET path=/healthz status=200",
				"request_id=proxy-id-42 method=GET path=/healthz status=200",
				"request_id=" + missID + " method=GET path=/c/[token] status=404", // a link's token is never logged
			} {
				if !strings.Contains(out, want) {
					t.Errorf("the log has no %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "not-a-token") {
				t.Errorf("a token in the log:\n%s", out)
			}
			if logged := strings.Contains(out, "request_id="+clickID+" "); logged != (level == slog.LevelDebug) {
				t.Errorf("redirected click logged %v at level %s:\n%s", logged, level, out)
			}
		})
	}
}

// SLICELAB_CLICK_FSYNC sets how the ledger's connections commit, and only
// theirs: SQLite synchronous FULL or NORMAL, PostgreSQL synchronous_commit
// on or off.
func TestClickFsyncSetting(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dbURL func(*testing.T) string) {
		url := dbURL(t)
		for _, fsync := range []string{"on", "off"} {
			cfg, err := loadConfig(func(k string) string {
				return map[string]string{"SLICELAB_DATABASE_URL": url, "SLICELAB_CLICK_FSYNC": fsync, "SLICELAB_DATA_DIR": t.TempDir(),
					"SLICELAB_SECRET": "test-secret-0123456789abcdef0123456789abcdef"}[k]
			})
			if err != nil {
				t.Fatal(err)
			}
			st, err := openStore(context.Background(), cfg.db)
			if err != nil {
				t.Fatal(err)
			}
			setting := func(db *bun.DB) string {
				var v string
				q := "PRAGMA synchronous"
				if st.postgres {
					q = "SHOW synchronous_commit"
				}
				if err := db.NewRaw(q).Scan(context.Background(), &v); err != nil {
					t.Fatal(err)
				}
				return v
			}
			ledger, main := setting(st.ledger), setting(st.db)
			st.Close()
			want := map[bool]map[string]string{false: {"on": "2", "off": "1"}, true: {"on": "on", "off": "off"}}[st.postgres][fsync]
			wantMain := map[bool]string{false: "2", true: "on"}[st.postgres]
			if ledger != want || main != wantMain {
				t.Errorf("SLICELAB_CLICK_FSYNC=%s: the ledger's connections have %s, the main ones %s; want %s and %s", fsync, ledger, main, want, wantMain)
			}
		}
	})
}
