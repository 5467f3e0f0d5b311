package main

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSecurityHeaders: every answer says nosniff and keeps the referrer on
// this site; HTML pages carry a content security policy that refuses
// framing by other sites and scripts from anywhere else.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := startEnv(t, filepath.Join(t.TempDir(), "slicelab.db"))
	tok := e.teamToken("growth", "admin")
	get := func(path, token string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", e.base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, c := range []struct {
		path, token string
		html        bool
	}{
		{"/u/not-a-token", "", true},         // an HTML error page
		{"/c/not-a-token", "", true},         // the same, from a tracked link
		{"/api/v1/teams/growth", tok, false}, // JSON
		{"/api/v1/teams/growth", "", false},  // a JSON error
		{"/healthz", "", false},              // text
		{"/signin", "", true},                // a page
	} {
		resp := get(c.path, c.token)
		h := resp.Header
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "same-origin" {
			t.Errorf("%s: nosniff %q, referrer policy %q", c.path, h.Get("X-Content-Type-Options"), h.Get("Referrer-Policy"))
		}
		csp := h.Get("Content-Security-Policy")
		if c.html != strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			t.Fatalf("%s: content type %q", c.path, h.Get("Content-Type"))
		}
		if c.html && (!strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") || h.Get("X-Frame-Options") != "DENY") {
			t.Errorf("%s: CSP %q, X-Frame-Options %q", c.path, csp, h.Get("X-Frame-Options"))
		}
		if !c.html && csp != "" {
			t.Errorf("%s: a CSP on a non-HTML answer: %q", c.path, csp)
		}
	}
}

// TestBodyLimits: every route limits its request bodies (64 KiB unless it
// says more); a larger body is answered 413 with the limit, with or without
// a Content-Length, and nothing is stored.
func TestBodyLimits(t *testing.T) {
	t.Parallel()
	e := startEnv(t, filepath.Join(t.TempDir(), "slicelab.db"))
	tok := e.teamToken("growth", "admin")
	big := `{"title":"` + strings.Repeat("x", 70<<10) + `","period":"2026-Q4"}`
	for _, chunked := range []bool{false, true} {
		var body io.Reader = strings.NewReader(big)
		if chunked {
			body = io.MultiReader(body) // no length known: sent chunked
		}
		req, _ := http.NewRequest("POST", e.base+"/api/v1/teams/growth/objectives", body)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 413 || !strings.Contains(string(raw), "64 KiB") {
			t.Errorf("a 70 KiB objective (chunked %v): %d %s", chunked, resp.StatusCode, raw)
		}
	}
	var list struct{ Objectives []any }
	if e.api("GET", "/api/v1/teams/growth/objectives", tok, nil, &list); len(list.Objectives) != 0 {
		t.Errorf("objectives after refused bodies: %d", len(list.Objectives))
	}
	// A route that takes more (an experiment, up to 2 MiB) takes 70 KiB.
	b := experimentBody("Long", 0)
	b["hypothesis"] = strings.Repeat("y", 1000)
	if st, raw := e.api("POST", "/api/v1/teams/growth/experiments", tok, b, nil); st != 201 {
		t.Errorf("an experiment under its route's limit: %d %s", st, raw)
	}
	// Public links: an HTML page says so.
	resp, err := client.Post(e.base+"/u/some-token", "application/x-www-form-urlencoded", strings.NewReader("x="+strings.Repeat("z", 20<<10)))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || !strings.Contains(string(raw), "16 KiB") {
		t.Errorf("a 20 KiB unsubscribe: %d %s", resp.StatusCode, raw)
	}
}

