package main

import (
	"context"
	"testing"
	"time"
)

// TestRestartMidSend stops the service while an experiment is sending and
// starts it again on the same database: every contact gets exactly one message.
func TestRestartMidSend(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dbURL func(*testing.T) string) {
		db := dbURL(t)
		slow := func(v map[string]string) {
			v["SLICELAB_SEND_RATE"] = "40"
			v["SLICELAB_SEND_CONCURRENCY"] = "4" // a graceful stop finishes the batches in hand: some must be left
		}
		e := startEnv(t, db, slow)
		tok := e.teamToken("growth", "editor")
		e.api("POST", "/api/v1/teams/growth/contacts", tok, contactsCSV(120, "example.test"), nil)
		exp := e.createAndLaunch(tok, "growth", experimentBody("Restart", 0))
		deadline := time.Now().Add(20 * time.Second)
		for len(e.smtp.messages()) < 20 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		e.stop() // graceful: running batches finish, the rest stays queued
		first := e.smtp.messages()
		if len(first) >= 120 {
			t.Fatalf("everything was sent before the stop (%d); slow the rate down", len(first))
		}
		// While nothing runs, the database says what the SMTP server saw.
		st, err := openStore(context.Background(), e.app.cfg.db)
		if err != nil {
			t.Fatal(err)
		}
		var counts []struct {
			Status string `bun:"status"`
			N      int    `bun:"n"`
		}
		err = st.db.NewSelect().Table("deliveries").ColumnExpr("status, count(*) AS n").Group("status").Order("status").Scan(context.Background(), &counts)
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range counts {
			if c.Status == "sending" || (c.Status == "sent" && c.N != len(first)) {
				t.Fatalf("after a graceful stop the deliveries are %+v, the SMTP server got %d", counts, len(first))
			}
		}

		e2 := startEnv(t, db, slow, func(v map[string]string) { v["SLICELAB_DATA_DIR"] = e.vars["SLICELAB_DATA_DIR"] })
		done := e2.waitDone(tok, exp.ID, 2*time.Minute)
		second := e2.smtp.messages()
		if done.Progress.Sent != 120 || len(first)+len(second) != 120 {
			t.Fatalf("progress %+v; messages %d before and %d after the restart", done.Progress, len(first), len(second))
		}
		seen := map[string]bool{}
		for _, m := range append(first, second...) {
			if seen[m.rcpt] {
				t.Fatalf("%s got two messages", m.rcpt)
			}
			seen[m.rcpt] = true
		}
	})
}

// TestTwoInstancesShareTheWork runs two services on one PostgreSQL database:
// both send, and no contact gets two messages.
func TestTwoInstancesShareTheWork(t *testing.T) {
	t.Parallel()
	db := testPostgresURL(t)
	slow := func(v map[string]string) { v["SLICELAB_SEND_RATE"] = "200" }
	a := startEnv(t, db, slow)
	b := startEnv(t, db, slow, func(v map[string]string) { v["SLICELAB_SECRET"] = a.vars["SLICELAB_SECRET"] })
	tok := a.teamToken("growth", "editor")
	a.api("POST", "/api/v1/teams/growth/contacts", tok, contactsCSV(300, "example.test"), nil)
	exp := a.createAndLaunch(tok, "growth", experimentBody("Shared", 0))
	done := b.waitDone(tok, exp.ID, 2*time.Minute)
	ma, mb := a.smtp.messages(), b.smtp.messages()
	if done.Progress.Sent != 300 || len(ma)+len(mb) != 300 {
		t.Fatalf("progress %+v; instance A sent %d, B %d", done.Progress, len(ma), len(mb))
	}
	if len(ma) == 0 || len(mb) == 0 {
		t.Errorf("one instance did all the work: A %d, B %d", len(ma), len(mb))
	}
	seen := map[string]bool{}
	for _, m := range append(ma, mb...) {
		if seen[m.rcpt] {
			t.Fatalf("%s got two messages", m.rcpt)
		}
		seen[m.rcpt] = true
	}
}
