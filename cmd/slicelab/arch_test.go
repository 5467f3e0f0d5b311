package main

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"slicelab/migrations"
)

// The architecture of product.md §15, checked on the source: one test for
// the whole module instead of a copy per package.

// moduleRoot is the repository root, two levels above this package.
const moduleRoot = "../.."

// packages lists the module's package directories (relative to the root),
// each with its import path.
func packages(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(moduleRoot, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "data") && p != moduleRoot {
			return filepath.SkipDir
		}
		if d.IsDir() {
			if files, _ := filepath.Glob(filepath.Join(p, "*.go")); len(files) > 0 {
				rel, _ := filepath.Rel(moduleRoot, p)
				out[filepath.ToSlash(rel)] = "slicelab/" + filepath.ToSlash(rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestImports keeps the domain free of transport and mail code, the layering
// one-way (tracking ← experiments ← okr), the leaves leaves, and echo inside
// cmd/slicelab/internal/web.
func TestImports(t *testing.T) {
	t.Parallel()
	transport := []string{"github.com/labstack/echo", "github.com/wneessen/go-mail", "net/http", "slicelab/cmd", "slicelab/templates"}
	forbidden := map[string][]string{
		"tracking":          append(slices.Clone(transport), "slicelab/experiments", "slicelab/okr"),
		"experiments":       append(slices.Clone(transport), "slicelab/okr"),
		"experiments/stats": append(slices.Clone(transport), "slicelab/"),
		"okr":               transport,
		"templates":         {"slicelab/"},
		"migrations":        {"slicelab/"},
	}
	pkgs := packages(t)
	for _, dir := range []string{"tracking", "experiments", "experiments/stats", "okr", "templates", "migrations", "cmd/slicelab", "cmd/slicelab/internal/web"} {
		if _, ok := pkgs[dir]; !ok {
			t.Errorf("package %s is missing", dir)
		}
	}
	for dir := range pkgs {
		pkg, err := build.ImportDir(filepath.Join(moduleRoot, dir), 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range pkg.Imports {
			for _, f := range forbidden[dir] {
				if imp == f || strings.HasPrefix(imp, strings.TrimSuffix(f, "/")+"/") {
					t.Errorf("package %s imports %s, which it must not (product.md §15)", dir, imp)
				}
			}
			if strings.HasPrefix(imp, "github.com/labstack/echo") && dir != "cmd/slicelab/internal/web" {
				t.Errorf("package %s imports %s: only cmd/slicelab/internal/web may import echo", dir, imp)
			}
		}
	}
}

// routeMethods are the echo methods that register routes.
var routeMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE",
	"Any", "Match", "Add", "RouteNotFound", "Static", "File", "Group"}

// routeRegistrations finds calls that register a route: a route method with
// a string literal argument that is a path ("/…", or "" for a group).
func routeRegistrations(fset *token.FileSet, file *ast.File) []string {
	var out []string
	ast.Inspect(file, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || !slices.Contains(routeMethods, sel.Sel.Name) {
			return true
		}
		for _, a := range call.Args {
			if lit, ok := a.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, _ := strconv.Unquote(lit.Value); strings.HasPrefix(s, "/") || (s == "" && sel.Sel.Name == "Group") {
					out = append(out, fset.Position(call.Pos()).String()+": "+sel.Sel.Name+" "+strconv.Quote(s))
					break
				}
			}
		}
		return true
	})
	return out
}

// TestRoutesOnlyInRoutesGo: cmd/slicelab/internal/web/routes.go is the one
// route table.
func TestRoutesOnlyInRoutesGo(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	for dir := range packages(t) {
		files, _ := filepath.Glob(filepath.Join(moduleRoot, dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") || (dir == "cmd/slicelab/internal/web" && filepath.Base(f) == "routes.go") {
				continue
			}
			file, err := parser.ParseFile(fset, f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range routeRegistrations(fset, file) {
				t.Errorf("a route is registered outside cmd/slicelab/internal/web/routes.go: %s", r)
			}
		}
	}
	// The check itself sees a registration.
	src := "package x\nfunc f(e, g any) { e.GET(\"/x\", nil); g.Group(\"\"); e.Match(nil, \"/c/:t\", nil); w.Add(1); h.Add(\"Vary\", \"x\") }"
	file, err := parser.ParseFile(fset, "probe.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := routeRegistrations(fset, file); len(got) != 3 {
		t.Errorf("the route check found %v in the probe, want the GET, Group and Match", got)
	}
}

// TestTableOwners: each package names only the tables it owns
// (migrations.Owners); the composition root and the HTTP layer name none.
func TestTableOwners(t *testing.T) {
	t.Parallel()
	for dir := range packages(t) {
		if dir == "migrations" {
			continue
		}
		owner := dir
		if strings.HasPrefix(dir, "cmd/") || dir == "experiments/stats" || dir == "templates" || strings.Contains(dir, "/internal/web") {
			owner = "" // owns no table
		}
		t.Run(dir, func(t *testing.T) {
			uses, err := migrations.NamedTables(filepath.Join(moduleRoot, dir))
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range uses {
				if migrations.Owners[u.Table] != owner {
					t.Errorf("%s/%s names table %s, which %s owns; call that package's functions instead", dir, u.Pos, u.Table, migrations.Owners[u.Table])
				}
			}
		})
	}
}
