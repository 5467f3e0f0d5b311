package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"slicelab/experiments"
)

// csvRows generates an import file of n rows as it is read.
type csvRows struct {
	n, i int
	buf  []byte
}

func (r *csvRows) Read(p []byte) (int, error) {
	for len(r.buf) < len(p) && r.i <= r.n {
		if r.i == 0 {
			r.buf = append(r.buf, "email,name,tags,plan,city\n"...)
		} else {
			tags := "newsletter"
			if r.i%4 == 0 {
				tags = "newsletter;beta"
			}
			r.buf = fmt.Appendf(r.buf, "user%d@example.test,User %d,%s,%s,%s\n", r.i, r.i, tags,
				[]string{"free", "pro", "team"}[r.i%3], []string{"Paris", "Oslo", "Rome", "Lisbon"}[r.i%4])
		}
		r.i++
	}
	if len(r.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// BenchmarkImportCSV imports SLICELAB_BENCH_ROWS (default 100,000) CSV rows
// into a new team, in process (no HTTP); bench/import measures the server.
//
//	go test ./cmd/slicelab -run '^$' -bench ImportCSV -benchtime 1x -cpuprofile /tmp/import.prof
//
// SLICELAB_BENCH_POSTGRES_URL=postgres://… runs it on PostgreSQL instead of SQLite.
func BenchmarkImportCSV(b *testing.B) {
	ctx := context.Background()
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("SLICELAB_BENCH_ROWS")); err == nil && v > 0 {
		n = v
	}
	target := dbTarget{dsn: b.TempDir() + "/bench.db"}
	if u := os.Getenv("SLICELAB_BENCH_POSTGRES_URL"); u != "" {
		target = dbTarget{postgres: true, dsn: u}
	}
	st, err := openStore(ctx, target)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := st.migrateUp(ctx, nil); err != nil {
		b.Fatal(err)
	}
	exps := experiments.NewService(st.db, experiments.Config{}, experiments.Deps{Now: time.Now})
	b.ResetTimer()
	for b.Loop() {
		team, err := exps.CreateTeam(ctx, "bench-"+uuid.NewString()[:8], "Bench")
		if err != nil {
			b.Fatal(err)
		}
		t := time.Now()
		res, err := exps.ImportContactsCSV(ctx, team.ID, &csvRows{n: n})
		if err != nil || res.Imported != n {
			b.Fatalf("import: %+v %v", res, err)
		}
		b.ReportMetric(float64(n)/time.Since(t).Seconds(), "rows/s")
	}
}
