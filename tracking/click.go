package tracking

import (
	"context"
	"net/netip"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// Click is one click as the projector classified it: a row of the clicks
// table, the classified view of the ledger that the bot rules look back at
// and that per-click questions are answered from. Method, UserAgent and IP
// are the ledger's (click_ledger, same id); the projector leaves them empty
// here (rows from before the ledger keep theirs).
type Click struct {
	bun.BaseModel `bun:"table:clicks"`

	ID           uuid.UUID `bun:"id,pk,type:uuid"`
	DeliveryID   uuid.UUID `bun:"delivery_id,type:uuid"`
	ExperimentID uuid.UUID `bun:"experiment_id,type:uuid"`
	VariantID    uuid.UUID `bun:"variant_id,type:uuid"`
	ContactID    uuid.UUID `bun:"contact_id,type:uuid"` // filled by the projector from the delivery
	LinkIdx      int       `bun:"link_idx"`
	ClickedAt    time.Time `bun:"clicked_at"`
	Method       string    `bun:"method"`
	UserAgent    string    `bun:"user_agent"`
	IP           string    `bun:"ip"` // anonymised, see AnonymizeIP
	Automated    bool      `bun:"automated"`
	Reason       string    `bun:"reason"`

	// LinkCount is the number of links in the email (not stored); the burst rule needs it.
	LinkCount int `bun:"-"`
}

// DeliveryFacts is what the rules and rollups need to know about the
// delivery a click belongs to.
type DeliveryFacts struct {
	ExperimentID uuid.UUID
	ContactID    uuid.UUID
	SentAt       *time.Time     // nil until sent
	Location     *time.Location // the team's time zone, in which weeks are counted
}

// Deliveries looks up deliveries for the click projector. The experiments
// package, which owns deliveries, implements it; db is the projector's
// database handle (on SQLite, its one connection). Unknown ids are left out
// of the answer.
type Deliveries interface {
	DeliveryFacts(ctx context.Context, db bun.IDB, ids []uuid.UUID) (map[uuid.UUID]DeliveryFacts, error)
}

// AnonymizeIP keeps the /24 of an IPv4 address and the /48 of an IPv6 one, so
// that no raw address is ever stored.
func AnonymizeIP(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return ""
	}
	ip = ip.Unmap()
	bits := 48
	if ip.Is4() {
		bits = 24
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}
