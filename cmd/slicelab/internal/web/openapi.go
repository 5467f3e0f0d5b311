package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3gen"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"slicelab/experiments"
	"slicelab/okr"
)

// The API's OpenAPI 3 document (product.md §13), served at
// /api/v1/openapi.json. Every operation of the route table's API group is
// described in apiOperations; request and response schemas are generated
// from the Go types the handlers decode and encode, so they cannot drift
// apart. A test walks the route table and fails when a route is missing here,
// and validates real responses against the document.

// Response bodies that the handlers build for the API.
type (
	experimentList struct {
		Experiments []*experiments.Experiment `json:"experiments"`
	}
	objectiveList struct {
		Objectives []*okr.Objective `json:"objectives"`
	}
	memberList struct {
		Members []experiments.Member `json:"members"`
	}
	tokenList struct {
		Tokens []experiments.APIToken `json:"tokens"`
	}
	categoryList struct {
		Categories []okr.Category `json:"categories"`
	}
	eventsAccepted struct {
		Accepted int `json:"accepted"`
	}
	testSent struct {
		SentTo  string               `json:"sent_to"`
		Preview *experiments.Preview `json:"preview"`
	}
	// TeamSettings is a team as the API answers it.
	TeamSettings struct {
		Team      string    `json:"team"` // the slug
		Slug      string    `json:"slug"`
		Name      string    `json:"name"`
		TimeZone  string    `json:"time_zone"`
		MailFrom  string    `json:"mail_from"` // "" while the service's SLICELAB_MAIL_FROM is used
		ReplyTo   string    `json:"reply_to"`
		CreatedAt time.Time `json:"created_at"`
	}
	// importFailed is the answer to an import with bad rows (422).
	importFailed struct {
		Imported int                    `json:"imported"`
		Skipped  int                    `json:"skipped"`
		Errors   []experiments.RowError `json:"errors"`
		Error    apiError               `json:"error"`
	}
	errorBody struct {
		Error apiError `json:"error"`
	}
)

// Request bodies that the handlers decode themselves.
type (
	launchRequest struct {
		At *time.Time `json:"at"` // RFC 3339; omitted: launch now
	}
	testRequest struct {
		To      string `json:"to"`
		Variant string `json:"variant"` // id or name; default the control
		Contact string `json:"contact"` // id or email; default the team's first contact
	}
	linkRequest struct {
		ExperimentID uuid.UUID `json:"experiment_id"`
	}
	memberRequest struct {
		Email    string `json:"email"`
		Name     string `json:"name"`
		Role     string `json:"role"`     // viewer (default), editor or admin
		Function string `json:"function"` // product, engineering, design, …
	}
)

// operation describes one API route.
type operation struct {
	method, path string // as registered in routes.go, with :params
	summary      string
	role         experiments.Role // the least role; "" for no token
	query        []queryParam
	body         any  // a value of the request body's type (JSON), or nil
	oneOrMany    bool // the body is one such value or an array of them
	csvBody      bool
	status       int // the success status
	resp         any // a value of the response body's type, or nil for no body
	csvResp      bool
}

type queryParam struct{ name, description string }

