package main

import (
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"
)

// parsedMsg is a received message taken apart as a mail client would.
type parsedMsg struct {
	rcpt, subject, messageID, unsub, unsubPost string
	text, html                                 string
}

func parse(t testing.TB, r received) parsedMsg {
	t.Helper()
	p := parsedMsg{rcpt: r.rcpt, subject: r.msg.Header.Get("Subject"), messageID: r.msg.Header.Get("Message-ID"),
		unsub: r.msg.Header.Get("List-Unsubscribe"), unsubPost: r.msg.Header.Get("List-Unsubscribe-Post")}
	mt, params, err := mime.ParseMediaType(r.msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("message to %s is %q, want multipart/alternative", r.rcpt, mt)
	}
	mr := multipart.NewReader(r.msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(part) // quoted-printable is decoded by NextPart
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		switch ct {
		case "text/plain":
			p.text = string(body)
		case "text/html":
			p.html = string(body)
		}
	}
	if p.text == "" || p.html == "" {
		t.Fatalf("message to %s lacks a text or an HTML part", r.rcpt)
	}
	return p
}

func click(t testing.TB, method, link, ua string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, link, nil)
	if ua != "" {
		req.Header.Set("User-Agent", ua)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

const browserUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

type resultsJSON struct {
	ExperimentID string `json:"experiment_id"`
	Status       string `json:"status"`
	Holdout      struct {
		Assigned int `json:"assigned"`
	} `json:"holdout"`
	Variants []struct {
		ID              string   `json:"id"`
		Name            string   `json:"name"`
		Control         bool     `json:"control"`
		Assigned        int      `json:"assigned"`
		Sent            int      `json:"sent"`
		HumanClickers   int      `json:"human_clickers"`
		Clicks          int      `json:"clicks"`
		AutomatedClicks int      `json:"automated_clicks"`
		CTR             *float64 `json:"ctr"`
	} `json:"variants"`
	Winner  *string `json:"winner"`
	Verdict struct {
		State string `json:"state"`
	} `json:"verdict"`
}

// TestEndToEnd launches a two-variant experiment with a holdout to 60
// contacts over real SMTP, follows tracked links from the received messages
// and checks the results endpoint's counts exactly.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dbURL func(*testing.T) string) {
		e := startEnv(t, dbURL(t))
		tok := e.teamToken("growth", "editor")

		var imp struct {
			Imported, Skipped int
			Errors            []any
		}
		if st, raw := e.api("POST", "/api/v1/teams/growth/contacts", tok, contactsCSV(60, "example.test"), &imp); st != 200 || imp.Imported != 60 {
			t.Fatalf("import: %d %s", st, raw)
		}
		// Importing again skips every contact and changes nothing.
		if st, raw := e.api("POST", "/api/v1/teams/growth/contacts", tok, contactsCSV(60, "example.test"), &imp); st != 200 || imp.Imported != 0 || imp.Skipped != 60 {
			t.Fatalf("re-import: %d %s", st, raw)
		}

		exp := e.createAndLaunch(tok, "growth", experimentBody("Weekly insight", 0.1))
		done := e.waitDone(tok, exp.ID, 2*time.Minute)
		p := done.Progress
		if p.Total != 60 || p.Queued != 0 || p.Sending != 0 || p.Failed != 0 || p.HeldOut < 1 || p.HeldOut > 15 || p.Sent+p.HeldOut != 60 {
			t.Fatalf("progress %+v", p)
		}
		msgs := e.smtp.messages()
		if len(msgs) != p.Sent {
			t.Fatalf("SMTP server got %d messages, progress says %d sent", len(msgs), p.Sent)
		}
		if c := e.smtp.connections(); c >= len(msgs) || c < 1 {
			t.Errorf("%d SMTP connections for %d messages: connections are not reused", c, len(msgs))
		}

		subjects := map[string]string{"Your weekly insight": "control", "You saved 3 hours this week": "numbers"}
		seenRcpt, seenID := map[string]bool{}, map[string]bool{}
		var parsed []parsedMsg
		for _, r := range msgs {
			m := parse(t, r)
			if seenRcpt[m.rcpt] {
				t.Fatalf("%s got two messages", m.rcpt)
			}
			seenRcpt[m.rcpt] = true
			if m.messageID == "" || seenID[m.messageID] || !strings.HasSuffix(m.messageID, "@slicelab.test>") {
				t.Fatalf("Message-ID %q is missing, repeated or not in the sender's domain", m.messageID)
			}
			seenID[m.messageID] = true
			if !strings.HasPrefix(m.unsub, "<"+e.base+"/u/") || m.unsubPost != "List-Unsubscribe=One-Click" {
				t.Fatalf("unsubscribe headers %q / %q", m.unsub, m.unsubPost)
			}
			if !strings.Contains(m.html, e.base+"/u/") || !strings.Contains(m.text, e.base+"/u/") {
				t.Fatal("no visible unsubscribe link in both parts")
			}
			if _, ok := subjects[m.subject]; !ok {
				t.Fatalf("unexpected subject %q", m.subject)
			}
			if strings.Contains(m.html, "example.com/insights") || strings.Contains(m.text, "example.com/pricing") {
				t.Fatalf("a destination was not rewritten:\n%s\n%s", m.html, m.text)
			}
			if !strings.Contains(m.html, "mailto:help@example.com") {
				t.Fatal("the mailto link should stay as it is")
			}
			if !strings.Contains(m.html, "(pro)") && !strings.Contains(m.html, "(free)") {
				t.Fatal("the plan attribute was not rendered")
			}
			if got := trackedRE.FindAllString(m.text, -1); len(got) != 2 {
				t.Fatalf("text part has %d tracked links, want 2: %s", len(got), m.text)
			}
			parsed = append(parsed, m)
		}

		// 25 people click their first link; 5 of them come back a minute later
		// for the second; a scanner sends HEAD on one more message.
		want := map[string]struct{ clickers, clicks, automated int }{}
		for _, m := range parsed[:25] {
			links := trackedRE.FindAllString(m.html, -1)
			if len(links) != 3 { // two links and the hidden honeypot at the end
				t.Fatalf("HTML part has %d tracked links, want 3", len(links))
			}
			resp := click(t, "GET", links[0], browserUA)
			if resp.StatusCode != 302 || resp.Header.Get("Location") != destA {
				t.Fatalf("click answered %d to %q", resp.StatusCode, resp.Header.Get("Location"))
			}
			if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
				t.Fatalf("click headers %v", resp.Header)
			}
			w := want[subjects[m.subject]]
			w.clickers++
			w.clicks++
			want[subjects[m.subject]] = w
		}
		e.clock.advance(time.Minute)
		for _, m := range parsed[:5] {
			links := trackedRE.FindAllString(m.html, -1)
			if resp := click(t, "GET", links[1], browserUA); resp.StatusCode != 302 || resp.Header.Get("Location") != destB {
				t.Fatalf("second link answered %d to %q", resp.StatusCode, resp.Header.Get("Location"))
			}
			w := want[subjects[m.subject]]
			w.clicks++
			want[subjects[m.subject]] = w
		}
		scanned := parsed[len(parsed)-1]
		resp := click(t, "HEAD", trackedRE.FindString(scanned.html), browserUA)
		if resp.StatusCode != 302 || resp.Header.Get("Location") != destA {
			t.Fatalf("HEAD answered %d", resp.StatusCode)
		}
		w := want[subjects[scanned.subject]]
		w.automated++
		want[subjects[scanned.subject]] = w

		e.waitClicks()
		var res resultsJSON
		if st, raw := e.api("GET", "/api/v1/experiments/"+exp.ID+"/results", tok, nil, &res); st != 200 {
			t.Fatalf("results: %d %s", st, raw)
		}
		if res.ExperimentID != exp.ID || res.Holdout.Assigned != p.HeldOut || len(res.Variants) != 2 || res.Verdict.State == "" {
			t.Fatalf("results %+v", res)
		}
		sent, assigned := 0, 0
		for _, v := range res.Variants {
			wv := want[v.Name]
			if v.HumanClickers != wv.clickers || v.Clicks != wv.clicks || v.AutomatedClicks != wv.automated {
				t.Errorf("variant %s: clickers %d clicks %d automated %d, want %d %d %d",
					v.Name, v.HumanClickers, v.Clicks, v.AutomatedClicks, wv.clickers, wv.clicks, wv.automated)
			}
			if v.Sent == 0 || v.CTR == nil || *v.CTR != float64(v.HumanClickers)/float64(v.Sent) {
				t.Errorf("variant %s: sent %d ctr %v", v.Name, v.Sent, v.CTR)
			}
			if v.Control != (v.Name == "control") {
				t.Errorf("variant %s: control %v", v.Name, v.Control)
			}
			sent += v.Sent
			assigned += v.Assigned
		}
		checkCounters(t, e, exp.ID)
		if sent != p.Sent || assigned+res.Holdout.Assigned != 60 {
			t.Errorf("results count sent %d assigned %d, progress %+v", sent, assigned, p)
		}
	})
}
