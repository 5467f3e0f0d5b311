package experiments

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"slicelab/tracking"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"
)

// Preview is a variant rendered for one contact, with the real destinations
// in place of tracked links (a preview is never counted).
type Preview struct {
	VariantID uuid.UUID `json:"variant_id"`
	Variant   string    `json:"variant"`
	Contact   string    `json:"contact"`
	Subject   string    `json:"subject"`
	HTML      string    `json:"html"`
	Text      string    `json:"text"`
}

// Preview renders a variant (by id or name) of a team's experiment for a
// contact of the team (by id or email); with no contact given, the team's
// first contact, or a sample one when the team has none.
func (s *Service) Preview(ctx context.Context, teamID, id uuid.UUID, variant, contact string) (*Preview, error) {
	e, err := s.load(ctx, teamID, id)
	if err != nil {
		return nil, err
	}
	var v *Variant
	for _, x := range e.Variants {
		if x.ID.String() == variant || x.Name == variant || (variant == "" && x.Control) {
			v = x
			break
		}
	}
	if v == nil {
		return nil, &ValidationError{Fields: map[string]string{"variant": fmt.Sprintf("%q is neither the id nor the name of one of this experiment's variants", variant)}}
	}
	c, err := s.previewContact(ctx, teamID, contact)
	if err != nil {
		return nil, err
	}
	comp, errs := compileSources(v.Subject, v.HTMLCompiled, v.TextCompiled)
	if len(errs) > 0 {
		return nil, fmt.Errorf("experiments: preview: %v", errs)
	}
	subject, html, text, err := comp.render(ctx, templateData{Contact: c, Links: v.Links, UnsubscribeURL: "#unsubscribe", Honeypot: "#"})
	if err != nil {
		return nil, &ValidationError{Fields: map[string]string{"contact": "the variant does not render for this contact: " + err.Error()}}
	}
	return &Preview{VariantID: v.ID, Variant: v.Name, Contact: c.Email, Subject: subject, HTML: html, Text: text}, nil
}

func (s *Service) previewContact(ctx context.Context, teamID uuid.UUID, ref string) (Contact, error) {
	var c Contact
	q := s.db.NewSelect().Model(&c).Where("team_id = ?", teamID)
	switch {
	case ref == "":
		q = q.Order("id").Limit(1)
	case uuidOrNil(ref) != uuid.Nil:
		q = q.Where("id = ?", uuidOrNil(ref))
	default:
		q = q.Where("email_key = ?", strings.ToLower(strings.TrimSpace(ref)))
	}
	err := q.Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		if ref == "" {
			return Contact{Email: "sample@example.com", Name: "Sample Contact", Attributes: map[string]string{}}, nil
		}
		return Contact{}, &ValidationError{Fields: map[string]string{"contact": fmt.Sprintf("the team has no contact %q", ref)}}
	}
	if err != nil {
		return Contact{}, fmt.Errorf("experiments: preview contact: %w", err)
	}
	return c, nil
}

func uuidOrNil(s string) uuid.UUID {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil
	}
	return id
}

// SendTest renders a variant for a contact and sends it to an address of
// the caller's choosing, marked as a test; it is not a delivery and is not counted.
func (w *Sender) SendTest(ctx context.Context, teamID, id uuid.UUID, variant, contact, to string) (*Preview, error) {
	a, err := mail.ParseAddress(to)
	if err != nil || a.Address != strings.TrimSpace(to) {
		return nil, &ValidationError{Fields: map[string]string{"to": fmt.Sprintf("%q is not an email address", to)}}
	}
	p, err := w.svc.Preview(ctx, teamID, id, variant, contact)
	if err != nil {
		return nil, err
	}
	if err := w.TestSends.check(ctx, w.svc, teamID, a.Address); err != nil {
		return nil, err
	}
	sess, err := w.mailer.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("experiments: test send: %w", err)
	}
	defer sess.Close()
	from, replyTo, err := w.senders.of(ctx, w.svc, teamID, w.from, w.now())
	if err != nil {
		return nil, err
	}
	msgID := tracking.NewID()
	err = sess.Send(ctx, Message{DeliveryID: msgID, TeamID: teamID, MessageID: "test-" + msgID.String() + "@" + w.domain, From: from, ReplyTo: replyTo,
		To: a.Address, Subject: "[Test] " + p.Subject, HTML: p.HTML, Text: p.Text, UnsubscribeURL: w.links.UnsubscribeURL(p.VariantID, uuid.Nil)})
	if err != nil {
		return nil, fmt.Errorf("experiments: test send to %s: %w", a.Address, err)
	}
	return p, nil
}

// TestSendPolicy says where test messages may go and how many a team may
// send: to the team's members and the allowed addresses only, so that a test
// send cannot mail strangers, and at most PerHour per team.
type TestSendPolicy struct {
	// Allowed are further addresses ("pm@example.com") or domains
	// ("@example.com") that take test messages (SLICELAB_TEST_RECIPIENTS).
	Allowed []string
	PerHour int // per team; 0 means DefaultTestSendsPerHour

	mu   sync.Mutex
	lims map[uuid.UUID]*rate.Limiter
}

// DefaultTestSendsPerHour is how many test messages a team may send an hour.
const DefaultTestSendsPerHour = 60

func (p *TestSendPolicy) check(ctx context.Context, svc *Service, teamID uuid.UUID, to string) error {
	if p == nil {
		p = &TestSendPolicy{}
	}
	key := strings.ToLower(to)
	allowed := false
	for _, a := range p.Allowed {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == key || (strings.HasPrefix(a, "@") && strings.HasSuffix(key, a)) {
			allowed = true
		}
	}
	if !allowed {
		n, err := svc.membersQuery(teamID).Where("u.email_key = ?", key).Count(ctx)
		if err != nil {
			return fmt.Errorf("test send: members: %w", err)
		}
		if n == 0 {
			return &ValidationError{Fields: map[string]string{"to": fmt.Sprintf(
				"%s is not a member of this team; test messages go only to the team's members and to the addresses an operator allows (SLICELAB_TEST_RECIPIENTS)", to)}}
		}
	}
	per := p.PerHour
	if per <= 0 {
		per = DefaultTestSendsPerHour
	}
	p.mu.Lock()
	if p.lims == nil {
		p.lims = map[uuid.UUID]*rate.Limiter{}
	}
	lim, ok := p.lims[teamID]
	if !ok {
		lim = rate.NewLimiter(rate.Every(time.Hour/time.Duration(per)), per)
		p.lims[teamID] = lim
	}
	p.mu.Unlock()
	if r := lim.Reserve(); r.Delay() > 0 {
		wait := r.Delay()
		r.Cancel()
		return &RateLimitError{Reason: fmt.Sprintf("this team has sent %d test messages in the last hour, the most it may", per), RetryAfter: wait}
	}
	return nil
}
