package experiments

import (
	"fmt"
	"regexp"
	"strings"
	"text/template/parse"
)

// templateErrorRE takes apart the errors of text/template and html/template:
// "template: html:1:10: executing "html" at <.Contact.Nmae>: can't evaluate
// field Nmae in type experiments.Contact", "template: text:1: function "foo"
// not defined", "html/template:html:1:11: no such template "x"".
var templateErrorRE = regexp.MustCompile(`^(?:html/)?template: ?[a-z]+:(\d+)(?::\d+)?: (?:executing "[a-z]+" at <(.*?)>: )?(.*)$`)

var (
	noFieldRE      = regexp.MustCompile(`^can't evaluate field (\w+) in type (\S+)$`)
	attrArgsRE     = regexp.MustCompile(`^wrong number of args for Attr: want 1 got \d+$|^expected string; found `)
	noFunctionRE   = regexp.MustCompile(`^function "(\w+)" not defined$`)
	goTypeRE       = regexp.MustCompile(`\b(?:\*?experiments\.)(Contact|templateData)\b`)
	contactFields  = []string{"Name", "Email", "Attr"}
	templateFields = []string{"Contact", "UnsubscribeURL"}
)

// templateErrorText says what is wrong with a template in the terms of the
// person who wrote it: the line, the placeholder, and a likely fix; never a
// Go type or a package name.
func templateErrorText(err error) string {
	m := templateErrorRE.FindStringSubmatch(err.Error())
	if m == nil {
		return "template error: " + goTypeRE.ReplaceAllString(err.Error(), "the email")
	}
	line, expr, msg := m[1], m[2], m[3]
	text := msg
	switch {
	case noFieldRE.MatchString(msg):
		f := noFieldRE.FindStringSubmatch(msg)
		field, typ := f[1], f[2]
		switch {
		case strings.HasSuffix(typ, ".Contact"):
			text = "unknown field .Contact." + field
			if s := closest(field, contactFields); s != "" {
				text += "; did you mean .Contact." + s + "?"
			} else {
				text += `; a contact has .Contact.Name, .Contact.Email and attributes such as {{.Contact.Attr "plan"}}`
			}
		case strings.HasSuffix(typ, ".templateData"):
			text = "unknown field ." + field
			if s := closest(field, templateFields); s != "" {
				text += "; did you mean ." + s + "?"
			} else {
				text += "; use .Contact.Name, .Contact.Email, {{.Contact.Attr \"plan\"}} or .UnsubscribeURL"
			}
		default:
			text = fmt.Sprintf("%s has no field %s", expr, field)
		}
	case attrArgsRE.MatchString(msg):
		text = `.Contact.Attr takes the attribute's name in quotes, e.g. {{.Contact.Attr "plan"}}`
	case noFunctionRE.MatchString(msg):
		text = "unknown function " + noFunctionRE.FindStringSubmatch(msg)[1]
	case expr != "":
		text = fmt.Sprintf("at %s: %s", expr, msg)
	}
	return "template error on line " + line + ": " + goTypeRE.ReplaceAllString(text, "the email")
}

// closest is the candidate nearest to s (ignoring case) within two edits, or "".
func closest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// attributesUsed lists the contact attributes a template reads with
// {{.Contact.Attr "name"}}, in order of first use.
func attributesUsed(trees ...*parse.Tree) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			if n == nil {
				return
			}
			for _, c := range n.Cmds {
				walk(c)
			}
		case *parse.CommandNode:
			for i, a := range n.Args {
				if f, ok := a.(*parse.FieldNode); ok && len(f.Ident) == 2 && f.Ident[0] == "Contact" && f.Ident[1] == "Attr" && i+1 < len(n.Args) {
					if s, ok := n.Args[i+1].(*parse.StringNode); ok && !seen[s.Text] {
						seen[s.Text] = true
						out = append(out, s.Text)
					}
				}
				walk(a)
			}
		case *parse.IfNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.TemplateNode:
			walk(n.Pipe)
		}
	}
	for _, t := range trees {
		if t != nil {
			walk(t.Root)
		}
	}
	return out
}
