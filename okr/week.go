package okr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Week is an ISO 8601 week: the ISO week-numbering year and the week number
// within it (1–52 or 1–53). Weeks run Monday to Sunday; week 1 is the week
// that contains the year's first Thursday, so a week may start in December of
// the previous calendar year, and 1 January may belong to the previous ISO
// year's week 52 or 53.
//
// A Week is a calendar label only. Which instants it covers depends on the
// team's time zone (product.md §2): see Start, Range and WeekOf. Weeks are
// always computed here in Go, never with SQL strftime('%W') (not ISO) or
// date_trunc. The zero Week is not a valid week; use ParseWeek or WeekOf.
type Week struct {
	Year int // ISO week-numbering year, which can differ from the calendar year
	Num  int // week number, 1 to WeeksInYear(Year)
}

// weekForm is the expected textual form, quoted in parse errors.
const weekForm = `YYYY-Www, e.g. "2026-W48"`

// ParseWeek parses an ISO week such as "2026-W48" (a lower-case "w" is
// accepted too). The week number must have two digits and exist in that
// year: W00 and W54 are rejected, and so is W53 in a year that has only 52
// ISO weeks.
func ParseWeek(s string) (Week, error) {
	s = strings.TrimSpace(s)
	if len(s) != 8 || s[4] != '-' || (s[5] != 'W' && s[5] != 'w') ||
		!allDigits(s[:4]) || !allDigits(s[6:]) {
		return Week{}, fmt.Errorf("okr: invalid week %q: expected %s", s, weekForm)
	}
	year, _ := strconv.Atoi(s[:4])
	num, _ := strconv.Atoi(s[6:])
	if year < 1 {
		return Week{}, fmt.Errorf("okr: invalid week %q: year must be 0001 to 9999; expected %s", s, weekForm)
	}
	if n := WeeksInYear(year); num < 1 || num > n {
		return Week{}, fmt.Errorf("okr: invalid week %q: ISO year %04d has weeks W01 to W%02d; expected %s", s, year, n, weekForm)
	}
	return Week{Year: year, Num: num}, nil
}

// String formats the week as "2026-W48", with a four-digit year and a
// two-digit week number. ParseWeek reads it back.
func (w Week) String() string {
	return fmt.Sprintf("%04d-W%02d", w.Year, w.Num)
}

// WeekOf returns the ISO week that contains the instant t as seen on a wall
// clock in loc (the team's time zone; nil means UTC). Near midnight the
// answer depends on loc: Sunday 23:30 in Los Angeles is already Monday in
// UTC, so the two zones can place the same instant in different weeks.
func WeekOf(t time.Time, loc *time.Location) Week {
	y, m, d := t.In(orUTC(loc)).Date()
	year, num := civil(y, m, d).ISOWeek()
	return Week{Year: year, Num: num}
}

// Start returns the beginning of the week, Monday 00:00 on the wall clock in
// loc (nil means UTC), as a time in loc. w should be valid (from ParseWeek,
// WeekOf, Next or Prev). In the rare zones that skip midnight on a DST
// change, the time is normalised as time.Date does.
func (w Week) Start(loc *time.Location) time.Time {
	y, m, d := w.monday().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, orUTC(loc))
}

// Range returns the half-open interval [from, to) that the week covers in loc
// (nil means UTC): from is Monday 00:00 of this week and to is Monday 00:00 of
// the next, both on the wall clock in loc and returned in UTC, ready to be
// stored or compared with UTC timestamps. Both ends are computed from the
// calendar, not by adding 7×24 hours, so a week with a DST change lasts 167
// or 169 hours.
func (w Week) Range(loc *time.Location) (from, to time.Time) {
	return w.Start(loc).UTC(), w.Next().Start(loc).UTC()
}

// Next returns the following week, moving to W01 of the next ISO year after
// the last week of the year.
func (w Week) Next() Week {
	if w.Num >= WeeksInYear(w.Year) {
		return Week{Year: w.Year + 1, Num: 1}
	}
	return Week{Year: w.Year, Num: w.Num + 1}
}

