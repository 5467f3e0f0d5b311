package experiments

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// FuzzRewriteHTML: the link rewriter never panics; when it accepts a body,
// every tracked destination is an absolute http(s) URL that the checks
// accept, each placeholder names one of them, and the output is still HTML.
func FuzzRewriteHTML(f *testing.F) {
	for _, s := range []string{
		`<a href="https://example.com/a?x=1&amp;y=2">a</a>`,
		`<p><a href='http://example.com'>x</a> <a href=mailto:a@b.example>m</a> <a href="#top">t</a></p>`,
		`<a title="href=https://evil.example" href="https://ok.example/">x</a>`,
		`<a href="{{.UnsubscribeURL}}">u</a><a href="https://example.com/{{.Contact.Email}}">p</a>`,
		`<A HREF="HTTPS://EXAMPLE.COM/">caps</A><a href="htps//x">bad</a><a href="javascript:alert(1)">js</a>`,
		"<a href=\"https://exa mple.com\">space</a><a\nhref\n=\n\"https://example.com/nl\">nl</a>",
		`<a href="https://[::1]:8080/p">v6</a><a href="https://example.com/%zz">pct</a>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		out, links, err := rewriteHTML(src)
		if err != nil {
			return
		}
		for i, l := range links {
			dest, track, err := classifyHref(l)
			if err != nil || !track || dest != l {
				t.Fatalf("link %d %q was tracked but does not pass the checks: %v", i, l, err)
			}
		}
		if n := strings.Count(out, "{{index .Links "); n > 0 && len(links) == 0 {
			t.Fatalf("placeholders without links in %q", out)
		}
		z := html.NewTokenizer(strings.NewReader(out))
		for z.Next() != html.ErrorToken {
		}
	})
}

// FuzzRewriteText: the text rewriter never panics and tracks only URLs the
// checks accept.
func FuzzRewriteText(f *testing.F) {
	for _, s := range []string{"see https://example.com/a, or http://example.com/b.", "{{.Contact.Name}} https://example.com/{{.Contact.Email}}", "x https://", "(https://example.com/a_(b))"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		_, links, err := rewriteText(src, nil)
		if err != nil {
			return
		}
		for _, l := range links {
			if _, track, err := classifyHref(l); err != nil || !track {
				t.Fatalf("text link %q was tracked but does not pass the checks: %v", l, err)
			}
		}
	})
}

// FuzzTemplateValidator: whatever a PM types into a variant, saving never
// panics and never runs long; an accepted variant renders for a sample
// contact within the output cap.
func FuzzTemplateValidator(f *testing.F) {
	for _, s := range []string{
		`<p>Hi {{.Contact.Name}} {{.Contact.Attr "plan"}}</p><a href="https://example.com">x</a>`,
		`{{range .Links}}{{range $.Links}}.{{end}}{{end}}`,
		`{{define "a"}}{{template "a"}}{{end}}`,
		`{{printf "%09d" 1}}{{printf "%v" .Contact}}`,
		`{{if .Contact.Tags}}{{index .Contact.Tags 0}}{{end}}{{slice .Contact.Name 1}}`,
		`{{with $x := .Contact.Attributes}}{{range $k, $v := $x}}{{$k}}{{end}}{{end}}`,
	} {
		f.Add(s, "Subject {{.Contact.Name}}")
	}
	f.Fuzz(func(t *testing.T, body, subject string) {
		v := &Variant{Subject: subject, HTML: body, Text: body}
		start := time.Now()
		fe := compileVariant(v, Config{})
		if took := time.Since(start); took > 10*time.Second {
			t.Fatalf("saving took %s", took)
		}
		if len(fe) > 0 {
			return
		}
		c, errs := compileSources(v.Subject, v.HTMLCompiled, v.TextCompiled)
		if len(errs) > 0 {
			t.Fatalf("accepted but does not compile: %v", errs)
		}
		d := templateData{Contact: Contact{Name: "Sample", Email: "s@example.com", Attributes: map[string]string{}}, Links: make([]string, len(v.Links))}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, h, x, err := c.render(ctx, d)
		if len(h) > MaxRenderBytes || len(x) > MaxRenderBytes {
			t.Fatalf("rendered %d and %d bytes", len(h), len(x))
		}
		if ctx.Err() != nil {
			t.Fatalf("render ran for 10 s: %v", err)
		}
	})
}

// FuzzImportCSV: whatever file is uploaded, the importer never panics and
// answers either rows that pass every check (valid, distinct addresses,
// within the limits) or at most maxImportErrors problems in row order.
func FuzzImportCSV(f *testing.F) {
	for _, s := range []string{
		"email,name,tags,plan\nbob@example.com,Bob,a;b,pro\ncarol@example.com,Carol,,free\n",
		"\ufeff Email ,NAME\r\nBob@Example.com,Bob\r\nbob@example.COM,dup\r\n",
		"email,note\na@example.com,\"multi\nline\"\nb\"ad,x\n\"unterminated,\n",
		"name,plan\nBob,pro\n",
		"email,,x\n",
		"email,a,a\n",
		"email\n\n\nnot-an-address\n",
		"email,pl\xffan\na@example.com,x\n",
		"email,tags\na@example.com,\xfe;x\n",
		"email,name\na@example.com,\"Bob\r\nSmith\"\n",
	} {
		f.Add(s)
	}
	lim := ImportLimits{Columns: 8, KeyChars: 16, ValueChars: 64, Tags: 4, TagChars: 16, RowBytes: 512}.withDefaults()
	f.Fuzz(func(t *testing.T, src string) {
		var in []ContactInput
		var errs []RowError
		open, err := newCSVSource(strings.NewReader(src), lim)
		if err != nil {
			var stop *errStop
			if !errors.As(err, &stop) {
				t.Fatalf("header: %v", err)
			}
			if stop.Row != 1 || stop.Message == "" {
				t.Fatalf("header refused with %+v", stop.RowError)
			}
			return
		}
		run := newImportRun(lim, func(page []ContactInput, _ []string) error { in = append(in, page...); return nil })
		err = run.run(open)
		var ie *ImportError
		switch {
		case errors.As(err, &ie):
			errs = ie.Result.Errors
		case err != nil:
			t.Fatalf("run: %v", err)
		}
		if len(errs) > 0 {
			if len(errs) > maxImportErrors {
				t.Fatalf("%d errors, more than the cap", len(errs))
			}
			for i, e := range errs {
				if e.Row < 1 || e.Message == "" || i > 0 && errs[i-1].Row > e.Row {
					t.Fatalf("error %d %+v: bad row, empty message or out of order", i, e)
				}
			}
			return
		}
		seen := map[string]bool{}
		for _, c := range in {
			key := strings.ToLower(c.Email)
			if !ValidAddress(c.Email) || seen[key] {
				t.Fatalf("accepted %q (invalid or repeated)", c.Email)
			}
			seen[key] = true
			if len(c.Attributes) > lim.Columns || len(c.Tags) > lim.Tags || len([]rune(c.Name)) > lim.ValueChars {
				t.Fatalf("accepted a contact over the limits: %+v", c)
			}
			for k, v := range c.Attributes {
				if len([]rune(k)) > lim.KeyChars || len([]rune(v)) > lim.ValueChars || !utf8.ValidString(k) || !utf8.ValidString(v) {
					t.Fatalf("accepted attribute %q=%q", k, v)
				}
			}
		}
	})
}
