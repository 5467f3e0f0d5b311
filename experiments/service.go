package experiments

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/uptrace/bun"

	"slicelab/tracking"
)

// JobInserter is the part of a River client that the service needs:
// inserting jobs in the same transaction as the rows they work on.
type JobInserter interface {
	InsertManyTx(ctx context.Context, tx *sql.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// KeyResultLinker links a new experiment to key results inside the
// transaction that creates it. The OKR layer above provides it (experiments
// knows nothing of key results); it returns a *ValidationError for ids that
// are not key results of the team.
type KeyResultLinker interface {
	LinkNewExperiment(ctx context.Context, tx bun.IDB, teamID, experimentID uuid.UUID, keyResultIDs []uuid.UUID) error
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
	// ImportLimits bound contact imports (zero fields: DefaultImportLimits).
	ImportLimits ImportLimits
}

// Deps are the service's collaborators, built by the composition root.
type Deps struct {
	Jobs       JobInserter     // River client (insert-only is enough)
	KeyResults KeyResultLinker // nil: experiments cannot be linked to key results at creation
	Clicks     *tracking.Store // the click ledger's rollups and the tracked links
	// Ledger is the raw click ledger, read by a contact's export and cleared
	// by its erasure; nil: neither touches it.
	Ledger *tracking.Ledger
	// Counted waits until the clicks recorded so far are counted (the
	// projector's Fresh); an erasure clears the ledger only then.
	Counted func(context.Context) error
	Now     func() time.Time
}

// Service owns the transactions of the experiments domain.
type Service struct {
	db      *bun.DB
	jobs    JobInserter
	linker  KeyResultLinker
	clicks  *tracking.Store
	ledger  *tracking.Ledger
	counted func(context.Context) error
	cfg     Config
	now     func() time.Time
}

// NewService builds the service.
func NewService(db *bun.DB, cfg Config, deps Deps) *Service {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 100
	}
	if deps.Clicks == nil {
		deps.Clicks = tracking.NewStore(db)
	}
	return &Service{db: db, jobs: deps.Jobs, linker: deps.KeyResults, clicks: deps.Clicks, ledger: deps.Ledger, counted: deps.Counted, cfg: cfg, now: deps.Now}
}
