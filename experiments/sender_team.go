package experiments

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
)

// teamSenders keeps each team's From and Reply-To for the send workers for
// a minute: a team that changes its sender sees the change in its next
// messages without a query per message.
type teamSenders struct {
	mu sync.Mutex
	m  map[uuid.UUID]teamSender
}

type teamSender struct {
	from, replyTo string
	at            time.Time
}

// teamSenderFor is how long a team's sender is kept.
const teamSenderFor = time.Minute

// of is the team's From (fallback when the team has none) and Reply-To.
func (ts *teamSenders) of(ctx context.Context, svc *Service, teamID uuid.UUID, fallback string, now time.Time) (string, string, error) {
	ts.mu.Lock()
	s, ok := ts.m[teamID]
	ts.mu.Unlock()
	if ok && now.Sub(s.at) < teamSenderFor && now.Sub(s.at) >= 0 {
		return s.from, s.replyTo, nil
	}
	t, err := svc.Team(ctx, teamID)
	if err != nil {
		return "", "", fmt.Errorf("the team's sender: %w", err)
	}
	s = teamSender{from: t.From(fallback), replyTo: t.ReplyTo, at: now}
	ts.mu.Lock()
	if ts.m == nil || len(ts.m) > 10000 {
		ts.m = map[uuid.UUID]teamSender{}
	}
	ts.m[teamID] = s
	ts.mu.Unlock()
	return s.from, s.replyTo, nil
}
