package main

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wneessen/go-mail"

	"slicelab/experiments"
)

// smtpMailer sends over SMTP with go-mail: one connection per session, many
// messages per connection.
type smtpMailer struct {
	target *smtpTarget
	domain string // HELO name
}

func (m *smtpMailer) Open(ctx context.Context) (experiments.MailSession, error) {
	t := m.target
	// No NOOP before every message (a round trip each): a kept connection is
	// checked once when a batch takes it (smtpSession.Check).
	opts := []mail.Option{mail.WithPort(t.port), mail.WithTimeout(30 * time.Second), mail.WithHELO(m.domain), mail.WithoutNoop()}
	switch t.tls {
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	case "tls":
		opts = append(opts, mail.WithSSL())
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if t.username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(t.username), mail.WithPassword(t.password))
	}
	c, err := mail.NewClient(t.host, opts...)
	if err != nil {
		return nil, err
	}
	if err := c.DialWithContext(ctx); err != nil {
		return nil, &experiments.SendError{Temporary: true, Message: "connect to " + c.ServerAddr() + ": " + err.Error()}
	}
	return &smtpSession{c: c}, nil
}

// smtpSession is one connection, kept open across batches (the Sender keeps
// a few). go-mail sends RSET after every message.
type smtpSession struct {
	c      *mail.Client
	broken bool // the connection failed after a message was accepted
}

func (s *smtpSession) Send(_ context.Context, m experiments.Message) error {
	msg, err := buildMsg(m)
	if err != nil {
		return &experiments.SendError{Message: "build message: " + err.Error()}
	}
	if err := s.c.Send(msg); err != nil {
		var se *mail.SendError
		if errors.As(err, &se) && se.Reason == mail.ErrSMTPReset && msg.IsDelivered() {
			// Accepted; only the RSET after it failed. Sent, on a connection not to reuse.
			s.broken = true
			return nil
		}
		out := mapSendError(err)
		if errors.As(err, &se) && (se.Reason == mail.ErrConnCheck || (se.Reason == mail.ErrSMTPMailFrom && se.ErrorCode() == 0)) {
			out.NotHanded = true // nothing of the message reached the server
		}
		return out
	}
	return nil
}

// Check tells whether a kept connection still works (NOOP).
func (s *smtpSession) Check() error {
	if s.broken {
		return errors.New("connection broken")
	}
	return s.c.Reset()
}

func (s *smtpSession) Close() error { return s.c.Close() }

// mapSendError turns go-mail's error into the domain's: 4xx and connection
// trouble are temporary, 5xx permanent, and "no such mailbox" marks a bounce.
func mapSendError(err error) *experiments.SendError {
	var se *mail.SendError
	if !errors.As(err, &se) {
		return &experiments.SendError{Temporary: true, Message: err.Error()}
	}
	code := se.ErrorCode()
	out := &experiments.SendError{Code: code, Message: err.Error(), Temporary: se.IsTemp() || code == 0}
	if code >= 500 {
		out.Temporary = false
		esc := se.EnhancedStatusCode()
		low := strings.ToLower(err.Error())
		out.NoMailbox = code == 550 && (esc == "5.1.1" || strings.Contains(low, "5.1.1") ||
			strings.Contains(low, "unknown user") || strings.Contains(low, "user unknown") ||
			strings.Contains(low, "no such user") || strings.Contains(low, "mailbox unavailable") ||
			strings.Contains(low, "does not exist"))
	}
	return out
}

// buildMsg maps a rendered message to a go-mail message: multipart/alternative
// (text, then HTML), its own Message-ID, and the RFC 2369/8058 unsubscribe headers.
func buildMsg(m experiments.Message) (*mail.Msg, error) {
	msg := mail.NewMsg()
	if err := msg.From(m.From); err != nil {
		return nil, err
	}
	if err := msg.AddToFormat(m.ToName, m.To); err != nil {
		return nil, err
	}
	if m.ReplyTo != "" {
		if err := msg.ReplyTo(m.ReplyTo); err != nil {
			return nil, err
		}
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(m.MessageID)
	msg.SetDate()
	msg.SetBulk()
	if m.UnsubscribeURL == "" {
		// A message to the team itself (survey, digest): no list headers.
	} else if u, err := url.Parse(m.UnsubscribeURL); err == nil && u.Scheme == "https" {
		if err := msg.SetListUnsubscribeOneClick(m.UnsubscribeURL); err != nil {
			return nil, err
		}
	} else {
		// A local http base URL (development): same headers, without go-mail's https check.
		msg.SetListUnsubscribe(m.UnsubscribeURL)
		msg.SetListUnsubscribePost()
	}
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	return msg, nil
}

// outboxMailer is the embedded default transport: each message becomes an
// RFC 5322 .eml file in a folder.
type outboxMailer struct{ dir string }

func (o *outboxMailer) Open(context.Context) (experiments.MailSession, error) {
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return nil, &experiments.SendError{Temporary: true, Message: "outbox: " + err.Error()}
	}
	return o, nil
}

func (o *outboxMailer) Send(_ context.Context, m experiments.Message) error {
	msg, err := buildMsg(m)
	if err != nil {
		return &experiments.SendError{Message: "build message: " + err.Error()}
	}
	// The name says when and for which team: the outbox viewer shows a team
	// only its own messages.
	name := filepath.Join(o.dir, experiments.OutboxName(time.Now(), m.TeamID, m.DeliveryID))
	tmp := name + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return &experiments.SendError{Temporary: true, Message: "outbox: " + err.Error()}
	}
	if _, err := msg.WriteTo(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return &experiments.SendError{Temporary: true, Message: "outbox: " + err.Error()}
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return &experiments.SendError{Temporary: true, Message: "outbox: " + err.Error()}
	}
	if err := os.Rename(tmp, name); err != nil {
		return &experiments.SendError{Temporary: true, Message: "outbox: " + err.Error()}
	}
	return nil
}

func (o *outboxMailer) Close() error { return nil }
