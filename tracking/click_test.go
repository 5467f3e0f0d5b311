package tracking

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"slicelab/migrations"
)

func testClick(i int) RawClick {
	return RawClick{
		ID: uuid.New(), DeliveryID: uuid.New(), ExperimentID: testVariant, VariantID: testVariant,
		LinkIdx: i % 5, LinkCount: 5, ClickedAt: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond),
		Method: "GET", UserAgent: uaChrome, IP: "203.0.113.0/24",
	}
}

func TestRecorderConcurrentRecords(t *testing.T) {
	const n = 200
	for _, cfg := range []RecorderConfig{{}, {MaxBatch: 1}, {MaxBatch: 16}, {MaxBatch: 16, Writers: 3}} {
		t.Run(fmt.Sprintf("maxBatch %d writers %d", cfg.MaxBatch, cfg.Writers), func(t *testing.T) {
			forEachDB(t, func(t *testing.T, d *testDB) {
				if !d.pg && cfg.Writers > 1 {
					t.Skip("one writer per SQLite file")
				}
				rec := d.newRecorder(t, cfg)
				ctx := context.Background()

				clicks := make([]RawClick, n)
				errs := make([]error, n)
				for i := range clicks {
					clicks[i] = testClick(i)
				}
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i := range n {
					wg.Go(func() {
						<-start
						errs[i] = rec.Record(ctx, clicks[i])
					})
				}
				close(start)
				wg.Wait()

				for i, err := range errs {
					if err != nil {
						t.Errorf("Record %d: %v", i, err)
					}
				}
				if rows, _ := d.ledgerCount(t); rows != n {
					t.Fatalf("%d clicks in the ledger, want %d", rows, n)
				}
				stored, err := NewLedger(d.read).All(ctx)
				if err != nil {
					t.Fatal(err)
				}
				byID := map[uuid.UUID]RawClick{}
				for _, c := range stored {
					byID[c.ID] = c
				}
				for i, c := range clicks {
					s, ok := byID[c.ID]
					if !ok {
						t.Errorf("click %d (%s) is missing", i, c.ID)
						continue
					}
					if s.DeliveryID != c.DeliveryID || s.LinkIdx != c.LinkIdx || s.LinkCount != c.LinkCount || !s.ClickedAt.Equal(c.ClickedAt) ||
						s.UserAgent != c.UserAgent || s.IP != c.IP || s.Method != c.Method || s.Spooled {
						t.Errorf("click %d stored as %+v, want %+v", i, s, c)
					}
				}
				for i := 1; i < len(stored); i++ {
					if !stored[i].after(stored[i-1]) {
						t.Errorf("ledger order: row %d %+v does not come after %+v", i, stored[i], stored[i-1])
					}
				}

				closeWithin(t, rec, 10*time.Second)
				if err := rec.Record(ctx, testClick(n)); !errors.Is(err, ErrRecorderClosed) {
					t.Errorf("Record after Close = %v, want ErrRecorderClosed", err)
				}
				closeWithin(t, rec, time.Second) // idempotent
				if err := rec.Record(ctx, testClick(n+1)); !errors.Is(err, ErrRecorderClosed) {
					t.Errorf("Record after a second Close = %v, want ErrRecorderClosed", err)
				}
				if rows, _ := d.ledgerCount(t); rows != n {
					t.Errorf("%d clicks in the ledger after Close, want %d", rows, n)
				}
			})
		})
	}
}

func (c RawClick) after(p RawClick) bool {
	return LedgerPos{Xid: c.Xid, Seq: c.Seq}.after(LedgerPos{Xid: p.Xid, Seq: p.Seq})
}

// Record returns nil exactly for the clicks that were written, also while
// Close runs concurrently.
func TestRecorderCloseDuringRecords(t *testing.T) {
	d := openTestDB(t)
	rec := d.newRecorder(t, RecorderConfig{MaxBatch: 8})
	ctx := context.Background()
	const n = 200
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = rec.Record(ctx, testClick(i)) })
		if i == n/2 {
			wg.Go(func() { rec.Close() })
		}
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrRecorderClosed):
		default:
			t.Errorf("Record %d: %v", i, err)
		}
	}
	if rows, _ := d.ledgerCount(t); rows != ok {
		t.Errorf("%d clicks in the ledger, but %d Record calls returned nil", rows, ok)
	}
	closeWithin(t, rec, time.Second)
}

