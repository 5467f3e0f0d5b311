package okr

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"slicelab/experiments"
	"slicelab/tracking"
)

// Service owns the transactions of the OKR domain. It reports errors with
// the experiments package's vocabulary (ValidationError, ConflictError,
// ErrNotFound), so the transport maps every domain the same way.
type Service struct {
	db     *bun.DB
	st     store
	exps   *experiments.Service
	clicks *tracking.Store
	now    func() time.Time
	survey *SurveySigner
}

// Config is what the service needs from the operator's configuration.
type Config struct {
	// Secret signs the allocation survey links (SLICELAB_SECRET); links
	// signed with a previous secret open until it ends.
	Secret   []byte
	Previous []tracking.Previous
}

// NewService builds the OKR service over the experiments below it and the
// click ledger's rollups.
func NewService(db *bun.DB, exps *experiments.Service, clicks *tracking.Store, cfg Config, now func() time.Time) (*Service, error) {
	if now == nil {
		now = time.Now
	}
	if len(cfg.Secret) == 0 {
		return nil, fmt.Errorf("okr: a secret is needed to sign survey links")
	}
	return &Service{db: db, st: store{db: db}, exps: exps, clicks: clicks, now: now, survey: NewSurveySigner(cfg.Secret, cfg.Previous...)}, nil
}

// KeyResultLinker links new experiments to key results; it implements
// experiments.KeyResultLinker, so that an experiment can name its key
// results when it is created, in the same transaction.
type KeyResultLinker struct{}

// LinkNewExperiment links a new experiment to key results of its team.
func (KeyResultLinker) LinkNewExperiment(ctx context.Context, tx bun.IDB, teamID, experimentID uuid.UUID, krIDs []uuid.UUID) error {
	st := store{db: tx}
	ok, err := st.linkableKeyResults(ctx, teamID, krIDs)
	if err != nil {
		return err
	}
	fe := map[string]string{}
	for i, id := range krIDs {
		if !ok[id] {
			fe[fmt.Sprintf("key_result_ids[%d]", i)] = fmt.Sprintf("%s is not a clicks, ctr or events key result of this team", id)
		}
	}
	if len(fe) > 0 {
		return &experiments.ValidationError{Fields: fe}
	}
	for _, kr := range krIDs {
		if err := st.link(ctx, kr, []uuid.UUID{experimentID}); err != nil {
			return err
		}
	}
	return nil
}

func invalid(field, format string, args ...any) error {
	return &experiments.ValidationError{Fields: map[string]string{field: fmt.Sprintf(format, args...)}}
}

// location is a team's time zone, in which its ISO weeks are counted.
func (s *Service) location(ctx context.Context, teamID uuid.UUID) (*time.Location, error) {
	t, err := s.exps.Team(ctx, teamID)
	if err != nil {
		return nil, err
	}
	return t.Location(), nil
}

// CurrentWeek is the ISO week it is now in the team's time zone.
func (s *Service) CurrentWeek(ctx context.Context, teamID uuid.UUID) (tracking.Week, error) {
	loc, err := s.location(ctx, teamID)
	if err != nil {
		return tracking.Week{}, err
	}
	return tracking.WeekOf(s.now(), loc), nil
}
