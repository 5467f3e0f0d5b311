package tracking

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
)

// A Monday 07:00 UTC: still Sunday in Los Angeles, whose week starts an
// hour later, so the traffic's weeks differ by time zone.
var trafficT0 = time.Date(2026, 11, 23, 7, 0, 0, 0, time.UTC)

var trafficExperiment = uuid.MustParse("01937a2e-5b1c-7d3e-8f40-00000000e001")

// orderedTraffic is n clicks in time order, as a day of traffic looks:
// people clicking one link (some come back), scanners sweeping every link
// of an email within a second, honeypot hits, HEAD requests and scripts, on
// deliveries of two variants, across a week boundary.
func orderedTraffic(seed uint64, n int) []RawClick {
	r := rand.New(rand.NewPCG(seed, 11))
	variants := []uuid.UUID{uuid.MustParse("01937a2e-5b1c-7d3e-8f40-00000000a001"), uuid.MustParse("01937a2e-5b1c-7d3e-8f40-00000000a002")}
	type delivery struct {
		id, variant uuid.UUID
		links       int
	}
	ds := make([]delivery, 60)
	for i := range ds {
		ds[i] = delivery{id: uuid.NewSHA1(trafficExperiment, []byte(fmt.Sprintf("%d/%d", seed, i))), variant: variants[i%2], links: 1 + r.IntN(3)}
	}
	at := trafficT0.Add(-30 * time.Minute)
	var out []RawClick
	add := func(d delivery, link int, method, ua string) {
		at = at.Add(time.Duration(1+r.IntN(400)) * time.Millisecond)
		out = append(out, RawClick{ID: uuid.NewSHA1(trafficExperiment, []byte(fmt.Sprintf("%d/c%d", seed, len(out)))), DeliveryID: d.id,
			VariantID: d.variant, ExperimentID: trafficExperiment, LinkIdx: link, LinkCount: d.links, ClickedAt: at,
			Method: method, UserAgent: ua, IP: "203.0.113.0/24"})
	}
	for len(out) < n {
		d := ds[r.IntN(len(ds))]
		switch k := r.IntN(20); {
		case k < 12: // a person
			add(d, r.IntN(d.links), "GET", uaChrome)
		case k < 14: // a scanner's sweep over every link
			for l := range d.links {
				add(d, l, "GET", uaChrome)
			}
		case k < 15:
			add(d, HoneypotLink, "GET", uaChrome)
		case k < 16:
			add(d, r.IntN(d.links), "HEAD", uaChrome)
		case k < 17:
			add(d, r.IntN(d.links), "GET", "python-requests/2.31")
		default: // time passes
			at = at.Add(time.Duration(r.IntN(90)) * time.Second)
		}
	}
	return out[:n]
}

// appendTraffic writes the clicks to the ledger in batches of random sizes,
// and some batches a second time (a spool replaying a batch whose first
// write did commit).
func appendTraffic(t testing.TB, d *testDB, seed uint64, clicks []RawClick) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 13))
	l := NewLedger(d.ledger)
	for i := 0; i < len(clicks); {
		n := min(len(clicks)-i, 1+r.IntN(300))
		if err := l.Append(context.Background(), clicks[i:i+n]); err != nil {
			t.Fatal(err)
		}
		if r.IntN(8) == 0 {
			again := append([]RawClick(nil), clicks[i:i+n]...)
			for k := range again {
				again[k].Spooled = true
			}
			if err := l.Append(context.Background(), again); err != nil {
				t.Fatal(err)
			}
		}
		i += n
	}
}

var trafficRules = Rules{Window: 10 * time.Second}

func trafficDeliveries() *fakeDeliveries {
	return &fakeDeliveries{derive: derivedFacts(trafficExperiment, trafficT0)}
}