var apiOperations = []operation{
	{method: "GET", path: "/teams/:team", summary: "A team's settings", role: experiments.RoleViewer, status: 200, resp: TeamSettings{}},
	{method: "PATCH", path: "/teams/:team", summary: "Change a team's name, time zone or sender", role: experiments.RoleAdmin, body: experiments.TeamPatch{}, status: 200, resp: TeamSettings{}},
	{method: "GET", path: "/teams/:team/members", summary: "The team's members", role: experiments.RoleViewer, status: 200, resp: memberList{}},
	{method: "POST", path: "/teams/:team/members", summary: "Add a person to the team", role: experiments.RoleAdmin, body: memberRequest{}, status: 201, resp: experiments.Member{}},

	{method: "GET", path: "/teams/:team/tokens", summary: "The team's API tokens (never the tokens themselves)", role: experiments.RoleAdmin, status: 200, resp: tokenList{}},
	{method: "DELETE", path: "/teams/:team/tokens/:id", summary: "Revoke an API token for good", role: experiments.RoleAdmin, status: 200, resp: experiments.APIToken{}},
	{method: "POST", path: "/teams/:team/contacts", summary: "Import contacts: a JSON array or a text/csv body, all or nothing", role: experiments.RoleEditor,
		body: []experiments.ContactInput{}, csvBody: true, status: 200, resp: experiments.ImportResult{}},
	{method: "GET", path: "/teams/:team/contacts", summary: "A page of contacts", role: experiments.RoleViewer,
		query: []queryParam{{"limit", "page size, 1 to 1000 (default 100)"}, {"after", "the next cursor of the previous page"}}, status: 200, resp: experiments.ContactPage{}},
	{method: "GET", path: "/teams/:team/contacts/export", summary: "Everything stored about one address in the team (GDPR access): the contact, its deliveries, clicks and events",
		role: experiments.RoleAdmin, query: []queryParam{{"email", "the contact's address (required)"}}, status: 200, resp: experiments.ContactRecord{}},
	{method: "POST", path: "/teams/:team/contacts/erase", summary: "Erase one address's personal data from the team (GDPR erasure); the experiments' counts stay",
		role: experiments.RoleAdmin, body: eraseRequest{}, status: 200, resp: experiments.Erasure{}},

	{method: "POST", path: "/teams/:team/experiments", summary: "Create a draft experiment", role: experiments.RoleEditor, body: experiments.CreateInput{}, status: 201, resp: experiments.Experiment{}},
	{method: "GET", path: "/teams/:team/experiments", summary: "The team's experiments, newest first", role: experiments.RoleViewer, status: 200, resp: experimentList{}},
	{method: "GET", path: "/experiments/:id", summary: "An experiment with its status and send progress", role: experiments.RoleViewer, status: 200, resp: experiments.Experiment{}},
	{method: "PATCH", path: "/experiments/:id", summary: "Change a draft: the fields sent replace the stored ones", role: experiments.RoleEditor, body: experiments.CreateInput{}, status: 200, resp: experiments.Experiment{}},
	{method: "DELETE", path: "/experiments/:id", summary: "Delete a draft", role: experiments.RoleEditor, status: 204},
	{method: "POST", path: "/experiments/:id/launch", summary: "Launch now, or at a time", role: experiments.RoleEditor, body: launchRequest{}, status: 202, resp: experiments.Experiment{}},
	{method: "POST", path: "/experiments/:id/pause", summary: "Pause sending", role: experiments.RoleEditor, status: 200, resp: experiments.Experiment{}},
	{method: "POST", path: "/experiments/:id/resume", summary: "Resume sending", role: experiments.RoleEditor, status: 200, resp: experiments.Experiment{}},
	{method: "POST", path: "/experiments/:id/cancel", summary: "Cancel: nothing more is sent", role: experiments.RoleEditor, status: 200, resp: experiments.Experiment{}},
	{method: "GET", path: "/experiments/:id/results", summary: "Per-variant statistics, SRM, winner, verdict and summary", role: experiments.RoleViewer, status: 200, resp: experiments.Results{}},
	{method: "GET", path: "/experiments/:id/preview", summary: "A variant rendered for a contact", role: experiments.RoleViewer,
		query: []queryParam{{"variant", "id or name (default the control)"}, {"contact", "id or email (default the team's first contact)"}}, status: 200, resp: experiments.Preview{}},
	{method: "POST", path: "/experiments/:id/test", summary: "Send a test message", role: experiments.RoleEditor, body: testRequest{}, status: 202, resp: testSent{}},

	{method: "POST", path: "/teams/:team/objectives", summary: "Create an objective", role: experiments.RoleEditor, body: okr.ObjectiveInput{}, status: 201, resp: okr.Objective{}},
	{method: "GET", path: "/teams/:team/objectives", summary: "The team's objectives with their key results", role: experiments.RoleViewer, status: 200, resp: objectiveList{}},
	{method: "GET", path: "/objectives/:id", summary: "An objective with its key results", role: experiments.RoleViewer, status: 200, resp: okr.Objective{}},
	{method: "PATCH", path: "/objectives/:id", summary: "Change an objective", role: experiments.RoleEditor, body: okr.ObjectivePatch{}, status: 200, resp: okr.Objective{}},
	{method: "DELETE", path: "/objectives/:id", summary: "Archive an objective (its data is kept)", role: experiments.RoleEditor, status: 204},
	{method: "POST", path: "/objectives/:id/key-results", summary: "Add a key result", role: experiments.RoleEditor, body: okr.KeyResultInput{}, status: 201, resp: okr.KeyResult{}},
	{method: "GET", path: "/key-results/:id", summary: "A key result", role: experiments.RoleViewer, status: 200, resp: okr.KeyResult{}},
	{method: "PATCH", path: "/key-results/:id", summary: "Change a key result (null removes start or target)", role: experiments.RoleEditor, body: okr.KeyResultPatch{}, status: 200, resp: okr.KeyResult{}},
	{method: "DELETE", path: "/key-results/:id", summary: "Archive a key result (its check-ins are kept)", role: experiments.RoleEditor, status: 204},
	{method: "POST", path: "/key-results/:id/check-ins", summary: "Check in a week (this week when none is given)", role: experiments.RoleEditor, body: okr.CheckInInput{}, status: 201, resp: okr.CheckIn{}},
	{method: "POST", path: "/key-results/:id/experiments", summary: "Link an experiment to a clicks, ctr or events key result", role: experiments.RoleEditor, body: linkRequest{}, status: 204},
	{method: "POST", path: "/teams/:team/events", summary: "Ingest conversion events: one object or an array", role: experiments.RoleEditor, body: okr.EventInput{}, oneOrMany: true, status: 202, resp: eventsAccepted{}},
	{method: "GET", path: "/teams/:team/reports/weekly", summary: "The weekly review (CSV with Accept: text/csv or format=csv)", role: experiments.RoleViewer,
		query:  []queryParam{{"week", "ISO week such as 2026-W48 (default this week in the team's time zone)"}, {"format", "json (default) or csv"}},
		status: 200, resp: okr.Review{}, csvResp: true},

	{method: "POST", path: "/teams/:team/allocations", summary: "A member's time allocation of a week", role: experiments.RoleEditor, body: okr.AllocationInput{}, status: 201, resp: okr.AllocationResponse{}},
	{method: "GET", path: "/teams/:team/allocations", summary: "The allocation report of a week", role: experiments.RoleViewer,
		query: []queryParam{{"week", "ISO week such as 2026-W48 (default this week)"}}, status: 200, resp: okr.Allocation{}},
	{method: "GET", path: "/teams/:team/allocation-categories", summary: "The team's allocation categories", role: experiments.RoleViewer, status: 200, resp: categoryList{}},
	{method: "POST", path: "/teams/:team/allocation-categories", summary: "Add a category", role: experiments.RoleAdmin, body: okr.CategoryInput{}, status: 201, resp: okr.Category{}},
	{method: "PATCH", path: "/teams/:team/allocation-categories/:id", summary: "Change a category (null removes its target)", role: experiments.RoleAdmin, body: okr.CategoryPatch{}, status: 200, resp: okr.Category{}},
	{method: "GET", path: "/org", summary: "The organisation and its teams (an organisation token)", role: "org", status: 200, resp: OrgInfo{}},
	{method: "GET", path: "/org/members", summary: "The organisation's people: their teams, roles and functions", role: "org", status: 200, resp: orgMemberList{}},
	{method: "GET", path: "/org/reports/weekly", summary: "The organisation's week: every team's allocation, the weighted mix, flags and shared objectives (CSV with format=csv)",
		role: "org", query: []queryParam{{"week", "ISO week such as 2026-W48 (default this week, UTC)"}, {"format", "json (default) or csv"}},
		status: 200, resp: okr.OrgWeek{}, csvResp: true},
	{method: "PUT", path: "/teams/:team/allocation-targets", summary: "Set the target mix: shares of the elective time by category, adding up to 1", role: experiments.RoleAdmin,
		body: map[string]float64{}, status: 200, resp: categoryList{}},
}

