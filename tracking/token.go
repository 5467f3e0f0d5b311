package tracking

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"

	"github.com/google/uuid"
)

// ErrNotFound is returned for tokens that do not open (unknown, altered or of
// the wrong kind) and for links or deliveries that do not exist.
var ErrNotFound = errors.New("not found")

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

// Sealer seals and opens tokens with an HMAC key derived from the service
// secret; tokens sealed under a previous secret still open until its end.
type Sealer struct {
	key      []byte
	previous []previousKey
}

// Previous is a secret that was replaced: links sealed with it keep working
// until Until, so that rotating the secret breaks no email already sent.
type Previous struct {
	Secret []byte
	Until  time.Time
}

type previousKey struct {
	key   []byte
	until time.Time
}

// NewSealer derives the token key from secret (and from previous secrets),
// so that the same secret can serve other purposes without the token MAC
// being reusable there.
func NewSealer(secret []byte, previous ...Previous) *Sealer {
	s := &Sealer{key: tokenKey(secret)}
	for _, p := range previous {
		s.previous = append(s.previous, previousKey{key: tokenKey(p.Secret), until: p.Until})
	}
	return s
}

func tokenKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("slicelab/tracking-token/v1"))
	return m.Sum(nil)
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
	if Kind(b[0]) != want || !s.verify(b[:payloadLen], b[payloadLen:]) {
		return Ref{}, ErrNotFound
	}
	var r Ref
	r.Kind = Kind(b[0])
	copy(r.VariantID[:], b[1:17])
	copy(r.DeliveryID[:], b[17:33])
	r.Link = int(binary.BigEndian.Uint16(b[33:35]))
	return r, nil
}

func (s *Sealer) mac(payload []byte) []byte { return macWith(s.key, payload) }

// verify checks a MAC under the current key, or under a previous one that
// has not ended.
func (s *Sealer) verify(payload, mac []byte) bool {
	if hmac.Equal(mac, s.mac(payload)) {
		return true
	}
	now := time.Now()
	for _, p := range s.previous {
		if now.Before(p.until) && hmac.Equal(mac, macWith(p.key, payload)) {
			return true
		}
	}
	return false
}

func macWith(key, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(payload)
	return m.Sum(nil)[:macLen]
}
