package experiments

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// LaunchPlan is what launching an experiment now would do with its audience,
// computed the way Launch assigns it, without writing anything: the launch
// confirmation states it ("1,840 contacts: 920 / 920, 160 held out, 42
// skipped by the cool-down, 3 unsubscribed").
type LaunchPlan struct {
	// Audience is every contact the experiment selects (all, or those with its tags).
	Audience int `json:"audience"`
	// Send is how many will be emailed now, in total and per variant (in
	// variant order); Later waits for a test-then-winner's winner.
	Send     int            `json:"send"`
	Variants []PlanVariant  `json:"variants"`
	Later    int            `json:"later"`
	HeldOut  int            `json:"held_out"`
	Cooldown int            `json:"cooldown"`     // skipped: emailed by another experiment within the cool-down
	Unsub    int            `json:"unsubscribed"` // skipped: unsubscribed
	Bounced  int            `json:"bounced"`      // skipped: bounced
	Config   PlanConditions `json:"conditions"`
}

// PlanVariant is one variant's share of a launch.
type PlanVariant struct {
	ID      uuid.UUID `json:"id"`
	Name    string    `json:"name"`
	Control bool      `json:"control"`
	Send    int       `json:"send"`
}

// PlanConditions are the settings in force that the confirmation repeats.
type PlanConditions struct {
	CooldownHours float64  `json:"cooldown_hours"`
	TestShare     *float64 `json:"test_share"`
}

