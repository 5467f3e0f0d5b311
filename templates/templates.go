// Package templates embeds slicelab's email and web templates. It is a leaf:
// cmd/slicelab reads the files here and hands parsed templates or their
// source to the domain packages.
package templates

import (
	"embed"
	"html/template"
)

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
	for _, name := range []string{"unsubscribe", "unsubscribed", "error"} {
		t, err := template.ParseFS(FS, "web/layout.html", "web/"+name+".html")
		if err != nil {
			return nil, err
		}
		pages[name] = t
	}
	return pages, nil
}
