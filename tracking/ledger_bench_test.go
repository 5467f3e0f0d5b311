package tracking

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The ledger's cost per click of one group-commit batch, as the recorder
// writes it (32 clicks is what 32 waiting connections form).
//
//	go test ./tracking -run '^$' -bench LedgerAppend
func BenchmarkLedgerAppend(b *testing.B) {
	for _, size := range []int{32, 1000} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			d := openTestDB(b)
			l := NewLedger(d.ledger)
			t0 := time.Now().UTC()
			batch := make([]RawClick, size)
			for i := range batch {
				batch[i] = RawClick{ID: NewID(), DeliveryID: uuid.New(), VariantID: testVariant, ExperimentID: trafficExperiment,
					LinkIdx: 1, LinkCount: 2, ClickedAt: t0, Method: "GET", UserAgent: uaChrome, IP: "203.0.113.0/24"}
			}
			b.ResetTimer()
			for i := 0; i < b.N; i += size {
				if err := l.Append(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
