package web

import (
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"slicelab/cmd/slicelab/internal/web/chart"
	"slicelab/experiments"
)

// ---- the list ----

type expRow struct {
	E        *experiments.Experiment
	Audience string
	Sent     int
	Total    int
	CTRs     []variantCTR
	Verdict  experiments.Verdict
	Launched bool
}

type variantCTR struct {
	Name  string
	Color string
	CTR   *float64
}

func audienceText(tags []string) string {
	if len(tags) == 0 {
		return "all contacts"
	}
	return "tagged " + strings.Join(tags, " or ")
}

// experimentsPage lists the team's experiments with status, audience,
// sends, CTR per variant and verdict.
func (s *server) experimentsPage(c echo.Context) error {
	ctx := c.Request().Context()
	team := principal(c).Team
	list, err := s.Experiments.List(ctx, team.ID)
	if err != nil {
		return err
	}
	rows := make([]expRow, 0, len(list))
	for _, e := range list {
		full, err := s.Experiments.Get(ctx, team.ID, e.ID)
		if err != nil {
			return err
		}
		row := expRow{E: full, Audience: audienceText(full.Tags), Sent: full.Progress.Sent, Total: full.Progress.Total,
			Launched: full.LaunchedAt != nil}
		if row.Launched {
			r, err := s.Experiments.Results(ctx, team.ID, e.ID)
			if err != nil {
				return err
			}
			for i, v := range r.Variants {
				row.CTRs = append(row.CTRs, variantCTR{Name: v.Name, Color: chart.Color(i), CTR: v.CTR})
			}
			row.Verdict = r.Verdict
		}
		rows = append(rows, row)
	}
	return s.page(c, http.StatusOK, "experiments", "Experiments", "experiments", rows)
}

// ---- the editor ----

type editorView struct {
	ID         string
	Name       string
	Hypothesis string
	Initiative string
	Tags       string
	Holdout    string // percent
	Metric     string
	Threshold  string // percent
	MinChance  string // percent
	Winner     bool
	TestShare  string // percent
	Wait       string
	Variants   []variantForm
	Errors     map[string]string
	Summary    []errorLink
	Contacts   []experiments.Contact
	Contact    string
	Audience   *experiments.LaunchPlan
}

type variantForm struct {
	Index   int
	Name    string
	Weight  string
	Control bool
	Subject string
	HTML    string
	Text    string
	Color   string
	Errors  map[string]string
	Preview string // URL of the saved variant's rendering, for the iframe
	Blank   bool   // the empty column for one more variant
	// PreviewFor names the contact the preview is rendered for.
	PreviewFor string
}

type errorLink struct {
	Anchor, Text string
}

func pct(x float64) string {
	return strconv.FormatFloat(math.Round(x*10000)/100, 'f', -1, 64)
}

// newEditor is the form of a new experiment: a control and one variant.
func newEditor() editorView {
	return editorView{Holdout: "10", MinChance: "95", TestShare: "20", Wait: "4h", Errors: map[string]string{},
		Variants: []variantForm{
			{Index: 0, Name: "control", Weight: "1", Control: true, Errors: map[string]string{},
				HTML: "<p>Hi {{.Contact.Name}},</p>\n<p>…</p>\n<p><a href=\"https://example.com/\">Read more</a></p>", Text: "Hi {{.Contact.Name}},\n\n…\n\nRead more: https://example.com/"},
			{Index: 1, Name: "B", Weight: "1", Errors: map[string]string{}},
		}}
}

func editorOf(e *experiments.Experiment) editorView {
	v := editorView{ID: e.ID.String(), Name: e.Name, Hypothesis: e.Hypothesis, Initiative: e.Initiative,
		Tags: strings.Join(e.Tags, ", "), Holdout: pct(e.Holdout), MinChance: "95", TestShare: "20", Wait: "4h", Errors: map[string]string{}}
	if vb := e.Viability; vb != nil {
		v.Metric, v.Threshold, v.MinChance = vb.Metric, pct(vb.Threshold), pct(vb.MinChance)
	}
	if w := e.Winner; w != nil {
		v.Winner, v.TestShare, v.Wait = true, pct(w.TestShare), w.Wait
	}
	for i, x := range e.Variants {
		v.Variants = append(v.Variants, variantForm{Index: i, Name: x.Name, Weight: strconv.FormatFloat(x.Weight, 'f', -1, 64),
			Control: x.Control, Subject: x.Subject, HTML: x.HTML, Text: x.Text, Errors: map[string]string{},
			Preview: "/experiments/" + e.ID.String() + "/preview?variant=" + url.QueryEscape(x.Name)})
	}
	return v
}