func TestRecorderCloseWithoutClicks(t *testing.T) {
	d := openTestDB(t)
	rec := d.newRecorder(t, RecorderConfig{})
	closeWithin(t, rec, 5*time.Second)
	closeWithin(t, rec, time.Second)
	if err := rec.Record(context.Background(), testClick(0)); !errors.Is(err, ErrRecorderClosed) {
		t.Errorf("Record after Close = %v, want ErrRecorderClosed", err)
	}
	if rows, _ := d.ledgerCount(t); rows != 0 {
		t.Errorf("%d clicks in the ledger, want none", rows)
	}
}

// lockLedger holds SQLite's write lock on the ledger's file from another
// connection, as another process could: the ledger cannot be written until
// the returned function is called.
func lockLedger(t *testing.T, d *testDB) (unlock func()) {
	t.Helper()
	ctx := context.Background()
	other, err := migrations.SQLitePool{}.Open(ctx, migrations.LedgerPath(filepath.Join(d.where, "slicelab.db")))
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
	var once sync.Once
	unlock = func() {
		once.Do(func() {
			if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
				t.Error(err)
			}
			conn.Close()
			other.Close()
		})
	}
	t.Cleanup(unlock)
	return unlock
}

// Without a spool, a failed INSERT reaches every caller of its batch and the
// recorder keeps going.
func TestRecorderReportsWriteErrors(t *testing.T) {
	d := openTestDB(t)
	rec := d.newRecorder(t, RecorderConfig{})
	ctx := context.Background()
	if err := rec.Record(ctx, testClick(0)); err != nil {
		t.Fatalf("first Record: %v", err)
	}
	unlock := lockLedger(t, d)
	if err := rec.Record(ctx, testClick(1)); err == nil || errors.Is(err, ErrRecorderClosed) {
		t.Errorf("Record while the ledger is locked = %v, want the database error", err)
	}
	unlock()
	if err := rec.Record(ctx, testClick(2)); err != nil {
		t.Errorf("Record after a failed write: %v", err)
	}
	if rows, _ := d.ledgerCount(t); rows != 2 {
		t.Errorf("%d clicks in the ledger, want 2", rows)
	}
}

type countingObserver struct {
	mu       sync.Mutex
	to       map[string]int
	replayed int
}

func (o *countingObserver) Batch(n int, _ time.Duration, to string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.to == nil {
		o.to = map[string]int{}
	}
	o.to[to] += n
}

func (o *countingObserver) Replayed(n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.replayed += n
}

func (o *countingObserver) get() (map[string]int, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.to), o.replayed
}

// While the ledger cannot be written every click still gets a durable
// answer, from the spool; when the ledger is back the spool is replayed
// into it and the recorder writes to the ledger again.
func TestRecorderSpoolsWhileLedgerLocked(t *testing.T) {
	d := openTestDB(t)
	spool, err := OpenSpool(filepath.Join(d.where, "spool"))
	if err != nil {
		t.Fatal(err)
	}
	defer spool.Close()
	obs := &countingObserver{}
	rec := d.newRecorder(t, RecorderConfig{Spool: spool, ReplayEvery: 20 * time.Millisecond, Observer: obs})
	ctx := context.Background()
	var want []RawClick
	record := func(n int) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			c := testClick(len(want) + i)
			want = append(want, c)
			wg.Go(func() { errs[i] = rec.Record(ctx, c) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("Record %d: %v", i, err)
			}
		}
	}
	record(20)
	unlock := lockLedger(t, d)
	record(50)
	if !rec.Spooling() {
		t.Fatal("the recorder is not spooling while the ledger is locked")
	}
	if spool.Pending() != 50 {
		t.Fatalf("%d clicks in the spool, want 50", spool.Pending())
	}
	if rows, _ := d.ledgerCount(t); rows != 20 {
		t.Fatalf("%d clicks in the ledger while it is locked, want 20", rows)
	}
	if fi, err := os.Stat(spool.Path()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("spool file %v, %v: want mode 0600", fi, err)
	}
	unlock()
	waitFor(t, 10*time.Second, "spool replayed", func() bool { return !rec.Spooling() && spool.Pending() == 0 })
	record(10)
	rows, distinct := d.ledgerCount(t)
	if rows != 80 || distinct != 80 {
		t.Fatalf("ledger has %d rows (%d distinct), want 80", rows, distinct)
	}
	stored, err := NewLedger(d.read).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	have := map[uuid.UUID]RawClick{}
	spooled := 0
	for _, c := range stored {
		have[c.ID] = c
		if c.Spooled {
			spooled++
		}
	}
	for i, c := range want {
		s, ok := have[c.ID]
		if !ok || !s.ClickedAt.Equal(c.ClickedAt) || s.UserAgent != c.UserAgent || s.DeliveryID != c.DeliveryID || s.LinkCount != c.LinkCount {
			t.Errorf("click %d: stored %+v, want %+v", i, s, c)
		}
	}
	if spooled != 50 {
		t.Errorf("%d ledger rows came through the spool, want 50", spooled)
	}
	to, replayed := obs.get()
	if to[ToLedger] != 30 || to[ToSpool] != 50 || to[ToLost] != 0 || replayed != 50 {
		t.Errorf("observed %v and %d replayed; want 30 to the ledger, 50 spooled and replayed", to, replayed)
	}
}

