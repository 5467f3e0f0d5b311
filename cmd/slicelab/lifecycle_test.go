package main

import (
	"context"
	"net/http"
	"slicelab/experiments"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// startSlowSend starts slicelab sending at 50 messages a second, launches
// an experiment to contacts new contacts and returns once `until` messages
// are out, with an editor's token.
func startSlowSend(t *testing.T, dbURL string, contacts int, name string, until int) (*env, string, experimentJSON) {
	t.Helper()
	e := startEnv(t, dbURL, func(v map[string]string) { v["SLICELAB_SEND_RATE"] = "50" })
	tok := e.teamToken("growth", "editor")
	e.api("POST", "/api/v1/teams/growth/contacts", tok, contactsCSV(contacts, "example.test"), nil)
	exp := e.createAndLaunch(tok, "growth", experimentBody(name, 0))
	for len(e.smtp.messages()) < until {
		time.Sleep(10 * time.Millisecond)
	}
	return e, tok, exp
}

// TestPauseResumeCancel: a paused experiment sends nothing more until
// resumed; a cancelled one never sends the rest.
func TestPauseResumeCancel(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dbURL func(*testing.T) string) {
		e, tok, exp := startSlowSend(t, dbURL(t), 100, "Pausing", 10)
		var paused experimentJSON
		if st, raw := e.api("POST", "/api/v1/experiments/"+exp.ID+"/pause", tok, nil, &paused); st != 200 || paused.Status != "paused" {
			t.Fatalf("pause: %d %s", st, raw)
		}
		time.Sleep(1500 * time.Millisecond) // in-flight messages finish within the status check interval
		atPause := len(e.smtp.messages())
		time.Sleep(1500 * time.Millisecond)
		if n := len(e.smtp.messages()); n != atPause || n >= 100 {
			t.Fatalf("a paused experiment went on sending: %d then %d", atPause, n)
		}
		var mid experimentJSON
		e.api("GET", "/api/v1/experiments/"+exp.ID, tok, nil, &mid)
		if mid.Progress.Sent != atPause || mid.Progress.Sending != 0 || mid.Progress.Queued != 100-atPause {
			t.Fatalf("paused progress %+v, smtp %d", mid.Progress, atPause)
		}
		if st, _ := e.api("POST", "/api/v1/experiments/"+exp.ID+"/pause", tok, nil, nil); st != http.StatusConflict {
			t.Fatalf("pausing twice: %d", st)
		}
		if st, raw := e.api("POST", "/api/v1/experiments/"+exp.ID+"/resume", tok, nil, nil); st != 200 {
			t.Fatalf("resume: %d %s", st, raw)
		}
		for len(e.smtp.messages()) < atPause+10 {
			time.Sleep(10 * time.Millisecond)
		}
		var cancelled experimentJSON
		if st, raw := e.api("POST", "/api/v1/experiments/"+exp.ID+"/cancel", tok, nil, &cancelled); st != 200 || cancelled.Status != "cancelled" {
			t.Fatalf("cancel: %d %s", st, raw)
		}
		time.Sleep(1500 * time.Millisecond)
		atCancel := len(e.smtp.messages())
		time.Sleep(time.Second)
		var end experimentJSON
		e.api("GET", "/api/v1/experiments/"+exp.ID, tok, nil, &end)
		p := end.Progress
		if n := len(e.smtp.messages()); n != atCancel || p.Sent != n || p.Cancelled != 100-n || p.Queued+p.Sending != 0 {
			t.Fatalf("after cancel: smtp %d then %d, progress %+v", atCancel, n, p)
		}
		seen := map[string]bool{}
		for _, m := range e.smtp.messages() {
			if seen[m.rcpt] {
				t.Fatalf("%s got two messages", m.rcpt)
			}
			seen[m.rcpt] = true
		}
		if st, raw := e.api("POST", "/api/v1/experiments/"+exp.ID+"/resume", tok, nil, nil); st != http.StatusConflict || !strings.Contains(string(raw), "cancelled") {
			t.Fatalf("resume after cancel: %d %s", st, raw)
		}
	})
}

