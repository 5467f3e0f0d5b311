package okr

import (
	"errors"
	"math"
)

// ErrTargetEqualsStart rejects a metric key result whose target equals its
// start: its progress is undefined. A "keep it at X" goal is a threshold key
// result instead (product.md §8, research-okr.md §2.2).
var ErrTargetEqualsStart = errors.New("okr: a metric key result's target must differ from its start; use a threshold key result to keep a value at a level")

// eps absorbs floating-point error in the comparisons of StatusFor and the
// rounding of Colour, so that a gap written as exactly 0.10 (say 0.4 − 0.3,
// which is 0.10000000000000003 in float64) counts as 0.10.
const eps = 1e-9

// MetricProgress returns the raw progress (current − start) / (target − start)
// of a metric key result. One formula covers increasing and decreasing
// metrics: 100→200 at 150 and 100→60 at 80 both give 0.5. The raw value is
// not clamped, so over-achievement (above 1) and movement the wrong way
// (below 0) stay visible; Clamp01 turns it into the score. It returns
// ErrTargetEqualsStart when target == start.
func MetricProgress(start, target, current float64) (raw float64, err error) {
	if target == start {
		return 0, ErrTargetEqualsStart
	}
	return (current - start) / (target - start), nil
}

// Clamp01 limits x to [0, 1], turning raw progress into a score. NaN gives 0,
// so a broken value cannot poison an objective's mean.
func Clamp01(x float64) float64 {
	switch {
	case math.IsNaN(x) || x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	return x
}

// ThresholdScore scores a threshold key result: the share of weekly values in
// range, where in range means value >= threshold when atOrAbove is true and
// value <= threshold otherwise (inclusive on purpose, so a value equal to the
// threshold counts). ok is false when there are no values yet; the score is
// then 0.
func ThresholdScore(values []float64, threshold float64, atOrAbove bool) (score float64, ok bool) {
	if len(values) == 0 {
		return 0, false
	}
	in := 0
	for _, v := range values {
		if (atOrAbove && v >= threshold) || (!atOrAbove && v <= threshold) {
			in++
		}
	}
	return float64(in) / float64(len(values)), true
}

// ExpectedProgress returns the progress expected after completedWeeks of the
// period's totalWeeks ISO weeks, rising linearly: k/N, clamped to [0, 1].
// A period without weeks (totalWeeks <= 0) expects nothing: 0.
func ExpectedProgress(completedWeeks, totalWeeks int) float64 {
	if totalWeeks <= 0 {
		return 0
	}
	return Clamp01(float64(completedWeeks) / float64(totalWeeks))
}

// Status is a key result's weekly status (product.md §8). Its values are the
// Status constants; the strings appear in the API and CSV.
type Status string

// The statuses a key result can have, in the order StatusFor checks them:
// done first, then stale, then the gap between expected progress and score.
const (
	StatusDone     Status = "done"      // score reached 1
	StatusStale    Status = "stale"     // no value for the last week
	StatusOnTrack  Status = "on_track"  // at most 10 points behind expected progress
	StatusAtRisk   Status = "at_risk"   // more than 10 and at most 25 points behind
	StatusOffTrack Status = "off_track" // more than 25 points behind
	StatusBaseline Status = "baseline"  // a baseline key result being measured: no target yet, no score
)

// Gap limits of StatusFor, in score units (0.10 = 10 points).
const (
	OnTrackMaxGap = 0.10 // on track when expected − score is at most this
	AtRiskMaxGap  = 0.25 // at risk when expected − score is at most this, off track beyond
)

// StatusFor returns the status of a key result with score (clamped progress,
// 0–1) against the expected progress, both in [0, 1]:
//
//   - done if score >= 1 (even without a value last week);
//   - stale if !hasValueLastWeek (no value or check-in for the last completed week);
//   - otherwise by gap = expected − score: on_track if gap <= 0.10,
//     at_risk if gap <= 0.25, else off_track.
//
// The limits are inclusive and compared with a tiny tolerance, so a gap
// that is exactly 0.10 or 0.25 on paper but a hair above it in floating
// point (0.4 − 0.3) still gets the milder status. Being ahead (a negative
// gap) is on track.
func StatusFor(score, expected float64, hasValueLastWeek bool) Status {
	switch gap := expected - score; {
	case score >= 1-eps:
		return StatusDone
	case !hasValueLastWeek:
		return StatusStale
	case gap <= OnTrackMaxGap+eps:
		return StatusOnTrack
	case gap <= AtRiskMaxGap+eps:
		return StatusAtRisk
	default:
		return StatusOffTrack
	}
}

// ObjectiveScore returns an objective's score: the mean of its key results'
// scores, each weighted equally. ok is false when there are no scores; the
// score is then 0.
func ObjectiveScore(scores []float64) (float64, bool) {
	if len(scores) == 0 {
		return 0, false
	}
	sum := 0.0
	for _, s := range scores {
		sum += s
	}
	return sum / float64(len(scores)), true
}

// The colours of Colour, Google's grading bands.
const (
	ColourRed    = "red"    // grade 0.0–0.3: no real progress
	ColourYellow = "yellow" // grade 0.4–0.6: progress, fell short
	ColourGreen  = "green"  // grade 0.7–1.0: delivered
)

// Colour returns Google's colour for a score. The score is first clamped to
// [0, 1] and graded by rounding to one decimal, halves up (0.35 → 0.4,
// 0.65 → 0.7, as the decimal reads, despite float64 holding 0.35 as
// 0.34999…); then a grade <= 0.3 is "red", 0.4–0.6 "yellow" and >= 0.7
// "green".
func Colour(score float64) string {
	tenths := math.Floor(Clamp01(score)*10 + 0.5 + eps)
	switch {
	case tenths <= 3:
		return ColourRed
	case tenths <= 6:
		return ColourYellow
	default:
		return ColourGreen
	}
}
