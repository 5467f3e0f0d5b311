package experiments

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// testFooters is the operator configuration the template tests compile with.
var testFooters = Config{
	HTMLFooter: "<p><a href=\"{{.UnsubscribeURL}}\">Unsubscribe</a></p>",
	TextFooter: "\nUnsubscribe: {{.UnsubscribeURL}}\n",
}

func TestRewriteHTML(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		want      string
		wantLinks []string
	}{
		{
			name:      "double quoted",
			src:       `<p><a href="https://example.com/a">A</a></p>`,
			want:      `<p><a href="{{index .Links 0}}">A</a></p>`,
			wantLinks: []string{"https://example.com/a"},
		},
		{
			name:      "plain http",
			src:       `<a href="http://example.com/">x</a>`,
			want:      `<a href="{{index .Links 0}}">x</a>`,
			wantLinks: []string{"http://example.com/"},
		},
		{
			name:      "entity in href decodes to the destination",
			src:       `<a href="https://example.com/x?a=1&amp;b=2">x</a>`,
			want:      `<a href="{{index .Links 0}}">x</a>`,
			wantLinks: []string{"https://example.com/x?a=1&b=2"},
		},
		{
			name:      "single quoted",
			src:       `<a href='https://example.com/s'>s</a>`,
			want:      `<a href="{{index .Links 0}}">s</a>`,
			wantLinks: []string{"https://example.com/s"},
		},
		{
			name:      "unquoted",
			src:       `<a href=https://example.com/u>u</a>`,
			want:      `<a href="{{index .Links 0}}">u</a>`,
			wantLinks: []string{"https://example.com/u"},
		},
		{
			name:      "unquoted followed by another attribute",
			src:       `<a href=https://example.com/u class=btn>u</a>`,
			want:      `<a href="{{index .Links 0}}" class=btn>u</a>`,
			wantLinks: []string{"https://example.com/u"},
		},
		{
			name:      "uppercase tag, attribute and scheme",
			src:       `<A HREF="HTTPS://EXAMPLE.COM/UP">u</A>`,
			want:      `<A HREF="{{index .Links 0}}">u</A>`,
			wantLinks: []string{"HTTPS://EXAMPLE.COM/UP"},
		},
		{
			name:      "mixed case scheme",
			src:       `<a Href="Http://example.com/m">m</a>`,
			want:      `<a Href="{{index .Links 0}}">m</a>`,
			wantLinks: []string{"Http://example.com/m"},
		},
		{
			name:      "white space around the equals sign",
			src:       "<a href = \"https://example.com/w\">w</a>",
			want:      "<a href = \"{{index .Links 0}}\">w</a>",
			wantLinks: []string{"https://example.com/w"},
		},
		{
			name:      "white space around the destination is trimmed",
			src:       `<a href="  https://example.com/t  ">t</a>`,
			want:      `<a href="{{index .Links 0}}">t</a>`,
			wantLinks: []string{"https://example.com/t"},
		},
		{
			name: "mailto, tel, anchor and template hrefs are left alone",
			src: `<a href="mailto:bob@example.com">m</a><a href="#top">t</a><a href="tel:+4930123">c</a>` +
				`<a href="{{.UnsubscribeURL}}">u</a>` +
				`<a href="https://example.com/{{.Contact.Email}}">p</a><a name="n">n</a><a>bare</a>`,
			want: `<a href="mailto:bob@example.com">m</a><a href="#top">t</a><a href="tel:+4930123">c</a>` +
				`<a href="{{.UnsubscribeURL}}">u</a>` +
				`<a href="https://example.com/{{.Contact.Email}}">p</a><a name="n">n</a><a>bare</a>`,
			wantLinks: nil,
		},
		{
			name:      "same destination twice shares one index",
			src:       `<a href="https://example.com/a">1</a><a href="https://example.com/b">2</a><a href='https://example.com/a'>3</a>`,
			want:      `<a href="{{index .Links 0}}">1</a><a href="{{index .Links 1}}">2</a><a href="{{index .Links 0}}">3</a>`,
			wantLinks: []string{"https://example.com/a", "https://example.com/b"},
		},
		{
			name:      "encoded and decoded spellings of one destination share an index",
			src:       `<a href="https://example.com/x?a=1&amp;b=2">1</a><a href="https://example.com/x?a=1&b=2">2</a>`,
			want:      `<a href="{{index .Links 0}}">1</a><a href="{{index .Links 0}}">2</a>`,
			wantLinks: []string{"https://example.com/x?a=1&b=2"},
		},
		{
			name:      "untracked links do not use an index",
			src:       `<a href="mailto:x@example.com">m</a><a href="https://a.example/">a</a><a href="#top">t</a><a href="https://b.example/">b</a>`,
			want:      `<a href="mailto:x@example.com">m</a><a href="{{index .Links 0}}">a</a><a href="#top">t</a><a href="{{index .Links 1}}">b</a>`,
			wantLinks: []string{"https://a.example/", "https://b.example/"},
		},
		{
			name: "other attributes are kept byte for byte",
			src: `<a class="btn  primary" style="color: red; font-weight:bold" title="Hi {{.Contact.Name}}" ` +
				`href="https://example.com/p" data-x='y' target=_blank>go</a>`,
			want: `<a class="btn  primary" style="color: red; font-weight:bold" title="Hi {{.Contact.Name}}" ` +
				`href="{{index .Links 0}}" data-x='y' target=_blank>go</a>`,
			wantLinks: []string{"https://example.com/p"},
		},
		{
			name:      "title with a quoted template argument",
			src:       `<a title="{{.Contact.Attr "plan"}}" href="https://example.com/p">go</a>`,
			want:      `<a title="{{.Contact.Attr "plan"}}" href="{{index .Links 0}}">go</a>`,
			wantLinks: []string{"https://example.com/p"},
		},
		{
			name:      "data-href is not the href",
			src:       `<a data-href="https://example.com/d" href="https://example.com/h">x</a>`,
			want:      `<a data-href="https://example.com/d" href="{{index .Links 0}}">x</a>`,
			wantLinks: []string{"https://example.com/h"},
		},
		{
			name:      "the first of two hrefs counts",
			src:       `<a href="https://one.example/" href="https://two.example/">x</a>`,
			want:      `<a href="{{index .Links 0}}" href="https://two.example/">x</a>`,
			wantLinks: []string{"https://one.example/"},
		},
		{
			name: "text, entities, comments and other tags are kept",
			src: "<!DOCTYPE html>\n<html><head><link href=\"https://example.com/s.css\" rel=stylesheet></head>" +
				"<body><!-- <a href=\"https://example.com/c\"> --><p>Tom &amp; Jerry &lt;3 {{.Contact.Name}}</p>" +
				"<img src=\"https://example.com/i.png\"><br/></body></html>",
			want: "<!DOCTYPE html>\n<html><head><link href=\"https://example.com/s.css\" rel=stylesheet></head>" +
				"<body><!-- <a href=\"https://example.com/c\"> --><p>Tom &amp; Jerry &lt;3 {{.Contact.Name}}</p>" +
				"<img src=\"https://example.com/i.png\"><br/></body></html>",
			wantLinks: nil,
		},
		{
			name:      "multi-line tag",
			src:       "<a\n  class=\"x\"\n  href=\"https://example.com/n\"\n>n</a>",
			want:      "<a\n  class=\"x\"\n  href=\"{{index .Links 0}}\"\n>n</a>",
			wantLinks: []string{"https://example.com/n"},
		},
		{
			name:      "empty document",
			src:       "",
			want:      "",
			wantLinks: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, links, err := rewriteHTML(tt.src)
			if err != nil {
				t.Fatalf("rewriteHTML: unexpected error %v", err)
			}
			if got != tt.want {
				t.Errorf("rewriteHTML output\n got: %s\nwant: %s", got, tt.want)
			}
			if !slices.Equal(links, tt.wantLinks) {
				t.Errorf("links = %q, want %q", links, tt.wantLinks)
			}
		})
	}
}