func compareRollups(t *testing.T, name string, got, want Rollups) {
	t.Helper()
	if len(got.Reasons) != len(want.Reasons) {
		t.Errorf("%s: %d classified clicks, want %d", name, len(got.Reasons), len(want.Reasons))
	}
	bad := 0
	for id, r := range want.Reasons {
		if g, ok := got.Reasons[id]; (!ok || g != r) && bad < 10 {
			bad++
			t.Errorf("%s: click %s: reason %q (stored %v), want %q", name, id, g, ok, r)
		}
	}
	if !reflect.DeepEqual(got.Variants, want.Variants) {
		t.Errorf("%s: variant counters\n%+v\nwant\n%+v", name, got.Variants, want.Variants)
	}
	if len(got.First) != len(want.First) {
		t.Errorf("%s: %d first clicks, want %d", name, len(got.First), len(want.First))
	}
	for d, w := range want.First {
		if g := got.First[d]; !g.At.Equal(w.At) || g.SendWeek != w.SendWeek {
			t.Errorf("%s: first click of %s: %+v, want %+v", name, d, g, w)
		}
	}
	if !reflect.DeepEqual(got.Weekly, want.Weekly) {
		t.Errorf("%s: weekly clickers\n%v\nwant\n%v", name, got.Weekly, want.Weekly)
	}
	if !reflect.DeepEqual(got.Clicked, want.Clicked) {
		t.Errorf("%s: clicked counters %v, want %v", name, got.Clicked, want.Clicked)
	}
}

