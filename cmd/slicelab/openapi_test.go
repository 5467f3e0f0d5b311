package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// TestOpenAPIResponses: the document served at /api/v1/openapi.json (read
// without a token) describes what the API really takes and answers: a
// walkthrough of the API's operations, on SQLite and PostgreSQL, validates
// every request and every answer (successes and errors) against it.
func TestOpenAPIResponses(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		e := startEnv(t, dbURL(t))
		e.clock.set(time.Date(2026, 11, 4, 12, 0, 0, 0, time.UTC)) // 2026-W45
		st, raw := e.api("GET", "/api/v1/openapi.json", "", nil, nil)
		if st != 200 {
			t.Fatalf("openapi.json: %d %s", st, raw)
		}
		doc, err := openapi3.NewLoader().LoadFromData(raw)
		if err != nil {
			t.Fatal(err)
		}
		// The document names its server as the relative /api/v1; match it against this test's base URL.
		doc.Servers = openapi3.Servers{{URL: e.base + "/api/v1"}}
		router, err := legacy.NewRouter(doc)
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		seen := map[string]bool{}
		e.check = func(req *http.Request, reqBody []byte, status int, header http.Header, body []byte) {
			if !strings.HasPrefix(req.URL.Path, "/api/v1/") || req.URL.Path == "/api/v1/openapi.json" {
				return
			}
			route, params, err := router.FindRoute(req)
			if err != nil {
				t.Errorf("%s %s: not in the document: %v", req.Method, req.URL.Path, err)
				return
			}
			mu.Lock()
			seen[req.Method+" "+route.Path] = true
			mu.Unlock()
			opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}
			in := &openapi3filter.RequestValidationInput{Request: cloneWithBody(req, reqBody), PathParams: params, Route: route, Options: opts}
			if status < 400 { // a refused request may be refused because it does not fit the document
				if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
					t.Errorf("%s %s: the request %s does not fit the document: %v", req.Method, req.URL.Path, reqBody, err)
				}
			}
			out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header,
				Body: io.NopCloser(bytes.NewReader(body)), Options: opts}
			if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
				t.Errorf("%s %s: the answer %d %s does not fit the document: %v", req.Method, req.URL.Path, status, trimBody(body), err)
			}
		}

		admin := e.teamToken("growth", "admin")
		viewer := e.teamToken("growth", "viewer")
		e.api("GET", "/api/v1/teams/growth", admin, nil, nil)
		e.api("PATCH", "/api/v1/teams/growth", admin, map[string]string{"time_zone": "Europe/Berlin", "mail_from": "Growth <growth@example.com>"}, nil)
		e.api("PATCH", "/api/v1/teams/growth", viewer, map[string]string{"time_zone": "UTC"}, nil) // 403
		e.api("POST", "/api/v1/teams/growth/members", admin, map[string]string{"email": "ada@growth.test", "name": "Ada", "role": "editor", "function": "engineering"}, nil)
		var members struct {
			Members []struct{ ID string }
		}
		e.api("GET", "/api/v1/teams/growth/members", admin, nil, &members)
		e.api("POST", "/api/v1/teams/growth/contacts", admin, contactsCSV(30, "growth.test"), nil)
		e.api("POST", "/api/v1/teams/growth/contacts", admin, []map[string]any{{"email": "json@growth.test", "name": "J", "tags": []string{"beta"}, "attributes": map[string]string{"plan": "pro"}}}, nil)
		e.api("POST", "/api/v1/teams/growth/contacts", admin, csvBody("email\nnot-an-address\n"), nil) // 422 with rows
		e.api("GET", "/api/v1/teams/growth/contacts?limit=10", admin, nil, nil)
		e.api("GET", "/api/v1/teams/growth/contacts", "", nil, nil) // 401
		e.api("GET", "/api/v1/teams/growth/contacts/export?email=json@growth.test", admin, nil, nil)
		e.api("GET", "/api/v1/teams/growth/contacts/export?email=nobody@growth.test", admin, nil, nil) // 404

		var draft experimentJSON
		e.api("POST", "/api/v1/teams/growth/experiments", admin, experimentBody("Draft", 0.1), &draft)
		e.api("PATCH", "/api/v1/experiments/"+draft.ID, admin, map[string]any{"name": "Draft, renamed", "viability": map[string]any{"metric": "ctr", "threshold": 0.05}}, nil)
		e.api("POST", "/api/v1/teams/growth/experiments", admin, map[string]any{"name": ""}, nil) // 422
		e.api("GET", "/api/v1/experiments/"+draft.ID+"/preview?variant=numbers", admin, nil, nil)
		e.api("POST", "/api/v1/experiments/"+draft.ID+"/test", admin, map[string]string{"to": "me@growth.test", "variant": "numbers"}, nil)
		var junk experimentJSON
		e.api("POST", "/api/v1/teams/growth/experiments", admin, experimentBody("Junk", 0), &junk)
		e.api("DELETE", "/api/v1/experiments/"+junk.ID, admin, nil, nil)
		e.api("GET", "/api/v1/experiments/"+junk.ID, admin, nil, nil) // 404
		e.api("POST", "/api/v1/experiments/"+draft.ID+"/launch", admin, nil, nil)
		e.api("POST", "/api/v1/experiments/"+draft.ID+"/launch", admin, nil, nil) // 409
		e.waitDone(admin, draft.ID, 2*time.Minute)
		e.api("GET", "/api/v1/teams/growth/experiments", admin, nil, nil)
		e.api("GET", "/api/v1/experiments/"+draft.ID+"/results", admin, nil, nil)
		var second experimentJSON
		e.api("POST", "/api/v1/teams/growth/experiments", admin, experimentBody("Second", 0), &second)
		e.api("POST", "/api/v1/experiments/"+second.ID+"/launch", admin, `{"at":"2026-11-20T09:00:00Z"}`, nil)
		e.api("POST", "/api/v1/experiments/"+second.ID+"/pause", admin, nil, nil) // 409: scheduled, not running
		e.api("POST", "/api/v1/experiments/"+second.ID+"/resume", admin, nil, nil)
		e.api("POST", "/api/v1/experiments/"+second.ID+"/cancel", admin, nil, nil)

		var obj struct{ ID string }
		e.api("POST", "/api/v1/teams/growth/objectives", admin, map[string]string{"title": "Grow", "period": "2026-Q4"}, &obj)
		e.api("GET", "/api/v1/objectives/"+obj.ID, admin, nil, nil)
		e.api("PATCH", "/api/v1/objectives/"+obj.ID, admin, map[string]string{"kind": "aspirational"}, nil)
		var kr, manual struct{ ID string }
		e.api("POST", "/api/v1/objectives/"+obj.ID+"/key-results", admin, map[string]any{"title": "Clickers", "type": "metric", "start": 0, "target": 20, "source": "clicks"}, &kr)
		e.api("POST", "/api/v1/objectives/"+obj.ID+"/key-results", admin, map[string]any{"title": "Signups", "type": "baseline", "source": "events", "event_name": "signup"}, nil)
		e.api("POST", "/api/v1/objectives/"+obj.ID+"/key-results", admin, map[string]any{"title": "Bugs", "type": "metric", "start": 10, "target": 2, "source": "manual"}, &manual)
		e.api("POST", "/api/v1/key-results/"+kr.ID+"/experiments", admin, map[string]string{"experiment_id": draft.ID}, nil)
		e.api("GET", "/api/v1/key-results/"+kr.ID, admin, nil, nil)
		e.api("PATCH", "/api/v1/key-results/"+manual.ID, admin, map[string]any{"title": "Open bugs", "target": 1}, nil)
		e.api("POST", "/api/v1/key-results/"+manual.ID+"/check-ins", admin, map[string]any{"value": 6, "confidence": 7, "note": "triage"}, nil)
		e.api("POST", "/api/v1/key-results/"+manual.ID+"/check-ins", admin, map[string]any{"week": "2030-W01", "value": 6}, nil) // 422
		e.api("POST", "/api/v1/teams/growth/events", admin, map[string]any{"name": "signup", "email": "user1@growth.test"}, nil)
		e.api("POST", "/api/v1/teams/growth/events", admin, []map[string]any{{"name": "signup", "value": 2}}, nil)
		e.api("GET", "/api/v1/teams/growth/objectives", admin, nil, nil)
		e.api("GET", "/api/v1/teams/growth/reports/weekly?week=2026-W45", admin, nil, nil)
		e.api("GET", "/api/v1/teams/growth/reports/weekly?week=2026-W45&format=csv", admin, nil, nil)
		e.api("GET", "/api/v1/teams/growth/reports/weekly?week=soon", admin, nil, nil) // 422

		var cats struct {
			Categories []struct{ ID string }
		}
		e.api("GET", "/api/v1/teams/growth/allocation-categories", admin, nil, &cats)
		e.api("POST", "/api/v1/teams/growth/allocation-categories", admin, map[string]any{"name": "Research", "elective": true, "description": "spikes"}, nil)
		e.api("PATCH", "/api/v1/teams/growth/allocation-categories/"+cats.Categories[0].ID, admin, map[string]any{"description": "fires"}, nil)
		e.api("PUT", "/api/v1/teams/growth/allocation-targets", admin, map[string]float64{"New": 0.5, "Improve": 0.25, "Productivity": 0.25}, nil)
		e.api("POST", "/api/v1/teams/growth/allocations", admin, map[string]any{"member_id": members.Members[0].ID, "week": "2026-W45",
			"shares": map[string]int{"KTLO": 40, "New": 60}}, nil)
		e.api("GET", "/api/v1/teams/growth/allocations?week=2026-W45", admin, nil, nil)

		var toks struct {
			Tokens []struct{ ID string }
		}
		e.api("GET", "/api/v1/teams/growth/tokens", admin, nil, &toks)
		e.api("DELETE", "/api/v1/teams/growth/tokens/"+toks.Tokens[0].ID, admin, nil, nil) // the viewer's, the newest
		e.api("POST", "/api/v1/teams/growth/contacts/erase", admin, map[string]string{"email": "json@growth.test"}, nil)
		e.api("POST", "/api/v1/teams/growth/contacts/erase", admin, map[string]string{"email": "x"}, nil) // 422
		orgOut, _, _ := e.cli("token", "create", "--org", "default")
		orgTok := strings.TrimSpace(orgOut)
		e.api("GET", "/api/v1/org", orgTok, nil, nil)
		e.api("GET", "/api/v1/org/members", orgTok, nil, nil)
		e.api("GET", "/api/v1/org/reports/weekly?week=2026-W45", orgTok, nil, nil)
		e.api("GET", "/api/v1/org/reports/weekly?week=2026-W45&format=csv", orgTok, nil, nil)
		e.api("GET", "/api/v1/org/reports/weekly", admin, nil, nil) // 403: a team's token
		e.api("DELETE", "/api/v1/key-results/"+manual.ID, admin, nil, nil)
		e.api("DELETE", "/api/v1/objectives/"+obj.ID, admin, nil, nil)

		// Every operation of the document was tried.
		var missing []string
		for path, item := range doc.Paths.Map() {
			for method := range item.Operations() {
				if !seen[method+" "+path] {
					missing = append(missing, method+" "+path)
				}
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("operations the walkthrough did not try: %v", missing)
		}
	})
}

// cloneWithBody is req with a body that can be read again.
func cloneWithBody(req *http.Request, body []byte) *http.Request {
	r := req.Clone(context.Background())
	r.Body = io.NopCloser(bytes.NewReader(body))
	if r.URL == nil {
		r.URL = &url.URL{}
	}
	return r
}

func trimBody(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}