// A title attribute whose text happens to contain " href=" before the real
// href must be kept byte for byte like any other attribute.
func TestRewriteHTMLHrefTextInsideAnEarlierAttribute(t *testing.T) {
	src := `<a title="see href=here" href="https://example.com/p">go</a>`
	want := `<a title="see href=here" href="{{index .Links 0}}">go</a>`
	got, links, err := rewriteHTML(src)
	if err != nil {
		t.Fatalf("rewriteHTML: unexpected error %v", err)
	}
	if got != want {
		t.Errorf("rewriteHTML output\n got: %s\nwant: %s", got, want)
	}
	if !slices.Equal(links, []string{"https://example.com/p"}) {
		t.Errorf("links = %q", links)
	}
}

func TestRewriteHTMLBadURLs(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		badHref  string
		wantLink string // "link N" in the message
		wantText string
	}{
		{"no host", `<a href="http://">x</a>`, "http://", "link 1", "no host"},
		{"https without host", `<a href="https:///path">x</a>`, "https:///path", "link 1", "no host"},
		{"space in host", `<a href="https://exa mple.com/">x</a>`, "https://exa mple.com/", "link 1", "not a valid URL"},
		{"unclosed IPv6 bracket", `<a href="http://[::1">x</a>`, "http://[::1", "link 1", "not a valid URL"},
		{"space in path", `<a href="https://example.com/a b">x</a>`, "https://example.com/a b", "link 1", "white space"},
		{"second link bad", `<a href="https://ok.example/">ok</a> <a href="mailto:a@b.example">m</a> <a href='http://'>bad</a>`, "http://", "link 3", "no host"},
		// Links that would not work in a mail client are refused, not left untracked.
		{"scheme misspelt", `<a href="htps//example.com">x</a>`, "htps//example.com", "link 1", "not an absolute http(s) URL"},
		{"relative path", `<a href="/pricing">x</a>`, "/pricing", "link 1", "not an absolute http(s) URL"},
		{"relative file", `<a href="other.html">x</a>`, "other.html", "link 1", "not an absolute http(s) URL"},
		{"ftp", `<a href="ftp://example.com/f">x</a>`, "ftp://example.com/f", "link 1", "not an absolute http(s) URL"},
		{"javascript", `<a href="javascript:alert(1)">x</a>`, "javascript:alert(1)", "link 1", "script or data link"},
		{"javascript in capitals", `<a href=" JavaScript:alert(1)">x</a>`, " JavaScript:alert(1)", "link 1", "script or data link"},
		{"empty href", `<a href="">x</a>`, "", "link 1", "no destination"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, links, err := rewriteHTML(tt.src)
			if err == nil {
				t.Fatalf("rewriteHTML(%q) = %q, %q; want an error", tt.src, out, links)
			}
			msg := err.Error()
			for _, want := range []string{tt.wantLink, strconv.Quote(tt.badHref), tt.wantText} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
		})
	}
}