// The spool keeps what it was given across a restart, drops a line cut
// short by a crash, and gives each process a file of its own.
func TestSpoolFile(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	clicks := []RawClick{testClick(0), testClick(1), testClick(2)}
	clicks[1].UserAgent = "line\nbreak \"quoted\" ünïcode"
	if err := s.Append(clicks[:2]); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(clicks[2:]); err != nil {
		t.Fatal(err)
	}
	// Another process on the same folder gets another file.
	other, err := OpenSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	if other.Path() == s.Path() {
		t.Errorf("two spools share %s", s.Path())
	}
	other.Close()
	s.Close()
	// A crash in the middle of a write leaves half a line.
	f, err := os.OpenFile(s.Path(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"id":"0193`); err != nil {
		t.Fatal(err)
	}
	f.Close()

	s, err = OpenSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Pending() != 3 {
		t.Fatalf("%d clicks pending after a restart, want 3", s.Pending())
	}
	var got []RawClick
	fail := errors.New("ledger away")
	calls := 0
	n, err := s.Replay(context.Background(), 2, func(_ context.Context, cs []RawClick) error {
		calls++
		if calls == 2 {
			return fail
		}
		got = append(got, cs...)
		return nil
	}, nil)
	if !errors.Is(err, fail) || n != 2 || s.Pending() != 1 {
		t.Fatalf("replay with a failure: %d, %v, %d pending; want 2, the failure, 1 pending", n, err, s.Pending())
	}
	drained := false
	n, err = s.Replay(context.Background(), 2, func(_ context.Context, cs []RawClick) error {
		got = append(got, cs...)
		return nil
	}, func() { drained = true })
	if err != nil || n != 1 || !drained || s.Pending() != 0 {
		t.Fatalf("replay: %d, %v, drained %v, %d pending", n, err, drained, s.Pending())
	}
	if len(got) != 3 {
		t.Fatalf("replayed %d clicks, want 3", len(got))
	}
	for i, c := range got {
		w := clicks[i]
		if c.ID != w.ID || c.DeliveryID != w.DeliveryID || c.VariantID != w.VariantID || c.ExperimentID != w.ExperimentID ||
			c.LinkIdx != w.LinkIdx || c.LinkCount != w.LinkCount || !c.ClickedAt.Equal(w.ClickedAt) || c.Method != w.Method ||
			c.UserAgent != w.UserAgent || c.IP != w.IP || !c.Spooled {
			t.Errorf("replayed %+v, want %+v (spooled)", c, w)
		}
	}
	if fi, err := os.Stat(s.Path()); err != nil || fi.Size() != 0 {
		t.Errorf("spool after replay: %v, %v; want an empty file", fi, err)
	}
}

// followFixture is a migrated database with one team, experiment and variant
// whose links are stored, and a tracking service over it.
type followFixture struct {
	d          *testDB
	db         *bun.DB
	svc        *Service
	rec        *Recorder
	proj       *Projector
	experiment uuid.UUID
	variant    uuid.UUID
	links      []string
	now        time.Time
	deliveries *fakeDeliveries
}

func newFollowFixture(t *testing.T) *followFixture {
	t.Helper()
	d := openTestDB(t)
	db := d.main
	ctx := context.Background()
	f := &followFixture{
		d: d, db: db, experiment: uuid.New(), variant: uuid.New(),
		links:      []string{"https://example.com/a", "https://example.com/b?x=1&y=2"},
		now:        time.Date(2026, 11, 25, 12, 30, 0, 0, time.UTC),
		deliveries: &fakeDeliveries{},
	}
	team := uuid.New()
	exec := func(query string, args ...any) {
		t.Helper()
		if _, err := db.NewRaw(query, args...).Exec(ctx); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	exec("INSERT INTO teams (id, slug, name, created_at) VALUES (?, ?, ?, ?)", team, "acme", "Acme", f.now)
	exec("INSERT INTO experiments (id, team_id, name, status, holdout, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
		f.experiment, team, "Spring", "running", 0.0, f.now, f.now)
	exec(`INSERT INTO variants (id, experiment_id, position, name, weight, control, subject, html_body, text_body, html_compiled, text_compiled)
		VALUES (?, ?, 0, 'A', 1, TRUE, 's', 'h', 't', 'h', 't')`, f.variant, f.experiment)
	if err := NewStore(db).SaveLinks(ctx, f.experiment, f.variant, f.links); err != nil {
		t.Fatal(err)
	}
	f.rec = d.newRecorder(t, RecorderConfig{})
	f.proj = d.newProjector(f.deliveries, Rules{})
	f.svc = NewService(NewStore(db), NewSealer(testSecret), "https://t.example/", f.rec, func() time.Time { return f.now })
	return f
}

// clickToken mints a click token the way a sent message carries it.
func (f *followFixture) clickToken(t *testing.T, variant, delivery uuid.UUID, idx int) string {
	t.Helper()
	u := f.svc.ClickURL(variant, delivery, idx)
	const prefix = "https://t.example/c/"
	if !strings.HasPrefix(u, prefix) {
		t.Fatalf("ClickURL = %q, want it under %s", u, prefix)
	}
	return strings.TrimPrefix(u, prefix)
}

func TestServiceFollow(t *testing.T) {
	f := newFollowFixture(t)
	ctx := context.Background()
	longUA := uaChrome + strings.Repeat("x", 1000)
	type wantClick struct {
		automated bool
		reason    string
		ip        string
		ua        string
	}
	tests := []struct {
		name     string
		token    func(t *testing.T, delivery uuid.UUID) string
		hit      Hit
		wantDest string
		wantIdx  int // the stored link index when it is not the destination's
		wantErr  error
		want     *wantClick // nil: nothing stored
	}{
		{
			name:     "browser GET of the first link",
			token:    func(t *testing.T, d uuid.UUID) string { return f.clickToken(t, f.variant, d, 0) },
			hit:      Hit{Method: "GET", UserAgent: uaChrome, IP: "203.0.113.77"},
			wantDest: f.links[0],
			want:     &wantClick{automated: false, reason: "", ip: "203.0.113.0/24", ua: uaChrome},
		},
		{
			name:     "browser GET of the second link from IPv6",
			token:    func(t *testing.T, d uuid.UUID) string { return f.clickToken(t, f.variant, d, 1) },
			hit:      Hit{Method: "GET", UserAgent: uaIPhone, IP: "2001:db8:abcd:12::99"},
			wantDest: f.links[1],
			want:     &wantClick{automated: false, reason: "", ip: "2001:db8:abcd::/48", ua: uaIPhone},
		},
		{
			name:     "HEAD request",
			token:    func(t *testing.T, d uuid.UUID) string { return f.clickToken(t, f.variant, d, 0) },
			hit:      Hit{Method: "HEAD", UserAgent: uaChrome, IP: "203.0.113.77"},
			wantDest: f.links[0],
			want:     &wantClick{automated: true, reason: "head request", ip: "203.0.113.0/24", ua: uaChrome},
		},
		{
			name:     "scanner",
			token:    func(t *testing.T, d uuid.UUID) string { return f.clickToken(t, f.variant, d, 1) },
			hit:      Hit{Method: "GET", UserAgent: "python-requests/2.31.0", IP: "::ffff:198.51.100.7"},
			wantDest: f.links[1],
			want:     &wantClick{automated: true, reason: ReasonScannerUA + " (python-requests)", ip: "198.51.100.0/24", ua: "python-requests/2.31.0"},
		},
		{
			name:     "no user agent, unparsable address",
			token:    func(t *testing.T, d uuid.UUID) string { return f.clickToken(t, f.variant, d, 0) },
			hit:      Hit{Method: "GET", IP: "not an address"},
			wantDest: f.links[0],
			want:     &wantClick{automated: true, reason: ReasonNoUserAgent, ip: "", ua: ""},
		},
		{
			name:     "long user agent is truncated",
			token:    func(t *testing.T, d uuid.UUID) string { return f.clickToken(t, f.variant, d, 0) },
			hit:      Hit{Method: "GET", UserAgent: longUA, IP: "203.0.113.77"},
			wantDest: f.links[0],
			want:     &wantClick{automated: false, ip: "203.0.113.0/24", ua: longUA[:512]},
		},
		{
			name:    "link index beyond the stored ones",
			token:   func(t *testing.T, d uuid.UUID) string { return f.clickToken(t, f.variant, d, len(f.links)) },
			hit:     Hit{Method: "GET", UserAgent: uaChrome, IP: "203.0.113.77"},
			wantErr: ErrNotFound,
		},
		{
			name:    "link index far beyond the stored ones",
			token:   func(t *testing.T, d uuid.UUID) string { return f.clickToken(t, f.variant, d, HoneypotLink-1) },
			hit:     Hit{Method: "GET", UserAgent: uaChrome, IP: "203.0.113.77"},
			wantErr: ErrNotFound,
		},
		{
			name: "honeypot link",
			token: func(t *testing.T, d uuid.UUID) string {
				return strings.TrimPrefix(f.svc.HoneypotURL(f.variant, d), "https://t.example/c/")
			},
			hit:      Hit{Method: "GET", UserAgent: uaChrome, IP: "203.0.113.77"},
			wantDest: f.links[0],
			wantIdx:  HoneypotLink,
			want:     &wantClick{automated: true, reason: ReasonHoneypot, ip: "203.0.113.0/24", ua: uaChrome},
		},
		{
			name: "tampered token",
			token: func(t *testing.T, d uuid.UUID) string {
				tok := []byte(f.clickToken(t, f.variant, d, 0))
				if tok[10] == 'A' {
					tok[10] = 'B'
				} else {
					tok[10] = 'A'
				}
				return string(tok)
			},
			hit:     Hit{Method: "GET", UserAgent: uaChrome, IP: "203.0.113.77"},
			wantErr: ErrNotFound,
		},
		{
			name: "truncated token",
			token: func(t *testing.T, d uuid.UUID) string {
				tok := f.clickToken(t, f.variant, d, 0)
				return tok[:len(tok)-1]
			},
			hit:     Hit{Method: "GET", UserAgent: uaChrome, IP: "203.0.113.77"},
			wantErr: ErrNotFound,
		},
		{
			name: "token sealed with another secret",
			token: func(t *testing.T, d uuid.UUID) string {
				return NewSealer([]byte("other")).Seal(Ref{Kind: KindClick, VariantID: f.variant, DeliveryID: d})
			},
			hit:     Hit{Method: "GET", UserAgent: uaChrome, IP: "203.0.113.77"},
			wantErr: ErrNotFound,
		},
		{
			name: "unsubscribe token",
			token: func(t *testing.T, d uuid.UUID) string {
				return strings.TrimPrefix(f.svc.UnsubscribeURL(f.variant, d), "https://t.example/u/")
			},
			hit:     Hit{Method: "GET", UserAgent: uaChrome, IP: "203.0.113.77"},
			wantErr: ErrNotFound,
		},
		{
			name:    "unknown variant",
			token:   func(t *testing.T, d uuid.UUID) string { return f.clickToken(t, uuid.New(), d, 0) },
			hit:     Hit{Method: "GET", UserAgent: uaChrome, IP: "203.0.113.77"},
			wantErr: ErrNotFound,
		},
		{
			name:    "empty token",
			token:   func(t *testing.T, d uuid.UUID) string { return "" },
			hit:     Hit{Method: "GET", UserAgent: uaChrome, IP: "203.0.113.77"},
			wantErr: ErrNotFound,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			delivery := uuid.New()
			before, _ := f.d.ledgerCount(t)
			dest, err := f.svc.Follow(ctx, tt.token(t, delivery), tt.hit)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Follow = %q, %v; want %v", dest, err, tt.wantErr)
				}
				if dest != "" {
					t.Errorf("Follow returned destination %q with the error", dest)
				}
				if after, _ := f.d.ledgerCount(t); after != before {
					t.Errorf("%d clicks recorded by a refused follow", after-before)
				}
				return
			}
			if err != nil {
				t.Fatalf("Follow: %v", err)
			}
			if dest != tt.wantDest {
				t.Errorf("destination = %q, want %q", dest, tt.wantDest)
			}
			// In the ledger when Follow returns, with the request's facts;
			// classified once projected.
			if after, _ := f.d.ledgerCount(t); after != before+1 {
				t.Errorf("%d clicks in the ledger, want %d", after, before+1)
			}
			var raw []RawClick
			if err := f.d.read.NewSelect().Model(&raw).Column("id", "method", "user_agent", "ip", "link_count").
				Where("delivery_id = ?", delivery).Scan(ctx); err != nil {
				t.Fatal(err)
			}
			if len(raw) != 1 || raw[0].IP != tt.want.ip || raw[0].UserAgent != tt.want.ua || raw[0].Method != tt.hit.Method ||
				raw[0].LinkCount != len(f.links) {
				t.Errorf("ledger rows = %+v; want one with ip %q, ua %q, method %s, %d links", raw, tt.want.ip, tt.want.ua, tt.hit.Method, len(f.links))
			}
			project(t, f.proj)
			var stored []Click
			if err := f.db.NewSelect().Model(&stored).Where("delivery_id = ?", delivery).Scan(ctx); err != nil {
				t.Fatal(err)
			}
			if len(stored) != 1 {
				t.Fatalf("%d clicks stored for the delivery, want 1", len(stored))
			}
			if after := countClicks(t, f.db, ""); after != before+1 {
				t.Errorf("%d clicks classified in all, want %d", after, before+1)
			}
			c := stored[0]
			wantIdx := slices.Index(f.links, tt.wantDest)
			if tt.wantIdx != 0 {
				wantIdx = tt.wantIdx
			}
			if c.Automated != tt.want.automated || c.Reason != tt.want.reason || len(raw) != 1 || c.ID != raw[0].ID ||
				c.LinkIdx != wantIdx || c.VariantID != f.variant || c.ExperimentID != f.experiment ||
				c.DeliveryID != delivery || !c.ClickedAt.Equal(f.now) || c.ID == uuid.Nil {
				t.Errorf("stored click = %+v\nwant automated %v, reason %q, link %d, variant %s, experiment %s, at %v",
					c, tt.want.automated, tt.want.reason, wantIdx, f.variant, f.experiment, f.now)
			}
		})
	}
}

