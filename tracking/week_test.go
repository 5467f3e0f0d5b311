package tracking

import (
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