func TestRewriteText(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		links     []string // from the HTML body
		want      string
		wantLinks []string
	}{
		{
			name:      "one URL",
			src:       "Visit https://example.com/a today",
			want:      "Visit {{index .Links 0}} today",
			wantLinks: []string{"https://example.com/a"},
		},
		{
			name:      "trailing full stop stays outside",
			src:       "See https://example.com/a.",
			want:      "See {{index .Links 0}}.",
			wantLinks: []string{"https://example.com/a"},
		},
		{
			name:      "trailing comma stays outside",
			src:       "https://example.com/a, then more",
			want:      "{{index .Links 0}}, then more",
			wantLinks: []string{"https://example.com/a"},
		},
		{
			name:      "closing parenthesis stays outside",
			src:       "(see https://example.com/b)",
			want:      "(see {{index .Links 0}})",
			wantLinks: []string{"https://example.com/b"},
		},
		{
			name:      "several trailing marks",
			src:       "(https://example.com/c).",
			want:      "({{index .Links 0}}).",
			wantLinks: []string{"https://example.com/c"},
		},
		{
			name:      "URL at the end of a line",
			src:       "Go:\nhttp://example.com/d\nBye",
			want:      "Go:\n{{index .Links 0}}\nBye",
			wantLinks: []string{"http://example.com/d"},
		},
		{
			name:      "query and fragment are part of the URL",
			src:       "https://example.com/x?a=1&b=2#frag",
			want:      "{{index .Links 0}}",
			wantLinks: []string{"https://example.com/x?a=1&b=2#frag"},
		},
		{
			name:      "URLs known from the HTML reuse their index",
			src:       "Second https://example.com/b first https://example.com/a",
			links:     []string{"https://example.com/a", "https://example.com/b"},
			want:      "Second {{index .Links 1}} first {{index .Links 0}}",
			wantLinks: []string{"https://example.com/a", "https://example.com/b"},
		},
		{
			name:      "destination decoded from &amp; in the HTML is reused",
			src:       "https://example.com/x?a=1&b=2",
			links:     []string{"https://example.com/x?a=1&b=2"},
			want:      "{{index .Links 0}}",
			wantLinks: []string{"https://example.com/x?a=1&b=2"},
		},
		{
			name:      "new URLs are appended",
			src:       "https://example.com/new and https://example.com/a and https://example.com/new2 and https://example.com/new",
			links:     []string{"https://example.com/a"},
			want:      "{{index .Links 1}} and {{index .Links 0}} and {{index .Links 2}} and {{index .Links 1}}",
			wantLinks: []string{"https://example.com/a", "https://example.com/new", "https://example.com/new2"},
		},
		{
			name:      "text inside actions is untouched",
			src:       `{{if eq .Contact.Name "https://example.com/in"}}yes{{end}} https://example.com/out {{/* https://example.com/c */}}`,
			want:      `{{if eq .Contact.Name "https://example.com/in"}}yes{{end}} {{index .Links 0}} {{/* https://example.com/c */}}`,
			wantLinks: []string{"https://example.com/out"},
		},
		{
			name:      "unsubscribe action is untouched",
			src:       "Bye: {{.UnsubscribeURL}}",
			want:      "Bye: {{.UnsubscribeURL}}",
			wantLinks: nil,
		},
		{
			name:      "unclosed action keeps the rest as is",
			src:       "https://example.com/a {{ .Contact.Name https://example.com/b",
			want:      "{{index .Links 0}} {{ .Contact.Name https://example.com/b",
			wantLinks: []string{"https://example.com/a"},
		},
		{
			name:      "no URLs",
			src:       "Hello {{.Contact.Name}}, mail me at bob@example.com or see example.com",
			want:      "Hello {{.Contact.Name}}, mail me at bob@example.com or see example.com",
			wantLinks: nil,
		},
		{
			name:      "URL in angle brackets",
			src:       "<https://example.com/q>",
			want:      "<{{index .Links 0}}>",
			wantLinks: []string{"https://example.com/q"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, links, err := rewriteText(tt.src, slices.Clone(tt.links))
			if err != nil {
				t.Fatalf("rewriteText: unexpected error %v", err)
			}
			if got != tt.want {
				t.Errorf("rewriteText output\n got: %q\nwant: %q", got, tt.want)
			}
			if !slices.Equal(links, tt.wantLinks) {
				t.Errorf("links = %q, want %q", links, tt.wantLinks)
			}
		})
	}
}