// Following after the recorder has stopped still resolves the destination
// and reports that the click was not stored.
func TestServiceFollowRecorderClosed(t *testing.T) {
	f := newFollowFixture(t)
	f.rec.Close()
	tok := f.clickToken(t, f.variant, uuid.New(), 1)
	dest, err := f.svc.Follow(context.Background(), tok, Hit{Method: "GET", UserAgent: uaChrome, IP: "203.0.113.77"})
	if dest != f.links[1] {
		t.Errorf("destination = %q, want %q", dest, f.links[1])
	}
	if !errors.Is(err, ErrRecorderClosed) {
		t.Errorf("Follow error = %v, want ErrRecorderClosed", err)
	}
	if n, _ := f.d.ledgerCount(t); n != 0 {
		t.Errorf("%d clicks recorded, want none", n)
	}
}

func TestServiceURLs(t *testing.T) {
	f := newFollowFixture(t)
	d := uuid.New()
	for _, tt := range []struct {
		name, url, prefix string
		kind              Kind
	}{
		{"click", f.svc.ClickURL(f.variant, d, 1), "https://t.example/c/", KindClick},
		{"unsubscribe", f.svc.UnsubscribeURL(f.variant, d), "https://t.example/u/", KindUnsubscribe},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.HasPrefix(tt.url, tt.prefix) {
				t.Fatalf("URL %q does not start with %q", tt.url, tt.prefix)
			}
			ref, err := NewSealer(testSecret).Open(strings.TrimPrefix(tt.url, tt.prefix), tt.kind)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if ref.VariantID != f.variant || ref.DeliveryID != d {
				t.Errorf("token carries %+v", ref)
			}
		})
	}
}

