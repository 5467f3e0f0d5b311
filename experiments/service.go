package experiments

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/uptrace/bun"
)

// JobInserter is the part of a River client that Launch needs: inserting the
// send jobs in the same transaction as the deliveries.
type JobInserter interface {
	InsertManyTx(ctx context.Context, tx *sql.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// Config holds what the service needs from the operator's configuration.
type Config struct {
	// BatchSize is the number of deliveries one send job handles (one SMTP connection).
	BatchSize int
	// HTMLFooter and TextFooter are templates appended to every variant body
	// that does not place {{.UnsubscribeURL}} itself, so every message has a
	// visible unsubscribe link.
	HTMLFooter string
	TextFooter string
	// ContactCooldown: a contact emailed by one experiment of the team is not
	// emailed by another within this time (0 turns it off).
	ContactCooldown time.Duration
}

// Service owns the transactions of the experiments domain.
type Service struct {
	db     *bun.DB
	jobs   JobInserter
	linker Linker
	cfg    Config
	now    func() time.Time
}

// Linker links a new experiment to key results inside the transaction that
// creates it; the OKR layer above provides it (experiments knows nothing of
// key results). It returns a *ValidationError for ids that are not the team's.
type Linker func(ctx context.Context, tx bun.IDB, teamID, experimentID uuid.UUID, keyResultIDs []uuid.UUID) error

// SetLinker sets the key-result linker.
func (s *Service) SetLinker(l Linker) { s.linker = l }

// NewService builds the service; jobs may be set later with SetJobs (the River
// client needs the workers, which need the service).
func NewService(db *bun.DB, cfg Config, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 100
	}
	return &Service{db: db, cfg: cfg, now: now}
}

// SetJobs sets the River client used to enqueue send jobs.
func (s *Service) SetJobs(j JobInserter) { s.jobs = j }
