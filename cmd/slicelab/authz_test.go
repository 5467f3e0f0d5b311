package main

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"slicelab/cmd/slicelab/internal/web"
)

// access is who a route lets in.
type access int

const (
	accPublic  access = iota // anyone: no token, no session
	accViewer                // any member of the owning team (token or session)
	accEditor                // editor or admin
	accAdmin                 // admin
	accOrg                   // an organisation's token or admin
	accSignout               // a session, or nobody: signing out
)

// routeAccess is the authorization matrix's expectation for every route of
// the route table. A route missing here fails the test: who may call a new
// route must be decided, not inherited.
var routeAccess = map[string]access{
	"GET /healthz": accPublic, "GET /readyz": accPublic, "GET /metrics": accPublic, "GET /api/v1/openapi.json": accPublic,
	"GET /c/:token": accPublic, "HEAD /c/:token": accPublic, "GET /u/:token": accPublic, "POST /u/:token": accPublic,
	"GET /survey/:token": accPublic, "POST /survey/:token": accPublic, "GET /static/*": accPublic,
	"GET /signin": accPublic, "POST /signin": accPublic, "POST /signout": accSignout,
	"GET /setup/:token": accPublic, "POST /setup/:token": accPublic,

	"GET /api/v1/teams/:team": accViewer, "PATCH /api/v1/teams/:team": accAdmin,
	"GET /api/v1/teams/:team/members": accViewer, "POST /api/v1/teams/:team/members": accAdmin,
	"GET /api/v1/teams/:team/tokens": accAdmin, "DELETE /api/v1/teams/:team/tokens/:id": accAdmin,
	"POST /api/v1/teams/:team/contacts": accEditor, "GET /api/v1/teams/:team/contacts": accViewer,
	"GET /api/v1/teams/:team/contacts/export": accAdmin, "POST /api/v1/teams/:team/contacts/erase": accAdmin,
	"POST /api/v1/teams/:team/experiments": accEditor, "GET /api/v1/teams/:team/experiments": accViewer,
	"GET /api/v1/experiments/:id": accViewer, "PATCH /api/v1/experiments/:id": accEditor, "DELETE /api/v1/experiments/:id": accEditor,
	"POST /api/v1/experiments/:id/launch": accEditor, "POST /api/v1/experiments/:id/pause": accEditor,
	"POST /api/v1/experiments/:id/resume": accEditor, "POST /api/v1/experiments/:id/cancel": accEditor,
	"GET /api/v1/experiments/:id/results": accViewer, "GET /api/v1/experiments/:id/preview": accViewer,
	"POST /api/v1/experiments/:id/test":   accEditor,
	"POST /api/v1/teams/:team/objectives": accEditor, "GET /api/v1/teams/:team/objectives": accViewer,
	"GET /api/v1/objectives/:id": accViewer, "PATCH /api/v1/objectives/:id": accEditor, "DELETE /api/v1/objectives/:id": accEditor,
	"POST /api/v1/objectives/:id/key-results": accEditor, "GET /api/v1/key-results/:id": accViewer,
	"PATCH /api/v1/key-results/:id": accEditor, "DELETE /api/v1/key-results/:id": accEditor,
	"POST /api/v1/key-results/:id/check-ins": accEditor, "POST /api/v1/key-results/:id/experiments": accEditor,
	"POST /api/v1/teams/:team/events": accEditor, "GET /api/v1/teams/:team/reports/weekly": accViewer,
	"POST /api/v1/teams/:team/allocations": accEditor, "GET /api/v1/teams/:team/allocations": accViewer,
	"GET /api/v1/teams/:team/allocation-categories": accViewer, "POST /api/v1/teams/:team/allocation-categories": accAdmin,
	"PATCH /api/v1/teams/:team/allocation-categories/:id": accAdmin, "PUT /api/v1/teams/:team/allocation-targets": accAdmin,
	"GET /api/v1/org": accOrg, "GET /api/v1/org/members": accOrg, "GET /api/v1/org/reports/weekly": accOrg,

	"GET /": accViewer, "POST /team/switch": accViewer,
	"GET /contacts": accViewer, "POST /contacts": accEditor,
	"GET /experiments": accViewer, "GET /experiments/new": accEditor, "POST /experiments": accEditor,
	"GET /experiments/:id": accViewer, "GET /experiments/:id/progress": accViewer, "GET /experiments/:id/preview": accViewer,
	"GET /experiments/:id/edit": accEditor, "POST /experiments/:id": accEditor, "POST /experiments/:id/delete": accEditor,
	"GET /experiments/:id/launch": accEditor, "POST /experiments/:id/launch": accEditor, "POST /experiments/:id/pause": accEditor,
	"POST /experiments/:id/resume": accEditor, "POST /experiments/:id/cancel": accEditor, "POST /experiments/:id/test": accEditor,
	"GET /okrs": accViewer, "POST /okrs/objectives": accEditor, "POST /okrs/objectives/:id/key-results": accEditor,
	"POST /okrs/objectives/:id": accEditor, "POST /okrs/objectives/:id/archive": accEditor, "POST /okrs/key-results/:id": accEditor,
	"POST /okrs/key-results/:id/archive": accEditor, "POST /okrs/key-results/:id/check-in": accEditor, "POST /okrs/key-results/:id/link": accEditor,
	"GET /review": accViewer, "GET /review.csv": accViewer,
	"GET /allocation": accViewer, "POST /allocation": accViewer, // every member answers for themselves
	"GET /outbox": accViewer, "GET /outbox/:name": accViewer, "GET /outbox/:name/html": accViewer,
	"GET /org": accOrg, "GET /org.csv": accOrg,
	"GET /team": accAdmin, "POST /team/members": accAdmin, "POST /team/survey": accAdmin, "POST /team/digest": accAdmin,
}

