package tracking

import (
	"context"
	"errors"
	"fmt"
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

// openTestDB opens a migrated SQLite database in a temporary file, set up as
// cmd/slicelab sets up its own.
func openTestDB(t *testing.T) *bun.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := migrations.OpenSQLite(ctx, filepath.Join(t.TempDir(), "slicelab.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := migrations.Up(ctx, db); err != nil {
		t.Fatalf("migrations.Up: %v", err)
	}
	return db
}

// fakeDeliveries stands in for the experiments package, which owns
// deliveries: the facts the recorder looks up, set by the test.
type fakeDeliveries struct {
	mu    sync.Mutex
	facts map[uuid.UUID]DeliveryFacts
}

func (f *fakeDeliveries) set(id uuid.UUID, df DeliveryFacts) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.facts == nil {
		f.facts = map[uuid.UUID]DeliveryFacts{}
	}
	f.facts[id] = df
}

func (f *fakeDeliveries) DeliveryFacts(_ context.Context, _ bun.IDB, ids []uuid.UUID) (map[uuid.UUID]DeliveryFacts, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[uuid.UUID]DeliveryFacts{}
	for _, id := range ids {
		if df, ok := f.facts[id]; ok {
			out[id] = df
		}
	}
	return out, nil
}

func countClicks(t *testing.T, db *bun.DB, where string, args ...any) int {
	t.Helper()
	q := db.NewSelect().Table("clicks")
	if where != "" {
		q = q.Where(where, args...)
	}
	n, err := q.Count(context.Background())
	if err != nil {
		t.Fatalf("count clicks: %v", err)
	}
	return n
}

// closeWithin calls r.Close and fails if it does not return in time.
func closeWithin(t *testing.T, r *Recorder, d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() { r.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("Recorder.Close did not return within %v", d)
	}
}

func testClick(i int) Click {
	return Click{
		ID: uuid.New(), DeliveryID: uuid.New(), ExperimentID: testVariant, VariantID: testVariant,
		LinkIdx: i % 5, ClickedAt: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond),
		Method: "GET", UserAgent: uaChrome, IP: "203.0.113.0/24", Reason: "",
	}
}

