package tracking

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Hit is what the transport knows about a request to a tracked link.
type Hit struct {
	Method    string
	UserAgent string
	IP        string // raw remote address; anonymised before it is stored
}

// Service mints and resolves tracked tokens and records clicks.
type Service struct {
	store   *Store
	sealer  *Sealer
	base    string
	rec     *Recorder
	now     func() time.Time
	mu      sync.RWMutex
	targets map[uuid.UUID]variantLinks
}

type variantLinks struct {
	experimentID uuid.UUID
	urls         []string
}

// maxCachedVariants bounds the destination cache; it is cleared when full.
const maxCachedVariants = 10000

// NewService builds the tracking service. baseURL is the absolute URL under
// which /c/ and /u/ are served; rec may be nil for a service that only mints.
func NewService(store *Store, sealer *Sealer, baseURL string, rec *Recorder, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, sealer: sealer, base: strings.TrimRight(baseURL, "/"), rec: rec, now: now,
		targets: make(map[uuid.UUID]variantLinks)}
}

// ClickURL is the tracked URL of link idx of a variant, for one delivery.
func (s *Service) ClickURL(variantID, deliveryID uuid.UUID, idx int) string {
	return s.base + "/c/" + s.sealer.Seal(Ref{Kind: KindClick, VariantID: variantID, DeliveryID: deliveryID, Link: idx})
}

// HoneypotURL is the hidden link of a delivery's HTML email.
func (s *Service) HoneypotURL(variantID, deliveryID uuid.UUID) string {
	return s.ClickURL(variantID, deliveryID, HoneypotLink)
}

// UnsubscribeURL is the unsubscribe page (and RFC 8058 one-click endpoint) of a delivery.
func (s *Service) UnsubscribeURL(variantID, deliveryID uuid.UUID) string {
	return s.base + "/u/" + s.sealer.Seal(Ref{Kind: KindUnsubscribe, VariantID: variantID, DeliveryID: deliveryID})
}

// OpenUnsubscribe opens an unsubscribe token: the delivery whose contact it
// unsubscribes. Unknown or altered tokens are ErrNotFound.
func (s *Service) OpenUnsubscribe(token string) (Ref, error) {
	return s.sealer.Open(token, KindUnsubscribe)
}

// Authentic says whether a click or unsubscribe token was signed with this
// service's secret (a forged or altered one is not), without reading the
// database: a client that is being slowed down for guessing keeps using its
// real links.
func (s *Service) Authentic(token string) bool {
	if _, err := s.sealer.Open(token, KindClick); err == nil {
		return true
	}
	_, err := s.sealer.Open(token, KindUnsubscribe)
	return err == nil
}

// Follow resolves a click token to its stored destination and records the
// raw click in the ledger (or the spool) before returning; it is classified
// and counted later, by the Projector. An unknown or altered token gives
// ErrNotFound and records nothing; a variant whose destinations are not
// cached while the database cannot be read gives ErrUnavailable. When the destination resolves but
// recording fails, Follow returns the destination together with the error,
// so the caller can still send the person on and log the failure.
func (s *Service) Follow(ctx context.Context, token string, hit Hit) (string, error) {
	ref, err := s.sealer.Open(token, KindClick)
	if err != nil {
		return "", err
	}
	links, err := s.variantLinks(ctx, ref.VariantID)
	if errors.Is(err, ErrNotFound) && ref.Link == HoneypotLink {
		// An email without tracked links still has its honeypot; the
		// recorder finds its experiment from the delivery.
		err = nil
	}
	if err != nil {
		return "", err
	}
	var dest string
	switch {
	case ref.Link == HoneypotLink: // sent on like any other click, to somewhere harmless
		dest = s.base + "/"
		if len(links.urls) > 0 {
			dest = links.urls[0]
		}
	case ref.Link < 0 || ref.Link >= len(links.urls):
		return "", ErrNotFound
	default:
		dest = links.urls[ref.Link]
	}
	c := RawClick{
		ID: NewID(), DeliveryID: ref.DeliveryID, ExperimentID: links.experimentID, VariantID: ref.VariantID,
		LinkIdx: ref.Link, LinkCount: len(links.urls), ClickedAt: s.now().UTC(), Method: hit.Method,
		UserAgent: truncate(hit.UserAgent, 512), IP: AnonymizeIP(hit.IP),
	}
	if err := s.rec.Record(ctx, c); err != nil {
		return dest, fmt.Errorf("tracking: record click: %w", err)
	}
	return dest, nil
}

func (s *Service) variantLinks(ctx context.Context, variantID uuid.UUID) (variantLinks, error) {
	s.mu.RLock()
	vl, ok := s.targets[variantID]
	s.mu.RUnlock()
	if ok {
		return vl, nil
	}
	rows, err := s.store.VariantLinks(ctx, variantID)
	if err != nil {
		return variantLinks{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if len(rows) == 0 {
		return variantLinks{}, ErrNotFound
	}
	vl = variantLinks{experimentID: rows[0].ExperimentID, urls: make([]string, len(rows))}
	for i, r := range rows {
		if r.Idx != i {
			return variantLinks{}, fmt.Errorf("tracking: links of variant %s are not contiguous", variantID)
		}
		vl.urls[i] = r.URL
	}
	s.mu.Lock()
	if len(s.targets) >= maxCachedVariants {
		clear(s.targets)
	}
	s.targets[variantID] = vl
	s.mu.Unlock()
	return vl, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
