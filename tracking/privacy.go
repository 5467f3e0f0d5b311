package tracking

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// ClickRecord is one click of a contact, as exported to them.
type ClickRecord struct {
	DeliveryID uuid.UUID `bun:"delivery_id" json:"delivery_id"`
	ClickedAt  time.Time `bun:"clicked_at" json:"clicked_at"`
	URL        string    `bun:"url" json:"url"`
	UserAgent  string    `bun:"user_agent" json:"user_agent"`
	IP         string    `bun:"ip" json:"ip"` // anonymised when recorded
	Automated  bool      `bun:"automated" json:"automated"`
	Reason     string    `bun:"reason" json:"reason,omitempty"`
}

// ContactClicks lists the clicks of deliveries, oldest first: the
// projector's classification and the link, with the user agent and
// address from the ledger (raw may be nil).
func (s *Store) ContactClicks(ctx context.Context, deliveries []uuid.UUID, raw *Ledger) ([]ClickRecord, error) {
	out := []ClickRecord{}
	if len(deliveries) == 0 {
		return out, nil
	}
	var rows []struct {
		ClickRecord
		ID uuid.UUID `bun:"id"`
	}
	if err := s.db.NewSelect().TableExpr("clicks AS k").Join("LEFT JOIN links AS l ON l.variant_id = k.variant_id AND l.idx = k.link_idx").
		ColumnExpr("k.id, k.delivery_id, k.clicked_at, COALESCE(l.url, '') AS url, k.automated, k.reason").
		Where("k.delivery_id IN (?)", bun.In(deliveries)).OrderExpr("k.clicked_at, k.id").Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("tracking: contact clicks: %w", err)
	}
	byID := map[uuid.UUID]RawClick{}
	if raw != nil {
		rc, err := raw.Of(ctx, deliveries)
		if err != nil {
			return nil, err
		}
		for _, r := range rc {
			byID[r.ID] = r
		}
	}
	for _, r := range rows {
		c := r.ClickRecord
		if x, ok := byID[r.ID]; ok {
			c.UserAgent, c.IP = x.UserAgent, x.IP
		}
		out = append(out, c)
	}
	return out, nil
}

// Of lists the raw clicks of deliveries (for an export). The ledger has no
// index by delivery: it is read whole, which a rare export can afford.
func (l *Ledger) Of(ctx context.Context, deliveries []uuid.UUID) ([]RawClick, error) {
	var out []RawClick
	if len(deliveries) == 0 {
		return out, nil
	}
	if err := l.db.NewSelect().Model(&out).Column("id", "delivery_id", "clicked_at", "method", "user_agent", "ip").
		Where("delivery_id IN (?)", bun.In(deliveries)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("tracking: ledger clicks: %w", err)
	}
	return out, nil
}

// Erase clears the user agents and addresses of the deliveries' raw clicks
// (an erasure; the ledger is otherwise append-only). Call it once the
// projector has counted them (Projector.Fresh), since a click without a user
// agent would be judged automated.
func (l *Ledger) Erase(ctx context.Context, deliveries []uuid.UUID) (int, error) {
	if len(deliveries) == 0 {
		return 0, nil
	}
	res, err := l.db.NewUpdate().Table("click_ledger").Set("user_agent = ''").Set("ip = ''").
		Where("delivery_id IN (?)", bun.In(deliveries)).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("tracking: erase ledger clicks: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// ErrNotCounted is returned by EraseRaw while some of the clicks to erase
// are not counted yet.
var ErrNotCounted = errors.New("some recent clicks are not counted yet")

// EraseRaw clears the user agents and addresses of the deliveries' raw
// clicks, once every one of them is counted (classified by the projector):
// a click without a user agent would be judged automated. While some are
// not, it calls wait (the projector's Fresh, bounded by the caller) once
// and looks again; still not counted, it erases nothing and returns
// ErrNotCounted.
func EraseRaw(ctx context.Context, st *Store, l *Ledger, deliveries []uuid.UUID, wait func(context.Context) error) (int, error) {
	if len(deliveries) == 0 {
		return 0, nil
	}
	for try := 0; ; try++ {
		raw, err := l.Of(ctx, deliveries)
		if err != nil {
			return 0, err
		}
		ids := make([]uuid.UUID, len(raw))
		for i, r := range raw {
			ids[i] = r.ID
		}
		have, err := st.classified(ctx, ids)
		if err != nil {
			return 0, err
		}
		pending := 0
		for _, id := range ids {
			if !have[id] {
				pending++
			}
		}
		if pending == 0 {
			return l.Erase(ctx, deliveries)
		}
		if try > 0 || wait == nil {
			return 0, fmt.Errorf("%w (%d of this contact's; is slicelab serve running?): try again in a minute", ErrNotCounted, pending)
		}
		if err := wait(ctx); err != nil && ctx.Err() != nil {
			return 0, err
		}
	}
}