// caller is one principal of the matrix.
type caller struct {
	name  string
	rank  access // the highest access it has on team growth (accPublic: none)
	token string // API token ("" for sessions and the anonymous caller)
	web   *webClient
	csrf  string
	other bool // a member of another team (any route naming growth's team or objects is not found)
	org   bool // an organisation's token or admin
}

// TestAuthorizationMatrix walks the route table with an anonymous caller,
// a viewer, an editor and an admin of the owning team, an admin of another
// team, and an organisation's token or admin: every route is either
// refused (401, 403, 404, or the sign-in page) or answered (anything below
// 500 but those), as routeAccess says.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		e := startEnv(t, dbURL(t), func(v map[string]string) { v["SLICELAB_SMTP_URL"] = "" }) // the outbox, so its pages exist
		e.clock.set(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
		// The routes of the real route table.
		h, err := web.New(web.Deps{Experiments: e.app.exps, OKR: e.app.okr, Tracking: e.app.trk, Ready: e.app.st.db.PingContext,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: e.app.now})
		if err != nil {
			t.Fatal(err)
		}
		var routes []string
		for _, r := range h.(interface{ Routes() []*echo.Route }).Routes() {
			if r.Method == echo.RouteNotFound {
				continue
			}
			routes = append(routes, r.Method+" "+r.Path)
		}
		slices.Sort(routes)
		routes = slices.Compact(routes)
		// Signing out ends the callers' sessions: last.
		routes = append(slices.DeleteFunc(routes, func(r string) bool { return r == "POST /signout" }), "POST /signout")
		for _, r := range routes {
			if _, ok := routeAccess[r]; !ok {
				t.Errorf("route %s has no entry in the authorization matrix (routeAccess)", r)
			}
		}

		// The callers.
		admin := e.teamToken("growth", "admin")
		e.api("POST", "/api/v1/teams/growth/contacts", admin, contactsCSV(5, "growth.test"), nil)
		for _, m := range []struct{ email, role string }{{"viewer@growth.test", "viewer"}, {"editor@growth.test", "editor"},
			{"admin@growth.test", "admin"}, {"vp@growth.test", "viewer"}} {
			e.member("growth", m.email, m.role)
		}
		e.member("rival", "admin@rival.test", "admin")
		e.cli("org", "admin", "add", "vp@growth.test")
		orgOut, _, _ := e.cli("token", "create", "--org", "default")
		callers := []*caller{
			{name: "anonymous", rank: accPublic},
			{name: "viewer token", rank: accViewer, token: e.teamToken("growth", "viewer")},
			{name: "editor token", rank: accEditor, token: e.teamToken("growth", "editor")},
			{name: "admin token", rank: accAdmin, token: admin},
			{name: "another team's admin token", rank: accAdmin, token: e.teamToken("rival", "admin"), other: true},
			{name: "organisation token", rank: accPublic, token: strings.TrimSpace(orgOut), org: true},
		}
		for _, s := range []struct {
			name, email string
			rank        access
			other, org  bool
		}{{"viewer session", "viewer@growth.test", accViewer, false, false}, {"editor session", "editor@growth.test", accEditor, false, false},
			{"admin session", "admin@growth.test", accAdmin, false, false}, {"another team's admin session", "admin@rival.test", accAdmin, true, false},
			{"organisation admin session", "vp@growth.test", accViewer, false, true}} {
			w := newWebClient(t, e.base)
			if resp := w.signIn(s.email, "correct horse battery"); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign in %s: %d", s.email, resp.StatusCode)
			}
			callers = append(callers, &caller{name: s.name, rank: s.rank, web: w, csrf: w.token("/"), other: s.other, org: s.org})
		}

		// Objects of growth for the routes' parameters: a fresh one for every
		// route, so that a route that deletes or launches spoils no other.
		fresh := newMatrixObjects(t, e, admin)
		outboxName := fresh.outboxMessage()

		for _, r := range routes {
			acc, ok := routeAccess[r]
			if !ok {
				continue
			}
			method, path, _ := strings.Cut(r, " ")
			api := strings.HasPrefix(path, "/api/v1/")
			page := !api && acc != accPublic && acc != accSignout
			base := path
			base = strings.ReplaceAll(base, ":team", "growth")
			base = strings.ReplaceAll(base, ":token", "no-such-token")
			base = strings.ReplaceAll(base, ":name", outboxName)
			base = strings.ReplaceAll(base, "*", "app.css")
			for _, c := range callers {
				if (api && c.web != nil) || (page && c.token != "") {
					continue // an API route takes tokens, a page a session
				}
				if acc == accSignout && c.token != "" {
					continue
				}
				p := base
				if i := strings.Index(p, ":id"); i >= 0 { // a fresh object for every call: a caller that may delete spoils nothing for the next
					p = p[:i] + fresh.idFor(path) + p[i+len(":id"):]
				}
				want := allowedFor(acc, c, path)
				if r == "POST /team/switch" && c.other {
					want = false // growth is not a team of theirs
				}
				status, loc := c.call(t, e, method, p)
				refused := status == 401 || status == 403 || status == 404 || (status == http.StatusSeeOther && strings.HasPrefix(loc, "/signin"))
				if !refused && !want && c.other && strings.Contains(path, ":id") && (status < 200 || status > 299) {
					// Another team's caller may be told its request is
					// wrong before the object is looked up, as long as the
					// answer is the same for an object that does not exist:
					// it learns nothing and changes nothing.
					st2, _ := c.call(t, e, method, strings.Replace(base, ":id", "01a22836-0000-7000-8000-000000000000", 1))
					refused = st2 == status
				}
				switch {
				case status >= 500:
					t.Errorf("%s %s as %s: %d", method, p, c.name, status)
				case acc == accPublic || acc == accSignout:
				case want && refused:
					t.Errorf("%s %s as %s: %d, want it answered", method, p, c.name, status)
				case !want && !refused:
					t.Errorf("%s %s as %s: %d, want it refused", method, p, c.name, status)
				}
			}
		}
	})
}

