package experiments

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports keeps the domain free of transport and mail code, and the
// layering one-way (tracking ← experiments ← okr); product.md §15.
func TestImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []string{"github.com/labstack/echo", "github.com/wneessen/go-mail", "net/http", "slicelab/cmd", "slicelab/templates", "slicelab/okr"}
	for _, imp := range pkg.Imports {
		for _, f := range forbidden {
			if imp == f || strings.HasPrefix(imp, f+"/") {
				t.Errorf("package experiments imports %s, which a domain package must not", imp)
			}
		}
	}
}