var (
	docOnce sync.Once
	docJSON []byte
	docErr  error
)

// openAPIJSON is the document, built once.
func openAPIJSON() ([]byte, error) {
	docOnce.Do(func() {
		doc, err := OpenAPI()
		if err == nil {
			docJSON, err = json.Marshal(doc)
		}
		docErr = err
	})
	return docJSON, docErr
}

func (s *server) openAPI(c echo.Context) error {
	b, err := openAPIJSON()
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=300")
	return c.Blob(http.StatusOK, "application/json", b)
}

var (
	uuidType  = reflect.TypeFor[uuid.UUID]()
	pairType  = reflect.TypeFor[[2]float64]()
	rawType   = reflect.TypeFor[json.RawMessage]()
	paramRE   = regexp.MustCompile(`:([a-z_]+)`)
	paramDocs = map[string]string{"team": "the team's slug", "id": "a UUID"}
)

// OpenAPI builds the API's OpenAPI 3 document.
func OpenAPI() (*openapi3.T, error) {
	schemas := openapi3.Schemas{}
	// Schemas are inline: OpenAPI 3.0 cannot mark a $ref nullable, and many
	// of the objects are null where they do not apply (a winner, a viability).
	gen := openapi3gen.NewGenerator(
		openapi3gen.SchemaCustomizer(func(_ string, t reflect.Type, _ reflect.StructTag, s *openapi3.Schema) error {
			switch t {
			case uuidType:
				*s = openapi3.Schema{Type: &openapi3.Types{"string"}, Format: "uuid", Nullable: s.Nullable}
			case pairType:
				*s = openapi3.Schema{Type: &openapi3.Types{"array"}, Items: openapi3.NewSchemaRef("", openapi3.NewFloat64Schema()),
					MinItems: 2, MaxItems: ptr(uint64(2)), Nullable: s.Nullable}
			case rawType:
				*s = openapi3.Schema{Nullable: s.Nullable}
			}
			if t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
				s.Nullable = true // a nil slice or map encodes as null
			}
			return nil
		}))
	ref := func(v any) (*openapi3.SchemaRef, error) {
		return gen.NewSchemaRefForValue(v, schemas)
	}
	errRef, err := ref(errorBody{})
	if err != nil {
		return nil, err
	}
	doc := &openapi3.T{
		OpenAPI: "3.0.3",
		Info: &openapi3.Info{Title: "slicelab API", Version: "1",
			Description: "Email experiments, tracked clicks and the weekly OKR review (product.md §13). Send an API token as " +
				"`Authorization: Bearer <token>` (`slicelab token create`); a token acts for one team with one role " +
				"(viewer reads, editor creates and launches, admin changes settings). Errors are `{\"error\": {\"code\", \"message\", " +
				"\"fields\"}}`; field paths index JSON arrays from 0 (variants[0] is the first variant), while import errors give row " +
				"numbers (the file's line in a CSV, the header being row 1; the element's position from 1 in a JSON array). " +
				"Rates and shares are fractions from 0 to 1."},
		Servers: openapi3.Servers{{URL: "/api/v1"}},
		Paths:   openapi3.NewPaths(),
		Components: &openapi3.Components{
			Schemas: schemas,
			SecuritySchemes: openapi3.SecuritySchemes{"bearer": &openapi3.SecuritySchemeRef{Value: openapi3.NewJWTSecurityScheme().
				WithBearerFormat("slicelab API token").WithDescription("an API token from `slicelab token create`")}},
		},
	}
	for _, op := range apiOperations {
		path := paramRE.ReplaceAllString(op.path, "{$1}")
		o := openapi3.NewOperation()
		o.Summary, o.OperationID = op.summary, operationID(op)
		o.Responses = openapi3.NewResponses()
		if op.role != "" {
			o.Security = &openapi3.SecurityRequirements{openapi3.NewSecurityRequirement().Authenticate("bearer")}
			o.Description = fmt.Sprintf("Needs a token with the %s role or more.", op.role)
			if op.role == "org" {
				o.Description = "Needs an organisation token (slicelab token create --org SLUG)."
			}
		}
		for _, m := range paramRE.FindAllStringSubmatch(op.path, -1) {
			p := openapi3.NewPathParameter(m[1]).WithDescription(paramDocs[m[1]]).WithSchema(openapi3.NewStringSchema())
			if m[1] == "id" {
				p.Schema.Value.Format = "uuid"
			}
			o.AddParameter(p)
		}
		for _, q := range op.query {
			o.AddParameter(openapi3.NewQueryParameter(q.name).WithDescription(q.description).WithSchema(openapi3.NewStringSchema()))
		}
		if op.body != nil || op.csvBody {
			content := openapi3.Content{}
			if op.body != nil {
				r, err := ref(op.body)
				if err != nil {
					return nil, fmt.Errorf("openapi: %s %s body: %w", op.method, op.path, err)
				}
				if op.oneOrMany {
					r = openapi3.NewSchemaRef("", &openapi3.Schema{OneOf: openapi3.SchemaRefs{r,
						openapi3.NewSchemaRef("", openapi3.NewArraySchema().WithItems(r.Value))}})
				}
				content["application/json"] = openapi3.NewMediaType().WithSchemaRef(r)
			}
			if op.csvBody {
				csv := openapi3.NewStringSchema()
				csv.Description = "a header row with an email column; name, tags (;-separated) and other columns (attributes)"
				content["text/csv"] = openapi3.NewMediaType().WithSchema(csv)
			}
			o.RequestBody = &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithContent(content).WithRequired(op.body != nil && op.method != "POST" || op.csvBody)}
			if strings.HasSuffix(op.path, "/launch") || strings.HasSuffix(op.path, "/test") {
				o.RequestBody.Value.Required = strings.HasSuffix(op.path, "/test")
			}
		}
		resp := openapi3.NewResponse().WithDescription(http.StatusText(op.status))
		if op.resp != nil {
			r, err := ref(op.resp)
			if err != nil {
				return nil, fmt.Errorf("openapi: %s %s response: %w", op.method, op.path, err)
			}
			resp.WithContent(openapi3.Content{"application/json": openapi3.NewMediaType().WithSchemaRef(r)})
			if op.csvResp {
				resp.Content["text/csv"] = openapi3.NewMediaType().WithSchema(openapi3.NewStringSchema())
			}
		}
		o.AddResponse(op.status, resp)
		for _, st := range errorStatuses(op) {
			er := openapi3.NewResponse().WithDescription(http.StatusText(st)).
				WithContent(openapi3.Content{"application/json": openapi3.NewMediaType().WithSchemaRef(errRef)})
			if st == http.StatusUnprocessableEntity && strings.HasSuffix(op.path, "/contacts") && op.method == "POST" {
				fr, err := ref(importFailed{})
				if err != nil {
					return nil, err
				}
				er.Content["application/json"] = openapi3.NewMediaType().WithSchemaRef(fr)
			}
			o.AddResponse(st, er)
		}
		doc.AddOperation(path, op.method, o)
	}
	// Load the document back from JSON, as a client would, which resolves
	// its references, and check it.
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	loaded, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	if err := loaded.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi: the document is not valid: %w", err)
	}
	return loaded, nil
}

// errorStatuses are the error answers an operation can give.
func errorStatuses(op operation) []int {
	out := []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusRequestEntityTooLarge, http.StatusTooManyRequests}
	if op.body != nil || op.csvBody || len(op.query) > 0 || op.method != "GET" {
		out = append(out, http.StatusUnprocessableEntity)
	}
	if op.method != "GET" && (strings.HasPrefix(op.path, "/experiments/") || strings.Contains(op.path, "/members") ||
		strings.Contains(op.path, "objectives/") || strings.Contains(op.path, "key-results/")) {
		out = append(out, http.StatusConflict)
	}
	if strings.HasSuffix(op.path, "/test") {
		out = append(out, http.StatusBadGateway, http.StatusServiceUnavailable)
	}
	if op.csvBody {
		out = append(out, http.StatusUnsupportedMediaType)
	}
	return out
}

// operationID names an operation: the method and the path's words.
func operationID(op operation) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(op.method))
	for _, w := range strings.FieldsFunc(paramRE.ReplaceAllString(op.path, "by-$1"), func(r rune) bool { return r == '/' || r == '-' }) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

func ptr[T any](v T) *T { return &v }
