package migrations

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// TableUse is one place in Go code that names a table.
type TableUse struct {
	Table string
	Pos   string // file:line
}

// sqlTableRE finds the table after an SQL keyword (written in upper case, as
// all of slicelab's SQL is, so that prose such as "clicks from bots" is not
// taken for SQL).
var sqlTableRE = regexp.MustCompile(`\b(?:FROM|JOIN|INTO|UPDATE|TABLE)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?([a-z_][a-z0-9_]*)`)

// tableMethods are bun's query methods whose first argument starts with a table name.
var tableMethods = []string{"Table", "TableExpr", "ModelTableExpr"}

// NamedTables lists the tables that the non-test Go files of a package
// directory name: in bun struct tags (`bun:"table:name"`), as the first word
// of arguments to Table, TableExpr and ModelTableExpr, and after FROM, JOIN,
// INTO, UPDATE or TABLE in string literals. Only names of the schema
// (Owners) are reported.
func NamedTables(dir string) ([]TableUse, error) {
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	var out []TableUse
	add := func(name string, pos token.Pos) {
		if _, ok := Owners[name]; ok {
			p := fset.Position(pos)
			out = append(out, TableUse{Table: name, Pos: filepath.Base(p.Filename) + ":" + strconv.Itoa(p.Line)})
		}
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.Field:
				if n.Tag != nil {
					tag, _ := strconv.Unquote(n.Tag.Value)
					for _, part := range strings.Split(reflect.StructTag(tag).Get("bun"), ",") {
						if name, ok := strings.CutPrefix(part, "table:"); ok {
							add(name, n.Pos())
						}
					}
				}
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && slices.Contains(tableMethods, sel.Sel.Name) {
					for _, a := range n.Args {
						if s, ok := stringLit(a); ok {
							if fields := strings.Fields(s); len(fields) > 0 {
								add(fields[0], a.Pos())
							}
						}
					}
				}
			case *ast.BasicLit:
				if s, ok := stringLit(n); ok {
					for _, m := range sqlTableRE.FindAllStringSubmatch(s, -1) {
						add(m[1], n.Pos())
					}
				}
			}
			return true
		})
	}
	return out, nil
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}