// withBlank adds an empty column for one more variant (ignored when left empty).
func (v *editorView) withBlank() {
	if len(v.Variants) < 6 {
		v.Variants = append(v.Variants, variantForm{Index: len(v.Variants), Errors: map[string]string{}, Blank: true})
	}
	for i := range v.Variants {
		v.Variants[i].Color = chart.Color(i)
	}
}

func (s *server) newExperimentPage(c echo.Context) error {
	v := newEditor()
	v.withBlank()
	return s.page(c, http.StatusOK, "experiment_edit", "New experiment", "experiments", v)
}

func (s *server) editExperimentPage(c echo.Context) error {
	ctx := c.Request().Context()
	team := principal(c).Team
	id, err := idParam(c)
	if err != nil {
		return err
	}
	e, err := s.Experiments.Get(ctx, team.ID, id)
	if err != nil {
		return err
	}
	if e.Status != experiments.StatusDraft {
		return s.redirect(c, "/experiments/"+id.String(), "warning", "This experiment was launched and can no longer be changed.")
	}
	v := editorOf(e)
	if err := s.editorExtras(c, &v); err != nil {
		return err
	}
	v.withBlank()
	return s.page(c, http.StatusOK, "experiment_edit", "Edit “"+e.Name+"”", "experiments", v)
}

// editorExtras adds the sample contacts for the previews and the audience.
func (s *server) editorExtras(c echo.Context, v *editorView) error {
	ctx := c.Request().Context()
	team := principal(c).Team
	page, err := s.Experiments.SearchContacts(ctx, team.ID, "", "", 20)
	if err != nil {
		return err
	}
	v.Contacts = page.Contacts
	v.Contact = c.QueryParam("contact")
	for i := range v.Variants {
		v.Variants[i].PreviewFor = "the team's first contact"
		if len(v.Contacts) > 0 {
			v.Variants[i].PreviewFor = v.Contacts[0].Email
		}
		if v.Variants[i].Preview != "" && v.Contact != "" {
			v.Variants[i].Preview += "&contact=" + url.QueryEscape(v.Contact)
			v.Variants[i].PreviewFor = v.Contact
		}
	}
	if v.ID != "" {
		id, _ := uuid.Parse(v.ID)
		if p, err := s.Experiments.LaunchPlan(ctx, team.ID, id); err == nil {
			v.Audience = p
		}
	}
	return nil
}