func TestRecorderConcurrentRecords(t *testing.T) {
	const n = 200
	for _, maxBatch := range []int{0, 1, 16} {
		t.Run(fmt.Sprintf("maxBatch %d", maxBatch), func(t *testing.T) {
			db := openTestDB(t)
			rec := NewRecorder(db, nil, maxBatch, Rules{})
			defer rec.Close()
			ctx := context.Background()

			clicks := make([]Click, n)
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
			if got := countClicks(t, db, ""); got != n {
				t.Fatalf("%d clicks stored, want %d", got, n)
			}
			var stored []Click
			if err := db.NewSelect().Model(&stored).Scan(ctx); err != nil {
				t.Fatal(err)
			}
			byID := map[uuid.UUID]Click{}
			for _, c := range stored {
				byID[c.ID] = c
			}
			for i, c := range clicks {
				s, ok := byID[c.ID]
				if !ok {
					t.Errorf("click %d (%s) is missing", i, c.ID)
					continue
				}
				if s.DeliveryID != c.DeliveryID || s.LinkIdx != c.LinkIdx || !s.ClickedAt.Equal(c.ClickedAt) || s.UserAgent != c.UserAgent || s.IP != c.IP {
					t.Errorf("click %d stored as %+v, want %+v", i, s, c)
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
			if got := countClicks(t, db, ""); got != n {
				t.Errorf("%d clicks stored after Close, want %d", got, n)
			}
		})
	}
}

// Record returns nil exactly for the clicks that were written, also while
// Close runs concurrently.
func TestRecorderCloseDuringRecords(t *testing.T) {
	db := openTestDB(t)
	rec := NewRecorder(db, nil, 8, Rules{})
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
	if got := countClicks(t, db, ""); got != ok {
		t.Errorf("%d clicks stored, but %d Record calls returned nil", got, ok)
	}
	closeWithin(t, rec, time.Second)
}

func TestRecorderCloseWithoutClicks(t *testing.T) {
	db := openTestDB(t)
	rec := NewRecorder(db, nil, 0, Rules{})
	closeWithin(t, rec, 5*time.Second)
	closeWithin(t, rec, time.Second)
	if err := rec.Record(context.Background(), testClick(0)); !errors.Is(err, ErrRecorderClosed) {
		t.Errorf("Record after Close = %v, want ErrRecorderClosed", err)
	}
	if got := countClicks(t, db, ""); got != 0 {
		t.Errorf("%d clicks stored, want none", got)
	}
}

// A failed INSERT reaches every caller of its batch and the recorder keeps going.
func TestRecorderReportsWriteErrors(t *testing.T) {
	db := openTestDB(t)
	rec := NewRecorder(db, nil, 0, Rules{})
	defer rec.Close()
	ctx := context.Background()
	c := testClick(0)
	if err := rec.Record(ctx, c); err != nil {
		t.Fatalf("first Record: %v", err)
	}
	if err := rec.Record(ctx, c); err == nil || errors.Is(err, ErrRecorderClosed) {
		t.Errorf("Record of a duplicate id = %v, want the database error", err)
	}
	if err := rec.Record(ctx, testClick(1)); err != nil {
		t.Errorf("Record after a failed write: %v", err)
	}
	if got := countClicks(t, db, ""); got != 2 {
		t.Errorf("%d clicks stored, want 2", got)
	}
}

// followFixture is a migrated database with one team, experiment and variant
// whose links are stored, and a tracking service over it.
type followFixture struct {
	db         *bun.DB
	svc        *Service
	rec        *Recorder
	experiment uuid.UUID
	variant    uuid.UUID
	links      []string
	now        time.Time
	deliveries *fakeDeliveries
}

func newFollowFixture(t *testing.T) *followFixture {
	t.Helper()
	db := openTestDB(t)
	ctx := context.Background()
	f := &followFixture{
		db: db, experiment: uuid.New(), variant: uuid.New(),
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
	f.rec = NewRecorder(db, f.deliveries, 0, Rules{})
	t.Cleanup(f.rec.Close)
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
			before := countClicks(t, f.db, "")
			dest, err := f.svc.Follow(ctx, tt.token(t, delivery), tt.hit)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Follow = %q, %v; want %v", dest, err, tt.wantErr)
				}
				if dest != "" {
					t.Errorf("Follow returned destination %q with the error", dest)
				}
				if after := countClicks(t, f.db, ""); after != before {
					t.Errorf("%d clicks stored by a refused follow", after-before)
				}
				return
			}
			if err != nil {
				t.Fatalf("Follow: %v", err)
			}
			if dest != tt.wantDest {
				t.Errorf("destination = %q, want %q", dest, tt.wantDest)
			}
			var stored []Click
			if err := f.db.NewSelect().Model(&stored).Where("delivery_id = ?", delivery).Scan(ctx); err != nil {
				t.Fatal(err)
			}
			if len(stored) != 1 {
				t.Fatalf("%d clicks stored for the delivery, want 1", len(stored))
			}
			if after := countClicks(t, f.db, ""); after != before+1 {
				t.Errorf("%d clicks stored in all, want %d", after, before+1)
			}
			c := stored[0]
			wantIdx := slices.Index(f.links, tt.wantDest)
			if tt.wantIdx != 0 {
				wantIdx = tt.wantIdx
			}
			if c.Automated != tt.want.automated || c.Reason != tt.want.reason || c.IP != tt.want.ip || c.UserAgent != tt.want.ua ||
				c.Method != tt.hit.Method || c.LinkIdx != wantIdx || c.VariantID != f.variant || c.ExperimentID != f.experiment ||
				c.DeliveryID != delivery || !c.ClickedAt.Equal(f.now) || c.ID == uuid.Nil {
				t.Errorf("stored click = %+v\nwant automated %v, reason %q, ip %q, ua %q, method %s, link %d, variant %s, experiment %s, at %v",
					c, tt.want.automated, tt.want.reason, tt.want.ip, tt.want.ua, tt.hit.Method, wantIdx, f.variant, f.experiment, f.now)
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
	if n := countClicks(t, f.db, ""); n != 0 {
		t.Errorf("%d clicks stored, want none", n)
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
	var stored []Click
	if err := f.db.NewSelect().Model(&stored).Where("delivery_id = ?", delivery).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 || !stored[0].Automated || stored[0].Reason != ReasonHoneypot || stored[0].LinkIdx != HoneypotLink ||
		stored[0].ExperimentID != f.experiment {
		t.Errorf("stored clicks = %+v, want one automated honeypot click of experiment %s", stored, f.experiment)
	}
}

// The rules that look beyond one request, applied by the Recorder: the
// honeypot, bursts over several links of one email, and clicks too soon
// after sending. Clicks are written one batch each ("one by one") or all in
// one batch.
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
			db := openTestDB(t)
			rec := NewRecorder(db, nil, 0, Rules{})
			defer rec.Close()
			ctx := context.Background()
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					delivery := uuid.New()
					clicks := make([]Click, len(tt.steps))
					for i, s := range tt.steps {
						clicks[i] = Click{ID: uuid.New(), DeliveryID: delivery, ExperimentID: testVariant, VariantID: testVariant,
							LinkIdx: s.link, LinkCount: s.links, ClickedAt: t0.Add(s.after), Method: "GET", UserAgent: uaChrome,
							IP: "203.0.113.0/24", Automated: s.automated, Reason: s.reason}
					}
					if mode == "one batch" {
						if err := rec.write(ctx, clicks); err != nil {
							t.Fatalf("write: %v", err)
						}
					} else {
						for i, c := range clicks {
							if err := rec.Record(ctx, c); err != nil {
								t.Fatalf("Record %d: %v", i, err)
							}
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
	rec := NewRecorder(f.db, f.deliveries, 0, Rules{Window: time.Minute})
	defer rec.Close()
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
			c := Click{ID: uuid.New(), DeliveryID: d, ExperimentID: f.experiment, VariantID: f.variant, LinkIdx: 0, LinkCount: 2,
				ClickedAt: sentAt.Add(tt.after), Method: "GET", UserAgent: uaChrome, IP: "203.0.113.0/24"}
			if err := rec.Record(ctx, c); err != nil {
				t.Fatalf("Record: %v", err)
			}
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