// Every HTML email carries the honeypot link, also one whose variant has no
// tracked links; following it must still send the scanner on and record an
// automated honeypot click.
func TestServiceFollowHoneypotOfVariantWithoutLinks(t *testing.T) {
	f := newFollowFixture(t)
	ctx := context.Background()
	bare := uuid.New()
	delivery := uuid.New()
	f.deliveries.set(delivery, DeliveryFacts{ExperimentID: f.experiment, ContactID: uuid.New()})
	tok := strings.TrimPrefix(f.svc.HoneypotURL(bare, delivery), "https://t.example/c/")
	dest, err := f.svc.Follow(ctx, tok, Hit{Method: "GET", UserAgent: uaChrome, IP: "203.0.113.77"})
	if err != nil {
		t.Fatalf("Follow of the honeypot = %q, %v", dest, err)
	}
	if dest != "https://t.example/" {
		t.Errorf("destination = %q, want the service's base URL", dest)
	}
	project(t, f.proj)
	var stored []Click
	if err := f.db.NewSelect().Model(&stored).Where("delivery_id = ?", delivery).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 || !stored[0].Automated || stored[0].Reason != ReasonHoneypot || stored[0].LinkIdx != HoneypotLink ||
		stored[0].ExperimentID != f.experiment {
		t.Errorf("stored clicks = %+v, want one automated honeypot click of experiment %s", stored, f.experiment)
	}
}