// allowedFor tells whether the caller may use a route.
func allowedFor(acc access, c *caller, path string) bool {
	switch acc {
	case accPublic, accSignout:
		return true
	case accOrg:
		return c.org
	}
	if c.org && c.token != "" {
		return false // an organisation's token reads the organisation's routes only
	}
	if c.other && (strings.Contains(path, ":team") || strings.Contains(path, ":id") || strings.Contains(path, ":name")) {
		return false // growth's team and objects are not found for another team
	}
	return c.rank >= acc
}

func (c *caller) call(t *testing.T, e *env, method, path string) (int, string) {
	t.Helper()
	var body io.Reader
	ctype := ""
	switch {
	case method == "GET" || method == "HEAD":
	case c.web != nil:
		form := url.Values{"_csrf": {c.csrf}}
		if path == "/team/switch" {
			form.Set("team", "growth")
		}
		body, ctype = strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"
	case method != "DELETE":
		body, ctype = bytes.NewReader([]byte("{}")), "application/json"
	}
	req, _ := http.NewRequest(method, e.base+path, body)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	hc := client
	if c.web != nil {
		hc = c.web.c
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

// matrixObjects makes growth's objects for the routes' :id.
type matrixObjects struct {
	t     *testing.T
	e     *env
	token string
}

func newMatrixObjects(t *testing.T, e *env, token string) *matrixObjects {
	return &matrixObjects{t: t, e: e, token: token}
}

var idRE = regexp.MustCompile(`"id":"([0-9a-f-]{36})"`)

func (m *matrixObjects) create(path string, body any) string {
	m.t.Helper()
	st, raw := m.e.api("POST", path, m.token, body, nil)
	id := idRE.FindSubmatch(raw)
	if st >= 300 || id == nil {
		m.t.Fatalf("POST %s: %d %s", path, st, raw)
	}
	return string(id[1])
}

func (m *matrixObjects) experiment() string {
	return m.create("/api/v1/teams/growth/experiments", experimentBody("Matrix", 0))
}

func (m *matrixObjects) objective() string {
	return m.create("/api/v1/teams/growth/objectives", map[string]string{"title": "Matrix", "period": "2026-Q4"})
}

func (m *matrixObjects) keyResult() string {
	return m.create("/api/v1/objectives/"+m.objective()+"/key-results", map[string]any{"title": "Bugs", "type": "metric", "start": 10, "target": 2, "source": "manual"})
}

// idFor makes a fresh object of the kind a route's :id names.
func (m *matrixObjects) idFor(route string) string {
	switch {
	case strings.Contains(route, "/tokens/"):
		m.e.cli("token", "create", "--team", "growth", "--name", "matrix")
		var list struct {
			Tokens []struct{ ID, Name string }
		}
		m.e.api("GET", "/api/v1/teams/growth/tokens", m.token, nil, &list)
		for _, k := range list.Tokens { // newest first
			if k.Name == "matrix" {
				return k.ID
			}
		}
		m.t.Fatal("no matrix token")
	case strings.Contains(route, "/allocation-categories/"):
		var cats struct {
			Categories []struct{ ID string }
		}
		m.e.api("GET", "/api/v1/teams/growth/allocation-categories", m.token, nil, &cats)
		return cats.Categories[0].ID
	case strings.Contains(route, "/objectives/"):
		return m.objective()
	case strings.Contains(route, "/key-results/"):
		return m.keyResult()
	case strings.Contains(route, "/experiments/"):
		return m.experiment()
	}
	m.t.Fatalf("no object for %s", route)
	return ""
}

// outboxMessage sends a test message and returns its outbox file's name.
func (m *matrixObjects) outboxMessage() string {
	m.t.Helper()
	id := m.experiment()
	if st, raw := m.e.api("POST", "/api/v1/experiments/"+id+"/test", m.token, map[string]string{"to": "admin@growth.test", "variant": "numbers"}, nil); st >= 300 {
		m.t.Fatalf("test send: %d %s", st, raw)
	}
	entries, err := os.ReadDir(m.e.app.cfg.OutboxDir)
	if err != nil || len(entries) == 0 {
		m.t.Fatalf("outbox: %v (%d files)", err, len(entries))
	}
	return entries[0].Name()
}