// The projector, whatever its chunk size, arrives at what a recount of the
// raw ledger in one pass gives: classification and every rollup; and a
// click the ledger holds twice counts once.
func TestProjectorMatchesRecount(t *testing.T) {
	forEachDB(t, func(t *testing.T, d *testDB) {
		all := orderedTraffic(1, 2500)
		appendTraffic(t, d, 1, all)
		deliveries := trafficDeliveries()
		// A chunk per ledger row is slow (a commit each): fewer clicks there.
		for _, tc := range []struct{ chunk, clicks int }{{0, 2500}, {1, 300}, {37, 2500}, {400, 2500}} {
			t.Run(fmt.Sprintf("chunk %d", tc.chunk), func(t *testing.T) {
				d, clicks := d, all[:tc.clicks]
				if tc.chunk != 0 { // a fresh database with (the start of) the same ledger
					if d.pg {
						d = openPostgres(t)
					} else {
						d = openTestDB(t)
					}
					appendTraffic(t, d, 1, clicks)
				}
				p := d.newProjector(deliveries, trafficRules)
				if tc.chunk > 0 {
					p.cfg.Chunk = tc.chunk
				}
				project(t, p)
				got, err := NewStore(d.main).Rollups(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				want, err := Recount(context.Background(), NewLedger(d.read), deliveries, d.main, trafficRules)
				if err != nil {
					t.Fatal(err)
				}
				if len(want.Reasons) != len(clicks) {
					t.Fatalf("the recount classified %d clicks, want %d", len(want.Reasons), len(clicks))
				}
				compareRollups(t, "projected", got, want)
				counts, err := NewStore(d.main).ClickCounts(context.Background(), trafficExperiment)
				if err != nil {
					t.Fatal(err)
				}
				total := 0
				for _, c := range counts {
					total += c.Clicks + c.AutomatedClicks
				}
				if total != len(clicks) {
					t.Errorf("results count %d clicks, want %d", total, len(clicks))
				}
				st, err := NewStore(d.main).ProjectionState(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				rows, _ := d.ledgerCount(t)
				if st.Projected != int64(rows) {
					t.Errorf("state says %d ledger rows projected, the ledger has %d", st.Projected, rows)
				}
			})
		}
		if t.Failed() {
			return
		}
		// Every kind of click is in the traffic.
		want, _ := Recount(context.Background(), NewLedger(d.read), deliveries, d.main, trafficRules)
		seen := map[string]int{}
		for _, r := range want.Reasons {
			seen[r]++
		}
		for _, r := range []string{"", ReasonHead, ReasonScannerUA + " (python-requests)", ReasonSoonAfterSend, ReasonBurst, ReasonHoneypot, ReasonNearHoneypot} {
			if seen[r] == 0 {
				t.Errorf("the traffic has no click with reason %q", r)
			}
		}
	})
}

// The child side of TestProjectorKilledMidRange: a projector in a process of
// its own, on the database the parent names.
func TestProjectorChild(t *testing.T) {
	where := os.Getenv("SLICELAB_TEST_PROJECTOR_CHILD")
	if where == "" {
		t.Skip("runs as TestProjectorKilledMidRange's child process")
	}
	var d *testDB
	if strings.HasPrefix(where, "postgres") {
		main := openPostgresURL(t, where, 4)
		d = &testDB{main: main, ledger: main, read: main, pg: true}
	} else {
		d = openSQLite(t, where)
	}
	p := d.newProjector(trafficDeliveries(), trafficRules)
	p.cfg.Chunk, p.cfg.Lease, p.cfg.Holder = 97, 2*time.Second, "child"
	chunks := 0
	stallAt, _ := strconv.Atoi(os.Getenv("SLICELAB_TEST_PROJECTOR_STALL"))
	p.inChunk = func() {
		chunks++
		if chunks == stallAt {
			fmt.Println("STALLED") // in the transaction, its writes made, not committed
			select {}
		}
		time.Sleep(20 * time.Millisecond) // slow enough to be killed half-way
	}
	fmt.Println("STARTED")
	for {
		if _, _, err := p.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// startChild runs the child projector and returns it and its stdout.
func startChild(t *testing.T, where, stall string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestProjectorChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SLICELAB_TEST_PROJECTOR_CHILD="+where, "SLICELAB_TEST_PROJECTOR_STALL="+stall)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, bufio.NewScanner(out)
}

// A projector killed (SIGKILL) in the middle of a chunk's transaction, and
// one killed while running at full speed, then a projector that takes over:
// the rollups are those of one clean pass over the same ledger, and those of
// a recount from the raw ledger.
func TestProjectorKilledMidRange(t *testing.T) {
	forEachDB(t, func(t *testing.T, d *testDB) {
		ctx := context.Background()
		clicks := orderedTraffic(2, 3000)
		appendTraffic(t, d, 2, clicks)
		rows, _ := d.ledgerCount(t)
		position := func() int64 {
			st, err := NewStore(d.main).ProjectionState(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return st.Projected
		}

		// 1. Killed inside the transaction of its fourth chunk.
		cmd, out := startChild(t, d.where, "4")
		for out.Scan() && out.Text() != "STALLED" {
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if p := position(); p != 3*97 {
			t.Fatalf("after the kill in chunk 4 the position is %d, want the end of chunk 3 (%d)", p, 3*97)
		}

		// 2. Killed at full speed, somewhere past the middle.
		cmd, out = startChild(t, d.where, "0")
		for out.Scan() && out.Text() != "STARTED" {
		}
		waitFor(t, 60*time.Second, "the second child projects past the middle", func() bool { return position() > int64(rows)/2 })
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if p := position(); p >= int64(rows) {
			t.Fatalf("the second child finished (%d of %d) before it was killed", p, rows)
		}

		// 3. This process takes over once the dead child's lease runs out.
		p := d.newProjector(trafficDeliveries(), trafficRules)
		p.cfg.Chunk = 97
		waitFor(t, 30*time.Second, "the lease is taken over", func() bool {
			if _, _, err := p.Step(ctx); err != nil {
				t.Fatal(err)
			}
			return p.Holding()
		})
		project(t, p)
		if got := position(); got != int64(rows) {
			t.Fatalf("%d ledger rows projected in all, the ledger has %d", got, rows)
		}
		got, err := NewStore(d.main).Rollups(ctx)
		if err != nil {
			t.Fatal(err)
		}

		// One clean pass over the same ledger, in a database of its own.
		var clean *testDB
		if d.pg {
			clean = openPostgres(t)
		} else {
			clean = openTestDB(t)
		}
		appendTraffic(t, clean, 2, clicks)
		project(t, clean.newProjector(trafficDeliveries(), trafficRules))
		want, err := NewStore(clean.main).Rollups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		compareRollups(t, "killed and restarted, against one clean pass", got, want)
		recount, err := Recount(ctx, NewLedger(d.read), trafficDeliveries(), d.main, trafficRules)
		if err != nil {
			t.Fatal(err)
		}
		compareRollups(t, "killed and restarted, against a recount of the raw ledger", got, recount)
	})
}

// One projector per database: a second one waits while the first holds the
// lease, takes over once it expires, and the first, stalled past its lease,
// then commits nothing.
func TestProjectorLease(t *testing.T) {
	forEachDB(t, func(t *testing.T, d *testDB) {
		ctx := context.Background()
		clicks := orderedTraffic(3, 400)
		appendTraffic(t, d, 3, clicks[:200])
		a := d.newProjector(trafficDeliveries(), trafficRules)
		a.cfg.Holder, a.cfg.Lease, a.cfg.Chunk = "a", 300*time.Millisecond, 50
		b := d.newProjector(trafficDeliveries(), trafficRules)
		b.cfg.Holder, b.cfg.Lease, b.cfg.Chunk = "b", 300*time.Millisecond, 50
		if n := stepRows(t, a, 50); n != 50 || !a.Holding() {
			t.Fatalf("a: %d rows, holding %v", n, a.Holding())
		}
		if n, _, err := b.Step(ctx); err != nil || n != 0 || b.Holding() {
			t.Fatalf("b while a holds the lease: %d rows, %v, holding %v", n, err, b.Holding())
		}
		// a stalls past its lease; b takes over.
		time.Sleep(400 * time.Millisecond)
		if n := stepRows(t, b, 50); n != 50 || !b.Holding() {
			t.Fatalf("b after a's lease expired: %d rows, holding %v", n, b.Holding())
		}
		if n, _, err := a.Step(ctx); err != nil || n != 0 || a.Holding() {
			t.Fatalf("a after losing its lease: %d rows, %v, holding %v", n, err, a.Holding())
		}
		project(t, b)
		appendTraffic(t, d, 4, clicks[200:])
		// b stops and gives the lease up: a takes over at once.
		b.release()
		project(t, a)
		if !a.Holding() {
			t.Fatal("a does not hold the lease after b released it")
		}
		got, err := NewStore(d.main).Rollups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want, err := Recount(ctx, NewLedger(d.read), trafficDeliveries(), d.main, trafficRules)
		if err != nil {
			t.Fatal(err)
		}
		compareRollups(t, "two projectors taking turns", got, want)
	})
}

// On PostgreSQL a long transaction elsewhere on the server (an import,
// another database's work, even another database's ledger writer) does not
// hold the clicks back: the projector waits only for this ledger's writers. Without their name it waits for the
// oldest transaction on the server, as before.
func TestLedgerIgnoresOtherTransactions(t *testing.T) {
	d := openPostgres(t)
	ctx := context.Background()
	other, err := d.main.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback()
	var xid int64
	if err := other.QueryRowContext(ctx, "SELECT pg_current_xact_id()::text::bigint").Scan(&xid); err != nil {
		t.Fatal(err)
	}
	// A ledger writer of another database on the same server (another
	// slicelab, a test beside this one) is not waited for either.
	u, err := url.Parse(testPostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", LedgerWriterName)
	u.RawQuery = q.Encode()
	elsewhere, err := openPostgresURL(t, u.String(), 1).BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer elsewhere.Rollback()
	if _, err := elsewhere.ExecContext(ctx, "SELECT pg_current_xact_id()"); err != nil {
		t.Fatal(err)
	}
	clicks := orderedTraffic(6, 3)
	if err := NewLedger(d.ledger).Append(ctx, clicks); err != nil {
		t.Fatal(err)
	}
	rows, caughtUp, err := d.readLedger().Read(ctx, LedgerPos{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || !caughtUp {
		t.Fatalf("read %d rows (caught up %v) while transaction %d of another session is open, want 3, caught up", len(rows), caughtUp, xid)
	}
	rows, caughtUp, err = NewLedger(d.read).Read(ctx, LedgerPos{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 0 || caughtUp {
		t.Fatalf("without the writers' name: read %d rows (caught up %v) past an open transaction, want 0, not caught up", len(rows), caughtUp)
	}
}

func TestWritersHorizon(t *testing.T) {
	for _, c := range []struct {
		next    int64
		running []int64
		want    int64
	}{
		{100, nil, 100},
		{100, []int64{90, 95}, 90},
		{100, []int64{100, 120}, 100},                // given out after next was read
		{1<<32 + 10, []int64{4294967290}, 1<<32 - 6}, // across an epoch
	} {
		if got := writersHorizon(c.next, c.running); got != c.want {
			t.Errorf("writersHorizon(%d, %v) = %d, want %d", c.next, c.running, got, c.want)
		}
	}
}

// On PostgreSQL a click whose transaction took its sequence number early
// but commits late is not skipped: the projector does not read past a
// transaction that is still running, and says it has not caught up.
func TestLedgerReadsOnlyBelowRunningTransactions(t *testing.T) {
	d := openPostgres(t)
	ctx := context.Background()
	clicks := orderedTraffic(5, 4)
	l := NewLedger(d.ledger)
	if err := l.Append(ctx, clicks[:1]); err != nil {
		t.Fatal(err)
	}
	// A writer that takes seq 2 and stays open.
	slow, err := d.ledger.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Rollback()
	if err := NewLedger(slow).Append(ctx, clicks[1:2]); err != nil {
		t.Fatal(err)
	}
	// Writers that take seq 3 and 4 and commit.
	if err := l.Append(ctx, clicks[2:4]); err != nil {
		t.Fatal(err)
	}
	p := d.newProjector(trafficDeliveries(), trafficRules)
	before := time.Now().UTC()
	projected := func() map[uuid.UUID]bool {
		var stored []Click
		if err := d.main.NewSelect().Model(&stored).Column("id").Scan(ctx); err != nil {
			t.Fatal(err)
		}
		ids := map[uuid.UUID]bool{}
		for _, c := range stored {
			ids[c.ID] = true
		}
		return ids
	}
	// The first click comes through (once no older transaction anywhere on
	// the server is running: the horizon is the server's); the later ones
	// wait for the open one.
	waitFor(t, 30*time.Second, "the click before the open transaction is projected", func() bool {
		_, caughtUp, err := p.Step(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if caughtUp {
			t.Fatal("the projector says it caught up while a transaction of the ledger is open")
		}
		return projected()[clicks[0].ID]
	})
	for i := range 3 {
		if n, caughtUp, err := p.Step(ctx); err != nil || n != 0 || caughtUp {
			t.Fatalf("step %d with the transaction open: %d rows, caught up %v, %v; want 0, false", i, n, caughtUp, err)
		}
	}
	if ids := projected(); len(ids) != 1 {
		t.Fatalf("%d clicks projected while the transaction of the second is open, want 1", len(ids))
	}
	st, err := NewStore(d.main).ProjectionState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.AsOf.Before(before) {
		t.Errorf("as_of %v moved on while a click was held back (step began %v)", st.AsOf, before)
	}
	if err := slow.Commit(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "caught up once the transaction committed", func() bool {
		_, caughtUp, err := p.Step(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return caughtUp
	})
	ids := projected()
	for i, c := range clicks {
		if !ids[c.ID] {
			t.Errorf("click %d (committed %s) was skipped", i, map[bool]string{true: "late", false: "in order"}[i == 1])
		}
	}
	st, err = NewStore(d.main).ProjectionState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.AsOf.Before(before) {
		t.Errorf("as_of %v did not move on once caught up", st.AsOf)
	}
}

// as_of: once the projector has caught up it says so, with the time its
// pass began; results may quote it.
func TestProjectorAsOf(t *testing.T) {
	forEachDB(t, func(t *testing.T, d *testDB) {
		ctx := context.Background()
		now := trafficT0.Add(time.Hour)
		p := NewProjector(d.main, NewLedger(d.read), trafficDeliveries(), ProjectorConfig{Rules: trafficRules}, func() time.Time { return now })
		appendTraffic(t, d, 6, orderedTraffic(6, 50))
		project(t, p)
		asOf, err := NewStore(d.main).ClicksAsOf(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !asOf.Equal(now) {
			t.Errorf("as_of %v, want %v", asOf, now)
		}
		if lag := p.Lag(); lag != 0 {
			t.Errorf("lag %v right after catching up, want 0", lag)
		}
		now = now.Add(3 * time.Second)
		if lag := p.Lag(); lag != 3*time.Second {
			t.Errorf("lag %v 3 s later, want 3s", lag)
		}
		// Idle and caught up: as_of follows, at most a second behind.
		now = now.Add(2 * time.Second)
		project(t, p)
		if asOf, _ := NewStore(d.main).ClicksAsOf(ctx); !asOf.Equal(now) {
			t.Errorf("as_of %v after an idle pass, want %v", asOf, now)
		}
	})
}

// The projector runs in the background and follows the recorder's nudges;
// Stop gives the lease up.
func TestProjectorStartStop(t *testing.T) {
	d := openTestDB(t)
	p := d.newProjector(trafficDeliveries(), trafficRules)
	rec := d.newRecorder(t, RecorderConfig{Committed: p.Notify})
	p.Start()
	clicks := orderedTraffic(7, 300)
	for _, c := range clicks {
		if err := rec.Record(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 20*time.Second, "every click projected", func() bool { return countClicks(t, d.main, "") == len(clicks) })
	p.Stop()
	p.Stop() // idempotent
	st, err := NewStore(d.main).ProjectionState(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Holder != "" || st.Projected != int64(len(clicks)) {
		t.Errorf("after Stop: %+v; want no holder and %d projected", st, len(clicks))
	}
}

// The projector's cost per click: spread traffic (2,000 emails clicked in
// turn) and one link hammered, projected in chunks of 500 rows.
//
//	go test ./tracking -run '^$' -bench Projector -benchtime 20000x
func BenchmarkProjector(b *testing.B) {
	for _, kind := range []string{"spread", "hammered"} {
		b.Run(kind, func(b *testing.B) {
			d := openTestDB(b)
			deliveries := make([]uuid.UUID, 2000)
			for i := range deliveries {
				deliveries[i] = uuid.New()
			}
			t0 := time.Now().UTC()
			clicks := make([]RawClick, b.N)
			for i := range clicks {
				dv := deliveries[i%len(deliveries)]
				if kind == "hammered" {
					dv = deliveries[0]
				}
				clicks[i] = RawClick{ID: NewID(), DeliveryID: dv, VariantID: testVariant, ExperimentID: trafficExperiment,
					LinkIdx: 0, LinkCount: 2, ClickedAt: t0.Add(time.Duration(i) * 50 * time.Microsecond), Method: "GET",
					UserAgent: uaChrome, IP: "203.0.113.0/24"}
			}
			l := NewLedger(d.ledger)
			for start := 0; start < len(clicks); start += 1000 {
				if err := l.Append(context.Background(), clicks[start:min(len(clicks), start+1000)]); err != nil {
					b.Fatal(err)
				}
			}
			p := d.newProjector(trafficDeliveries(), trafficRules)
			p.cfg.Chunk = 500
			b.ResetTimer()
			project(b, p)
		})
	}
}

// Fresh returns once every click recorded before it was called is counted:
// at once when they are, after a pass when the projector runs here, and by
// watching the stored state when another process projects.
func TestProjectorFresh(t *testing.T) {
	d := openTestDB(t)
	ctx := context.Background()
	p := d.newProjector(trafficDeliveries(), trafficRules)
	p.cfg.Gap = time.Hour // only a waiting reader makes it skip the gap
	rec := d.newRecorder(t, RecorderConfig{Committed: p.Notify})
	p.Start()
	defer p.Stop()
	clicks := orderedTraffic(8, 40)
	for _, c := range clicks[:20] {
		if err := rec.Record(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	fctx, cancel := context.WithTimeout(ctx, 2*time.Minute) // a loaded machine under -race
	defer cancel()
	if err := p.Fresh(fctx); err != nil {
		t.Fatalf("Fresh: %v", err)
	}
	if n := countClicks(t, d.main, ""); n != 20 {
		t.Fatalf("%d clicks counted when Fresh returned, want 20", n)
	}
	for _, c := range clicks[20:] {
		if err := rec.Record(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Fresh(fctx); err != nil {
		t.Fatalf("Fresh with a pass in its gap: %v", err)
	}
	if n := countClicks(t, d.main, ""); n != 40 {
		t.Fatalf("%d clicks counted when Fresh returned, want 40", n)
	}
	asOf, err := NewStore(d.main).ClicksAsOf(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(asOf) > 10*time.Second {
		t.Errorf("as_of %v was not stored for the waiting reader", asOf)
	}
	// Another process's view: it waits on the state the holder stores
	// (at least once a second while caught up). The holder is one with the
	// service's short gap: p, with its hour-long gap, may sit in it after a
	// wake-up that only its own Fresh would cut short.
	p.Stop()
	holder := d.newProjector(trafficDeliveries(), trafficRules)
	holder.Start()
	other := d.newProjector(trafficDeliveries(), trafficRules)
	if err := other.Fresh(fctx); err != nil {
		t.Fatalf("Fresh from a process that does not project: %v", err)
	}
	// Nothing projects: Fresh gives up when its context ends.
	holder.Stop()
	short, cancel2 := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel2()
	if err := rec.Record(ctx, orderedTraffic(9, 1)[0]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // the click is older than the call
	if err := other.Fresh(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Fresh with no projector running = %v, want the deadline", err)
	}
}

// A stored click revealed by later ones gets the reason it would get were
// they all projected together, however the ledger is cut into chunks: a
// link, the honeypot and another link of one email within 2 s are "near a
// honeypot hit", "honeypot", "near a honeypot hit", not a burst for the
// first when the honeypot hit and the second link come in a later chunk.
func TestRetroReasonsDoNotDependOnChunks(t *testing.T) {
	ctx := context.Background()
	delivery := uuid.NewSHA1(trafficExperiment, []byte("retro"))
	t0 := trafficT0.Add(time.Hour) // well after sending
	// Another email's click first, so that chunks of 2 cut between the
	// first link and the honeypot hit.
	other := uuid.NewSHA1(trafficExperiment, []byte("retro-other"))
	clicks := []RawClick{{ID: uuid.NewSHA1(other, []byte{0}), DeliveryID: other, VariantID: testVariant, ExperimentID: trafficExperiment,
		LinkCount: 2, ClickedAt: t0.Add(-time.Second), Method: "GET", UserAgent: uaChrome, IP: "203.0.113.0/24"}}
	for i, link := range []int{1, HoneypotLink, 0} {
		clicks = append(clicks, RawClick{ID: uuid.NewSHA1(delivery, []byte{byte(i)}), DeliveryID: delivery, VariantID: testVariant,
			ExperimentID: trafficExperiment, LinkIdx: link, LinkCount: 2, ClickedAt: t0.Add(time.Duration(i) * 300 * time.Millisecond),
			Method: "GET", UserAgent: uaChrome, IP: "203.0.113.0/24"})
	}
	want := []string{ReasonNearHoneypot, ReasonHoneypot, ReasonNearHoneypot}
	for _, chunk := range []int{4, 3, 2, 1} {
		d := openTestDB(t)
		if err := NewLedger(d.ledger).Append(ctx, clicks); err != nil {
			t.Fatal(err)
		}
		p := d.newProjector(trafficDeliveries(), trafficRules)
		p.cfg.Chunk = chunk
		project(t, p)
		var got []Click
		if err := d.main.NewSelect().Model(&got).Where("delivery_id = ?", delivery).Order("clicked_at").Scan(ctx); err != nil {
			t.Fatal(err)
		}
		var reasons []string
		for _, c := range got {
			reasons = append(reasons, c.Reason)
		}
		if !slices.Equal(reasons, want) {
			t.Errorf("chunks of %d: reasons %q, want %q", chunk, reasons, want)
		}
	}
}
