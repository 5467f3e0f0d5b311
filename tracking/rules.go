package tracking

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// HoneypotLink is the link index of the hidden link placed in every HTML
// email: no person sees it, so whatever follows it is a machine.
const HoneypotLink = 0xFFFF

// Reasons of the rules that look beyond one request.
const (
	ReasonSoonAfterSend = "clicked within the bot window after sending"
	ReasonBurst         = "several links of one email within 2s"
	ReasonHoneypot      = "hidden honeypot link"
	ReasonNearHoneypot  = "within 10s of a honeypot hit"
	burstWindow         = 2 * time.Second
	honeypotWindow      = 10 * time.Second
	burstMinLinks       = 3
	burstMinLinksFloor  = 2
)

// Rules configures the classification that needs other events than the
// request itself: time since sending, bursts over several links of one
// email, and the honeypot.
type Rules struct {
	// Window: clicks this soon after the delivery was sent are automated (0 turns the rule off).
	Window time.Duration
}

// linkLast is, for one delivery and link, the latest stored click: all the
// rules need of the past, however many clicks a scanner fired.
type linkLast struct {
	DeliveryID uuid.UUID `bun:"delivery_id"`
	LinkIdx    int       `bun:"link_idx"`
	LastAt     time.Time `bun:"last_at"`
}

// event is a click seen by the rules: one of the batch (fresh) or the latest
// stored click of a link.
type event struct {
	at    time.Time
	link  int
	fresh *Click
}

func (e *event) mark(reason string) {
	if e.fresh != nil && !e.fresh.Automated {
		e.fresh.Automated, e.fresh.Reason = true, reason
	}
}

// retroRange asks to mark the stored human clicks of a delivery between two
// times as automated: what a burst or a honeypot hit seen only now reveals.
type retroRange struct {
	delivery     uuid.UUID
	from, to     time.Time
	reason       string
	skipHoneypot bool
}

// classifyBatch applies the rules to a batch of new clicks, inside the
// transaction that stores them: it marks the new clicks, and returns the
// ranges of stored clicks to mark too.
func classifyBatch(ctx context.Context, st *Store, clicks []Click, facts map[uuid.UUID]DeliveryFacts, rules Rules) ([]retroRange, error) {
	ids := make([]uuid.UUID, 0, len(clicks))
	seen := map[uuid.UUID]bool{}
	earliest := clicks[0].ClickedAt
	for i := range clicks {
		c := &clicks[i]
		if !seen[c.DeliveryID] {
			seen[c.DeliveryID] = true
			ids = append(ids, c.DeliveryID)
		}
		if c.ClickedAt.Before(earliest) {
			earliest = c.ClickedAt
		}
		if f, ok := facts[c.DeliveryID]; ok && f.SentAt != nil && rules.Window > 0 && !c.Automated && c.ClickedAt.Sub(*f.SentAt) < rules.Window {
			c.Automated, c.Reason = true, ReasonSoonAfterSend
		}
	}
	prior, err := st.lastClicks(ctx, ids, earliest.Add(-honeypotWindow))
	if err != nil {
		return nil, err
	}
	byDelivery := map[uuid.UUID][]*event{}
	for _, p := range prior {
		byDelivery[p.DeliveryID] = append(byDelivery[p.DeliveryID], &event{at: p.LastAt, link: p.LinkIdx})
	}
	linkCount := map[uuid.UUID]int{}
	for i := range clicks {
		c := &clicks[i]
		byDelivery[c.DeliveryID] = append(byDelivery[c.DeliveryID], &event{at: c.ClickedAt, link: c.LinkIdx, fresh: c})
		linkCount[c.DeliveryID] = max(linkCount[c.DeliveryID], c.LinkCount)
	}
	var retro []retroRange
	for d, evs := range byDelivery {
		slices.SortStableFunc(evs, func(a, b *event) int { return a.at.Compare(b.at) })
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
			if h.fresh != nil {
				retro = append(retro, retroRange{delivery: d, from: h.at.Add(-honeypotWindow), to: h.at.Add(honeypotWindow), reason: ReasonNearHoneypot})
			}
		}
		need := max(burstMinLinksFloor, min(burstMinLinks, linkCount[d]))
		for i, e := range evs {
			if e.fresh == nil || e.link == HoneypotLink {
				continue // a window ending at a stored click was judged when that click came
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
				retro = append(retro, retroRange{delivery: d, from: e.at.Add(-burstWindow), to: e.at, reason: ReasonBurst, skipHoneypot: true})
			}
		}
	}
	return mergeRanges(retro), nil
}

// mergeRanges joins overlapping ranges of the same delivery and reason, so a
// scanner's sweep costs one UPDATE, not one per click.
func mergeRanges(rs []retroRange) []retroRange {
	slices.SortFunc(rs, func(a, b retroRange) int {
		return cmp.Or(strings.Compare(a.delivery.String(), b.delivery.String()), strings.Compare(a.reason, b.reason), a.from.Compare(b.from))
	})
	var out []retroRange
	for _, r := range rs {
		if n := len(out); n > 0 && out[n-1].delivery == r.delivery && out[n-1].reason == r.reason && !r.from.After(out[n-1].to) {
			if r.to.After(out[n-1].to) {
				out[n-1].to = r.to
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
