// Package templates embeds slicelab's email and web templates. It is a leaf:
// cmd/slicelab reads the files here and hands parsed templates or their
// source to the domain packages.
package templates

import (
	"embed"
	"html/template"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// Funcs are the helpers every web page may use.
var Funcs = template.FuncMap{
	"pct": func(x float64) string { return strconv.FormatFloat(x*100, 'f', 1, 64) + "%" },
}

//go:embed email web
var FS embed.FS

// EmailFooters returns the HTML and text footers appended to every variant
// body that does not place {{.UnsubscribeURL}} itself.
func EmailFooters() (htmlFooter, textFooter string, err error) {
	h, err := FS.ReadFile("email/footer.html.tmpl")
	if err != nil {
		return "", "", err
	}
	t, err := FS.ReadFile("email/footer.txt.tmpl")
	if err != nil {
		return "", "", err
	}
	return string(h), string(t), nil
}

// Web parses the web pages, one template set per page, each with the layout.
func Web() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	files, err := fs.Glob(FS, "web/*.html")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New(name).Funcs(Funcs).ParseFS(FS, "web/layout.html", f)
		if err != nil {
			return nil, err
		}
		pages[name] = t
	}
	return pages, nil
}