// LaunchPlan counts what Launch would do with a draft's (or scheduled
// experiment's) audience right now. It reads in one transaction that it
// rolls back, so the counts are consistent and nothing changes.
func (s *Service) LaunchPlan(ctx context.Context, teamID, id uuid.UUID) (*LaunchPlan, error) {
	e, err := s.load(ctx, teamID, id)
	if err != nil {
		return nil, err
	}
	if e.Status != StatusDraft && e.Status != StatusScheduled {
		return nil, &ConflictError{Reason: fmt.Sprintf("the experiment is %s; only a draft or scheduled experiment can be launched", e.Status)}
	}
	weights := make([]float64, len(e.Variants))
	p := &LaunchPlan{Variants: make([]PlanVariant, len(e.Variants)),
		Config: PlanConditions{CooldownHours: s.cfg.ContactCooldown.Hours(), TestShare: e.TestShare}}
	for i, v := range e.Variants {
		weights[i] = v.Weight
		p.Variants[i] = PlanVariant{ID: v.ID, Name: v.Name, Control: v.Control}
	}
	now := s.now().UTC()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("experiments: launch plan: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read only
	const page = 2000
	var after uuid.UUID
	for {
		var contacts []struct {
			ID           uuid.UUID `bun:"id"`
			Unsubscribed bool      `bun:"unsubscribed"`
			Bounced      bool      `bun:"bounced"`
		}
		q := tx.NewSelect().Table("contacts").
			ColumnExpr("id, (unsubscribed_at IS NOT NULL) AS unsubscribed, (bounced_at IS NOT NULL) AS bounced").
			Where("team_id = ?", e.TeamID).Where("id > ?", after).Order("id").Limit(page)
		if len(e.Tags) > 0 {
			q = q.Where("id IN (SELECT contact_id FROM contact_tags WHERE team_id = ? AND tag IN (?))", e.TeamID, bun.In(e.Tags))
		}
		if err := q.Scan(ctx, &contacts); err != nil {
			return nil, fmt.Errorf("experiments: launch plan: %w", err)
		}
		if len(contacts) == 0 {
			break
		}
		rows := make([]audienceRow, len(contacts))
		for i, c := range contacts {
			rows[i] = audienceRow{ID: c.ID, Suppressed: c.Unsubscribed || c.Bounced}
		}
		cooling, err := s.coolingDown(ctx, tx, e, rows, now)
		if err != nil {
			return nil, fmt.Errorf("experiments: launch plan: %w", err)
		}
		// The same decisions, in the same order, as assignAll.
		for _, c := range contacts {
			p.Audience++
			arm := Assign(e.ID, c.ID, e.Holdout, weights)
			switch {
			case arm < 0:
				p.HeldOut++
			case c.Unsubscribed:
				p.Unsub++
			case c.Bounced:
				p.Bounced++
			case cooling[c.ID]:
				p.Cooldown++
			case e.TestShare != nil && !InTestShare(e.ID, c.ID, *e.TestShare):
				p.Later++
			default:
				p.Send++
				p.Variants[arm].Send++
			}
		}
		after = contacts[len(contacts)-1].ID
		if len(contacts) < page {
			break
		}
	}
	return p, nil
}

// ContactCounts are the sizes of a team's audience.
type ContactCounts struct {
	Total        int `bun:"total" json:"total"`
	Unsubscribed int `bun:"unsubscribed" json:"unsubscribed"`
	Bounced      int `bun:"bounced" json:"bounced"`
	// Suppressed is never emailed again: unsubscribed or bounced (or both).
	Suppressed int `bun:"suppressed" json:"suppressed"`
}

// ContactCounts counts a team's contacts and those that are suppressed,
// from the team's counters (never counting the contacts themselves).
func (s *Service) ContactCounts(ctx context.Context, teamID uuid.UUID) (ContactCounts, error) {
	var c ContactCounts
	if err := s.db.NewSelect().Table("contact_counts").ColumnExpr("COALESCE(sum(total), 0) AS total").
		ColumnExpr("COALESCE(sum(unsubscribed), 0) AS unsubscribed").
		ColumnExpr("COALESCE(sum(bounced), 0) AS bounced").
		ColumnExpr("COALESCE(sum(suppressed), 0) AS suppressed").
		Where("team_id = ?", teamID).Scan(ctx, &c); err != nil {
		return c, fmt.Errorf("experiments: contact counts: %w", err)
	}
	return c, nil
}

// ContactSearch is a page of a search of a team's contacts.
type ContactSearch struct {
	ContactPage
	// Matches counts every contact that matches the search (all pages).
	Matches int `json:"matches"`
}

// SearchContacts returns up to limit contacts of a team whose address or name
// contains q (case-insensitive; empty q matches all), after the contact id
// given (keyset paging in id order).
func (s *Service) SearchContacts(ctx context.Context, teamID uuid.UUID, q, after string, limit int) (ContactSearch, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	q = strings.ToLower(strings.TrimSpace(q))
	match := func(sq *bun.SelectQuery) *bun.SelectQuery {
		sq = sq.Where("team_id = ?", teamID)
		if q != "" {
			pat := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(q) + "%"
			sq = sq.WhereGroup(" AND ", func(w *bun.SelectQuery) *bun.SelectQuery {
				return w.Where(`email_key LIKE ? ESCAPE '\'`, pat).WhereOr(`lower(name) LIKE ? ESCAPE '\'`, pat)
			})
		}
		return sq
	}
	out := ContactSearch{ContactPage: ContactPage{Contacts: []Contact{}}}
	sq := match(s.db.NewSelect().Model(&out.Contacts)).Order("id").Limit(limit + 1)
	if after != "" {
		id, err := uuid.Parse(after)
		if err != nil {
			return out, &ValidationError{Fields: map[string]string{"after": "must be a contact id from the previous page's next"}}
		}
		sq = sq.Where("id > ?", id)
	}
	if err := sq.Scan(ctx); err != nil {
		return out, fmt.Errorf("experiments: search contacts: %w", err)
	}
	if len(out.Contacts) > limit {
		out.Contacts = out.Contacts[:limit]
		out.Next = out.Contacts[limit-1].ID.String()
	}
	counts, err := s.ContactCounts(ctx, teamID)
	if err != nil {
		return out, err
	}
	out.Total = counts.Total
	if q == "" { // every contact matches: the counter, not a count
		out.Matches = counts.Total
		return out, nil
	}
	n, err := match(s.db.NewSelect().Model((*Contact)(nil))).Count(ctx)
	if err != nil {
		return out, fmt.Errorf("experiments: search contacts: %w", err)
	}
	out.Matches = n
	return out, nil
}