// formInput reads the editor's form. Percentages are whole or decimal
// numbers; a field that is not a number is reported under its own name.
func formInput(c echo.Context) (experiments.CreateInput, editorView, map[string]string) {
	f := func(k string) string { return strings.TrimSpace(c.FormValue(k)) }
	v := editorView{Name: f("name"), Hypothesis: f("hypothesis"), Initiative: f("initiative"), Tags: f("tags"),
		Holdout: f("holdout"), Metric: f("metric"), Threshold: f("threshold"), MinChance: f("min_chance"),
		Winner: f("winner") == "on", TestShare: f("test_share"), Wait: f("wait"), Errors: map[string]string{}}
	bad := map[string]string{}
	share := func(field, raw string, def float64) float64 {
		if raw == "" {
			return def
		}
		x, err := strconv.ParseFloat(strings.TrimSuffix(raw, "%"), 64)
		if err != nil {
			bad[field] = "Enter a percentage such as 10."
			return def
		}
		return x / 100
	}
	in := experiments.CreateInput{Name: v.Name, Hypothesis: v.Hypothesis, Initiative: v.Initiative,
		Holdout: share("holdout", v.Holdout, 0)}
	for _, t := range strings.Split(v.Tags, ",") {
		if t = strings.TrimSpace(t); t != "" {
			in.Audience.Tags = append(in.Audience.Tags, t)
		}
	}
	if v.Metric != "" {
		in.Viability = &experiments.Viability{Metric: v.Metric, Threshold: share("threshold", v.Threshold, 0), MinChance: share("min_chance", v.MinChance, 0.95)}
	}
	if v.Winner {
		in.Winner = &experiments.WinnerInput{TestShare: share("test_share", v.TestShare, 0.2), Wait: v.Wait}
	}
	params, _ := c.FormParams()
	names := params["variant_name"]
	control := f("control")
	for i := range names {
		at := func(k string) string {
			if vs := params[k]; i < len(vs) {
				return vs[i]
			}
			return ""
		}
		vf := variantForm{Index: len(v.Variants), Name: strings.TrimSpace(at("variant_name")), Weight: strings.TrimSpace(at("variant_weight")),
			Subject: at("variant_subject"), HTML: at("variant_html"), Text: at("variant_text"), Errors: map[string]string{}}
		vf.Control = control == strconv.Itoa(i)
		if vf.Name == "" && strings.TrimSpace(vf.Subject+vf.HTML+vf.Text) == "" && !vf.Control {
			continue // the blank column for one more variant, left empty
		}
		vf.Index = len(v.Variants)
		vi := experiments.VariantInput{Name: vf.Name, Control: vf.Control, Subject: vf.Subject, HTML: vf.HTML, Text: vf.Text}
		if vf.Weight != "" {
			w, err := strconv.ParseFloat(vf.Weight, 64)
			if err != nil {
				bad[fmt.Sprintf("variants[%d].weight", vf.Index)] = "Enter a number such as 1."
			} else {
				vi.Weight = &w
			}
		}
		in.Variants = append(in.Variants, vi)
		v.Variants = append(v.Variants, vf)
	}
	return in, v, bad
}

var variantFieldRE = regexp.MustCompile(`^variants\[(\d+)\]\.(\w+)$`)

// fieldLabels are the editor's field names in words, for the error summary.
var fieldLabels = map[string]string{"name": "Name", "hypothesis": "Hypothesis", "holdout": "Holdout", "threshold": "Viability threshold",
	"min_chance": "Minimum chance to beat control", "test_share": "Test share", "wait": "Wait", "metric": "Viability metric",
	"subject": "Subject", "html": "HTML body", "text": "Text body", "weight": "Weight", "audience": "Audience"}

// placeErrors puts the domain's field errors next to the editor's fields
// and lists them at the top, each linking to its field.
func (v *editorView) placeErrors(fields map[string]string) {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		msg := sentence(humanTemplate(fields[k]))
		if m := variantFieldRE.FindStringSubmatch(k); m != nil {
			i, _ := strconv.Atoi(m[1])
			if i < len(v.Variants) {
				v.Variants[i].Errors[m[2]] = msg
				v.Summary = append(v.Summary, errorLink{Anchor: fmt.Sprintf("v%d-%s", i, m[2]),
					Text: fmt.Sprintf("Variant “%s”, %s: %s", v.Variants[i].Name, strings.ToLower(fieldLabels[m[2]]), msg)})
				continue
			}
		}
		field := k
		switch {
		case strings.HasPrefix(k, "viability."):
			field = strings.TrimPrefix(k, "viability.")
		case strings.HasPrefix(k, "winner."):
			field = strings.TrimPrefix(k, "winner.")
		case strings.HasPrefix(k, "audience"):
			field = "tags"
		case k == "winner":
			field = "test_share"
		}
		v.Errors[field] = msg
		label := fieldLabels[field]
		if label == "" {
			label = "Variants"
			field = "variants"
		}
		v.Summary = append(v.Summary, errorLink{Anchor: "f-" + field, Text: label + ": " + msg})
	}
}