// Prev returns the preceding week, moving to the last week (52 or 53) of the
// previous ISO year before W01.
func (w Week) Prev() Week {
	if w.Num <= 1 {
		return Week{Year: w.Year - 1, Num: WeeksInYear(w.Year - 1)}
	}
	return Week{Year: w.Year, Num: w.Num - 1}
}

// Before reports whether w comes before o in time.
func (w Week) Before(o Week) bool {
	if w.Year != o.Year {
		return w.Year < o.Year
	}
	return w.Num < o.Num
}

// WeeksInYear returns the number of ISO weeks in an ISO year: 53 when the
// year starts or (in a leap year) ends on a Thursday, else 52. 28 December
// always lies in the year's last week.
func WeeksInYear(isoYear int) int {
	_, n := civil(isoYear, time.December, 28).ISOWeek()
	return n
}

// monday returns the Monday of the week as a civil date (00:00 UTC).
func (w Week) monday() time.Time {
	jan4 := civil(w.Year, time.January, 4) // always in week 1
	week1 := jan4.AddDate(0, 0, -mondayOffset(jan4))
	return week1.AddDate(0, 0, 7*(w.Num-1))
}

// thursday returns the Thursday of the week as a civil date (00:00 UTC); it
// decides which year, month or quarter the week belongs to.
func (w Week) thursday() time.Time {
	return w.monday().AddDate(0, 0, 3)
}

// Period is the time span of an objective: a quarter such as "2026-Q4" or
// explicit start and end dates (product.md §2). Start and End are civil
// dates, both inclusive, held as times at 00:00 UTC; they carry no time zone,
// which only comes in when a week is turned into instants (Week.Range).
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
		return Period{}, fmt.Errorf("okr: invalid period %q: expected %s", s, periodForms)
	}
	year, _ := strconv.Atoi(s[:4])
	if year < 1 {
		return Period{}, fmt.Errorf("okr: invalid period %q: year must be 0001 to 9999; expected %s", s, periodForms)
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
		return Period{}, fmt.Errorf("okr: invalid period: end %s is before start %s", e.Format(time.DateOnly), s.Format(time.DateOnly))
	}
	if !e.Before(s.AddDate(maxPeriodYears, 0, 0)) {
		return Period{}, fmt.Errorf("okr: invalid period %s to %s: a period may last at most %d years", s.Format(time.DateOnly), e.Format(time.DateOnly), maxPeriodYears)
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
func (p Period) Weeks() []Week {
	start, end := p.civilBounds()
	first := start.AddDate(0, 0, (int(time.Thursday)-int(start.Weekday())+7)%7)
	var weeks []Week
	for th := first; !th.After(end); th = th.AddDate(0, 0, 7) {
		y, n := th.ISOWeek()
		weeks = append(weeks, Week{Year: y, Num: n})
	}
	return weeks
}

// Contains reports whether the week belongs to the period, that is whether
// its Thursday falls within [Start, End]; it agrees with Weeks.
func (p Period) Contains(w Week) bool {
	start, end := p.civilBounds()
	th := w.thursday()
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
			return time.Time{}, fmt.Errorf("okr: invalid period %s date %q%s; expected YYYY-MM-DD, e.g. \"2026-10-01\"", field, s, pe.Message)
		}
		return time.Time{}, fmt.Errorf("okr: invalid period %s date %q: expected YYYY-MM-DD, e.g. \"2026-10-01\"", field, s)
	}
	return t, nil
}

// civil returns the civil date y-m-d as a time at 00:00 UTC. Doing calendar
// arithmetic in UTC keeps every day exactly 24 hours long.
func civil(y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// mondayOffset returns how many days t's date lies after the Monday of its
// week (Monday 0 … Sunday 6).
func mondayOffset(t time.Time) int {
	return (int(t.Weekday()) + 6) % 7
}

func orUTC(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
