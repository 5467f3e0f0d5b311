package okr

import (
	"testing"

	"github.com/google/uuid"

	"slicelab/tracking"
)

// FuzzSurveyTokenOpen: no string opens as a survey token unless it was
// signed with the key, and then it opens to what was signed; opening never
// panics, and an opened token names a real ISO week.
func FuzzSurveyTokenOpen(f *testing.F) {
	g := NewSurveySigner([]byte("fuzz-secret-0123456789abcdef0123456789"))
	good := g.Token(SurveyRef{UserID: uuid.New(), TeamID: uuid.New(), Week: tracking.Week{Year: 2026, Num: 48}})
	for _, tok := range []string{good, good[:len(good)-1], good + "A", "", "x", "../../etc/passwd", good[1:] + "A", "AQ" + good[2:]} {
		f.Add(tok)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		ref, err := g.Open(tok)
		if err != nil {
			return
		}
		if !ref.Week.Valid() {
			t.Fatalf("%q opened to an impossible week %+v", tok, ref.Week)
		}
		if g.Token(ref) != tok {
			t.Fatalf("%q opened to %+v, which signs differently", tok, ref)
		}
	})
}

// FuzzSurveyTokenRoundTrip: every member, team and valid week signs to a
// URL-safe token that opens to itself, and not under another secret.
func FuzzSurveyTokenRoundTrip(f *testing.F) {
	f.Add([]byte("0123456789abcdef"), []byte("fedcba9876543210"), uint16(2026), uint8(1))
	f.Add([]byte{}, []byte{}, uint16(2020), uint8(53))
	f.Fuzz(func(t *testing.T, u, tm []byte, year uint16, week uint8) {
		var ref SurveyRef
		copy(ref.UserID[:], u)
		copy(ref.TeamID[:], tm)
		ref.Week = tracking.Week{Year: int(year), Num: int(week)}
		if !ref.Week.Valid() {
			return
		}
		g := NewSurveySigner([]byte("fuzz-secret-0123456789abcdef0123456789"))
		tok := g.Token(ref)
		for _, r := range tok {
			if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				t.Fatalf("token %q is not URL-safe", tok)
			}
		}
		got, err := g.Open(tok)
		if err != nil || got != ref {
			t.Fatalf("%+v: opened to %+v, %v", ref, got, err)
		}
		other := NewSurveySigner([]byte("another-secret-0123456789abcdef0123456"))
		if _, err := other.Open(tok); err == nil {
			t.Fatalf("%+v: opened under another secret", ref)
		}
	})
}