func TestRewriteTextBadURL(t *testing.T) {
	for _, src := range []string{"see http://[::1 now", "broken https://[fe80::1/x"} {
		t.Run(src, func(t *testing.T) {
			out, links, err := rewriteText(src, nil)
			if err == nil {
				t.Fatalf("rewriteText(%q) = %q, %q; want an error", src, out, links)
			}
			if !strings.Contains(err.Error(), "link ") {
				t.Errorf("error %q does not name the link", err)
			}
		})
	}
}

// A URL that a template action completes, such as
// https://example.com/?u={{.Contact.Email}}, is a personalised link like an
// href built by a template action: it must be left alone, not turned into a
// tracked link with the action's output glued after the token.
func TestRewriteTextURLCompletedByAnAction(t *testing.T) {
	src := "Your page: https://example.com/?u={{.Contact.Email}} bye"
	got, links, err := rewriteText(src, nil)
	if err != nil {
		t.Fatalf("rewriteText: unexpected error %v", err)
	}
	if got != src || len(links) != 0 {
		t.Errorf("rewriteText(%q) = %q, links %q; want it unchanged with no links", src, got, links)
	}
}

func TestCompileVariantErrors(t *testing.T) {
	valid := Variant{
		Subject: "Hello {{.Contact.Name}}",
		HTML:    `<p>Hi {{.Contact.Name}}, <a href="https://example.com/a">go</a></p>`,
		Text:    "Hi {{.Contact.Name}}, go to https://example.com/a",
	}
	tests := []struct {
		name   string
		change func(v *Variant)
		want   map[string]string // field -> part of the message
	}{
		{"valid", func(v *Variant) {}, map[string]string{}},
		{"html parse error", func(v *Variant) { v.HTML = "<p>{{.Contact.Name</p>" }, map[string]string{"html": "template error"}},
		{"text parse error", func(v *Variant) { v.Text = "Hi {{.Contact.Name" }, map[string]string{"text": "template error"}},
		{"subject parse error", func(v *Variant) { v.Subject = "Hi {{if .Contact.Name}}" }, map[string]string{"subject": "template error"}},
		{"unknown function", func(v *Variant) { v.Text = "Hi {{nope .Contact.Name}}" }, map[string]string{"text": "template error"}},
		{"parse errors in every field", func(v *Variant) {
			v.Subject, v.HTML, v.Text = "{{", "<p>{{end}}</p>", "{{.}"
		}, map[string]string{"subject": "template error", "html": "template error", "text": "template error"}},
		{"html execution error", func(v *Variant) { v.HTML = "<p>{{.Contact.Nope}}</p>" }, map[string]string{"html": "Nope"}},
		{"text execution error", func(v *Variant) { v.Text = "Hi {{.Contact.Nope}}" }, map[string]string{"text": "Nope"}},
		{"subject execution error", func(v *Variant) { v.Subject = "Hi {{.Contact.Nope}}" }, map[string]string{"subject": "Nope"}},
		{"unknown top-level field", func(v *Variant) { v.Text = "{{.Nope}}" }, map[string]string{"text": "template error"}},
		{"execution errors in every field", func(v *Variant) {
			v.Subject, v.HTML, v.Text = "{{.Contact.Nope}}", "{{.Contact.Nope}}", "{{.Contact.Nope}}"
		}, map[string]string{"subject": "Nope", "html": "Nope", "text": "Nope"}},
		{"html ends in a non-text context", func(v *Variant) {
			v.HTML = `<p><a href="{{.UnsubscribeURL}}">u</a></p><script>var a = "{{.Contact.Name}}`
		}, map[string]string{"html": "template error"}},
		{"subject with LF", func(v *Variant) { v.Subject = "Hello\nBcc: x@example.com" }, map[string]string{"subject": "line breaks"}},
		{"subject with CR", func(v *Variant) { v.Subject = "Hello\rthere" }, map[string]string{"subject": "line breaks"}},
		{"subject too long", func(v *Variant) { v.Subject = strings.Repeat("s", 999) }, map[string]string{"subject": "998"}},
		{"subject of 998 characters", func(v *Variant) { v.Subject = strings.Repeat("s", 998) }, map[string]string{}},
		{"empty subject", func(v *Variant) { v.Subject = "" }, map[string]string{"subject": "required"}},
		{"blank subject", func(v *Variant) { v.Subject = " \t " }, map[string]string{"subject": "required"}},
		{"empty html", func(v *Variant) { v.HTML = "" }, map[string]string{"html": "required"}},
		{"blank html", func(v *Variant) { v.HTML = "\n  \n" }, map[string]string{"html": "required"}},
		{"empty text", func(v *Variant) { v.Text = "" }, map[string]string{"text": "required"}},
		{"everything empty", func(v *Variant) { v.Subject, v.HTML, v.Text = "", "", "" },
			map[string]string{"subject": "required", "html": "required", "text": "required"}},
		{"bad link in html", func(v *Variant) { v.HTML = `<a href="https://exa mple.com/">x</a>` },
			map[string]string{"html": `"https://exa mple.com/"`}},
		{"bad link in text", func(v *Variant) { v.Text = "see http://[::1 now" },
			map[string]string{"text": "http://[::1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := valid
			tt.change(&v)
			fe := compileVariant(&v, testFooters)
			if !slices.Equal(slices.Sorted(maps.Keys(fe)), slices.Sorted(maps.Keys(tt.want))) {
				t.Fatalf("compileVariant errors = %q, want fields %q", fe, slices.Sorted(maps.Keys(tt.want)))
			}
			for k, part := range tt.want {
				if !strings.Contains(fe[k], part) {
					t.Errorf("error of %s = %q, want it to contain %q", k, fe[k], part)
				}
			}
		})
	}
}

