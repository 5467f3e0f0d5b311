package tracking

import (
	"testing"

	"github.com/google/uuid"
)

// FuzzTokenOpen: no string opens as a token unless it was sealed with the
// key (and then it opens to what was sealed); opening never panics.
func FuzzTokenOpen(f *testing.F) {
	s := NewSealer([]byte("fuzz-secret-0123456789abcdef0123456789"))
	good := s.Seal(Ref{Kind: KindClick, VariantID: uuid.New(), DeliveryID: uuid.New(), Link: 3})
	for _, tok := range []string{good, good[:len(good)-1], good + "A", "", "x", "AAAA", "../../etc/passwd", good[1:] + "A"} {
		f.Add(tok, byte('c'))
	}
	f.Fuzz(func(t *testing.T, tok string, kind byte) {
		ref, err := s.Open(tok, Kind(kind))
		if err != nil {
			return
		}
		if s.Seal(ref) != tok {
			t.Fatalf("%q opened to %+v, which seals differently", tok, ref)
		}
	})
}

// FuzzTokenRoundTrip: every reference seals to a URL-safe token that opens
// to itself, and only with its own kind.
func FuzzTokenRoundTrip(f *testing.F) {
	f.Add([]byte("0123456789abcdef"), []byte("fedcba9876543210"), uint16(0), true)
	f.Fuzz(func(t *testing.T, v, d []byte, link uint16, click bool) {
		var ref Ref
		copy(ref.VariantID[:], v)
		copy(ref.DeliveryID[:], d)
		ref.Kind, ref.Link = KindUnsubscribe, 0
		if click {
			ref.Kind, ref.Link = KindClick, int(link)
		}
		s := NewSealer([]byte("fuzz-secret-0123456789abcdef0123456789"))
		tok := s.Seal(ref)
		got, err := s.Open(tok, ref.Kind)
		if err != nil || got != ref {
			t.Fatalf("round trip of %+v: %+v, %v", ref, got, err)
		}
		other := KindUnsubscribe
		if ref.Kind == KindUnsubscribe {
			other = KindClick
		}
		if _, err := s.Open(tok, other); err == nil {
			t.Fatalf("a %c token opened as %c", ref.Kind, other)
		}
	})
}
