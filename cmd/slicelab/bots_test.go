package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"slicelab/tracking"
)

// TestBotClicks: scanner-like traffic is classified automated with the right
// reason and does not move CTR; ordinary browser clicks after the window count.
func TestBotClicks(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dbURL func(*testing.T) string) {
		e := startEnv(t, dbURL(t), func(v map[string]string) { v["SLICELAB_BOT_WINDOW"] = "60s" })
		tok := e.teamToken("growth", "editor")
		e.api("POST", "/api/v1/teams/growth/contacts", tok, contactsCSV(20, "example.test"), nil)
		exp := e.createAndLaunch(tok, "growth", experimentBody("Bots", 0))
		e.waitDone(tok, exp.ID, 2*time.Minute)
		var msgs []parsedMsg
		for _, r := range e.smtp.messages() {
			msgs = append(msgs, parse(t, r))
		}
		links := func(i int) []string { return trackedRE.FindAllString(msgs[i].html, -1) }
		const curlUA = "curl/8.5.0"

		// Right after sending (the last message sent: a loaded machine may
		// take a while over the first ones): a browser-looking click is
		// still automated.
		last := len(msgs) - 1
		click(t, "GET", links(last)[0], browserUA)
		e.clock.advance(90 * time.Second)
		click(t, "HEAD", links(1)[0], browserUA)
		click(t, "GET", links(2)[0], curlUA)
		click(t, "GET", links(3)[0], browserUA) // a sweep over every link within 2 s
		click(t, "GET", links(3)[1], browserUA)
		click(t, "GET", links(4)[1], browserUA) // the honeypot reveals this one...
		if resp := click(t, "GET", links(4)[2], browserUA); resp.StatusCode != 302 {
			t.Fatalf("honeypot answered %d; it must redirect like any link", resp.StatusCode)
		}
		click(t, "GET", links(4)[0], browserUA) // ...and this one
		for i := 5; i < 10; i++ {
			click(t, "GET", links(i)[0], browserUA)
			e.clock.advance(3 * time.Second)
		}
		e.clock.advance(time.Minute)
		click(t, "GET", links(5)[1], browserUA) // a person coming back later
		e.waitClicks()

		var got []struct {
			Email     string `bun:"email"`
			LinkIdx   int    `bun:"link_idx"`
			Automated bool   `bun:"automated"`
			Reason    string `bun:"reason"`
		}
		if err := e.app.st.db.NewSelect().TableExpr("clicks AS k").
			Join("JOIN deliveries AS d ON d.id = k.delivery_id").Join("JOIN contacts AS c ON c.id = d.contact_id").
			ColumnExpr("c.email, k.link_idx, k.automated, k.reason").OrderExpr("k.clicked_at, k.id").
			Scan(context.Background(), &got); err != nil {
			t.Fatal(err)
		}
		want := map[string][]string{ // per recipient, the reasons of its clicks ("" = human)
			msgs[last].rcpt: {tracking.ReasonSoonAfterSend},
			msgs[1].rcpt:    {tracking.ReasonHead},
			msgs[2].rcpt:    {tracking.ReasonScannerUA + " (curl/)"},
			msgs[3].rcpt:    {tracking.ReasonBurst, tracking.ReasonBurst},
			msgs[4].rcpt:    {tracking.ReasonNearHoneypot, tracking.ReasonHoneypot, tracking.ReasonNearHoneypot},
		}
		for i := 5; i < 10; i++ {
			want[msgs[i].rcpt] = []string{""}
		}
		want[msgs[5].rcpt] = []string{"", ""}
		have := map[string][]string{}
		for _, c := range got {
			if c.Automated == (c.Reason == "") {
				t.Errorf("click of %s: automated %v with reason %q", c.Email, c.Automated, c.Reason)
			}
			have[c.Email] = append(have[c.Email], c.Reason)
		}
		for rcpt, w := range want {
			if strings.Join(have[rcpt], "|") != strings.Join(w, "|") {
				t.Errorf("%s: reasons %q, want %q", rcpt, have[rcpt], w)
			}
		}
		checkCounters(t, e, exp.ID)
		var res resultsJSON
		e.api("GET", "/api/v1/experiments/"+exp.ID+"/results", tok, nil, &res)
		human, clicks, automated := 0, 0, 0
		for _, v := range res.Variants {
			human += v.HumanClickers
			clicks += v.Clicks
			automated += v.AutomatedClicks
		}
		if human != 5 || clicks != 6 || automated != 8 {
			t.Errorf("results: %d human clickers, %d human clicks, %d automated; want 5, 6, 8", human, clicks, automated)
		}
	})
}
