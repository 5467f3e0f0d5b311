package experiments

import (
	"context"
	"fmt"
	htmltemplate "html/template"
	"io"
	"net/url"
	"regexp"
	"strings"
	texttemplate "text/template"
	"text/template/parse"
	"time"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// templateData is what variant templates see: {{.Contact.Name}},
// {{.Contact.Email}}, {{.Contact.Attr "plan"}} and {{.UnsubscribeURL}}.
// Links holds the tracked URLs that rewriting put in place of the destinations.
type templateData struct {
	Contact        Contact
	Links          []string
	UnsubscribeURL string
	Honeypot       string
}

// honeypotHTML is the hidden link at the end of every HTML email: people
// never see it, link scanners follow it (product.md §12).
const honeypotHTML = `<a href="{{.Honeypot}}" aria-hidden="true" tabindex="-1" style="display:none !important;mso-hide:all;font-size:0;line-height:0">&#8203;</a>`

// compiled is a variant ready to render.
type compiled struct {
	subject *texttemplate.Template
	html    *htmltemplate.Template
	text    *texttemplate.Template
}

// compileVariant rewrites the variant's links, appends the footers and
// compiles its templates, trying them on a sample contact so that errors
// surface now. It fills v.Links, v.HTMLCompiled and v.TextCompiled and
// returns problems by field name.
func compileVariant(v *Variant, cfg Config) map[string]string {
	fe := map[string]string{}
	switch {
	case strings.TrimSpace(v.Subject) == "":
		fe["subject"] = "is required"
	case strings.ContainsAny(v.Subject, "\r\n"):
		fe["subject"] = "must not contain line breaks"
	case len(v.Subject) > 998:
		fe["subject"] = "must be at most 998 characters"
	}
	for f, src := range map[string]string{"html": v.HTML, "text": v.Text} {
		switch {
		case strings.TrimSpace(src) == "":
			fe[f] = "is required"
		case len(src) > MaxTemplateBytes:
			fe[f] = fmt.Sprintf("must be at most %d KB", MaxTemplateBytes>>10)
		case !utf8.ValidString(src):
			fe[f] = "must be valid UTF-8"
		}
	}
	if len(fe) > 0 {
		return fe
	}
	htmlSrc, links, err := rewriteHTML(v.HTML)
	if err != nil {
		fe["html"] = err.Error()
		return fe
	}
	textSrc, links, err := rewriteText(v.Text, links)
	if err != nil {
		fe["text"] = err.Error()
		return fe
	}
	tail := honeypotHTML
	if !strings.Contains(v.HTML, ".UnsubscribeURL") {
		tail = cfg.HTMLFooter + tail
	}
	if loc := bodyCloseRE.FindAllStringIndex(htmlSrc, -1); len(loc) > 0 {
		i := loc[len(loc)-1][0]
		htmlSrc = htmlSrc[:i] + tail + htmlSrc[i:]
	} else {
		htmlSrc += tail
	}
	if !strings.Contains(v.Text, ".UnsubscribeURL") {
		textSrc += cfg.TextFooter
	}
	if len(links) > MaxLinksPerVariant {
		fe["html"] = fmt.Sprintf("has %d different links; a variant may have at most %d", len(links), MaxLinksPerVariant)
		return fe
	}
	v.Links, v.HTMLCompiled, v.TextCompiled = links, htmlSrc, textSrc
	c, errs := compileSources(v.Subject, htmlSrc, textSrc)
	for k, e := range errs {
		fe[k] = e
	}
	if len(fe) > 0 {
		return fe
	}
	for f, tree := range map[string]*parse.Tree{"subject": c.subject.Tree, "html": c.html.Tree, "text": c.text.Tree} {
		if msg := checkTemplate(tree, len(links)); msg != "" {
			fe[f] = "template not allowed: " + msg
		}
	}
	if len(fe) > 0 {
		return fe
	}
	v.attrs = map[string][]string{"subject": attributesUsed(c.subject.Tree), "html": attributesUsed(c.html.Tree),
		"text": attributesUsed(c.text.Tree)}
	// Try the templates on a sample contact: html/template reports escaping
	// problems, and both report unknown fields, only on execution.
	sample := templateData{
		Contact:        Contact{Email: "sample@example.com", Name: "Sample", Attributes: map[string]string{}},
		Links:          make([]string, len(links)),
		UnsubscribeURL: "https://example.com/u/sample",
		Honeypot:       "https://example.com/c/honeypot",
	}
	for i := range sample.Links {
		sample.Links[i] = "https://example.com/c/sample"
	}
	ctx, cancel := context.WithTimeout(context.Background(), trialTimeout)
	defer cancel()
	for f, exec := range map[string]func(io.Writer) error{
		"subject": func(w io.Writer) error { return c.subject.Execute(w, sample) },
		"html":    func(w io.Writer) error { return c.html.Execute(w, sample) },
		"text":    func(w io.Writer) error { return c.text.Execute(w, sample) },
	} {
		out := &boundedBuffer{ctx: ctx, limit: MaxRenderBytes}
		if err := exec(out); isRenderStop(err) {
			fe[f] = "template not allowed: " + ErrRenderTooLarge.Error() + " for a sample contact"
		} else if err != nil {
			fe[f] = templateErrorText(err)
		}
	}
	return fe
}

func compileSources(subject, htmlSrc, textSrc string) (*compiled, map[string]string) {
	fe := map[string]string{}
	c := &compiled{}
	var err error
	if c.subject, err = texttemplate.New("subject").Parse(subject); err != nil {
		fe["subject"] = templateErrorText(err)
	}
	if c.html, err = htmltemplate.New("html").Parse(htmlSrc); err != nil {
		fe["html"] = templateErrorText(err)
	}
	if c.text, err = texttemplate.New("text").Parse(textSrc); err != nil {
		fe["text"] = templateErrorText(err)
	}
	return c, fe
}

var bodyCloseRE = regexp.MustCompile(`(?i)</body\s*>`)

// rewriteHTML replaces the href of every <a> whose destination is an http(s)
// URL by a placeholder for the tracked link, and returns the destinations in
// placeholder order (the same destination shares one index). The tokenizer
// decodes entities, so href="...?a=1&amp;b=2" is the destination ...?a=1&b=2.
// mailto:, anchors, relative links and hrefs built by template actions (such
// as {{.UnsubscribeURL}}) are left alone.
func rewriteHTML(src string) (string, []string, error) {
	z := html.NewTokenizer(strings.NewReader(src))
	var out strings.Builder
	var links []string
	index := map[string]int{}
	n := 0
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() == io.EOF {
				break
			}
			return "", nil, fmt.Errorf("cannot read the HTML: %v", z.Err())
		}
		raw := string(z.Raw())
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			out.WriteString(raw)
			continue
		}
		name, hasAttr := z.TagName()
		if string(name) != "a" || !hasAttr {
			out.WriteString(raw)
			continue
		}
		href, found := "", false
		for {
			k, val, more := z.TagAttr()
			if string(k) == "href" && !found {
				href, found = string(val), true
			}
			if !more {
				break
			}
		}
		n++
		if !found { // an anchor without href: a named target
			out.WriteString(raw)
			continue
		}
		dest, track, err := classifyHref(href)
		if err != nil {
			return "", nil, fmt.Errorf("link %d (%q) %v", n, href, err)
		}
		if !track {
			out.WriteString(raw)
			continue
		}
		i, ok := index[dest]
		if !ok {
			i = len(links)
			index[dest] = i
			links = append(links, dest)
		}
		start, end, ok := attrValueSpan(raw, "href")
		if !ok {
			return "", nil, fmt.Errorf("link %d (%q): cannot locate its href", n, href)
		}
		out.WriteString(raw[:start])
		fmt.Fprintf(&out, `"{{index .Links %d}}"`, i)
		out.WriteString(raw[end:])
	}
	return out.String(), links, nil
}