func TestCompileVariantFooterAndLinks(t *testing.T) {
	const hf, tf = "<p><a href=\"{{.UnsubscribeURL}}\">Unsubscribe</a></p>", "\nUnsubscribe: {{.UnsubscribeURL}}\n"
	// Every HTML body also ends with the hidden honeypot link, after the footer.
	const hp = honeypotHTML
	tests := []struct {
		name       string
		html, text string
		wantHTML   string
		wantText   string
		wantLinks  []string
	}{
		{
			name:      "footer appended to both bodies",
			html:      `<p><a href="https://example.com/a">A</a></p>`,
			text:      "A: https://example.com/a",
			wantHTML:  `<p><a href="{{index .Links 0}}">A</a></p>` + hf + hp,
			wantText:  "A: {{index .Links 0}}" + tf,
			wantLinks: []string{"https://example.com/a"},
		},
		{
			name:      "footer and honeypot inserted before </body>",
			html:      "<html><body><p>Hi</p></body></html>",
			text:      "Hi",
			wantHTML:  "<html><body><p>Hi</p>" + hf + hp + "</body></html>",
			wantText:  "Hi" + tf,
			wantLinks: nil,
		},
		{
			name:      "footer inserted before an uppercase </BODY>",
			html:      "<HTML><BODY><P>Hi</P></BODY></HTML>",
			text:      "Hi",
			wantHTML:  "<HTML><BODY><P>Hi</P>" + hf + hp + "</BODY></HTML>",
			wantText:  "Hi" + tf,
			wantLinks: nil,
		},
		{
			name:      "footer inserted before the last </body>",
			html:      "<body><p>&lt;/body&gt; is a tag</p><!-- </body> --></body>",
			text:      "Hi",
			wantHTML:  "<body><p>&lt;/body&gt; is a tag</p><!-- </body> -->" + hf + hp + "</body>",
			wantText:  "Hi" + tf,
			wantLinks: nil,
		},
		{
			name:      "no html footer when the body places the unsubscribe link, honeypot still added",
			html:      `<p>Bye <a href="{{.UnsubscribeURL}}">here</a></p>`,
			text:      "Bye",
			wantHTML:  `<p>Bye <a href="{{.UnsubscribeURL}}">here</a></p>` + hp,
			wantText:  "Bye" + tf,
			wantLinks: nil,
		},
		{
			name:      "no text footer when the text places the unsubscribe link",
			html:      "<p>Bye</p>",
			text:      "Bye: {{ .UnsubscribeURL }}",
			wantHTML:  "<p>Bye</p>" + hf + hp,
			wantText:  "Bye: {{ .UnsubscribeURL }}",
			wantLinks: nil,
		},
		{
			name:      "text links join the html links",
			html:      `<a href="https://example.com/a">A</a><a href="https://example.com/b?x=1&amp;y=2">B</a>`,
			text:      "B https://example.com/b?x=1&y=2, C https://example.com/c.",
			wantHTML:  `<a href="{{index .Links 0}}">A</a><a href="{{index .Links 1}}">B</a>` + hf + hp,
			wantText:  "B {{index .Links 1}}, C {{index .Links 2}}." + tf,
			wantLinks: []string{"https://example.com/a", "https://example.com/b?x=1&y=2", "https://example.com/c"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Variant{Subject: "S", HTML: tt.html, Text: tt.text}
			if fe := compileVariant(&v, testFooters); len(fe) > 0 {
				t.Fatalf("compileVariant: unexpected errors %q", fe)
			}
			if v.HTMLCompiled != tt.wantHTML {
				t.Errorf("HTMLCompiled\n got: %q\nwant: %q", v.HTMLCompiled, tt.wantHTML)
			}
			if v.TextCompiled != tt.wantText {
				t.Errorf("TextCompiled\n got: %q\nwant: %q", v.TextCompiled, tt.wantText)
			}
			if !slices.Equal(v.Links, tt.wantLinks) {
				t.Errorf("Links = %q, want %q", v.Links, tt.wantLinks)
			}
			if v.HTML != tt.html || v.Text != tt.text {
				t.Errorf("the source bodies changed: %q, %q", v.HTML, v.Text)
			}
		})
	}
}

