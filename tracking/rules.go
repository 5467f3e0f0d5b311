package tracking

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// HoneypotLink is the link index of the hidden link placed in every HTML
// email: no person sees it, so whatever follows it is a machine.
const HoneypotLink = 0xFFFF

// Reasons of the rules that look beyond one request.
const (
	ReasonSoonAfterSend  = "clicked within the bot window after sending"
	ReasonBurst          = "several links of one email within 2s"
	ReasonHoneypot       = "hidden honeypot link"
	ReasonNearHoneypot   = "within 10s of a honeypot hit"
	burstWindow          = 2 * time.Second
	honeypotWindow       = 10 * time.Second
	burstMinLinks        = 3
	burstMinLinksFloor   = 2
	lookbackForClassifer = honeypotWindow
)

// Rules configures the classification that needs other events than the
// request itself: time since sending, bursts over several links of one
// email, and the honeypot.
type Rules struct {
	// Window: clicks this soon after the delivery was sent are automated (0 turns the rule off).
	Window time.Duration
}

// priorClick is a stored click of a delivery, as the rules need it.
type priorClick struct {
	ID         uuid.UUID `bun:"id"`
	DeliveryID uuid.UUID `bun:"delivery_id"`
	LinkIdx    int       `bun:"link_idx"`
	ClickedAt  time.Time `bun:"clicked_at"`
	Automated  bool      `bun:"automated"`
	Reason     string    `bun:"reason"`
}

// event is a click, stored or about to be, seen by the rules.
type event struct {
	at        time.Time
	link      int
	automated bool
	reason    string
	stored    *priorClick // nil for a click of this batch
	fresh     *Click      // nil for a stored click
}

func (e *event) mark(reason string) {
	if e.automated {
		return
	}
	e.automated, e.reason = true, reason
	if e.fresh != nil {
		e.fresh.Automated, e.fresh.Reason = true, reason
	}
}

// classifyBatch applies the rules to a batch of new clicks, inside the
// transaction that stores them. It marks the new clicks and returns the
// stored clicks that the new ones reveal as automated (a burst or a honeypot
// hit seen only now), by reason.
func classifyBatch(ctx context.Context, tx bun.IDB, clicks []Click, rules Rules) (map[string][]uuid.UUID, error) {
	ids := make([]uuid.UUID, 0, len(clicks))
	seen := map[uuid.UUID]bool{}
	earliest := clicks[0].ClickedAt
	for _, c := range clicks {
		if !seen[c.DeliveryID] {
			seen[c.DeliveryID] = true
			ids = append(ids, c.DeliveryID)
		}
		if c.ClickedAt.Before(earliest) {
			earliest = c.ClickedAt
		}
	}
	var dels []struct {
		ID        uuid.UUID  `bun:"id"`
		ContactID uuid.UUID  `bun:"contact_id"`
		SentAt    *time.Time `bun:"sent_at"`
	}
	if err := tx.NewSelect().Table("deliveries").Column("id", "contact_id", "sent_at").Where("id IN (?)", bun.In(ids)).Scan(ctx, &dels); err != nil {
		return nil, fmt.Errorf("tracking: rules: %w", err)
	}
	sentAt := make(map[uuid.UUID]time.Time, len(dels))
	contact := make(map[uuid.UUID]uuid.UUID, len(dels))
	for _, d := range dels {
		contact[d.ID] = d.ContactID
		if d.SentAt != nil {
			sentAt[d.ID] = *d.SentAt
		}
	}
	for i := range clicks {
		c := &clicks[i]
		c.ContactID = contact[c.DeliveryID]
		if t, ok := sentAt[c.DeliveryID]; ok && rules.Window > 0 && !c.Automated && c.ClickedAt.Sub(t) < rules.Window {
			c.Automated, c.Reason = true, ReasonSoonAfterSend
		}
	}
	var prior []priorClick
	if err := tx.NewSelect().Table("clicks").Column("id", "delivery_id", "link_idx", "clicked_at", "automated", "reason").
		Where("delivery_id IN (?)", bun.In(ids)).Where("clicked_at >= ?", earliest.Add(-lookbackForClassifer)).
		Scan(ctx, &prior); err != nil {
		return nil, fmt.Errorf("tracking: rules: %w", err)
	}
	byDelivery := map[uuid.UUID][]*event{}
	for i := range prior {
		p := &prior[i]
		byDelivery[p.DeliveryID] = append(byDelivery[p.DeliveryID], &event{at: p.ClickedAt, link: p.LinkIdx, automated: p.Automated, reason: p.Reason, stored: p})
	}
	linkCount := map[uuid.UUID]int{}
	for i := range clicks {
		c := &clicks[i]
		byDelivery[c.DeliveryID] = append(byDelivery[c.DeliveryID], &event{at: c.ClickedAt, link: c.LinkIdx, automated: c.Automated, reason: c.Reason, fresh: c})
		linkCount[c.DeliveryID] = max(linkCount[c.DeliveryID], c.LinkCount)
	}
	for d, evs := range byDelivery {
		slices.SortFunc(evs, func(a, b *event) int { return a.at.Compare(b.at) })
		for _, h := range evs {
			if h.link != HoneypotLink {
				continue
			}
			h.mark(ReasonHoneypot)
			for _, e := range evs {
				if e != h && absDur(e.at.Sub(h.at)) <= honeypotWindow {
					e.mark(ReasonNearHoneypot)
				}
			}
		}
		need := max(burstMinLinksFloor, min(burstMinLinks, linkCount[d]))
		for i, e := range evs {
			if e.link == HoneypotLink {
				continue
			}
			distinct := map[int]bool{}
			start := i
			for j := i; j >= 0 && e.at.Sub(evs[j].at) <= burstWindow; j-- {
				if evs[j].link != HoneypotLink {
					distinct[evs[j].link] = true
				}
				start = j
			}
			if len(distinct) >= need {
				for _, b := range evs[start : i+1] {
					b.mark(ReasonBurst)
				}
			}
		}
	}
	retro := map[string][]uuid.UUID{}
	for _, evs := range byDelivery {
		for _, e := range evs {
			if e.stored != nil && e.automated && !e.stored.Automated {
				retro[e.reason] = append(retro[e.reason], e.stored.ID)
			}
		}
	}
	return retro, nil
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