// The rules that look beyond one request, applied to what the Recorder
// wrote by the Projector: the honeypot, bursts over several links of one
// email, and clicks too soon after sending. Clicks are recorded and
// projected one chunk each ("one by one") or all in one chunk ("one batch").
func TestRecorderRules(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	type step struct {
		after     time.Duration // since t0
		link      int
		links     int  // links in the email (Click.LinkCount)
		automated bool // from the request alone
		reason    string
	}
	type want struct {
		automated bool
		reason    string
	}
	const hp = HoneypotLink
	tests := []struct {
		name  string
		steps []step
		want  []want // per step, after all were written
	}{
		{"single human click", []step{{0, 0, 3, false, ""}}, []want{{false, ""}}},
		{"honeypot alone", []step{{0, hp, 3, false, ""}}, []want{{true, ReasonHoneypot}}},
		{"click soon after a honeypot hit", []step{{0, hp, 3, false, ""}, {5 * time.Second, 1, 3, false, ""}},
			[]want{{true, ReasonHoneypot}, {true, ReasonNearHoneypot}}},
		{"honeypot hit soon after a click marks the click", []step{{0, 1, 3, false, ""}, {5 * time.Second, hp, 3, false, ""}},
			[]want{{true, ReasonNearHoneypot}, {true, ReasonHoneypot}}},
		{"click long after a honeypot hit", []step{{0, hp, 3, false, ""}, {30 * time.Second, 1, 3, false, ""}},
			[]want{{true, ReasonHoneypot}, {false, ""}}},
		{"click long before a honeypot hit", []step{{0, 1, 3, false, ""}, {30 * time.Second, hp, 3, false, ""}},
			[]want{{false, ""}, {true, ReasonHoneypot}}},
		{"already automated keeps its reason", []step{{0, hp, 3, false, ""}, {time.Second, 0, 3, true, ReasonHead}},
			[]want{{true, ReasonHoneypot}, {true, ReasonHead}}},
		{"three links within 2s", []step{{0, 0, 3, false, ""}, {500 * time.Millisecond, 1, 3, false, ""}, {1500 * time.Millisecond, 2, 3, false, ""}},
			[]want{{true, ReasonBurst}, {true, ReasonBurst}, {true, ReasonBurst}}},
		{"three links over 3s", []step{{0, 0, 3, false, ""}, {1500 * time.Millisecond, 1, 3, false, ""}, {3 * time.Second, 2, 3, false, ""}},
			[]want{{false, ""}, {false, ""}, {false, ""}}},
		{"two links of a three-link email within 2s", []step{{0, 0, 3, false, ""}, {time.Second, 1, 3, false, ""}},
			[]want{{false, ""}, {false, ""}}},
		{"both links of a two-link email within 2s", []step{{0, 0, 2, false, ""}, {time.Second, 1, 2, false, ""}},
			[]want{{true, ReasonBurst}, {true, ReasonBurst}}},
		{"one link clicked thrice within 2s", []step{{0, 0, 3, false, ""}, {300 * time.Millisecond, 0, 3, false, ""}, {600 * time.Millisecond, 0, 3, false, ""}},
			[]want{{false, ""}, {false, ""}, {false, ""}}},
		{"one-link email clicked twice", []step{{0, 0, 1, false, ""}, {100 * time.Millisecond, 0, 1, false, ""}},
			[]want{{false, ""}, {false, ""}}},
	}
	for _, mode := range []string{"one by one", "one batch"} {
		t.Run(mode, func(t *testing.T) {
			d := openTestDB(t)
			db := d.main
			rec := d.newRecorder(t, RecorderConfig{})
			proj := d.newProjector(nil, Rules{})
			ctx := context.Background()
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					delivery := uuid.New()
					clicks := make([]RawClick, len(tt.steps))
					for i, s := range tt.steps {
						method, ua := requestFor(t, s.automated, s.reason)
						clicks[i] = RawClick{ID: uuid.New(), DeliveryID: delivery, ExperimentID: testVariant, VariantID: testVariant,
							LinkIdx: s.link, LinkCount: s.links, ClickedAt: t0.Add(s.after), Method: method, UserAgent: ua,
							IP: "203.0.113.0/24"}
					}
					if mode == "one batch" {
						if err := NewLedger(d.ledger).Append(ctx, clicks); err != nil {
							t.Fatalf("append: %v", err)
						}
						project(t, proj)
					} else {
						for i, c := range clicks {
							if err := rec.Record(ctx, c); err != nil {
								t.Fatalf("Record %d: %v", i, err)
							}
							project(t, proj)
						}
					}
					for i, c := range clicks {
						var got Click
						if err := db.NewSelect().Model(&got).Where("id = ?", c.ID).Scan(ctx); err != nil {
							t.Fatalf("click %d: %v", i, err)
						}
						if got.Automated != tt.want[i].automated || got.Reason != tt.want[i].reason {
							t.Errorf("click %d (link %d at +%v): automated %v, reason %q; want %v, %q",
								i, c.LinkIdx, tt.steps[i].after, got.Automated, got.Reason, tt.want[i].automated, tt.want[i].reason)
						}
					}
				})
			}
		})
	}
}