// sentence turns a domain message ("is required") into a sentence.
func sentence(msg string) string {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return msg
	}
	switch {
	case msg == "is required":
		msg = "fill this in; it is required"
	case strings.HasPrefix(msg, "must "), strings.HasPrefix(msg, "is "):
		msg = "it " + msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

func (s *server) createExperimentForm(c echo.Context) error {
	in, v, bad := formInput(c)
	if len(bad) == 0 {
		e, err := s.Experiments.Create(c.Request().Context(), principal(c).Team.ID, in)
		if err == nil {
			return s.redirect(c, "/experiments/"+e.ID.String()+"/edit", "success", "Draft saved. Check the previews, then launch it when it reads right.")
		}
		var ve *experiments.ValidationError
		if !errors.As(err, &ve) {
			return err
		}
		bad = ve.Fields
	}
	return s.editorInvalid(c, v, bad, "New experiment")
}

func (s *server) updateExperimentForm(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	in, v, bad := formInput(c)
	v.ID = id.String()
	if len(bad) == 0 {
		_, err := s.Experiments.UpdateDraft(c.Request().Context(), principal(c).Team.ID, id, in)
		if err == nil {
			return s.redirect(c, "/experiments/"+id.String()+"/edit", "success", "Draft saved. The previews show the saved version.")
		}
		var ve *experiments.ValidationError
		if !errors.As(err, &ve) {
			return err
		}
		bad = ve.Fields
	}
	return s.editorInvalid(c, v, bad, "Edit “"+v.Name+"”")
}

// editorInvalid shows the form again with what was entered and what is
// wrong, next to each field; nothing was stored.
func (s *server) editorInvalid(c echo.Context, v editorView, fields map[string]string, title string) error {
	for i := range v.Variants {
		v.Variants[i].Index = i
	}
	v.placeErrors(fields)
	if err := s.editorExtras(c, &v); err != nil {
		return err
	}
	v.withBlank()
	return s.page(c, http.StatusUnprocessableEntity, "experiment_edit", title, "experiments", v)
}

func (s *server) deleteExperimentForm(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if err := s.Experiments.DeleteDraft(c.Request().Context(), principal(c).Team.ID, id); err != nil {
		return err
	}
	return s.redirect(c, "/experiments", "success", "The draft was deleted.")
}

// previewFrame answers the iframe of a variant's preview: the variant
// rendered for a contact, as a document that may run nothing and load
// nothing but images and inline styles.
func (s *server) previewFrame(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	p, err := s.Experiments.Preview(c.Request().Context(), principal(c).Team.ID, id, c.QueryParam("variant"), c.QueryParam("contact"))
	var ve *experiments.ValidationError
	if errors.As(err, &ve) {
		p = &experiments.Preview{HTML: "<p style=\"font-family:sans-serif;color:#555\">No preview: " + template.HTMLEscapeString(strings.Join(mapValues(ve.Fields), " ")) + "</p>"}
	} else if err != nil {
		return err
	}
	return sandboxed(c, p.HTML)
}

// sandboxed answers an email's HTML for an iframe: no scripts, no forms, no
// plugins, links open in a new tab, nothing loaded but images and styles.
func sandboxed(c echo.Context, html string) error {
	h := c.Response().Header()
	h.Set("Content-Security-Policy", "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; img-src http: https: data:; style-src 'unsafe-inline'; font-src data:; frame-ancestors 'self'")
	h.Set(echo.HeaderXFrameOptions, "SAMEORIGIN")
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	return c.HTML(http.StatusOK, "<!doctype html><meta charset=\"utf-8\"><base target=\"_blank\">"+html)
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// ---- one experiment: status, progress, results ----

type experimentView struct {
	E        *experiments.Experiment
	Audience string
	Progress progressView
	Results  *resultsView
	Previews []variantForm
	TestTo   string
	CanTest  bool
}

type progressView struct {
	Bar  template.HTML
	Live bool
	URL  string
	Page string
	Note string
}

func (s *server) experimentPage(c echo.Context) error {
	ctx := c.Request().Context()
	team := principal(c).Team
	id, err := idParam(c)
	if err != nil {
		return err
	}
	e, err := s.Experiments.Get(ctx, team.ID, id)
	if err != nil {
		return err
	}
	v, _ := viewerOf(c)
	ev := experimentView{E: e, Audience: audienceText(e.Tags), Progress: s.progress(e), TestTo: v.User.Email, CanTest: s.Sender != nil}
	if e.LaunchedAt != nil {
		if ev.Results, err = s.results(c, e); err != nil {
			return err
		}
	} else {
		ed := editorOf(e)
		ev.Previews = ed.Variants
		for i := range ev.Previews {
			ev.Previews[i].Color = chart.Color(i)
		}
	}
	p := s.pageData(c, e.Name, "experiments", ev)
	if ev.Progress.Live {
		p.Refresh = 5
	}
	return s.render(c, http.StatusOK, "experiment", p)
}

// rates remembers the last progress sample of each experiment, to tell
// the messages per second between two polls of the progress bar.
type rates struct {
	sync.Mutex
	m map[uuid.UUID]rateSample
}

type rateSample struct {
	at   time.Time
	done int
	rate float64
}

// sendRate estimates the current messages per second of an experiment from
// the previous sample (or, on the first, from the launch).
func (s *server) sendRate(e *experiments.Experiment, done int) float64 {
	now := time.Now()
	rates := &s.rates
	rates.Lock()
	defer rates.Unlock()
	if rates.m == nil {
		rates.m = map[uuid.UUID]rateSample{}
	}
	prev, ok := rates.m[e.ID]
	r := 0.0
	switch {
	case ok && now.Sub(prev.at) > 200*time.Millisecond:
		r = float64(done-prev.done) / now.Sub(prev.at).Seconds()
		if prev.rate > 0 {
			r = 0.5*r + 0.5*prev.rate
		}
	case ok:
		return prev.rate
	case e.LaunchedAt != nil && s.Now().Sub(*e.LaunchedAt) > time.Second:
		r = float64(done) / s.Now().Sub(*e.LaunchedAt).Seconds()
	}
	if len(rates.m) > 1000 {
		clear(rates.m)
	}
	rates.m[e.ID] = rateSample{at: now, done: done, rate: r}
	return r
}

// progress is the send progress bar of an experiment.
func (s *server) progress(e *experiments.Experiment) progressView {
	p := e.Progress
	pending := p.Queued + p.Sending
	assigning := e.Assignment != nil && !e.Assignment.Done
	live := (pending > 0 || assigning) && (e.Status == experiments.StatusRunning)
	bar := chart.ProgressBar{Sent: p.Sent, Failed: p.Failed, Queued: p.Queued, Sending: p.Sending}
	if live {
		bar.Rate = s.sendRate(e, p.Sent+p.Failed)
	}
	pv := progressView{Bar: chart.Progress(bar), Live: live, URL: "/experiments/" + e.ID.String() + "/progress", Page: "/experiments/" + e.ID.String()}
	var notes []string
	if p.HeldOut > 0 {
		notes = append(notes, fmt.Sprintf("%s held out (no email)", chart.Plain.Format(float64(p.HeldOut))))
	}
	if p.Suppressed > 0 {
		notes = append(notes, fmt.Sprintf("%s skipped (unsubscribed, bounced or in the cool-down)", chart.Plain.Format(float64(p.Suppressed))))
	}
	lead := ""
	if assigning && (e.Status == experiments.StatusRunning || e.Status == experiments.StatusPaused) {
		lead = fmt.Sprintf("Assigning the audience: %s contacts so far; sending has started with them. ",
			chart.Plain.Format(float64(e.Assignment.Assigned)))
	}
	if p.Waiting > 0 {
		lead += fmt.Sprintf("The test share is out; the other %s contacts get the winner after the wait", chart.Plain.Format(float64(p.Waiting)))
		if w := e.Winner; w != nil && e.LaunchedAt != nil {
			if d, err := time.ParseDuration(w.Wait); err == nil {
				lead += ", on " + e.LaunchedAt.Add(d).UTC().Format("Mon 2 Jan, 15:04 UTC")
			}
		}
		lead += ". "
	}
	if p.Cancelled > 0 {
		notes = append(notes, fmt.Sprintf("%s not sent (cancelled)", chart.Plain.Format(float64(p.Cancelled))))
	}
	if e.Status == experiments.StatusPaused && pending > 0 {
		notes = append(notes, "paused: nothing more is sent until you resume")
	}
	if len(notes) > 0 {
		pv.Note = lead + "Not sent: " + strings.Join(notes, "; ") + "."
	} else if lead != "" {
		pv.Note = lead
	}
	return pv
}

// progressFragment answers the progress bar alone, which the page polls
// every second while sending. When sending has ended it asks htmx to reload
// the whole page, so that the results appear.
func (s *server) progressFragment(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	e, err := s.Experiments.Get(c.Request().Context(), principal(c).Team.ID, id)
	if err != nil {
		return err
	}
	pv := s.progress(e)
	if !pv.Live && c.Request().Header.Get("HX-Request") == "true" {
		c.Response().Header().Set("HX-Refresh", "true")
	}
	return s.fragment(c, "experiment", "progress", pv)
}

// fragment renders one template of a page's set without the layout.
func (s *server) fragment(c echo.Context, page, name string, data any) error {
	t, ok := s.pages[page]
	if !ok {
		return errors.New("web: unknown page " + page)
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, name, data); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.HTML(http.StatusOK, b.String())
}

// ---- launch ----

type launchView struct {
	E        *experiments.Experiment
	Plan     *experiments.LaunchPlan
	Sentence string
	Rate     float64
	Duration string
	At       string
	Error    string
}

func (s *server) launchPage(c echo.Context) error {
	return s.launchConfirm(c, http.StatusOK, "")
}

func (s *server) launchConfirm(c echo.Context, status int, problem string) error {
	ctx := c.Request().Context()
	team := principal(c).Team
	id, err := idParam(c)
	if err != nil {
		return err
	}
	e, err := s.Experiments.Get(ctx, team.ID, id)
	if err != nil {
		return err
	}
	plan, err := s.Experiments.LaunchPlan(ctx, team.ID, id)
	var ce *experiments.ConflictError
	if errors.As(err, &ce) {
		return s.redirect(c, "/experiments/"+id.String(), "warning", "This experiment is "+string(e.Status)+" and cannot be launched again.")
	}
	if err != nil {
		return err
	}
	v := launchView{E: e, Plan: plan, Sentence: planSentence(plan), Rate: s.SendRate, At: c.FormValue("at"), Error: problem}
	if s.SendRate > 0 && plan.Send > 0 {
		v.Duration = roughDuration(float64(plan.Send) / s.SendRate)
	}
	return s.page(c, status, "launch", "Launch “"+e.Name+"”", "experiments", v)
}

// planSentence says what a launch does, in one sentence:
// "Send to 1,840 contacts: 920 control, 920 numbers."
func planSentence(p *experiments.LaunchPlan) string {
	parts := make([]string, 0, len(p.Variants))
	for _, v := range p.Variants {
		parts = append(parts, chart.Plain.Format(float64(v.Send))+" "+v.Name)
	}
	return fmt.Sprintf("Send to %s %s now: %s.", chart.Plain.Format(float64(p.Send)), plural(p.Send, "contact", "contacts"), strings.Join(parts, ", "))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func roughDuration(sec float64) string {
	switch {
	case sec < 60:
		return fmt.Sprintf("about %d seconds", int(math.Max(1, math.Ceil(sec))))
	case sec < 3600:
		return fmt.Sprintf("about %d minutes", int(math.Ceil(sec/60)))
	}
	return fmt.Sprintf("about %.1f hours", sec/3600)
}

// launchForm launches now, or at the time given (UTC, from the form's
// datetime-local field).
func (s *server) launchForm(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var at *time.Time
	if raw := strings.TrimSpace(c.FormValue("at")); raw != "" && c.FormValue("when") == "later" {
		t, err := time.ParseInLocation("2006-01-02T15:04", raw, time.UTC)
		if err != nil {
			return s.launchConfirm(c, http.StatusUnprocessableEntity, "Enter the date and time as shown, such as 2026-12-01 09:00.")
		}
		if !t.After(s.Now()) {
			return s.launchConfirm(c, http.StatusUnprocessableEntity, "That time has passed; choose a time in the future, or send now.")
		}
		at = &t
	}
	_, err = s.Experiments.Launch(c.Request().Context(), principal(c).Team.ID, id, at)
	var ce *experiments.ConflictError
	if errors.As(err, &ce) {
		return s.redirect(c, "/experiments/"+id.String(), "warning", sentence(ce.Reason))
	}
	if err != nil {
		return err
	}
	msg := "Launched: sending to the audience as it is assigned; the progress is below."
	if at != nil {
		msg = "Scheduled for " + at.Format("Mon 2 Jan 2006, 15:04 UTC") + "."
	}
	return s.redirect(c, "/experiments/"+id.String(), "success", msg)
}

// lifecycleForm pauses, resumes or cancels (the last word of the path).
func (s *server) lifecycleForm(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	ctx, team := c.Request().Context(), principal(c).Team.ID
	action := c.Path()[strings.LastIndexByte(c.Path(), '/')+1:]
	do, msg := s.Experiments.Cancel, "Cancelled: nothing more will be sent. What was sent and clicked stays in the results."
	switch action {
	case "pause":
		do, msg = s.Experiments.Pause, "Paused: nothing more is sent until you resume."
	case "resume":
		do, msg = s.Experiments.Resume, "Resumed: sending goes on."
	}
	_, err = do(ctx, team, id)
	var ce *experiments.ConflictError
	if errors.As(err, &ce) {
		return s.redirect(c, "/experiments/"+id.String(), "warning", sentence(ce.Reason))
	}
	if err != nil {
		return err
	}
	return s.redirect(c, "/experiments/"+id.String(), "success", msg)
}

// sendTestForm sends one variant, rendered for a sample contact, to an
// address as a test; it is not a delivery and is not counted.
func (s *server) sendTestForm(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if s.Sender == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "This process does not send mail.")
	}
	to := strings.TrimSpace(c.FormValue("to"))
	_, err = s.Sender.SendTest(c.Request().Context(), principal(c).Team.ID, id, c.FormValue("variant"), c.FormValue("contact"), to)
	var ve *experiments.ValidationError
	if errors.As(err, &ve) {
		return s.redirect(c, "/experiments/"+id.String(), "error", "The test was not sent: "+strings.Join(mapValues(ve.Fields), " "))
	}
	if rl := (*experiments.RateLimitError)(nil); errors.As(err, &rl) {
		return s.redirect(c, "/experiments/"+id.String(), "error", "The test was not sent: "+sentence(rl.Reason)+fmt.Sprintf(" Try again in %d min.", max(1, int(rl.RetryAfter.Minutes()+0.5))))
	}
	if err != nil {
		return err
	}
	return s.redirect(c, "/experiments/"+id.String(), "success", "A test of “"+c.FormValue("variant")+"” was sent to "+to+". It is not counted in the results.")
}

var (
	tmplFieldRE = regexp.MustCompile(`(?i)line (\d+)(?::\d+)?: executing "\w+" at <[^>]*>: can't evaluate field (\w+) in type experiments\.Contact`)
	tmplLineRE  = regexp.MustCompile(`(?i)^template error: (?:template: \w+:)?line (\d+)(?::\d+)?: (?:executing "\w+" at <[^>]*>: )?`)
)

// humanTemplate rewrites a Go template error in words a PM can act on:
// "Line 1: a contact has no field “Nmae”; did you mean {{.Contact.Name}}?"
func humanTemplate(msg string) string {
	if m := tmplFieldRE.FindStringSubmatch(msg); m != nil {
		out := fmt.Sprintf("Line %s: a contact has no field “%s”", m[1], m[2])
		for _, f := range []string{"Name", "Email"} {
			if closeWord(m[2], f) {
				return out + "; did you mean {{.Contact." + f + "}}?"
			}
		}
		return out + `. Use {{.Contact.Name}}, {{.Contact.Email}} or an attribute from the CSV, such as {{.Contact.Attr "` + strings.ToLower(m[2]) + `"}}.`
	}
	if m := tmplLineRE.FindStringSubmatch(msg); m != nil {
		return "Line " + m[1] + ": " + strings.TrimPrefix(msg, m[0])
	}
	return msg
}

// closeWord tells whether a is b with at most two letters changed, swapped,
// added or left out (case-insensitive).
func closeWord(a, b string) bool {
	a, b = strings.ToLower(a), strings.ToLower(b)
	if a == b {
		return true
	}
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)] <= 2
}
