package okr

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"slicelab/experiments"
	"slicelab/tracking"
)

// Event is a conversion reported by the product.
type Event struct {
	bun.BaseModel `bun:"table:events"`

	ID         uuid.UUID  `bun:"id,pk,type:uuid" json:"id"`
	TeamID     uuid.UUID  `bun:"team_id,type:uuid" json:"-"`
	Name       string     `bun:"name" json:"name"`
	ContactID  *uuid.UUID `bun:"contact_id,type:uuid" json:"contact_id"`
	Value      float64    `bun:"value" json:"value"`
	OccurredAt time.Time  `bun:"occurred_at" json:"time"`
	CreatedAt  time.Time  `bun:"created_at" json:"-"`
}

// EventInput is one event as posted: the contact by id or email (optional;
// events without a contact count towards totals but not towards the
// comparison with the holdout), a value (default 1) and a time (default now).
type EventInput struct {
	Name      string     `json:"name"`
	ContactID *uuid.UUID `json:"contact_id"`
	Email     string     `json:"email"`
	Value     *float64   `json:"value"`
	Time      *time.Time `json:"time"`
}

// maxEventsPerRequest bounds one ingestion.
const maxEventsPerRequest = 10000

// IngestEvents stores events of a team, all or nothing; errors name the
// event by its 0-based index in the array, as every field path does
// (events[0].name is the first event's name).
func (s *Service) IngestEvents(ctx context.Context, teamID uuid.UUID, in []EventInput) (int, error) {
	if len(in) == 0 {
		return 0, invalid("events", "send at least one event")
	}
	if len(in) > maxEventsPerRequest {
		return 0, invalid("events", "at most %d events per request", maxEventsPerRequest)
	}
	now := s.now().UTC()
	fe := map[string]string{}
	var keys []string
	var ids []uuid.UUID
	for _, e := range in {
		if e.Email != "" {
			keys = append(keys, strings.ToLower(strings.TrimSpace(e.Email)))
		}
		if e.ContactID != nil {
			ids = append(ids, *e.ContactID)
		}
	}
	byEmail, known, err := s.exps.ContactRefs(ctx, teamID, keys, ids)
	if err != nil {
		return 0, fmt.Errorf("okr: events: %w", err)
	}
	rows := make([]Event, 0, len(in))
	for i, e := range in {
		p := fmt.Sprintf("events[%d].", i)
		ev := Event{ID: tracking.NewID(), TeamID: teamID, Name: strings.TrimSpace(e.Name), Value: 1, OccurredAt: now, CreatedAt: now}
		if ev.Name == "" || len(ev.Name) > 200 {
			fe[p+"name"] = "is required (at most 200 characters)"
		}
		if e.Value != nil {
			if msg := checkNumber(e.Value); msg != "" {
				fe[p+"value"] = msg
			}
			ev.Value = *e.Value
		}
		if e.Time != nil {
			if e.Time.After(now.Add(5 * time.Minute)) {
				fe[p+"time"] = "is in the future"
			}
			ev.OccurredAt = e.Time.UTC()
		}
		switch {
		case e.ContactID != nil && e.Email != "":
			fe[p+"contact_id"] = "give contact_id or email, not both"
		case e.ContactID != nil:
			if !known[*e.ContactID] {
				fe[p+"contact_id"] = "is not a contact of this team"
			}
			ev.ContactID = e.ContactID
		case e.Email != "":
			id, ok := byEmail[strings.ToLower(strings.TrimSpace(e.Email))]
			if !ok {
				fe[p+"email"] = fmt.Sprintf("%q is not a contact of this team", e.Email)
			}
			ev.ContactID = &id
		}
		rows = append(rows, ev)
	}
	if len(fe) > 0 {
		return 0, &experiments.ValidationError{Fields: fe}
	}
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		return s.st.with(tx).insertEvents(ctx, rows)
	})
	if err != nil {
		return 0, fmt.Errorf("okr: events: %w", err)
	}
	return len(rows), nil
}

// ContactEvents lists the events recorded for a contact, oldest first (a
// contact's export).
func (s *Service) ContactEvents(ctx context.Context, teamID, contactID uuid.UUID) ([]Event, error) {
	out := []Event{}
	if err := s.db.NewSelect().Model(&out).Where("team_id = ?", teamID).Where("contact_id = ?", contactID).
		OrderExpr("occurred_at, id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("okr: contact events: %w", err)
	}
	return out, nil
}