// TestScheduledLaunch: a launch scheduled for later starts at its time, by the service's clock.
func TestScheduledLaunch(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dbURL func(*testing.T) string) {
		e := startEnv(t, dbURL(t))
		tok := e.teamToken("growth", "editor")
		e.api("POST", "/api/v1/teams/growth/contacts", tok, contactsCSV(20, "example.test"), nil)
		var exp experimentJSON
		e.api("POST", "/api/v1/teams/growth/experiments", tok, experimentBody("Later", 0), &exp)
		at := e.clock.now().Add(3 * time.Hour).UTC().Format(time.RFC3339)
		var sched experimentJSON
		if st, raw := e.api("POST", "/api/v1/experiments/"+exp.ID+"/launch", tok, `{"at":"`+at+`"}`, &sched); st != 202 || sched.Status != "scheduled" {
			t.Fatalf("schedule: %d %s", st, raw)
		}
		if st, raw := e.api("POST", "/api/v1/experiments/"+exp.ID+"/launch", tok, `{"at":"tomorrow"}`, nil); st != 422 || !strings.Contains(string(raw), `"at"`) {
			t.Fatalf("bad time: %d %s", st, raw)
		}
		time.Sleep(time.Second) // several ticks
		var still experimentJSON
		e.api("GET", "/api/v1/experiments/"+exp.ID, tok, nil, &still)
		if still.Status != "scheduled" || len(e.smtp.messages()) != 0 {
			t.Fatalf("launched before its time: %s, %d messages", still.Status, len(e.smtp.messages()))
		}
		e.clock.advance(3*time.Hour + time.Second)
		done := e.waitDone(tok, exp.ID, 2*time.Minute)
		if done.Progress.Sent != 20 || len(e.smtp.messages()) != 20 {
			t.Fatalf("after its time: %+v, %d messages", done.Progress, len(e.smtp.messages()))
		}
	})
}

// TestContactCooldown: a contact emailed by one experiment is not emailed by
// another of the team within the cool-down.
func TestContactCooldown(t *testing.T) {
	t.Parallel()
	e := startEnv(t, dbFile(t), func(v map[string]string) { v["SLICELAB_CONTACT_COOLDOWN"] = "24h" })
	tok := e.teamToken("growth", "editor")
	e.api("POST", "/api/v1/teams/growth/contacts", tok, contactsCSV(10, "example.test"), nil)
	first := e.createAndLaunch(tok, "growth", experimentBody("First", 0))
	e.waitDone(tok, first.ID, 2*time.Minute)
	e.api("POST", "/api/v1/teams/growth/contacts", tok, csvBody("email,name\nnew@example.test,New\n"), nil)
	second := e.createAndLaunch(tok, "growth", experimentBody("Second", 0))
	done := e.waitDone(tok, second.ID, 2*time.Minute)
	if done.Progress.Suppressed != 10 || done.Progress.Sent != 1 {
		t.Fatalf("within the cool-down: %+v", done.Progress)
	}
	e.clock.advance(25 * time.Hour)
	third := e.createAndLaunch(tok, "growth", experimentBody("Third", 0))
	if done := e.waitDone(tok, third.ID, 2*time.Minute); done.Progress.Sent != 11 || done.Progress.Suppressed != 0 {
		t.Fatalf("after the cool-down: %+v", done.Progress)
	}
}

// TestSendJobOfCancelledExperiment: a send job that runs after its
// experiment was cancelled cancels the batch's deliveries still queued
// (such as ones a sender gave back after the cancellation had cancelled
// the others), so a cancelled experiment never keeps queued deliveries.
func TestSendJobOfCancelledExperiment(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dbURL func(*testing.T) string) {
		ctx := context.Background()
		e, tok, exp := startSlowSend(t, dbURL(t), 60, "Cancelled meanwhile", 5)
		if st, raw := e.api("POST", "/api/v1/experiments/"+exp.ID+"/pause", tok, nil, nil); st != 200 {
			t.Fatalf("pause: %d %s", st, raw)
		}
		id := uuid.MustParse(exp.ID)
		db := e.app.st.db
		// waitNone waits until no delivery of the experiment has status.
		waitNone := func(status, what string) {
			t.Helper()
			deadline := time.Now().Add(30 * time.Second)
			for {
				n, err := db.NewSelect().Table("deliveries").Where("experiment_id = ?", id).Where("status = ?", status).Count(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d deliveries still %s %s", n, status, what)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		waitNone(experiments.DeliverySending, "after the pause")
		// The state a race leaves: the experiment cancelled, some deliveries queued.
		if _, err := db.NewUpdate().Table("experiments").Set("status = ?", experiments.StatusCancelled).Where("id = ?", id).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		var batches []int
		if err := db.NewSelect().Table("deliveries").ColumnExpr("DISTINCT batch").Where("experiment_id = ?", id).
			Where("status = ?", experiments.DeliveryQueued).Scan(ctx, &batches); err != nil || len(batches) == 0 {
			t.Fatalf("queued batches %v, %v", batches, err)
		}
		sent := len(e.smtp.messages())
		for _, b := range batches {
			if _, err := e.app.jobs.Insert(ctx, experiments.SendBatchArgs{ExperimentID: id, Batch: b}, nil); err != nil {
				t.Fatal(err)
			}
		}
		waitNone(experiments.DeliveryQueued, "after the cancelled experiment's send jobs ran")
		if n := len(e.smtp.messages()); n != sent {
			t.Fatalf("the cancelled experiment sent %d more", n-sent)
		}
	})
}
