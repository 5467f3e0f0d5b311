package tracking

import (
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

// WeekForm is the expected textual form of a week, quoted in errors.
const WeekForm = `YYYY-Www, e.g. "2026-W48"`

// ParseWeek parses an ISO week such as "2026-W48" (a lower-case "w" is
// accepted too). The week number must have two digits and exist in that
// year: W00 and W54 are rejected, and so is W53 in a year that has only 52
// ISO weeks.
func ParseWeek(s string) (Week, error) {
	s = strings.TrimSpace(s)
	if len(s) != 8 || s[4] != '-' || (s[5] != 'W' && s[5] != 'w') ||
		!allDigits(s[:4]) || !allDigits(s[6:]) {
		return Week{}, fmt.Errorf("invalid week %q: expected %s", s, WeekForm)
	}
	year, _ := strconv.Atoi(s[:4])
	num, _ := strconv.Atoi(s[6:])
	if year < 1 {
		return Week{}, fmt.Errorf("invalid week %q: year must be 0001 to 9999; expected %s", s, WeekForm)
	}
	if n := WeeksInYear(year); num < 1 || num > n {
		return Week{}, fmt.Errorf("invalid week %q: ISO year %04d has weeks W01 to W%02d; expected %s", s, year, n, WeekForm)
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

// Valid reports whether w is a week that exists (year 1 to 9999, week 1 to
// the year's last).
func (w Week) Valid() bool {
	return w.Year >= 1 && w.Year <= 9999 && w.Num >= 1 && w.Num <= WeeksInYear(w.Year)
}

// Dates describes the week's days, e.g. "Monday 23 to Sunday 29 November 2026".
func (w Week) Dates() string {
	mon := w.Start(time.UTC)
	sun := mon.AddDate(0, 0, 6)
	switch {
	case mon.Year() != sun.Year():
		return mon.Format("Monday 2 January 2006") + " to " + sun.Format("Sunday 2 January 2006")
	case mon.Month() != sun.Month():
		return mon.Format("Monday 2 January") + " to " + sun.Format("Sunday 2 January 2006")
	}
	return mon.Format("Monday 2") + " to " + sun.Format("Sunday 2 January 2006")
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

// Thursday returns the Thursday of the week as a civil date (00:00 UTC); it
// decides which year, month or quarter the week belongs to.
func (w Week) Thursday() time.Time {
	return w.monday().AddDate(0, 0, 3)
}

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
