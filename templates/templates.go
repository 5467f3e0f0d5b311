// Package templates embeds slicelab's email and web templates. It is a leaf:
// cmd/slicelab reads the files here and hands parsed templates or their
// source to the domain packages.
package templates

import (
	"embed"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"path"
	"strconv"
	"strings"
	texttemplate "text/template"
)

// Funcs are the helpers every web page may use.
var Funcs = htmltemplate.FuncMap{
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

// emailFuncs format numbers in emails: num (a *float64 to so many
// significant digits, "-" when nil), pct (a fraction or *fraction as a
// percentage) and words (snake_case to words).
var emailFuncs = map[string]any{
	"num": func(p *float64, digits int) string {
		if p == nil {
			return "-"
		}
		return strconv.FormatFloat(*p, 'g', digits, 64)
	},
	"pct": func(v any) string {
		switch p := v.(type) {
		case *float64:
			if p != nil {
				return strconv.FormatFloat(*p*100, 'g', 3, 64) + "%"
			}
		case float64:
			return strconv.FormatFloat(p*100, 'g', 3, 64) + "%"
		}
		return "-"
	},
	"words": func(s any) string { return strings.ReplaceAll(fmt.Sprint(s), "_", " ") },
}

// Email parses one email's templates, email/NAME.html.tmpl and
// email/NAME.txt.tmpl; the text one defines the subject as "subject".
func Email(name string) (*htmltemplate.Template, *texttemplate.Template, error) {
	h, err := htmltemplate.New(name+".html.tmpl").Funcs(emailFuncs).ParseFS(FS, "email/"+name+".html.tmpl")
	if err != nil {
		return nil, nil, err
	}
	t, err := texttemplate.New(name+".txt.tmpl").Funcs(emailFuncs).ParseFS(FS, "email/"+name+".txt.tmpl")
	if err != nil {
		return nil, nil, err
	}
	if t.Lookup("subject") == nil {
		return nil, nil, fmt.Errorf("templates: email/%s.txt.tmpl defines no subject", name)
	}
	return h, t, nil
}

// Web parses the web pages, one template set per page: the public pages of
// web/*.html with web/layout.html, and the signed-in pages of web/app/*.html
// with web/app/layout.html and the partials of web/app/partials.html.
// funcs are added to Funcs.
func Web(funcs htmltemplate.FuncMap) (map[string]*htmltemplate.Template, error) {
	all := htmltemplate.FuncMap{}
	for k, v := range Funcs {
		all[k] = v
	}
	for k, v := range funcs {
		all[k] = v
	}
	pages := map[string]*htmltemplate.Template{}
	files, err := fs.Glob(FS, "web/*.html")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		t, err := htmltemplate.New(name).Funcs(all).ParseFS(FS, "web/layout.html", f)
		if err != nil {
			return nil, err
		}
		pages[name] = t
	}
	app, err := fs.Glob(FS, "web/app/*.html")
	if err != nil {
		return nil, err
	}
	for _, f := range app {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		if _, dup := pages[name]; dup {
			return nil, fmt.Errorf("templates: web/app/%s.html has the name of a public page", name)
		}
		t, err := htmltemplate.New(name).Funcs(all).ParseFS(FS, "web/app/layout.html", "web/app/partials.html", f)
		if err != nil {
			return nil, err
		}
		pages[name] = t
	}
	return pages, nil
}
