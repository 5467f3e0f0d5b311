package chart

import (
	"fmt"
	"html/template"
	"math"
	"strings"
)

// ProgressBar is the send progress of an experiment: the shares of the
// deliveries that are sent, failed and still queued, with the numbers as
// text. A page may replace it in place every second while sending.
type ProgressBar struct {
	// Title names the bar for screen readers; "Sending progress" by default.
	Title string
	// Sent, Failed, Sending and Queued count the deliveries; their sum is
	// the total. Sending (handed to the mail server, answer pending) is
	// drawn and written only when it is not zero.
	Sent, Failed, Sending, Queued int
	// Rate is the current sending rate in messages per second; when it is
	// positive the text gives it and the time left for the queued ones.
	Rate float64
}

// Progress draws a ProgressBar as HTML: a bar (inline SVG, stretched to
// the width of its container) over a line of text with a coloured key for
// each number. app.css styles the classes progress, progress-bar,
// progress-text and progress-key.
func Progress(p ProgressBar) template.HTML {
	total := p.Sent + p.Failed + p.Sending + p.Queued
	type part struct {
		n             int
		word          string
		color, stroke string
	}
	parts := []part{{p.Sent, "sent", Blue, Blue}, {p.Failed, "failed", Red, Red}}
	if p.Sending > 0 {
		parts = append(parts, part{p.Sending, "sending", Sky, Sky})
	}
	parts = append(parts, part{p.Queued, "queued", empty, axisInk})

	var b strings.Builder
	summary := p.summary(total)
	fmt.Fprintf(&b, `<div class="progress">`+"\n"+`<svg xmlns="http://www.w3.org/2000/svg" class="progress-bar" viewBox="0 0 1000 16" preserveAspectRatio="none" width="100%%" height="16" role="img" aria-label="%s">`,
		esc(orDefault(p.Title, "Sending progress")+". "+summary))
	fmt.Fprintf(&b, "<title>%s</title><desc>%s</desc>", esc(orDefault(p.Title, "Sending progress")), esc(summary))
	fmt.Fprintf(&b, `<rect width="1000" height="16" fill="%s"/>`, empty)
	at := 0.0
	for _, pt := range parts[:len(parts)-1] {
		if pt.n == 0 || total == 0 {
			continue
		}
		w := 1000 * float64(pt.n) / float64(total)
		fmt.Fprintf(&b, `<rect x="%s" width="%s" height="16" fill="%s"/>`, num(at), num(w), pt.color)
		at += w
	}
	b.WriteString("</svg>\n<p class=\"progress-text\">")
	for _, pt := range parts {
		fmt.Fprintf(&b, `<span class="progress-key"><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" width="10" height="10" aria-hidden="true"><rect x=".5" y=".5" width="9" height="9" rx="2" fill="%s" stroke="%s"/></svg> <strong>%s</strong> %s (%s)</span> `,
			pt.color, pt.stroke, Plain.Format(float64(pt.n)), pt.word, esc(share(pt.n, total)))
	}
	fmt.Fprintf(&b, "<span>%s in total", Plain.Format(float64(total)))
	if p.Rate > 0 {
		fmt.Fprintf(&b, " · %s messages/s", Plain.format(p.Rate, 1, false))
		if left := p.Queued + p.Sending; left > 0 {
			fmt.Fprintf(&b, " · about %s left", duration(float64(left)/p.Rate))
		}
	}
	b.WriteString("</span></p>\n</div>\n")
	return template.HTML(b.String()) // #nosec G203 -- built from escaped parts only
}

// summary writes the numbers in one sentence.
func (p ProgressBar) summary(total int) string {
	s := fmt.Sprintf("%s of %s sent (%s), %s failed, ",
		Plain.Format(float64(p.Sent)), Plain.Format(float64(total)), share(p.Sent, total), Plain.Format(float64(p.Failed)))
	if p.Sending > 0 {
		s += Plain.Format(float64(p.Sending)) + " sending, "
	}
	s += Plain.Format(float64(p.Queued)) + " queued"
	if left := p.Queued + p.Sending; p.Rate > 0 && left > 0 {
		s += ", about " + duration(float64(left)/p.Rate) + " left"
	}
	return s + "."
}

// share writes n of total as a whole percentage; a part that is not zero
// never shows as "0 %" or, short of the total, as "100 %".
func share(n, total int) string {
	if total == 0 {
		return "0 %"
	}
	pc := math.Round(100 * float64(n) / float64(total))
	switch {
	case n > 0 && pc == 0:
		return "<1 %"
	case n < total && pc == 100:
		return ">99 %"
	}
	return fmt.Sprintf("%.0f %%", pc)
}

// duration writes a number of seconds roughly: "35 s", "12 min", "2 h 5 min".
func duration(sec float64) string {
	s := int(math.Ceil(sec))
	switch {
	case s < 60:
		return fmt.Sprintf("%d s", s)
	case s < 3600:
		return fmt.Sprintf("%d min", (s+59)/60)
	}
	m := (s + 59) / 60
	return fmt.Sprintf("%d h %d min", m/60, m%60)
}
