package okr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"slicelab/tracking"
)

// Period is the time span of an objective: a quarter such as "2026-Q4" or
// explicit start and end dates (product.md §2). Start and End are civil
// dates, both inclusive, held as times at 00:00 UTC; they carry no time zone,
// which only comes in when a week is turned into instants (tracking.Week.Range).
type Period struct {
	Label string    // "2026-Q4" for a quarter, "2026-10-01/2026-12-31" for explicit dates
	Start time.Time // first day, 00:00 UTC
	End   time.Time // last day (inclusive), 00:00 UTC
}

// periodForms names the accepted forms, quoted in parse errors.
const periodForms = `a quarter YYYY-Qn with n from 1 to 4 (e.g. "2026-Q4"), or explicit start and end dates YYYY-MM-DD (e.g. "2026-10-01" to "2026-12-31")`

// maxPeriodYears bounds the length of a period given by explicit dates.
const maxPeriodYears = 2

// ParsePeriod parses a quarter such as "2026-Q4" (a lower-case "q" is
// accepted too) into the period from the quarter's first to its last day.
// Periods given by explicit dates go through PeriodFromDates.
func ParsePeriod(s string) (Period, error) {
	s = strings.TrimSpace(s)
	if len(s) != 7 || s[4] != '-' || (s[5] != 'Q' && s[5] != 'q') ||
		!allDigits(s[:4]) || s[6] < '1' || s[6] > '4' {
		return Period{}, fmt.Errorf("invalid period %q: expected %s", s, periodForms)
	}
	year, _ := strconv.Atoi(s[:4])
	if year < 1 {
		return Period{}, fmt.Errorf("invalid period %q: year must be 0001 to 9999; expected %s", s, periodForms)
	}
	q := int(s[6] - '0')
	start := civil(year, time.Month(3*q-2), 1)
	return Period{
		Label: fmt.Sprintf("%04d-Q%d", year, q),
		Start: start,
		End:   start.AddDate(0, 3, -1),
	}, nil
}

// PeriodFromDates builds a period from explicit inclusive dates in the form
// YYYY-MM-DD, such as "2026-10-01" and "2026-12-31". end must not be before
// start, and the period may last at most two years (end is before the day
// two years after start). The label is "start/end" (ISO 8601 interval).
func PeriodFromDates(start, end string) (Period, error) {
	s, err := parseDate("start", start)
	if err != nil {
		return Period{}, err
	}
	e, err := parseDate("end", end)
	if err != nil {
		return Period{}, err
	}
	if e.Before(s) {
		return Period{}, fmt.Errorf("invalid period: end %s is before start %s", e.Format(time.DateOnly), s.Format(time.DateOnly))
	}
	if !e.Before(s.AddDate(maxPeriodYears, 0, 0)) {
		return Period{}, fmt.Errorf("invalid period %s to %s: a period may last at most %d years", s.Format(time.DateOnly), e.Format(time.DateOnly), maxPeriodYears)
	}
	return Period{
		Label: s.Format(time.DateOnly) + "/" + e.Format(time.DateOnly),
		Start: s,
		End:   e,
	}, nil
}

// Weeks returns, in order, the ISO weeks whose Thursday falls within
// [Start, End]. Counting a week by its Thursday puts every week in exactly
// one quarter, so consecutive quarters neither overlap nor leave gaps and
// the four quarters of a calendar year hold exactly the 52 or 53 weeks of
// the ISO year. A quarter usually has 13 weeks and Q3 or Q4 sometimes 14;
// Q1 of a common year that starts on a Friday (2021, 2027) has only 12,
// because its 90 days hold only 12 Thursdays. A period shorter than a week
// may contain no Thursday and then has no weeks (nil).
func (p Period) Weeks() []tracking.Week {
	start, end := p.civilBounds()
	first := start.AddDate(0, 0, (int(time.Thursday)-int(start.Weekday())+7)%7)
	var weeks []tracking.Week
	for th := first; !th.After(end); th = th.AddDate(0, 0, 7) {
		y, n := th.ISOWeek()
		weeks = append(weeks, tracking.Week{Year: y, Num: n})
	}
	return weeks
}

// Contains reports whether the week belongs to the period, that is whether
// its Thursday falls within [Start, End]; it agrees with Weeks.
func (p Period) Contains(w tracking.Week) bool {
	start, end := p.civilBounds()
	th := w.Thursday()
	return !th.Before(start) && !th.After(end)
}

// civilBounds returns Start and End reduced to their civil dates at 00:00
// UTC, so a Period built by hand with other clock times or zones still
// compares by day.
func (p Period) civilBounds() (start, end time.Time) {
	return civil(p.Start.Date()), civil(p.End.Date())
}

// parseDate parses a YYYY-MM-DD civil date as 00:00 UTC.
func parseDate(field, s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
	if err != nil {
		var pe *time.ParseError
		if errors.As(err, &pe) && pe.Message != "" {
			return time.Time{}, fmt.Errorf("invalid period %s date %q%s; expected YYYY-MM-DD, e.g. \"2026-10-01\"", field, s, pe.Message)
		}
		return time.Time{}, fmt.Errorf("invalid period %s date %q: expected YYYY-MM-DD, e.g. \"2026-10-01\"", field, s)
	}
	return t, nil
}

// civil returns the civil date y-m-d as a time at 00:00 UTC. Doing calendar

// civil returns the civil date y-m-d as a time at 00:00 UTC.
func civil(y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
