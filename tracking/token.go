package tracking

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"

	"github.com/google/uuid"
)

// ErrNotFound is returned for tokens that do not open (unknown, altered or of
// the wrong kind) and for links or deliveries that do not exist.
var ErrNotFound = errors.New("tracking: not found")

// ErrUnavailable: a link's destinations could not be read (the database is
// away) and are not cached; the request may be tried again.
var ErrUnavailable = errors.New("tracking: link destinations unavailable")

// Kind tells what a token opens.
type Kind byte

// Token kinds.
const (
	KindClick       Kind = 'c'
	KindUnsubscribe Kind = 'u'
)

// Ref is what a token carries.
type Ref struct {
	Kind       Kind
	VariantID  uuid.UUID
	DeliveryID uuid.UUID
	Link       int // index of the link in the variant's body (clicks only)
}

const (
	payloadLen = 1 + 16 + 16 + 2
	macLen     = 16 // 128 bits of HMAC-SHA256
	tokenLen   = payloadLen + macLen
)

// Sealer seals and opens tokens with an HMAC key derived from the service secret.
type Sealer struct{ key []byte }

// NewSealer derives the token key from secret, so that the same secret can
// serve other purposes without the token MAC being reusable there.
func NewSealer(secret []byte) *Sealer {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("slicelab/tracking-token/v1"))
	return &Sealer{key: m.Sum(nil)}
}

// Seal returns the URL-safe token for r.
func (s *Sealer) Seal(r Ref) string {
	var b [tokenLen]byte
	b[0] = byte(r.Kind)
	copy(b[1:17], r.VariantID[:])
	copy(b[17:33], r.DeliveryID[:])
	binary.BigEndian.PutUint16(b[33:35], uint16(r.Link))
	copy(b[payloadLen:], s.mac(b[:payloadLen]))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Open verifies tok and returns what it carries; any altered, truncated or
// foreign token gives ErrNotFound.
func (s *Sealer) Open(tok string, want Kind) (Ref, error) {
	if base64.RawURLEncoding.DecodedLen(len(tok)) != tokenLen {
		return Ref{}, ErrNotFound
	}
	var b [tokenLen]byte
	if n, err := base64.RawURLEncoding.Decode(b[:], []byte(tok)); err != nil || n != tokenLen {
		return Ref{}, ErrNotFound
	}
	// Reject non-canonical encodings (trailing bits set) so one token has one spelling.
	if base64.RawURLEncoding.EncodeToString(b[:]) != tok {
		return Ref{}, ErrNotFound
	}
	if !hmac.Equal(b[payloadLen:], s.mac(b[:payloadLen])) || Kind(b[0]) != want {
		return Ref{}, ErrNotFound
	}
	var r Ref
	r.Kind = Kind(b[0])
	copy(r.VariantID[:], b[1:17])
	copy(r.DeliveryID[:], b[17:33])
	r.Link = int(binary.BigEndian.Uint16(b[33:35]))
	return r, nil
}

func (s *Sealer) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(payload)
	return m.Sum(nil)[:macLen]
}
