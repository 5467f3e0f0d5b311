package tracking

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"testing"

	"github.com/google/uuid"
)

var (
	testSecret  = []byte("test secret, long enough for the tests")
	testVariant = uuid.MustParse("01937a2e-5b1c-7d3e-8f40-0000000000a1")
	testDeliv   = uuid.MustParse("01937a2e-5b1c-7d3e-8f40-0000000000d1")
)

const base64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

var urlSafeToken = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func TestSealerRoundTrip(t *testing.T) {
	s := NewSealer(testSecret)
	tests := []struct {
		name string
		ref  Ref
	}{
		{"click, first link", Ref{Kind: KindClick, VariantID: testVariant, DeliveryID: testDeliv, Link: 0}},
		{"click, link 7", Ref{Kind: KindClick, VariantID: testVariant, DeliveryID: testDeliv, Link: 7}},
		{"click, highest link", Ref{Kind: KindClick, VariantID: testVariant, DeliveryID: testDeliv, Link: 65535}},
		{"click, nil ids", Ref{Kind: KindClick}},
		{"click, max ids", Ref{Kind: KindClick, VariantID: uuid.Max, DeliveryID: uuid.Max, Link: 3}},
		{"unsubscribe", Ref{Kind: KindUnsubscribe, VariantID: testVariant, DeliveryID: testDeliv}},
		{"unsubscribe, random ids", Ref{Kind: KindUnsubscribe, VariantID: uuid.New(), DeliveryID: uuid.New()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := s.Seal(tt.ref)
			if !urlSafeToken.MatchString(tok) || url.PathEscape(tok) != tok || url.QueryEscape(tok) != tok {
				t.Errorf("token %q is not URL-safe", tok)
			}
			if again := s.Seal(tt.ref); again != tok {
				t.Errorf("Seal is not deterministic: %q then %q", tok, again)
			}
			got, err := s.Open(tok, tt.ref.Kind)
			if err != nil {
				t.Fatalf("Open(%q): %v", tok, err)
			}
			if got != tt.ref {
				t.Errorf("Open = %+v, want %+v", got, tt.ref)
			}
			// A sealer built from the same secret opens it too.
			if got, err := NewSealer(append([]byte(nil), testSecret...)).Open(tok, tt.ref.Kind); err != nil || got != tt.ref {
				t.Errorf("a second sealer with the same secret: %+v, %v", got, err)
			}
		})
	}
}

func TestSealerTokensDiffer(t *testing.T) {
	s := NewSealer(testSecret)
	refs := []Ref{
		{Kind: KindClick, VariantID: testVariant, DeliveryID: testDeliv, Link: 0},
		{Kind: KindClick, VariantID: testVariant, DeliveryID: testDeliv, Link: 1},
		{Kind: KindUnsubscribe, VariantID: testVariant, DeliveryID: testDeliv, Link: 0},
		{Kind: KindClick, VariantID: testDeliv, DeliveryID: testVariant, Link: 0},
		{Kind: KindClick, VariantID: testVariant, DeliveryID: uuid.New(), Link: 0},
	}
	seen := map[string]int{}
	for i, r := range refs {
		tok := s.Seal(r)
		if j, dup := seen[tok]; dup {
			t.Errorf("refs %d and %d share the token %q", j, i, tok)
		}
		seen[tok] = i
	}
}

func TestSealerWrongKind(t *testing.T) {
	s := NewSealer(testSecret)
	tests := []struct {
		name       string
		sealed     Kind
		openedWith Kind
	}{
		{"click opened as unsubscribe", KindClick, KindUnsubscribe},
		{"unsubscribe opened as click", KindUnsubscribe, KindClick},
		{"click opened as an unknown kind", KindClick, Kind('x')},
		{"unknown kind opened as click", Kind('x'), KindClick},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := s.Seal(Ref{Kind: tt.sealed, VariantID: testVariant, DeliveryID: testDeliv, Link: 2})
			if ref, err := s.Open(tok, tt.openedWith); !errors.Is(err, ErrNotFound) {
				t.Errorf("Open = %+v, %v; want ErrNotFound", ref, err)
			}
		})
	}
}

