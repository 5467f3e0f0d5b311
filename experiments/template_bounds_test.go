package experiments

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func links(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `<a href="https://example.com/%d">%d</a>`, i, i)
	}
	return b.String()
}

// Hostile templates are refused when they are saved, with the reason, and
// quickly: none of them gets to run for minutes or to fill memory.
func TestHostileTemplatesAreRefused(t *testing.T) {
	for _, tc := range []struct {
		name, field, html, subject, says string
	}{
		{"recursion", "html", `{{define "a"}}{{template "a" .}}{{template "a" .}}{{end}}{{template "a" .}}`, "", "sub-templates"},
		{"block", "html", `{{block "b" .}}x{{end}}`, "", "sub-templates"},
		{"range over a number", "html", `{{range 1000000000}}x{{end}}`, "", "range may only walk"},
		{"range over a variable", "html", `{{$n := 1000000}}{{range $n}}x{{end}}`, "", "range may only walk"},
		{"loops in loops", "html", links(200) + `{{range .Links}}{{range $.Links}}{{range $.Links}}x{{end}}{{end}}{{end}}`, "", "steps for one email"},
		{"huge printf width", "html", `{{printf "%0999999999d" 1}}`, "", "printf width"},
		{"printf width from an argument", "html", `{{printf "%*d" 999999999 1}}`, "", "printf widths"},
		{"computed format", "html", `{{printf (.Contact.Attr "f") 1}}`, "", "printf needs its format"},
		{"huge output", "html", links(200) + `{{range .Links}}` + strings.Repeat("x", 200<<10) + `{{end}}`, "", "larger than 2 MB"},
		{"call", "subject", "", `{{call .Contact.Attr "x"}}`, "call is not allowed"},
		{"too large a source", "html", strings.Repeat("<p>x</p>", MaxTemplateBytes/8+1), "", "at most 256 KB"},
		{"too many links", "html", links(MaxLinksPerVariant + 1), "", "at most 200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &Variant{Subject: "Hi", HTML: "<p>hi</p>", Text: "hi"}
			if tc.html != "" {
				v.HTML = tc.html
			}
			if tc.subject != "" {
				v.Subject = tc.subject
			}
			start := time.Now()
			fe := compileVariant(v, Config{})
			if took := time.Since(start); took > 20*time.Second {
				t.Errorf("refusing took %s", took) // a safety net, not a speed target
			}
			if !strings.Contains(fe[tc.field], tc.says) {
				t.Errorf("%s: %q, want it to say %q (all: %v)", tc.field, fe[tc.field], tc.says, fe)
			}
		})
	}
}

// What email writers use stays allowed.
func TestOrdinaryTemplatesPass(t *testing.T) {
	for _, html := range []string{
		`<p>Hi {{.Contact.Name}}, {{if eq (.Contact.Attr "plan") "pro"}}thanks{{else}}try pro{{end}}</p>`,
		`<ul>{{range .Contact.Tags}}<li>{{.}}</li>{{end}}</ul>{{range $k, $v := .Contact.Attributes}}{{$k}}={{$v}} {{end}}`,
		`<p>{{printf "%.1f%%" 12.5}} {{printf "%05d" 42}} {{len .Contact.Tags}}</p>` + links(3),
		links(10) + `{{range $i, $l := .Links}}{{range $.Links}}.{{end}}{{end}}`,
	} {
		v := &Variant{Subject: "Hi {{.Contact.Name}}", HTML: html, Text: "hi"}
		if fe := compileVariant(v, Config{}); len(fe) > 0 {
			t.Errorf("%s: %v", html, fe)
		}
	}
}

// A render stops on its own at the output cap, and at once when its context
// is cancelled (SIGTERM), without growing past the cap.
func TestRenderIsBounded(t *testing.T) {
	c, errs := compileSources("s", `{{range .Links}}`+strings.Repeat("y", 100<<10)+`{{end}}`, "t")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	d := templateData{Links: make([]string, 100)} // 10 MB if nothing stopped it
	if _, _, _, err := c.render(context.Background(), d); !errors.Is(err, ErrRenderTooLarge) {
		t.Errorf("render of 10 MB: %v, want ErrRenderTooLarge", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, _, err := c.render(ctx, templateData{Links: make([]string, 2)}); !errors.Is(err, context.Canceled) {
		t.Errorf("render after cancel: %v", err)
	}
}
