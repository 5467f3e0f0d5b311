package experiments

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/google/uuid"
)

// unitInterval maps (experiment, contact) to a number in [0, 1) that is the
// same every time, so assignment can be re-run and gives the same answer.
// The salt separates independent draws (0: arm, 1: test-then-winner share).
func unitInterval(experimentID, contactID uuid.UUID, salt byte) float64 {
	var b [33]byte
	copy(b[:16], experimentID[:])
	copy(b[16:32], contactID[:])
	b[32] = salt
	sum := sha256.Sum256(b[:])
	return float64(binary.BigEndian.Uint64(sum[:8])>>11) / (1 << 53)
}

// Assign picks the arm of a contact: -1 for the holdout, else the index of the
// variant. The holdout share is taken first; the rest of the interval is
// split by the variants' cumulative weights. Zero-weight variants get nobody.
func Assign(experimentID, contactID uuid.UUID, holdout float64, weights []float64) int {
	u := unitInterval(experimentID, contactID, 0)
	if u < holdout {
		return -1
	}
	u = (u - holdout) / (1 - holdout)
	total := 0.0
	for _, w := range weights {
		total += w
	}
	acc := 0.0
	last := -1
	for i, w := range weights {
		if w <= 0 {
			continue
		}
		acc += w / total
		last = i
		if u < acc {
			return i
		}
	}
	return last // rounding at the top end
}

// InTestShare tells whether a contact is in the test share of a
// test-then-winner experiment (a draw independent of the arm's).
func InTestShare(experimentID, contactID uuid.UUID, share float64) bool {
	return unitInterval(experimentID, contactID, 1) < share
}