// The footer must land before </body> whatever the body's characters are:
// the index found in strings.ToLower(htmlSrc) is only valid in htmlSrc when
// lowering keeps every byte length, which Turkish İ (2 bytes, lowered to the
// 1-byte i) does not.
func TestCompileVariantFooterBeforeBodyWithNonASCII(t *testing.T) {
	for _, body := range []string{"İstanbul", "Ⱥ", "İİİ and more"} {
		t.Run(body, func(t *testing.T) {
			v := Variant{Subject: "S", HTML: "<html><body><p>" + body + "</p></body></html>", Text: "T"}
			if fe := compileVariant(&v, testFooters); len(fe) > 0 {
				t.Fatalf("compileVariant: unexpected errors %q", fe)
			}
			want := "<html><body><p>" + body + "</p>" + testFooters.HTMLFooter + honeypotHTML + "</body></html>"
			if v.HTMLCompiled != want {
				t.Errorf("HTMLCompiled\n got: %q\nwant: %q", v.HTMLCompiled, want)
			}
		})
	}
}

// compileForTest compiles a variant the way Create then the sender do: the
// stored compiled sources are parsed again by compileSources.
func compileForTest(t *testing.T, v Variant) (*compiled, Variant) {
	t.Helper()
	if fe := compileVariant(&v, testFooters); len(fe) > 0 {
		t.Fatalf("compileVariant: unexpected errors %q", fe)
	}
	c, errs := compileSources(v.Subject, v.HTMLCompiled, v.TextCompiled)
	if len(errs) > 0 {
		t.Fatalf("compileSources: unexpected errors %q", errs)
	}
	return c, v
}

