package web

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"
)

// undocumented compares the API routes of an echo instance with the
// document: routes it lacks, and operations it has that no route serves.
func undocumented(e *echo.Echo, doc *openapi3.T) (missing, extra []string) {
	var routes []string
	for _, r := range e.Routes() {
		p, ok := strings.CutPrefix(r.Path, "/api/v1")
		if !ok || r.Method == echo.RouteNotFound || p == "/openapi.json" || p == "" || strings.HasSuffix(p, "*") {
			continue
		}
		routes = append(routes, r.Method+" "+paramRE.ReplaceAllString(p, "{$1}"))
	}
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	for _, r := range routes {
		if !slices.Contains(documented, r) {
			missing = append(missing, r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routes, d) {
			extra = append(extra, d)
		}
	}
	return missing, extra
}

// TestOpenAPICoversTheRouteTable: the document is valid OpenAPI 3 and
// describes every route of the API group, and nothing else; a route added
// without documentation is caught.
func TestOpenAPICoversTheRouteTable(t *testing.T) {
	doc, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the document is not valid: %v", err)
	}
	e := echo.New()
	(&server{}).routes(e)
	missing, extra := undocumented(e, doc)
	for _, r := range missing {
		t.Errorf("route %s is not in the OpenAPI document (add it to apiOperations in openapi.go)", r)
	}
	for _, d := range extra {
		t.Errorf("the OpenAPI document describes %s, which the route table does not have", d)
	}
	if n := len(doc.Paths.Map()); n < 20 {
		t.Errorf("only %d paths documented", n)
	}
	// A new route without documentation is found.
	e.Add(http.MethodPost, "/api/v1/teams/:team/probes", func(echo.Context) error { return nil })
	if missing, _ := undocumented(e, doc); !slices.Equal(missing, []string{"POST /teams/{team}/probes"}) {
		t.Errorf("an undocumented route was not noticed: %v", missing)
	}
}
