package tracking

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// classifyNaive is the rules as they were written before the sweep:
// every new click judged against every event of its delivery within the
// window. The tests hold classifyBatch to it.
func classifyNaive(clicks []Click, prior []linkLast, facts map[uuid.UUID]DeliveryFacts, rules Rules) []retroRange {
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
				retro = append(retro, retroRange{delivery: d, from: e.at.Add(-burstWindow), to: e.at, reason: ReasonBurst, skipHoneypot: true})
			}
		}
	}
	return mergeRanges(retro)
}

// randomTraffic is n clicks over a few deliveries: people, scanners
// sweeping every link, honeypot hits, HEAD requests, repeated and equal
// times, some already automated by the request alone.
func randomTraffic(r *rand.Rand, n int, t0 time.Time) ([]Click, []linkLast) {
	deliveries := make([]uuid.UUID, 1+r.IntN(6))
	links := make([]int, len(deliveries))
	for i := range deliveries {
		deliveries[i] = uuid.New()
		links[i] = 1 + r.IntN(4)
	}
	var clicks []Click
	at := t0
	for range n {
		di := r.IntN(len(deliveries))
		link := r.IntN(links[di])
		if r.IntN(12) == 0 {
			link = HoneypotLink
		}
		switch r.IntN(4) { // mostly close together, sometimes the same instant, sometimes far apart
		case 0:
			at = at.Add(time.Duration(r.IntN(3000)) * time.Millisecond)
		case 1:
		case 2:
			at = at.Add(time.Duration(r.IntN(20)) * time.Second)
		default:
			at = at.Add(time.Duration(r.IntN(400)) * time.Millisecond)
		}
		c := Click{ID: uuid.New(), DeliveryID: deliveries[di], LinkIdx: link, LinkCount: links[di], ClickedAt: at}
		if r.IntN(10) == 0 {
			c.Automated, c.Reason = true, ReasonHead
		}
		clicks = append(clicks, c)
	}
	r.Shuffle(len(clicks), func(i, j int) { // a batch is not always in time order
		if r.IntN(4) == 0 {
			clicks[i], clicks[j] = clicks[j], clicks[i]
		}
	})
	var prior []linkLast
	for i, d := range deliveries {
		for l := range links[i] {
			if r.IntN(3) == 0 {
				prior = append(prior, linkLast{DeliveryID: d, LinkIdx: l, LastAt: t0.Add(-time.Duration(r.IntN(12000)) * time.Millisecond)})
			}
		}
		if r.IntN(4) == 0 {
			prior = append(prior, linkLast{DeliveryID: d, LinkIdx: HoneypotLink, LastAt: t0.Add(-time.Duration(r.IntN(15000)) * time.Millisecond)})
		}
	}
	return clicks, prior
}

func describeRanges(rs []retroRange) string {
	slices.SortFunc(rs, func(a, b retroRange) int {
		return cmp.Or(strings.Compare(a.delivery.String(), b.delivery.String()), strings.Compare(a.reason, b.reason), a.from.Compare(b.from))
	})
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "%s %s %s..%s %v\n", r.delivery, r.reason, r.from.Format("15:04:05.000"), r.to.Format("15:04:05.000"), r.skipHoneypot)
	}
	return b.String()
}

// The sweep gives exactly what judging every pair gave, on random traffic.
func TestClassifyBatchMatchesNaive(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	seen := map[string]int{}
	for seed := range uint64(500) {
		r := rand.New(rand.NewPCG(seed, 7))
		clicks, prior := randomTraffic(r, 1+r.IntN(60), t0)
		facts := map[uuid.UUID]DeliveryFacts{}
		rules := Rules{}
		if seed%3 == 0 {
			sent := t0.Add(-time.Duration(r.IntN(20)) * time.Second)
			for _, c := range clicks {
				facts[c.DeliveryID] = DeliveryFacts{SentAt: &sent}
			}
			rules.Window = 10 * time.Second
		}
		want := slices.Clone(clicks)
		wantRetro := classifyNaive(want, prior, facts, rules)
		got := slices.Clone(clicks)
		gotRetro := classifyBatch(got, prior, facts, rules)
		for i := range got {
			if got[i].Automated != want[i].Automated || got[i].Reason != want[i].Reason {
				t.Fatalf("seed %d: click %d (link %d at %s): %v %q, want %v %q", seed, i, got[i].LinkIdx,
					got[i].ClickedAt.Format("15:04:05.000"), got[i].Automated, got[i].Reason, want[i].Automated, want[i].Reason)
			}
		}
		if g, w := describeRanges(gotRetro), describeRanges(wantRetro); g != w {
			t.Fatalf("seed %d: ranges\n%s\nwant\n%s", seed, g, w)
		}
		for _, c := range got {
			seen[c.Reason]++
		}
	}
	for _, reason := range []string{"", ReasonHead, ReasonSoonAfterSend, ReasonBurst, ReasonHoneypot, ReasonNearHoneypot} {
		if seen[reason] < 20 {
			t.Errorf("the random traffic gave %d clicks with reason %q; it should exercise every rule", seen[reason], reason)
		}
	}
	t.Logf("reasons seen: %v", seen)
}

// A scanner hammering one link, a sweep over every link, and the honeypot
// hammered: the cost per click stays flat as a batch grows (compare
// -bench Classify/…/1000 with …/20000 per click).
func BenchmarkClassify(b *testing.B) {
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	for _, kind := range []string{"one link", "sweep", "honeypot"} {
		for _, n := range []int{1000, 20000} {
			b.Run(fmt.Sprintf("%s/%d", kind, n), func(b *testing.B) {
				d := uuid.New()
				base := make([]Click, n)
				for i := range base {
					link := 0
					switch kind {
					case "sweep":
						link = i % 3
					case "honeypot":
						link = HoneypotLink
					}
					base[i] = Click{ID: uuid.New(), DeliveryID: d, LinkIdx: link, LinkCount: 3, ClickedAt: t0.Add(time.Duration(i) * 100 * time.Microsecond)}
				}
				clicks := make([]Click, n)
				b.ResetTimer()
				for range b.N {
					copy(clicks, base)
					classifyBatch(clicks, nil, nil, Rules{})
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/click")
			})
		}
	}
}
