package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"slicelab/experiments"
	"slicelab/tracking"
)

// Click-redirect throughput, every 302 durably recorded first (group commit
// into the click ledger), against a bare net/http handler answering 302
// measured the same way:
//
//	go test ./cmd/slicelab -run '^$' -bench 'Redirect' -benchtime 5s
//
// Both use 64 concurrent keep-alive connections on loopback. The clicks go
// to 50 000 deliveries in turn (a person clicks an email once or twice), so
// the bot rules see ordinary traffic. Every click must be in the ledger when
// the load ends, and classified by the projector shortly after; it reports
// how long the projector took to catch up (projector-s). The client shares
// the cores with the server, so the figures understate what the server does
// alone: ../shared/bench/clicks measures from outside (bench/README.md).
func BenchmarkClickRedirect(b *testing.B) {
	e := startEnv(b, b.TempDir()+"/slicelab.db")
	tok := e.teamToken("bench", "editor")
	e.api("POST", "/api/v1/teams/bench/contacts", tok, contactsCSV(10, "bench.test"), nil)
	exp := e.createAndLaunch(tok, "bench", experimentBody("Bench", 0))
	e.waitDone(tok, exp.ID, 2*time.Minute)
	links := seedClickTargets(b, e, exp, 50_000)
	ctx := context.Background()
	ledger := tracking.NewLedger(e.app.st.ledgerRead)
	before, _, _ := ledger.Count(ctx)
	benchRedirects(b, links)
	after, _, err := ledger.Count(ctx)
	if err != nil || after-before != b.N {
		b.Fatalf("%d clicks in the ledger for %d requests (%v)", after-before, b.N, err)
	}
	start := time.Now()
	e.waitClicks()
	b.ReportMetric(time.Since(start).Seconds(), "projector-s")
	total, _ := e.app.st.db.NewSelect().Table("clicks").Count(ctx)
	human, _ := e.app.st.db.NewSelect().Table("clicks").Where("NOT automated").Count(ctx)
	b.ReportMetric(float64(human)/float64(total), "human-share")
}

// seedClickTargets adds n sent deliveries to the experiment's first variant
// (sent an hour ago) and returns their tracked links, link 0 of each, then link 1.
func seedClickTargets(b *testing.B, e *env, exp experimentJSON, n int) []string {
	ctx := context.Background()
	vid := uuid.MustParse(exp.Variants[0].ID)
	eid := uuid.MustParse(exp.ID)
	var team uuid.UUID
	if err := e.app.st.db.NewSelect().Table("experiments").Column("team_id").Where("id = ?", eid).Scan(ctx, &team); err != nil {
		b.Fatal(err)
	}
	sent := e.clock.now().Add(-time.Hour).UTC()
	links := make([]string, 0, 2*n)
	ids := make([]uuid.UUID, 0, n)
	err := e.app.st.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		cs := make([]experiments.Contact, 0, 1000)
		ds := make([]experiments.Delivery, 0, 1000)
		flush := func() error {
			if len(cs) == 0 {
				return nil
			}
			if _, err := tx.NewInsert().Model(&cs).Exec(ctx); err != nil {
				return err
			}
			if _, err := tx.NewInsert().Model(&ds).Exec(ctx); err != nil {
				return err
			}
			cs, ds = cs[:0], ds[:0]
			return nil
		}
		for i := 0; i < n; i++ {
			c := experiments.Contact{ID: uuid.Must(uuid.NewV7()), TeamID: team, Email: fmt.Sprintf("c%d@seed.test", i),
				EmailKey: fmt.Sprintf("c%d@seed.test", i), Attributes: map[string]string{}, Tags: []string{}, CreatedAt: sent}
			d := experiments.Delivery{ID: uuid.Must(uuid.NewV7()), ExperimentID: eid, ContactID: c.ID, VariantID: &vid,
				Status: experiments.DeliverySent, Attempts: 1, SentAt: &sent, UpdatedAt: sent}
			cs, ds = append(cs, c), append(ds, d)
			ids = append(ids, d.ID)
			if len(cs) == cap(cs) {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return flush()
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, idx := range []int{0, 1} {
		for _, id := range ids {
			links = append(links, e.app.trk.ClickURL(vid, id, idx))
		}
	}
	return links
}

func BenchmarkBareRedirect(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, destA, http.StatusFound)
	})}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	benchRedirects(b, []string{"http://" + ln.Addr().String() + "/c/x"})
}

func benchRedirects(b *testing.B, links []string) {
	tr := &http.Transport{MaxIdleConnsPerHost: 128, MaxConnsPerHost: 128}
	c := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer tr.CloseIdleConnections()
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(max(1, 64/max(1, runtimeProcs())))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		mine := make([]time.Duration, 0, 1024)
		for pb.Next() {
			l := links[int(next.Add(1))%len(links)]
			req, _ := http.NewRequest("GET", l, nil)
			req.Header.Set("User-Agent", browserUA)
			start := time.Now()
			resp, err := c.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			mine = append(mine, time.Since(start))
			if resp.StatusCode != http.StatusFound {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	if len(lat) > 0 {
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	}
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
