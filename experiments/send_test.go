package experiments

import (
	"context"
	"log/slog"
	"testing"
)

// On SQLite, outcomes recorded without SyncCommit (SLICELAB_SEND_FSYNC=off)
// are committed with synchronous NORMAL on the connection, which then gets
// its own setting back: the service's other commits stay fsynced.
func TestLazyOutcomeCommitsRestoreTheConnection(t *testing.T) {
	ctx := context.Background()
	db := openMigrated(t, false)
	synchronous := func() int {
		var v int
		if err := db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := synchronous()
	if before != 2 { // FULL, SQLite's default
		t.Fatalf("PRAGMA synchronous of the pool is %d, want 2 (FULL)", before)
	}
	svc, ds, job := sendingDeliveries(t, db, 40)
	for _, sync := range []bool{false, true} {
		w := NewSender(svc, nil, nil, SenderConfig{SyncCommit: sync}, slog.New(slog.DiscardHandler))
		part := ds[:20]
		if sync {
			part = ds[20:]
		}
		flushGroup(t, ctx, w, part, job)
		if got := synchronous(); got != before {
			t.Fatalf("SyncCommit %v: PRAGMA synchronous is %d after the outcomes, was %d", sync, got, before)
		}
	}
	var sent int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM deliveries WHERE status = 'sent'").Scan(&sent); err != nil {
		t.Fatal(err)
	}
	if sent != len(ds) {
		t.Fatalf("%d of %d deliveries recorded as sent", sent, len(ds))
	}
}
