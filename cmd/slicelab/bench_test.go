package main

import (
	"context"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Click-redirect throughput, every 302 durably recorded first (group commit),
// against a bare net/http handler answering 302 measured the same way:
//
//	go test ./cmd/slicelab -run '^$' -bench 'Redirect' -benchtime 5s
//
// Both use 64 concurrent keep-alive connections on loopback.
func BenchmarkClickRedirect(b *testing.B) {
	e := startEnv(b, b.TempDir()+"/slicelab.db")
	tok := e.teamToken("bench", "editor")
	e.api("POST", "/api/v1/teams/bench/contacts", tok, contactsCSV(200, "bench.test"), nil)
	exp := e.createAndLaunch(tok, "bench", experimentBody("Bench", 0))
	e.waitDone(tok, exp.ID, 60*time.Second)
	var links []string
	for _, m := range e.smtp.messages() {
		links = append(links, trackedRE.FindAllString(parse(b, m).html, -1)...)
	}
	if len(links) < 100 {
		b.Fatalf("only %d links", len(links))
	}
	before, _ := e.app.st.db.NewSelect().Table("clicks").Count(context.Background())
	benchRedirects(b, links)
	after, err := e.app.st.db.NewSelect().Table("clicks").Count(context.Background())
	if err != nil || after-before != b.N {
		b.Fatalf("%d clicks recorded for %d requests (%v)", after-before, b.N, err)
	}
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