func TestSealerRejectsAlteredTokens(t *testing.T) {
	s := NewSealer(testSecret)
	for _, kind := range []Kind{KindClick, KindUnsubscribe} {
		tok := s.Seal(Ref{Kind: kind, VariantID: testVariant, DeliveryID: testDeliv, Link: 1})
		open := func(t *testing.T, what, altered string) {
			t.Helper()
			if ref, err := s.Open(altered, kind); !errors.Is(err, ErrNotFound) {
				t.Fatalf("%s: Open(%q) = %+v, %v; want ErrNotFound", what, altered, ref, err)
			}
		}
		t.Run(string(kind)+"/every single character changed", func(t *testing.T) {
			// Every other base64url character and a few that are not in the alphabet.
			replacements := base64URLAlphabet + "+/=.~% \x00é"
			for i := range len(tok) {
				for _, r := range replacements {
					if string(r) == tok[i:i+1] {
						continue
					}
					altered := tok[:i] + string(r) + tok[i+1:]
					open(t, fmt.Sprintf("character %d", i), altered)
				}
			}
		})
		t.Run(string(kind)+"/truncated", func(t *testing.T) {
			for n := range len(tok) {
				open(t, "truncated", tok[:n])
				open(t, "front cut", tok[len(tok)-n:])
			}
		})
		t.Run(string(kind)+"/appended to", func(t *testing.T) {
			for _, suffix := range []string{"A", "=", "==", "AA", "AAAA", "/", "?x=1", tok} {
				open(t, "appended", tok+suffix)
			}
		})
		t.Run(string(kind)+"/padded or re-encoded", func(t *testing.T) {
			open(t, "padded", tok+"=")
			open(t, "standard base64 alphabet", "+"+tok[1:])
		})
		t.Run(string(kind)+"/another secret", func(t *testing.T) {
			// (Not the secret with a zero byte appended: HMAC pads short keys
			// with zeros, so that is the same key by design.)
			for _, secret := range [][]byte{nil, []byte("another secret"), []byte("test secret, long enough for the testS")} {
				other := NewSealer(secret)
				if ref, err := other.Open(tok, kind); !errors.Is(err, ErrNotFound) {
					t.Errorf("secret %q opened the token: %+v, %v", secret, ref, err)
				}
				// And the other way round.
				foreign := other.Seal(Ref{Kind: kind, VariantID: testVariant, DeliveryID: testDeliv, Link: 1})
				if foreign == tok {
					t.Errorf("secret %q seals the same token", secret)
				}
				open(t, "sealed with another secret", foreign)
			}
		})
	}
	t.Run("garbage", func(t *testing.T) {
		for _, g := range []string{"", "x", "not-a-token", "%%%%", "/c/abc"} {
			if ref, err := s.Open(g, KindClick); !errors.Is(err, ErrNotFound) {
				t.Errorf("Open(%q) = %+v, %v; want ErrNotFound", g, ref, err)
			}
		}
	})
}

func TestSealerTokensAreURLSafe(t *testing.T) {
	s := NewSealer(testSecret)
	for i := range 2000 {
		r := Ref{Kind: KindClick, VariantID: uuid.New(), DeliveryID: uuid.New(), Link: i % 70}
		if i%2 == 1 {
			r.Kind = KindUnsubscribe
		}
		tok := s.Seal(r)
		if !urlSafeToken.MatchString(tok) || url.PathEscape(tok) != tok {
			t.Fatalf("token %q is not URL-safe", tok)
		}
		if got, err := s.Open(tok, r.Kind); err != nil || got != r {
			t.Fatalf("Open(%q) = %+v, %v; want %+v", tok, got, err, r)
		}
	}
}
