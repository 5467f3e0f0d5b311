package main

import (
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
)

// TestPreviewAndTestSend: a variant renders for a chosen contact with the
// real destinations, and a test message goes to the given address only, if
// it is a member's or an allowed one, at a bounded rate per team.
func TestPreviewAndTestSend(t *testing.T) {
	t.Parallel()
	e := startEnv(t, dbFile(t), func(v map[string]string) { v["SLICELAB_TEST_RECIPIENTS"] = "@example.org, qa@example.net" })
	tok := e.teamToken("growth", "editor")
	e.api("POST", "/api/v1/teams/growth/contacts", tok, contactsCSV(5, "example.test"), nil)
	var exp experimentJSON
	e.api("POST", "/api/v1/teams/growth/experiments", tok, experimentBody("Preview", 0), &exp)
	var p struct {
		Variant, Contact, Subject, HTML, Text string
	}
	st, raw := e.api("GET", "/api/v1/experiments/"+exp.ID+"/preview?variant=numbers&contact=USER3@example.test", tok, nil, &p)
	if st != 200 || p.Variant != "numbers" || p.Contact != "user3@example.test" || p.Subject != "You saved 3 hours this week" ||
		!strings.Contains(p.HTML, "Hi User 3 (free)") || !strings.Contains(p.HTML, `href="https://example.com/insights?a=1&amp;b=2"`) ||
		!strings.Contains(p.Text, destA) || strings.Contains(p.HTML, "/c/") {
		t.Fatalf("preview: %d %s", st, raw)
	}
	for _, q := range []string{"?variant=nope", "?contact=nobody@example.test"} {
		if st, raw := e.api("GET", "/api/v1/experiments/"+exp.ID+"/preview"+q, tok, nil, nil); st != 422 {
			t.Errorf("preview%s: %d %s", q, st, raw)
		}
	}
	var sent struct {
		SentTo string `json:"sent_to"`
	}
	if st, raw := e.api("POST", "/api/v1/experiments/"+exp.ID+"/test", tok, map[string]string{"to": "pm@example.org"}, &sent); st != 202 || sent.SentTo != "pm@example.org" {
		t.Fatalf("test send: %d %s", st, raw)
	}
	msgs := e.smtp.messages()
	if len(msgs) != 1 || msgs[0].rcpt != "pm@example.org" || !strings.HasPrefix(msgs[0].msg.Header.Get("Subject"), "[Test] ") {
		t.Fatalf("test message: %+v", msgs)
	}
	if st, _ := e.api("POST", "/api/v1/experiments/"+exp.ID+"/test", tok, map[string]string{"to": "not an address"}, nil); st != 422 {
		t.Errorf("bad address: %d", st)
	}
	e.smtp.reject = func(string, int) error { return &smtp.SMTPError{Code: 550, Message: "no"} }
	if st, raw := e.api("POST", "/api/v1/experiments/"+exp.ID+"/test", tok, map[string]string{"to": "pm@example.org"}, nil); st != 502 || !strings.Contains(string(raw), "mail_rejected") {
		t.Errorf("refused test send: %d %s", st, raw)
	}
	e.smtp.reject = nil
	for _, to := range []string{"stranger@example.com", "someone@example.net"} {
		st, raw := e.api("POST", "/api/v1/experiments/"+exp.ID+"/test", tok, map[string]string{"to": to}, nil)
		if st != 422 || !strings.Contains(string(raw), `"to"`) || !strings.Contains(string(raw), "not a member of this team") {
			t.Errorf("test send to %s, neither a member nor allowed: %d %s", to, st, raw)
		}
	}
	if st, raw := e.api("POST", "/api/v1/experiments/"+exp.ID+"/test", tok, map[string]string{"to": "QA@example.net"}, nil); st != 202 {
		t.Errorf("test send to an allowed address: %d %s", st, raw)
	}
	e.api("POST", "/api/v1/teams/growth/members", e.teamToken("growth", "admin"), map[string]string{"email": "lead@growth.test", "role": "viewer"}, nil)
	if st, raw := e.api("POST", "/api/v1/experiments/"+exp.ID+"/test", tok, map[string]string{"to": "lead@growth.test"}, nil); st != 202 {
		t.Errorf("test send to a member: %d %s", st, raw)
	}
	// The team's hourly allowance (60) runs out: 4 were taken so far (one
	// of them refused by the server); the bucket refills one a minute, so a
	// slow machine sees the limit a little later, never not at all.
	limited := -1
	for i := 0; i < 80 && limited < 0; i++ {
		st, raw := e.api("POST", "/api/v1/experiments/"+exp.ID+"/test", tok, map[string]string{"to": "pm@example.org"}, nil)
		switch {
		case st == 429 && strings.Contains(string(raw), "too_many_requests"):
			limited = i
		case st != 202:
			t.Fatalf("test send %d: %d %s", i, st, raw)
		}
	}
	if limited < 50 {
		t.Errorf("the team's test sends were limited after %d more (want 56, or a few more on a slow machine)", limited)
	}
	var after experimentJSON
	e.api("GET", "/api/v1/experiments/"+exp.ID, tok, nil, &after)
	if after.Status != "draft" || after.Progress.Total != 0 {
		t.Errorf("a preview or test send changed the experiment: %+v", after)
	}
}