// requestFor is a request that the request-alone rules (Classify) judge as
// given.
func requestFor(t *testing.T, automated bool, reason string) (method, userAgent string) {
	t.Helper()
	switch {
	case !automated:
		return "GET", uaChrome
	case reason == ReasonHead:
		return "HEAD", uaChrome
	case reason == ReasonNoUserAgent:
		return "GET", ""
	}
	t.Fatalf("no request is automated for %q", reason)
	return "", ""
}

// Rules.Window: clicks within the window after the delivery was sent are
// automated; later ones and clicks of unsent deliveries are not.
func TestRecorderRulesWindowAfterSend(t *testing.T) {
	f := newFollowFixture(t)
	ctx := context.Background()
	sentAt := f.now.Add(-time.Hour)
	newDelivery := func(sent *time.Time) uuid.UUID {
		delivery := uuid.New()
		f.deliveries.set(delivery, DeliveryFacts{ExperimentID: f.experiment, ContactID: uuid.New(), SentAt: sent, Location: time.UTC})
		return delivery
	}
	proj := f.d.newProjector(f.deliveries, Rules{Window: time.Minute})
	tests := []struct {
		name      string
		sent      *time.Time
		after     time.Duration // click time after sentAt
		automated bool
	}{
		{"within the window", &sentAt, 10 * time.Second, true},
		{"at the same instant", &sentAt, 0, true},
		{"after the window", &sentAt, 2 * time.Minute, false},
		{"delivery not sent", nil, 10 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDelivery(tt.sent)
			c := RawClick{ID: uuid.New(), DeliveryID: d, ExperimentID: f.experiment, VariantID: f.variant, LinkIdx: 0, LinkCount: 2,
				ClickedAt: sentAt.Add(tt.after), Method: "GET", UserAgent: uaChrome, IP: "203.0.113.0/24"}
			if err := f.rec.Record(ctx, c); err != nil {
				t.Fatalf("Record: %v", err)
			}
			project(t, proj)
			var got Click
			if err := f.db.NewSelect().Model(&got).Where("id = ?", c.ID).Scan(ctx); err != nil {
				t.Fatal(err)
			}
			wantReason := ""
			if tt.automated {
				wantReason = ReasonSoonAfterSend
			}
			if got.Automated != tt.automated || got.Reason != wantReason {
				t.Errorf("automated %v, reason %q; want %v, %q", got.Automated, got.Reason, tt.automated, wantReason)
			}
		})
	}
}
