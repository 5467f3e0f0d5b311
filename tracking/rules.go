package tracking

import (
	"bytes"
	"cmp"
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

// classifyBatch applies the rules to a batch of new clicks: it marks the
// new clicks, and returns the ranges of stored clicks to mark too. prior is,
// per delivery and link of the batch, the latest stored click at or after
// the batch's earliest click less honeypotWindow (Store.lastClicks); the
// rules need nothing else of the past, however many clicks came before.
//
// Each delivery's events are sorted once and swept with two pointers, so a
// batch costs O(n log n) however many of its clicks hit the same email (a
// scanner hammering one link): the result is the same as judging every new
// click against every event within its window.
func classifyBatch(clicks []Click, prior []linkLast, facts map[uuid.UUID]DeliveryFacts, rules Rules) []retroRange {
	for i := range clicks {
		c := &clicks[i]
		if f, ok := facts[c.DeliveryID]; ok && f.SentAt != nil && rules.Window > 0 && !c.Automated && c.ClickedAt.Sub(*f.SentAt) < rules.Window {
			c.Automated, c.Reason = true, ReasonSoonAfterSend
		}
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
		retro = honeypotRule(d, evs, retro)
		retro = burstRule(d, evs, max(burstMinLinksFloor, min(burstMinLinks, linkCount[d])), retro)
	}
	return mergeRanges(retro)
}

// honeypotRule: a hit on the honeypot is automated, and so is every click of
// the delivery within honeypotWindow of one. Judged in time order, a hit
// within the window after an earlier hit is "near a honeypot hit" rather
// than a honeypot hit of its own.
func honeypotRule(d uuid.UUID, evs []*event, retro []retroRange) []retroRange {
	prevHit := -1 // index of the latest honeypot hit so far
	for i, e := range evs {
		if e.link != HoneypotLink {
			continue
		}
		if prevHit >= 0 && e.at.Sub(evs[prevHit].at) <= honeypotWindow {
			e.mark(ReasonNearHoneypot)
		} else {
			e.mark(ReasonHoneypot)
		}
		prevHit = i
		if e.fresh != nil {
			retro = append(retro, retroRange{delivery: d, from: e.at.Add(-honeypotWindow), to: e.at.Add(honeypotWindow), reason: ReasonNearHoneypot})
		}
	}
	if prevHit < 0 {
		return retro
	}
	// Every other click within the window of a hit, before or after it.
	var last time.Time
	seen := false
	for _, e := range evs {
		if e.link == HoneypotLink {
			last, seen = e.at, true
		} else if seen && e.at.Sub(last) <= honeypotWindow {
			e.mark(ReasonNearHoneypot)
		}
	}
	seen = false
	for i := len(evs) - 1; i >= 0; i-- {
		e := evs[i]
		if e.link == HoneypotLink {
			last, seen = e.at, true
		} else if seen && last.Sub(e.at) <= honeypotWindow {
			e.mark(ReasonNearHoneypot)
		}
	}
	return retro
}

// burstRule: when a new click completes, with the events up to it within
// burstWindow, need distinct links of the email, all of those are
// automated. A window ending at a stored click was judged when that click
// came.
func burstRule(d uuid.UUID, evs []*event, need int, retro []retroRange) []retroRange {
	inWindow := map[int]int{} // link → events in the window [lo, i]
	lo, marked := 0, -1
	for i, e := range evs {
		if e.link != HoneypotLink {
			inWindow[e.link]++
		}
		for e.at.Sub(evs[lo].at) > burstWindow {
			if l := evs[lo].link; l != HoneypotLink {
				if inWindow[l]--; inWindow[l] == 0 {
					delete(inWindow, l)
				}
			}
			lo++
		}
		if e.fresh == nil || e.link == HoneypotLink || len(inWindow) < need {
			continue
		}
		for _, b := range evs[max(lo, marked+1) : i+1] { // the earlier part of the window is marked already
			b.mark(ReasonBurst)
		}
		marked = i
		retro = append(retro, retroRange{delivery: d, from: e.at.Add(-burstWindow), to: e.at, reason: ReasonBurst, skipHoneypot: true})
	}
	return retro
}

// mergeRanges joins overlapping ranges of the same delivery and reason, so a
// scanner's sweep costs one UPDATE, not one per click. A delivery's ranges
// come in the order the rules mark fresh clicks (the honeypot's before the
// burst's), and a click already automated keeps its reason: so a stored
// click gets the reason it would have got had it come in the same chunk as
// the clicks that reveal it, however the ledger was cut into chunks.
func mergeRanges(rs []retroRange) []retroRange {
	slices.SortFunc(rs, func(a, b retroRange) int {
		return cmp.Or(bytes.Compare(a.delivery[:], b.delivery[:]), cmp.Compare(retroOrder(a.reason), retroOrder(b.reason)),
			strings.Compare(a.reason, b.reason), a.from.Compare(b.from))
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

// retroOrder is the order in which classifyBatch's rules mark clicks.
func retroOrder(reason string) int {
	switch reason {
	case ReasonNearHoneypot:
		return 0
	case ReasonBurst:
		return 1
	}
	return 2
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