func TestRender(t *testing.T) {
	c, v := compileForTest(t, Variant{
		Subject: "Hello {{.Contact.Name}} on {{.Contact.Attr \"plan\"}}",
		HTML: `<html><body><p>Hi {{.Contact.Name}} ({{.Contact.Email}}), plan {{.Contact.Attr "plan"}}, team [{{.Contact.Attr "team"}}]</p>` +
			`<p><a class="btn" href="https://example.com/a?x=1&amp;y=2">A</a> <a href="https://example.com/b">B</a></p></body></html>`,
		Text: "Hi {{.Contact.Name}}, plan {{.Contact.Attr \"plan\"}}, team [{{.Contact.Attr \"team\"}}]\n" +
			"A: https://example.com/a?x=1&y=2\nB: https://example.com/b.\nC: https://example.com/c",
	})
	if want := []string{"https://example.com/a?x=1&y=2", "https://example.com/b", "https://example.com/c"}; !slices.Equal(v.Links, want) {
		t.Fatalf("Links = %q, want %q", v.Links, want)
	}
	d := templateData{
		Contact:        Contact{Email: "bob@example.com", Name: "<b>Bob</b> & Co", Attributes: map[string]string{"plan": "pro"}},
		Links:          []string{"https://t.example/c/AAA", "https://t.example/c/BBB", "https://t.example/c/CCC"},
		UnsubscribeURL: "https://t.example/u/UUU",
		Honeypot:       "https://t.example/c/HONEY",
	}
	subject, htmlBody, textBody, err := c.render(context.Background(), d)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	tests := []struct {
		name, body string
		contains   []string
		excludes   []string
	}{
		{"subject", subject,
			[]string{"Hello <b>Bob</b> & Co on pro"},
			[]string{"\r", "\n"}},
		{"html", htmlBody,
			[]string{
				"Hi &lt;b&gt;Bob&lt;/b&gt; &amp; Co (bob@example.com), plan pro, team []",
				`<a class="btn" href="https://t.example/c/AAA">A</a>`,
				`<a href="https://t.example/c/BBB">B</a>`,
				`<a href="https://t.example/u/UUU">Unsubscribe</a></p><a href="https://t.example/c/HONEY" aria-hidden="true"`,
				"</a></body></html>",
			},
			[]string{"<b>Bob</b>", "example.com/a", "example.com/b", "{{", "<no value>"}},
		{"text", textBody,
			[]string{
				"Hi <b>Bob</b> & Co, plan pro, team []\n",
				"A: https://t.example/c/AAA\n",
				"B: https://t.example/c/BBB.\n",
				"C: https://t.example/c/CCC",
				"\nUnsubscribe: https://t.example/u/UUU\n",
			},
			[]string{"&lt;", "&amp;", "example.com/a", "example.com/b", "example.com/c", "{{", "<no value>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, s := range tt.contains {
				if !strings.Contains(tt.body, s) {
					t.Errorf("%s does not contain %q:\n%s", tt.name, s, tt.body)
				}
			}
			for _, s := range tt.excludes {
				if strings.Contains(tt.body, s) {
					t.Errorf("%s contains %q:\n%s", tt.name, s, tt.body)
				}
			}
		})
	}
}

