package experiments

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// Contact is one address in a team's audience.
type Contact struct {
	bun.BaseModel `bun:"table:contacts"`

	ID             uuid.UUID         `bun:"id,pk,type:uuid" json:"id"`
	TeamID         uuid.UUID         `bun:"team_id,type:uuid" json:"-"`
	Email          string            `bun:"email" json:"email"`
	EmailKey       string            `bun:"email_key" json:"-"`
	Name           string            `bun:"name" json:"name"`
	Attributes     map[string]string `bun:"attributes,type:text,json_use_number" json:"attributes"`
	Tags           []string          `bun:"tags,type:text" json:"tags"`
	UnsubscribedAt *time.Time        `bun:"unsubscribed_at" json:"unsubscribed_at"`
	BouncedAt      *time.Time        `bun:"bounced_at" json:"bounced_at"`
	CreatedAt      time.Time         `bun:"created_at" json:"created_at"`
}

// Attr returns a free attribute, or "" when the contact has none of that
// name; templates call it as {{.Contact.Attr "plan"}}.
func (c Contact) Attr(name string) string { return c.Attributes[name] }

// ContactPage is one page of a team's contacts, in creation order.
type ContactPage struct {
	Contacts []Contact `json:"contacts"`
	Next     string    `json:"next"` // pass as ?after= for the next page; "" on the last page
	// Total is the number of the team's contacts (all pages), from the
	// team's counter: it costs the same for a million contacts as for ten.
	Total int `json:"total"`
}

// ListContacts returns up to limit contacts after the given contact id.
func (s *Service) ListContacts(ctx context.Context, teamID uuid.UUID, after string, limit int) (ContactPage, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	q := s.db.NewSelect().Model((*Contact)(nil)).Where("team_id = ?", teamID).Order("id").Limit(limit + 1)
	if after != "" {
		id, err := uuid.Parse(after)
		if err != nil {
			return ContactPage{}, &ValidationError{Fields: map[string]string{"after": "must be a contact id from the previous page's next"}}
		}
		q = q.Where("id > ?", id)
	}
	page := ContactPage{Contacts: []Contact{}}
	if err := q.Scan(ctx, &page.Contacts); err != nil {
		return ContactPage{}, fmt.Errorf("experiments: list contacts: %w", err)
	}
	if len(page.Contacts) > limit {
		page.Contacts = page.Contacts[:limit]
		page.Next = page.Contacts[limit-1].ID.String()
	}
	counts, err := s.ContactCounts(ctx, teamID)
	if err != nil {
		return ContactPage{}, err
	}
	page.Total = counts.Total
	return page, nil
}
