package okr

import (
	"fmt"
	"slicelab/tracking"
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

func mustWeek(t *testing.T, s string) tracking.Week {
	t.Helper()
	w, err := tracking.ParseWeek(s)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func date(y int, m time.Month, d int) time.Time { return civil(y, m, d) }

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
		var all []tracking.Week
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
		if len(all) != tracking.WeeksInYear(y) {
			t.Errorf("%d: quarters have %d weeks in all, ISO year has %d", y, len(all), tracking.WeeksInYear(y))
		}
		for i, w := range all {
			if w != (tracking.Week{Year: y, Num: i + 1}) {
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
