package experiments

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"text/template/parse"
)

// A variant's templates are run for every recipient by the send workers, so
// no template may run long or grow large (issue 11). They are bounded in
// two ways. At save time the parse tree is checked: no sub-templates (define,
// template, block: the only way to recurse), range only over the email's own
// lists (.Links, .Contact.Tags, .Contact.Attributes), printf only with a
// literal format of modest width, and a worst-case count of steps computed
// from the tree and the lists' largest sizes within a budget. At render time
// the output is capped and the render stops when its context is cancelled
// (SIGTERM drains promptly).
const (
	// MaxTemplateBytes bounds the source of one body (HTML or text).
	MaxTemplateBytes = 256 << 10
	// MaxRenderBytes bounds one rendered body.
	MaxRenderBytes = 2 << 20
	// MaxLinksPerVariant bounds the tracked links of a variant.
	MaxLinksPerVariant = 200
	// MaxTagsPerContact and MaxAttributesPerContact bound what a template can range over.
	MaxTagsPerContact       = 50
	MaxAttributesPerContact = 100
	// maxTemplateSteps is the step budget of one render: nodes evaluated,
	// counting each range's body once per element of the largest list.
	maxTemplateSteps = 200_000
	// maxFormatWidth bounds printf's width and precision.
	maxFormatWidth = 100
)

// ErrRenderTooLarge stops a render whose output outgrew MaxRenderBytes.
var ErrRenderTooLarge = fmt.Errorf("the rendered email is larger than %d MB", MaxRenderBytes>>20)

// boundedBuffer is a render's output: it refuses to grow past its limit and
// stops the render once ctx is done.
type boundedBuffer struct {
	bytes.Buffer
	ctx   context.Context
	limit int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	if b.Len()+len(p) > b.limit {
		return 0, ErrRenderTooLarge
	}
	return b.Buffer.Write(p)
}

// rangeLists are the lists a range may walk, with their largest size (links
// are counted per variant).
func rangeLimit(n *parse.PipeNode, links int) (int, bool) {
	if n == nil || len(n.Decl) > 2 || len(n.Cmds) != 1 || len(n.Cmds[0].Args) != 1 {
		return 0, false
	}
	var ident []string
	switch a := n.Cmds[0].Args[0].(type) {
	case *parse.FieldNode:
		ident = a.Ident
	case *parse.VariableNode:
		if len(a.Ident) < 2 || a.Ident[0] != "$" {
			return 0, false
		}
		ident = a.Ident[1:]
	default:
		return 0, false
	}
	switch fmt.Sprint(ident) {
	case "[Links]":
		return links, true
	case "[Contact Tags]":
		return MaxTagsPerContact, true
	case "[Contact Attributes]":
		return MaxAttributesPerContact, true
	}
	return 0, false
}

var formatVerbRE = regexp.MustCompile(`%[-+# 0]*(\*|\d+)?(?:\.(\*|\d+))?`)

// checkTemplate bounds a parsed template (see the package comment above);
// links is the number of tracked links of the variant. The message says
// what to change.
func checkTemplate(t *parse.Tree, links int) string {
	if t == nil || t.Root == nil {
		return ""
	}
	var problem string
	var cost func(n parse.Node, depth int) int64
	cost = func(n parse.Node, depth int) int64 {
		if problem != "" || n == nil {
			return 0
		}
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return 0
			}
			var c int64
			for _, x := range n.Nodes {
				c += cost(x, depth)
			}
			return c
		case *parse.TemplateNode:
			problem = fmt.Sprintf("sub-templates ({{template %q}}, define, block) are not allowed in an email", n.Name)
		case *parse.ActionNode:
			return 1 + cost(n.Pipe, depth)
		case *parse.PipeNode:
			if n == nil {
				return 0
			}
			var c int64
			for _, cmd := range n.Cmds {
				c += cost(cmd, depth)
			}
			return c
		case *parse.CommandNode:
			if id, ok := n.Args[0].(*parse.IdentifierNode); ok {
				switch id.Ident {
				case "call":
					problem = "call is not allowed in an email"
				case "printf":
					problem = checkPrintf(n)
				}
			}
			var c int64 = 1
			for _, a := range n.Args {
				c += cost(a, depth)
			}
			return c
		case *parse.IfNode:
			return 1 + cost(n.Pipe, depth) + cost(n.List, depth) + cost(n.ElseList, depth)
		case *parse.WithNode:
			return 1 + cost(n.Pipe, depth) + cost(n.List, depth) + cost(n.ElseList, depth)
		case *parse.RangeNode:
			size, ok := rangeLimit(n.Pipe, links)
			if !ok {
				problem = "range may only walk .Links, .Contact.Tags or .Contact.Attributes"
				return 0
			}
			return 1 + int64(max(size, 1))*(cost(n.List, depth+1)+1) + cost(n.ElseList, depth)
		case *parse.ChainNode:
			return 1 + cost(n.Node, depth)
		}
		return 1
	}
	steps := cost(t.Root, 0)
	if problem == "" && steps > maxTemplateSteps {
		problem = fmt.Sprintf("the template would take up to %s steps for one email (at most %s): loops inside loops multiply; simplify it",
			countText(int(min(steps, 1<<40))), countText(maxTemplateSteps))
	}
	return problem
}

// checkPrintf allows printf with a literal format whose widths are modest.
func checkPrintf(n *parse.CommandNode) string {
	if len(n.Args) < 2 {
		return ""
	}
	lit, ok := n.Args[1].(*parse.StringNode)
	if !ok {
		return "printf needs its format written in the template, in quotes"
	}
	for _, m := range formatVerbRE.FindAllStringSubmatch(lit.Text, -1) {
		for _, w := range m[1:] {
			if w == "*" {
				return "printf widths must be written in the format, not taken from arguments"
			}
			if w != "" {
				if v, err := strconv.Atoi(w); err != nil || v > maxFormatWidth {
					return fmt.Sprintf("printf width %s is too large (at most %d)", w, maxFormatWidth)
				}
			}
		}
	}
	return ""
}

// errRenderStopped says a render was cut off by its context.
func isRenderStop(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrRenderTooLarge)
}