// attrValueSpan finds the value (with its quotes) of the first attribute
// called name in a raw start tag, walking the attributes as the HTML
// tokenizer does, so text inside another attribute's value never matches.
func attrValueSpan(raw, name string) (start, end int, ok bool) {
	i := 1 // after '<'
	for i < len(raw) && !isSpaceOrEnd(raw[i]) {
		i++ // the tag name
	}
	for i < len(raw) {
		for i < len(raw) && (isSpace(raw[i]) || raw[i] == '/') {
			i++
		}
		if i >= len(raw) || raw[i] == '>' {
			return 0, 0, false
		}
		ns := i
		for i < len(raw) && !isSpace(raw[i]) && raw[i] != '=' && raw[i] != '>' && raw[i] != '/' {
			i++
		}
		attr := raw[ns:i]
		for i < len(raw) && isSpace(raw[i]) {
			i++
		}
		if i >= len(raw) || raw[i] != '=' {
			continue // attribute without a value
		}
		i++
		for i < len(raw) && isSpace(raw[i]) {
			i++
		}
		vs := i
		if i < len(raw) && (raw[i] == '"' || raw[i] == '\'') {
			q := raw[i]
			j := strings.IndexByte(raw[i+1:], q)
			if j < 0 {
				return 0, 0, false
			}
			i += j + 2
		} else {
			for i < len(raw) && !isSpace(raw[i]) && raw[i] != '>' {
				i++
			}
		}
		if strings.EqualFold(attr, name) {
			return vs, i, true
		}
	}
	return 0, 0, false
}

