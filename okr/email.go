package okr

import (
	"bytes"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"

	"github.com/google/uuid"

	"slicelab/experiments"
	"slicelab/tracking"
)

// EmailTemplate is the body of one kind of email the OKR layer sends (the
// Friday survey, the Monday digest): an HTML and a text template, the text
// one defining the subject as "subject". cmd/slicelab parses them from
// templates/email and hands them in.
type EmailTemplate struct {
	HTML *htmltemplate.Template
	Text *texttemplate.Template
}

// Mail is how the OKR layer sends its emails to team members.
type Mail struct {
	Mailer  experiments.Mailer
	From    string // the From address, e.g. "slicelab <noreply@example.com>"
	BaseURL string // the service's absolute URL, for links in the emails
}

// message renders an email to a member; kind prefixes its Message-ID.
func (m Mail) message(t EmailTemplate, kind string, to experiments.Member, data any) (experiments.Message, error) {
	var subject, text, html bytes.Buffer
	if err := t.Text.ExecuteTemplate(&subject, "subject", data); err != nil {
		return experiments.Message{}, err
	}
	if err := t.Text.Execute(&text, data); err != nil {
		return experiments.Message{}, err
	}
	if err := t.HTML.Execute(&html, data); err != nil {
		return experiments.Message{}, err
	}
	id := tracking.NewID()
	return experiments.Message{
		DeliveryID: id, TeamID: to.TeamID, MessageID: kind + "-" + id.String() + "@" + experiments.MailDomain(m.From),
		From: m.From, To: to.Email, ToName: to.Name,
		Subject: strings.Join(strings.Fields(subject.String()), " "), Text: text.String(), HTML: html.String(),
	}, nil
}

func (m Mail) link(path string) string { return strings.TrimRight(m.BaseURL, "/") + path }

// memberKey names a member of a team in job progress records.
func memberKey(teamID, userID uuid.UUID) string { return teamID.String() + "/" + userID.String() }