func TestRenderMissingAttributes(t *testing.T) {
	c, _ := compileForTest(t, Variant{
		Subject: "S {{.Contact.Attr \"plan\"}}",
		HTML:    `<p>[{{.Contact.Attr "plan"}}]</p>`,
		Text:    `[{{.Contact.Attr "plan"}}]`,
	})
	for _, attrs := range []map[string]string{nil, {}, {"other": "x"}} {
		subject, htmlBody, textBody, err := c.render(context.Background(), templateData{Contact: Contact{Email: "a@example.com", Attributes: attrs}})
		if err != nil {
			t.Fatalf("render with attributes %v: %v", attrs, err)
		}
		if subject != "S" {
			t.Errorf("attributes %v: subject = %q, want %q", attrs, subject, "S")
		}
		if !strings.HasPrefix(htmlBody, "<p>[]</p>") {
			t.Errorf("attributes %v: html = %q", attrs, htmlBody)
		}
		if !strings.HasPrefix(textBody, "[]") {
			t.Errorf("attributes %v: text = %q", attrs, textBody)
		}
	}
}

func TestRenderSubjectNeverHasLineBreaks(t *testing.T) {
	c, _ := compileForTest(t, Variant{
		Subject: "Hi {{.Contact.Name}}, about {{.Contact.Attr \"topic\"}}",
		HTML:    "<p>x</p>",
		Text:    "x",
	})
	tests := []struct {
		name, contactName, topic string
		want                     string
	}{
		{"plain", "Bob", "cats", "Hi Bob, about cats"},
		{"LF", "Bob\nBcc: evil@example.com", "cats", "Hi Bob Bcc: evil@example.com, about cats"},
		{"CR", "Bob\rX", "cats", "Hi Bob X, about cats"},
		{"CRLF", "Bob\r\nBcc: evil@example.com", "cats", "Hi Bob Bcc: evil@example.com, about cats"},
		{"trailing CRLF", "Bob\r\n", "cats", "Hi Bob , about cats"},
		{"line break in an attribute", "Bob", "a\r\n\r\nb", "Hi Bob, about a b"},
		{"only line breaks", "\r\n\n\r", "", "Hi , about"},
		{"unicode line separators", "Bob\u2028\u0085X", "cats", "Hi Bob X, about cats"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			subject, _, _, err := c.render(context.Background(), templateData{Contact: Contact{Name: tt.contactName, Attributes: map[string]string{"topic": tt.topic}}})
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			if strings.ContainsAny(subject, "\r\n") {
				t.Errorf("subject %q contains CR or LF", subject)
			}
			if subject != tt.want {
				t.Errorf("subject = %q, want %q", subject, tt.want)
			}
		})
	}
}