// TestLookupLimits: a client whose tracked, unsubscribe or survey links open
// nothing thirty times is answered 429 with Retry-After until it waits;
// behind SLICELAB_TRUSTED_PROXIES the client is the X-Forwarded-For
// address, and without it that header changes nothing.
func TestLookupLimits(t *testing.T) {
	t.Parallel()
	get := func(e *env, path, xff string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", e.base+path, nil)
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	t.Run("direct", func(t *testing.T) {
		e := startEnv(t, filepath.Join(t.TempDir(), "slicelab.db"))
		tok := e.teamToken("growth", "editor")
		e.api("POST", "/api/v1/teams/growth/contacts", tok, contactsCSV(2, "example.test"), nil)
		exp := e.createAndLaunch(tok, "growth", experimentBody("Real links", 0))
		e.waitDone(tok, exp.ID, 2*time.Minute)
		m := parse(t, e.smtp.messages()[0])
		link := trackedRE.FindString(m.html)
		unsub := m.unsub
		unsub = unsub[strings.Index(unsub, "/u/"):strings.LastIndex(unsub, ">")]
		e.clock.freeze() // the buckets refill only when the test says so
		paths := []string{"/c/nothing", "/u/nothing", "/survey/nothing"}
		for i := 0; i < 30; i++ {
			// A forged X-Forwarded-For does not make another client of the same address.
			if resp := get(e, paths[i%3], fmt.Sprintf("192.0.2.%d", i)); resp.StatusCode != 404 {
				t.Fatalf("failed lookup %d: %d, want 404", i+1, resp.StatusCode)
			}
		}
		resp := get(e, "/c/nothing", "192.0.2.200")
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("lookup 31: %d (Retry-After %q), want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		if resp := get(e, "/healthz", ""); resp.StatusCode != 200 {
			t.Errorf("health check while limited: %d", resp.StatusCode)
		}
		// The address's real links still work: a signed token is not a guess.
		if resp := get(e, link[strings.Index(link, "/c/"):], ""); resp.StatusCode != 302 {
			t.Errorf("a real tracked link while limited: %d, want 302", resp.StatusCode)
		}
		if resp := get(e, unsub, ""); resp.StatusCode != 200 {
			t.Errorf("a real unsubscribe link while limited: %d, want 200", resp.StatusCode)
		}
		if resp := get(e, "/c/"+strings.Repeat("A", len(link)-strings.Index(link, "/c/")-3), ""); resp.StatusCode != 429 {
			t.Errorf("a forged token of the right length while limited: %d, want 429", resp.StatusCode)
		}
		e.clock.advance(3 * time.Second) // one more try
		if resp := get(e, "/survey/nothing", ""); resp.StatusCode != 404 {
			t.Errorf("after waiting: %d, want 404", resp.StatusCode)
		}
		if resp := get(e, "/survey/nothing", ""); resp.StatusCode != 429 {
			t.Errorf("right after: %d, want 429", resp.StatusCode)
		}
	})
	t.Run("behind a trusted proxy", func(t *testing.T) {
		e := startEnv(t, filepath.Join(t.TempDir(), "slicelab.db"), func(v map[string]string) { v["SLICELAB_TRUSTED_PROXIES"] = "127.0.0.1, 10.0.0.0/8" })
		for i := 0; i < 30; i++ {
			get(e, "/c/nothing", "198.51.100.7")
		}
		if resp := get(e, "/c/nothing", "198.51.100.7"); resp.StatusCode != 429 {
			t.Errorf("the limited client behind the proxy: %d, want 429", resp.StatusCode)
		}
		if resp := get(e, "/c/nothing", "198.51.100.8"); resp.StatusCode != 404 {
			t.Errorf("another client behind the proxy: %d, want 404", resp.StatusCode)
		}
	})
	t.Run("a bad proxy list", func(t *testing.T) {
		_, err := loadConfig(func(k string) string {
			if k == "SLICELAB_TRUSTED_PROXIES" {
				return "10.0.0.0/8,proxy.internal"
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), `SLICELAB_TRUSTED_PROXIES: "proxy.internal"`) {
			t.Errorf("a host name in SLICELAB_TRUSTED_PROXIES: %v", err)
		}
	})
	t.Run("a bad test recipient list", func(t *testing.T) {
		_, err := loadConfig(func(k string) string {
			if k == "SLICELAB_TEST_RECIPIENTS" {
				return "@example.com, not an address"
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), `SLICELAB_TEST_RECIPIENTS: "not an address"`) {
			t.Errorf("a bad SLICELAB_TEST_RECIPIENTS: %v", err)
		}
	})
}
