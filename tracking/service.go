package tracking

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// Hit is what the transport knows about a request to a tracked link.
type Hit struct {
	Method    string
	UserAgent string
	IP        string // raw remote address; anonymised before it is stored
}

// Service resolves tracked tokens, records clicks and unsubscribes.
type Service struct {
	db      bun.IDB
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
func NewService(db bun.IDB, sealer *Sealer, baseURL string, rec *Recorder, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, sealer: sealer, base: strings.TrimRight(baseURL, "/"), rec: rec, now: now,
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

// Follow resolves a click token to its stored destination and records the
// click before returning. An unknown or altered token gives ErrNotFound and
// records nothing. When the destination resolves but recording fails, Follow
// returns the destination together with the error, so the caller can still
// send the person on and log the failure.
func (s *Service) Follow(ctx context.Context, token string, hit Hit) (string, error) {
	ref, err := s.sealer.Open(token, KindClick)
	if err != nil {
		return "", err
	}
	links, err := s.variantLinks(ctx, ref.VariantID)
	if errors.Is(err, ErrNotFound) && ref.Link == HoneypotLink {
		// An email without tracked links still has its honeypot.
		links.experimentID, err = s.variantExperiment(ctx, ref)
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
	automated, reason := Classify(hit.Method, hit.UserAgent)
	id, err := uuid.NewV7()
	if err != nil {
		return dest, fmt.Errorf("tracking: click id: %w", err)
	}
	c := Click{
		ID: id, DeliveryID: ref.DeliveryID, ExperimentID: links.experimentID, VariantID: ref.VariantID,
		LinkIdx: ref.Link, ClickedAt: s.now().UTC(), Method: hit.Method, UserAgent: truncate(hit.UserAgent, 512),
		IP: AnonymizeIP(hit.IP), Automated: automated, Reason: reason, LinkCount: len(links.urls),
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
	var rows []struct {
		ExperimentID uuid.UUID `bun:"experiment_id"`
		Idx          int       `bun:"idx"`
		URL          string    `bun:"url"`
	}
	if err := s.db.NewSelect().Table("links").Column("experiment_id", "idx", "url").
		Where("variant_id = ?", variantID).Order("idx").Scan(ctx, &rows); err != nil {
		return variantLinks{}, fmt.Errorf("tracking: load links: %w", err)
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

func (s *Service) variantExperiment(ctx context.Context, ref Ref) (uuid.UUID, error) {
	var id uuid.UUID
	err := s.db.NewSelect().Table("variants").Column("experiment_id").Where("id = ?", ref.VariantID).Scan(ctx, &id)
	if errors.Is(err, sql.ErrNoRows) {
		return uuid.Nil, ErrNotFound
	}
	return id, err
}

// Recipient is what the unsubscribe page shows.
type Recipient struct {
	Email        string
	Unsubscribed bool
}

// Recipient opens an unsubscribe token and tells whose it is. It changes nothing.
func (s *Service) Recipient(ctx context.Context, token string) (Recipient, error) {
	ref, err := s.sealer.Open(token, KindUnsubscribe)
	if err != nil {
		return Recipient{}, err
	}
	var row struct {
		Email          string       `bun:"email"`
		UnsubscribedAt bun.NullTime `bun:"unsubscribed_at"`
	}
	err = s.db.NewSelect().TableExpr("deliveries AS d").Join("JOIN contacts AS c ON c.id = d.contact_id").
		ColumnExpr("c.email, c.unsubscribed_at").Where("d.id = ?", ref.DeliveryID).Scan(ctx, &row)
	if errors.Is(err, sql.ErrNoRows) {
		return Recipient{}, ErrNotFound
	}
	if err != nil {
		return Recipient{}, fmt.Errorf("tracking: unsubscribe lookup: %w", err)
	}
	return Recipient{Email: row.Email, Unsubscribed: !row.UnsubscribedAt.IsZero()}, nil
}

// Unsubscribe marks the contact behind an unsubscribe token as unsubscribed.
// It is idempotent: the first time is kept.
func (s *Service) Unsubscribe(ctx context.Context, token string) (Recipient, error) {
	r, err := s.Recipient(ctx, token)
	if err != nil {
		return r, err
	}
	ref, _ := s.sealer.Open(token, KindUnsubscribe)
	_, err = s.db.NewUpdate().Table("contacts").Set("unsubscribed_at = ?", s.now().UTC()).
		Where("id = (SELECT contact_id FROM deliveries WHERE id = ?)", ref.DeliveryID).
		Where("unsubscribed_at IS NULL").Exec(ctx)
	if err != nil {
		return r, fmt.Errorf("tracking: unsubscribe: %w", err)
	}
	r.Unsubscribed = true
	return r, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
