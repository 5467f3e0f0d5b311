package experiments

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"slicelab/tracking"
)

// Privacy (issue 11, GDPR): everything stored about one address in a team,
// exported; and the address erased with its personal data while the
// experiments' counts stay as they were. Erasing keeps the contact's row
// and its deliveries (the sends, clicks and events of experiments count
// them) but without anything that names the person: the address, name,
// tags and attributes, delivery errors (which often quote the address),
// and the user agents and addresses of its clicks.

// ErasedDomain is the domain of an erased contact's placeholder address.
const ErasedDomain = "erased.invalid"

// ContactRecord is what slicelab stores about one address in a team.
type ContactRecord struct {
	Team           string                 `json:"team"`
	ContactID      uuid.UUID              `json:"contact_id"`
	Email          string                 `json:"email"`
	Name           string                 `json:"name"`
	Tags           []string               `json:"tags"`
	Attributes     map[string]string      `json:"attributes"`
	UnsubscribedAt *time.Time             `json:"unsubscribed_at"`
	BouncedAt      *time.Time             `json:"bounced_at"`
	CreatedAt      time.Time              `json:"created_at"`
	Deliveries     []DeliveryRecord       `json:"deliveries"`
	Clicks         []tracking.ClickRecord `json:"clicks"`
	// Events are filled by the caller from the okr package (product events
	// sent for this contact).
	Events []any `json:"events"`
}

// DeliveryRecord is one message of an experiment to the contact.
type DeliveryRecord struct {
	ID         uuid.UUID  `json:"id"`
	Experiment string     `json:"experiment"`
	Variant    string     `json:"variant"`
	Status     string     `json:"status"`
	SentAt     *time.Time `json:"sent_at"`
	LastError  string     `json:"last_error,omitempty"`
}

// contactByEmail finds a team's contact by address (any case).
func (s *Service) contactByEmail(ctx context.Context, db bun.IDB, teamID uuid.UUID, email string) (Contact, error) {
	email = strings.TrimSpace(email)
	if !ValidAddress(email) {
		return Contact{}, &ValidationError{Fields: map[string]string{"email": fmt.Sprintf("%q is not an email address", email)}}
	}
	var c Contact
	err := db.NewSelect().Model(&c).Where("team_id = ?", teamID).Where("email_key = ?", strings.ToLower(email)).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Contact{}, fmt.Errorf("no contact %s in this team: %w", email, ErrNotFound)
	}
	if err != nil {
		return Contact{}, fmt.Errorf("experiments: contact: %w", err)
	}
	return c, nil
}

// ExportContact gathers what the team stores about an address (the events
// are the caller's to add).
func (s *Service) ExportContact(ctx context.Context, teamID uuid.UUID, email string) (*ContactRecord, error) {
	team, err := s.Team(ctx, teamID)
	if err != nil {
		return nil, err
	}
	c, err := s.contactByEmail(ctx, s.db, teamID, email)
	if err != nil {
		return nil, err
	}
	rec := &ContactRecord{Team: team.Slug, ContactID: c.ID, Email: c.Email, Name: c.Name, Tags: c.Tags, Attributes: c.Attributes,
		UnsubscribedAt: c.UnsubscribedAt, BouncedAt: c.BouncedAt, CreatedAt: c.CreatedAt, Deliveries: []DeliveryRecord{}, Events: []any{}}
	if rec.Tags == nil {
		rec.Tags = []string{}
	}
	if rec.Attributes == nil {
		rec.Attributes = map[string]string{}
	}
	if err := s.db.NewSelect().TableExpr("deliveries AS d").Join("JOIN experiments AS e ON e.id = d.experiment_id").
		Join("LEFT JOIN variants AS v ON v.id = d.variant_id").
		ColumnExpr("d.id, e.name AS experiment, COALESCE(v.name, '') AS variant, d.status, d.sent_at, d.last_error").
		Where("d.contact_id = ?", c.ID).OrderExpr("d.sent_at, d.id").Scan(ctx, &rec.Deliveries); err != nil {
		return nil, fmt.Errorf("experiments: export deliveries: %w", err)
	}
	ids := make([]uuid.UUID, len(rec.Deliveries))
	for i, d := range rec.Deliveries {
		ids[i] = d.ID
	}
	if rec.Clicks, err = s.clicks.ContactClicks(ctx, ids, s.ledger); err != nil {
		return nil, err
	}
	return rec, nil
}

// Erasure is what EraseContact did.
type Erasure struct {
	ContactID  uuid.UUID   `json:"contact_id"`
	Deliveries []uuid.UUID `json:"-"` // the caller also clears them from the click ledger
	Kept       int         `json:"deliveries_kept"`
	Clicks     int         `json:"clicks_cleared"` // raw clicks whose user agent and address were cleared
}

// EraseContact removes an address's personal data from the team, in one
// transaction, and keeps its deliveries (without anything that names the
// person) so that experiments count as before.
//
// The raw clicks in the ledger lose their user agents and addresses first
// (once the projector has counted them), so that a failure half-way leaves
// the contact findable and the erasure can simply run again.
func (s *Service) EraseContact(ctx context.Context, teamID uuid.UUID, email string) (*Erasure, error) {
	c, err := s.contactByEmail(ctx, s.db, teamID, email)
	if err != nil {
		return nil, err
	}
	out := &Erasure{ContactID: c.ID}
	if err := s.db.NewSelect().Table("deliveries").Column("id").Where("contact_id = ?", c.ID).Scan(ctx, &out.Deliveries); err != nil {
		return nil, fmt.Errorf("experiments: erase contact: %w", err)
	}
	if s.ledger != nil {
		wait := func(ctx context.Context) error {
			if s.counted == nil {
				return nil
			}
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return s.counted(ctx)
		}
		if out.Clicks, err = tracking.EraseRaw(ctx, s.clicks, s.ledger, out.Deliveries, wait); err != nil {
			if errors.Is(err, tracking.ErrNotCounted) {
				return nil, &ConflictError{Reason: "nothing was erased: " + err.Error()}
			}
			return nil, err
		}
	}
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		placeholder := "erased-" + c.ID.String() + "@" + ErasedDomain
		if _, err := tx.NewUpdate().Table("contacts").Set("email = ?", placeholder).Set("email_key = ?", placeholder).
			Set("name = ''").Set("attributes = '{}'").Set("tags = '[]'").Where("id = ?", c.ID).Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.NewDelete().Table("contact_tags").Where("contact_id = ?", c.ID).Exec(ctx); err != nil {
			return err
		}
		out.Kept = len(out.Deliveries)
		_, err := tx.NewUpdate().Table("deliveries").Set("last_error = ''").Where("contact_id = ?", c.ID).Exec(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("experiments: erase contact: %w", err)
	}
	return out, nil
}
