package okr

import (
	"fmt"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the DST tests must not depend on the host's zoneinfo
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustWeek(t *testing.T, s string) Week {
	t.Helper()
	w, err := ParseWeek(s)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func date(y int, m time.Month, d int) time.Time { return civil(y, m, d) }

func TestParseWeekAndStringRoundTrip(t *testing.T) {
	for _, s := range []string{"2026-W48", "2026-W01", "2020-W53", "2026-W53", "2025-W52", "0001-W01", "9999-W52"} {
		w := mustWeek(t, s)
		if got := w.String(); got != s {
			t.Errorf("ParseWeek(%q).String() = %q", s, got)
		}
	}
	if w := mustWeek(t, "2026-w48"); w != (Week{2026, 48}) {
		t.Errorf("lower-case w: got %v", w)
	}
	if got := (Week{2026, 5}).String(); got != "2026-W05" {
		t.Errorf("String pads: got %q", got)
	}
	// Every week of several years round-trips through String and ParseWeek.
	for w := (Week{2019, 1}); w.Year < 2032; w = w.Next() {
		back, err := ParseWeek(w.String())
		if err != nil || back != w {
			t.Fatalf("round trip %v: got %v, %v", w, back, err)
		}
	}
}

func TestParseWeekRejects(t *testing.T) {
	for _, s := range []string{
		"", "2026", "2026-48", "2026W48", "2026-W4", "2026-W048", "26-W48", "2026-X48",
		"2026-W4a", "+026-W48", "2026-W-1", "0000-W01",
		"2026-W00", "2026-W54", "2025-W53", "2021-W53", "2027-W53",
	} {
		_, err := ParseWeek(s)
		if err == nil {
			t.Errorf("ParseWeek(%q) accepted", s)
			continue
		}
		if !strings.Contains(err.Error(), "YYYY-Www") {
			t.Errorf("ParseWeek(%q) error %q does not name the expected form", s, err)
		}
	}
	_, err := ParseWeek("2025-W53")
	if err == nil || !strings.Contains(err.Error(), "W52") {
		t.Errorf("2025-W53: error %v should say the year ends at W52", err)
	}
}

func TestWeeksInYear(t *testing.T) {
	want53 := map[int]bool{2004: true, 2009: true, 2015: true, 2020: true, 2026: true, 2032: true, 2037: true}
	for y := 2000; y <= 2040; y++ {
		want := 52
		if want53[y] {
			want = 53
		}
		if got := WeeksInYear(y); got != want {
			t.Errorf("WeeksInYear(%d) = %d, want %d", y, got, want)
		}
	}
	mustWeek(t, "2020-W53")
	mustWeek(t, "2026-W53")
}

func TestWeekOfYearBoundaries(t *testing.T) {
	for _, c := range []struct {
		day  time.Time
		want string
	}{
		{date(2025, 12, 29), "2026-W01"}, // week 1 starting in December
		{date(2025, 12, 28), "2025-W52"},
		{date(2024, 12, 30), "2025-W01"},
		{date(2024, 12, 29), "2024-W52"},
		{date(2021, 1, 1), "2020-W53"}, // 1 January in the previous year's week 53
		{date(2021, 1, 3), "2020-W53"},
		{date(2021, 1, 4), "2021-W01"},
		{date(2020, 12, 31), "2020-W53"},
		{date(2027, 1, 3), "2026-W53"},
		{date(2026, 1, 1), "2026-W01"},
		{date(2026, 11, 23), "2026-W48"},
		{date(2026, 11, 29), "2026-W48"},
	} {
		if got := WeekOf(c.day, time.UTC).String(); got != c.want {
			t.Errorf("WeekOf(%s) = %s, want %s", c.day.Format(time.DateOnly), got, c.want)
		}
	}
	if got := mustWeek(t, "2026-W01").Start(time.UTC); !got.Equal(date(2025, 12, 29)) {
		t.Errorf("2026-W01 starts %v, want 2025-12-29", got)
	}
	if got := mustWeek(t, "2025-W01").Start(time.UTC); !got.Equal(date(2024, 12, 30)) {
		t.Errorf("2025-W01 starts %v, want 2024-12-30", got)
	}
	if got := mustWeek(t, "2020-W53").Start(time.UTC); !got.Equal(date(2020, 12, 28)) {
		t.Errorf("2020-W53 starts %v, want 2020-12-28", got)
	}
}

// TestWeekOfAgreesWithStdlib checks every day of several decades against
// time.Time.ISOWeek, and that Start and Range contain the day.
func TestWeekOfAgreesWithStdlib(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	for d := date(1995, 1, 1); d.Year() < 2045; d = d.AddDate(0, 0, 1) {
		y, n := d.ISOWeek()
		w := WeekOf(d, time.UTC)
		if w != (Week{y, n}) {
			t.Fatalf("WeekOf(%s) = %v, want %d-W%02d", d.Format(time.DateOnly), w, y, n)
		}
		start := w.Start(time.UTC)
		if start.Weekday() != time.Monday || d.Before(start) || !d.Before(start.AddDate(0, 0, 7)) {
			t.Fatalf("%v starts %v, which does not begin the week of %v", w, start, d)
		}
		noon := time.Date(d.Year(), d.Month(), d.Day(), 12, 0, 0, 0, berlin)
		from, to := WeekOf(noon, berlin).Range(berlin)
		if noon.Before(from) || !noon.Before(to) {
			t.Fatalf("%v not in its Berlin week range [%v, %v)", noon, from, to)
		}
	}
}

func TestWeekOfNearMidnightDependsOnZone(t *testing.T) {
	la := mustLoc(t, "America/Los_Angeles")
	// Sunday 2026-11-29 23:30 in Los Angeles is Monday 2026-11-30 07:30 UTC.
	sunday := time.Date(2026, 11, 29, 23, 30, 0, 0, la)
	if got := WeekOf(sunday, la).String(); got != "2026-W48" {
		t.Errorf("in Los Angeles: %s, want 2026-W48", got)
	}
	if got := WeekOf(sunday, time.UTC).String(); got != "2026-W49" {
		t.Errorf("in UTC: %s, want 2026-W49", got)
	}
	if got := WeekOf(sunday, nil).String(); got != "2026-W49" {
		t.Errorf("nil location (UTC): %s, want 2026-W49", got)
	}
	// The same instant is the last half hour of the LA week's range.
	from, to := mustWeek(t, "2026-W48").Range(la)
	if sunday.Before(from) || !sunday.Before(to) || to.Sub(sunday) != 30*time.Minute {
		t.Errorf("2026-W48 in LA is [%v, %v), should end 30 minutes after %v", from, to, sunday.UTC())
	}
	// Monday 00:30 in Tokyo is still Sunday in UTC.
	tokyo := mustLoc(t, "Asia/Tokyo")
	monday := time.Date(2026, 11, 30, 0, 30, 0, 0, tokyo)
	if a, b := WeekOf(monday, tokyo).String(), WeekOf(monday, time.UTC).String(); a != "2026-W49" || b != "2026-W48" {
		t.Errorf("Tokyo Monday 00:30: %s in Tokyo, %s in UTC; want 2026-W49 and 2026-W48", a, b)
	}
}

func TestRangeAcrossDST(t *testing.T) {
	for _, c := range []struct {
		zone  string
		day   time.Time
		hours float64
	}{
		{"Europe/Berlin", date(2026, 3, 29), 167},    // clocks go forward on Sunday 29 March
		{"Europe/Berlin", date(2026, 10, 25), 169},   // and back on Sunday 25 October
		{"Europe/Berlin", date(2026, 11, 25), 168},   // an ordinary week
		{"America/New_York", date(2026, 3, 8), 167},  // second Sunday of March
		{"America/New_York", date(2026, 11, 1), 169}, // first Sunday of November
		{"America/New_York", date(2026, 7, 15), 168},
		{"UTC", date(2026, 3, 29), 168},
	} {
		loc := mustLoc(t, c.zone)
		w := WeekOf(c.day, loc)
		from, to := w.Range(loc)
		if got := to.Sub(from).Hours(); got != c.hours {
			t.Errorf("%s %v: %v hours, want %v", c.zone, w, got, c.hours)
		}
		if from.Location() != time.UTC || to.Location() != time.UTC {
			t.Errorf("%s %v: range not in UTC: %v, %v", c.zone, w, from, to)
		}
		for _, end := range []time.Time{from, to} {
			l := end.In(loc)
			if l.Weekday() != time.Monday || l.Hour() != 0 || l.Minute() != 0 {
				t.Errorf("%s %v: boundary %v is not Monday 00:00 local", c.zone, w, l)
			}
		}
		if next, _ := w.Next().Range(loc); !next.Equal(to) {
			t.Errorf("%s %v: next week starts %v, this one ends %v", c.zone, w, next, to)
		}
	}
	berlin := mustLoc(t, "Europe/Berlin")
	from, to := mustWeek(t, "2026-W13").Range(berlin)
	if want := time.Date(2026, 3, 22, 23, 0, 0, 0, time.UTC); !from.Equal(want) {
		t.Errorf("2026-W13 Berlin from %v, want %v", from, want)
	}
	if want := time.Date(2026, 3, 29, 22, 0, 0, 0, time.UTC); !to.Equal(want) {
		t.Errorf("2026-W13 Berlin to %v, want %v", to, want)
	}
	if s := mustWeek(t, "2026-W13").Start(berlin); s.Location() != berlin || s.Hour() != 0 || s.Day() != 23 {
		t.Errorf("Start in Berlin = %v, want Monday 2026-03-23 00:00 CET", s)
	}
}

func TestNextPrevBefore(t *testing.T) {
	for _, c := range []struct{ w, next string }{
		{"2026-W48", "2026-W49"},
		{"2025-W52", "2026-W01"},
		{"2026-W52", "2026-W53"},
		{"2026-W53", "2027-W01"},
		{"2020-W53", "2021-W01"},
	} {
		w, n := mustWeek(t, c.w), mustWeek(t, c.next)
		if got := w.Next(); got != n {
			t.Errorf("%v.Next() = %v, want %v", w, got, n)
		}
		if got := n.Prev(); got != w {
			t.Errorf("%v.Prev() = %v, want %v", n, got, w)
		}
		if !w.Before(n) || n.Before(w) || w.Before(w) {
			t.Errorf("Before wrong for %v, %v", w, n)
		}
	}
	// Next always moves the start by exactly 7 days.
	for w := (Week{2015, 1}); w.Year < 2035; w = w.Next() {
		if d := w.Next().Start(time.UTC).Sub(w.Start(time.UTC)); d != 7*24*time.Hour {
			t.Fatalf("%v to %v: %v", w, w.Next(), d)
		}
	}
	if !(Week{2025, 52}).Before(Week{2026, 1}) || (Week{2027, 1}).Before(Week{2026, 53}) {
		t.Error("Before across years")
	}
}

func TestParsePeriod(t *testing.T) {
	for _, c := range []struct {
		in, label  string
		start, end time.Time
	}{
		{"2026-Q1", "2026-Q1", date(2026, 1, 1), date(2026, 3, 31)},
		{"2026-Q2", "2026-Q2", date(2026, 4, 1), date(2026, 6, 30)},
		{"2026-Q3", "2026-Q3", date(2026, 7, 1), date(2026, 9, 30)},
		{"2026-Q4", "2026-Q4", date(2026, 10, 1), date(2026, 12, 31)},
		{"2026-q4", "2026-Q4", date(2026, 10, 1), date(2026, 12, 31)},
	} {
		p, err := ParsePeriod(c.in)
		if err != nil {
			t.Fatal(err)
		}
		if p.Label != c.label || !p.Start.Equal(c.start) || !p.End.Equal(c.end) || p.Start.Location() != time.UTC {
			t.Errorf("ParsePeriod(%q) = %+v", c.in, p)
		}
	}
	for _, s := range []string{"", "2026", "2026-Q0", "2026-Q5", "2026-Q", "2026-Q10", "26-Q4", "2026Q4", "2026-H1", "0000-Q1", "2026-10-01"} {
		_, err := ParsePeriod(s)
		if err == nil {
			t.Errorf("ParsePeriod(%q) accepted", s)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "YYYY-Qn") || !strings.Contains(msg, "YYYY-MM-DD") {
			t.Errorf("ParsePeriod(%q) error %q does not name the expected forms", s, msg)
		}
	}
}

func TestPeriodFromDates(t *testing.T) {
	p, err := PeriodFromDates("2026-10-01", "2026-12-31")
	if err != nil {
		t.Fatal(err)
	}
	q4, _ := ParsePeriod("2026-Q4")
	if !p.Start.Equal(q4.Start) || !p.End.Equal(q4.End) || p.Label != "2026-10-01/2026-12-31" {
		t.Errorf("got %+v", p)
	}
	if got, want := len(p.Weeks()), len(q4.Weeks()); got != want {
		t.Errorf("weeks %d, quarter has %d", got, want)
	}
	for _, ok := range [][2]string{
		{"2026-10-01", "2026-10-01"}, // one day
		{"2026-10-01", "2028-09-30"}, // exactly two years
		{"2024-02-29", "2026-02-28"},
	} {
		if _, err := PeriodFromDates(ok[0], ok[1]); err != nil {
			t.Errorf("PeriodFromDates(%s, %s): %v", ok[0], ok[1], err)
		}
	}
	for _, bad := range [][2]string{
		{"2026-12-31", "2026-10-01"}, // end before start
		{"2026-10-01", "2028-10-01"}, // two years and a day
		{"2026-10-01", "2030-01-01"},
		{"2026-02-30", "2026-12-31"}, // no such day
		{"2026-10-01", "31.12.2026"},
		{"2026-1-1", "2026-12-31"},
		{"", "2026-12-31"},
	} {
		if p, err := PeriodFromDates(bad[0], bad[1]); err == nil {
			t.Errorf("PeriodFromDates(%s, %s) accepted: %+v", bad[0], bad[1], p)
		}
	}
}

func TestQuarterWeeksPartitionYear(t *testing.T) {
	for y := 2015; y <= 2035; y++ {
		var all []Week
		for q := 1; q <= 4; q++ {
			p, err := ParsePeriod(fmt.Sprintf("%04d-Q%d", y, q))
			if err != nil {
				t.Fatal(err)
			}
			weeks := p.Weeks()
			// 13 or 14 weeks, except that Q1 (90 days) of a common year
			// starting on a Friday holds only 12 Thursdays.
			least := 13
			if q == 1 && date(y, 1, 1).Weekday() == time.Friday && date(y, 12, 31).YearDay() == 365 {
				least = 12
			}
			if n := len(weeks); n < least || n > 14 {
				t.Errorf("%s has %d weeks, want %d to 14", p.Label, n, least)
			}
			for _, w := range weeks {
				if !p.Contains(w) {
					t.Errorf("%s: Weeks lists %v but Contains says no", p.Label, w)
				}
			}
			if len(weeks) > 0 {
				if p.Contains(weeks[0].Prev()) || p.Contains(weeks[len(weeks)-1].Next()) {
					t.Errorf("%s contains a week outside its Weeks %v…%v", p.Label, weeks[0], weeks[len(weeks)-1])
				}
			}
			all = append(all, weeks...)
		}
		// The four quarters list W01 … W52/53 of ISO year y exactly once each, in order.
		if len(all) != WeeksInYear(y) {
			t.Errorf("%d: quarters have %d weeks in all, ISO year has %d", y, len(all), WeeksInYear(y))
		}
		for i, w := range all {
			if w != (Week{y, i + 1}) {
				t.Errorf("%d: week %d of the quarters is %v", y, i, w)
				break
			}
		}
	}
	// The named cases: 2026 (53 weeks, Q4 has 14) and 2020 (53 weeks, Q4 has 14).
	for _, c := range []struct {
		q           string
		n           int
		first, last string
	}{
		{"2026-Q1", 13, "2026-W01", "2026-W13"},
		{"2026-Q2", 13, "2026-W14", "2026-W26"},
		{"2026-Q3", 13, "2026-W27", "2026-W39"},
		{"2026-Q4", 14, "2026-W40", "2026-W53"},
		{"2020-Q1", 13, "2020-W01", "2020-W13"},
		{"2020-Q4", 14, "2020-W40", "2020-W53"},
		{"2025-Q4", 13, "2025-W40", "2025-W52"},
		// 2021 starts on a Friday: 1–3 January are in 2020-W53 (2020-Q4)
		// and 29–31 March in 2021-W13, whose Thursday is 1 April (Q2).
		{"2021-Q1", 12, "2021-W01", "2021-W12"},
		{"2021-Q2", 13, "2021-W13", "2021-W25"},
		{"2021-Q3", 14, "2021-W26", "2021-W39"},
		{"2021-Q4", 13, "2021-W40", "2021-W52"},
	} {
		p, _ := ParsePeriod(c.q)
		w := p.Weeks()
		if len(w) != c.n || w[0].String() != c.first || w[len(w)-1].String() != c.last {
			t.Errorf("%s: %d weeks %v…%v, want %d %s…%s", c.q, len(w), w[0], w[len(w)-1], c.n, c.first, c.last)
		}
	}
	// 2025-12-29 (Monday of 2026-W01) lies in 2025-Q4 by date, but the week
	// belongs to 2026-Q1 by its Thursday.
	q4, _ := ParsePeriod("2025-Q4")
	q1, _ := ParsePeriod("2026-Q1")
	if w := mustWeek(t, "2026-W01"); q4.Contains(w) || !q1.Contains(w) {
		t.Errorf("2026-W01 should be in 2026-Q1 only")
	}
}

func TestPeriodWeeksShortAndCustom(t *testing.T) {
	// Friday to Sunday holds no Thursday.
	p, _ := PeriodFromDates("2026-11-27", "2026-11-29")
	if w := p.Weeks(); len(w) != 0 {
		t.Errorf("Fri–Sun: %v", w)
	}
	// A single Thursday is enough.
	p, _ = PeriodFromDates("2026-11-26", "2026-11-26")
	if w := p.Weeks(); len(w) != 1 || w[0].String() != "2026-W48" {
		t.Errorf("one Thursday: %v", w)
	}
	// Two years from 2026-01-01: 53 + 52 weeks.
	p, _ = PeriodFromDates("2026-01-01", "2027-12-31")
	if w := p.Weeks(); len(w) != 105 || w[0].String() != "2026-W01" || w[104].String() != "2027-W52" {
		t.Errorf("2026–2027: %d weeks", len(w))
	}
	// Start and End with a clock time or zone still compare by day.
	berlin := mustLoc(t, "Europe/Berlin")
	p = Period{Start: time.Date(2026, 10, 1, 18, 0, 0, 0, berlin), End: time.Date(2026, 10, 1, 9, 0, 0, 0, berlin)}
	if !p.Contains(mustWeek(t, "2026-W40")) || len(p.Weeks()) != 1 {
		t.Errorf("hand-built period with clock times: %v", p.Weeks())
	}
}