func isSpace(c byte) bool      { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }
func isSpaceOrEnd(c byte) bool { return isSpace(c) || c == '>' || c == '/' }

// classifyHref tells whether an href is a trackable http(s) destination and
// checks it. Besides absolute http(s) URLs, an email's links may be mailto:
// and tel: links, anchors (#…) and hrefs built by template actions (such as
// {{.UnsubscribeURL}}), which are left alone; anything else (a relative
// path, "htps//…", javascript:) would not work in a mail client and is an error.
func classifyHref(href string) (dest string, track bool, err error) {
	h := strings.TrimSpace(href)
	lower := strings.ToLower(h)
	switch {
	case strings.Contains(h, "{{"), strings.HasPrefix(h, "#"),
		strings.HasPrefix(lower, "mailto:"), strings.HasPrefix(lower, "tel:"):
		return "", false, nil
	case h == "":
		return "", false, fmt.Errorf("has no destination (an empty href)")
	case strings.HasPrefix(lower, "javascript:"), strings.HasPrefix(lower, "data:"), strings.HasPrefix(lower, "vbscript:"):
		return "", false, fmt.Errorf("is a script or data link, which emails must not carry; use an https:// URL")
	case !strings.HasPrefix(lower, "http:") && !strings.HasPrefix(lower, "https:"):
		return "", false, fmt.Errorf("is not an absolute http(s) URL; write it in full, such as https://example.com/page")
	}
	u, err := url.Parse(h)
	if err != nil {
		return "", true, fmt.Errorf("is not a valid URL: %v", unwrapURLErr(err))
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", true, fmt.Errorf("is not a valid URL: it has no host")
	}
	if strings.ContainsAny(h, " \t\r\n") {
		return "", true, fmt.Errorf("is not a valid URL: it contains white space")
	}
	return h, true, nil
}

func unwrapURLErr(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

var textURLRE = regexp.MustCompile(`https?://[^\s<>"'{}]+`)

// rewriteText replaces every http(s) URL in a text body by the placeholder of
// its tracked link, adding destinations that the HTML body did not have.
// Template actions are left untouched.
func rewriteText(src string, links []string) (string, []string, error) {
	index := map[string]int{}
	for i, l := range links {
		index[l] = i
	}
	var out strings.Builder
	rest := src
	for rest != "" {
		open := strings.Index(rest, "{{")
		plain := rest
		if open >= 0 {
			plain = rest[:open]
		}
		last := 0
		for _, loc := range textURLRE.FindAllStringIndex(plain, -1) {
			m := plain[loc[0]:loc[1]]
			if loc[1] == len(plain) && open >= 0 {
				continue // the URL goes on in a template action: built per contact, not tracked
			}
			trimmed := strings.TrimRight(m, ".,;:!?)]")
			dest, _, e := classifyHref(trimmed)
			if e != nil {
				return "", nil, fmt.Errorf("link %q: %v", trimmed, e)
			}
			i, ok := index[dest]
			if !ok {
				i = len(links)
				index[dest] = i
				links = append(links, dest)
			}
			out.WriteString(plain[last:loc[0]])
			fmt.Fprintf(&out, "{{index .Links %d}}", i)
			last = loc[0] + len(trimmed)
		}
		out.WriteString(plain[last:])
		if open < 0 {
			break
		}
		end := strings.Index(rest[open:], "}}")
		if end < 0 {
			out.WriteString(rest[open:])
			break
		}
		out.WriteString(rest[open : open+end+2])
		rest = rest[open+end+2:]
	}
	return out.String(), links, nil
}

// trialTimeout bounds the save-time trial render.
const trialTimeout = 5 * time.Second

// render produces subject, HTML and text for one contact, within
// MaxRenderBytes per part; it stops early when ctx is done.
func (c *compiled) render(ctx context.Context, d templateData) (subject, htmlBody, textBody string, err error) {
	b := &boundedBuffer{ctx: ctx, limit: MaxRenderBytes}
	if err = c.subject.Execute(b, d); err != nil {
		return
	}
	subject = strings.Join(strings.Fields(b.String()), " ") // no CR/LF can reach the header
	b.Reset()
	if err = c.html.Execute(b, d); err != nil {
		return
	}
	htmlBody = b.String()
	b.Reset()
	if err = c.text.Execute(b, d); err != nil {
		return
	}
	textBody = b.String()
	return
}
