package web

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"golang.org/x/time/rate"
)

// Failed sign-ins per client address (product.md §11): five in a row are
// allowed, then one more a minute. A correct password is never
// refused while the address still has a token left.
const (
	signinBurst = 5
	signinEvery = time.Minute
)

// ipLimiter keeps a token bucket (x/time/rate) per client address. Idle
// buckets that have refilled are dropped, so the map stays as small as the
// set of addresses that failed recently.
type ipLimiter struct {
	every time.Duration
	burst int
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	swept   time.Time
}

func newIPLimiter(every time.Duration, burst int, now func() time.Time) *ipLimiter {
	if now == nil {
		now = time.Now
	}
	return &ipLimiter{every: every, burst: burst, now: now, buckets: map[string]*rate.Limiter{}}
}

// wait tells how long the address must wait before it may try again (0:
// now).
func (l *ipLimiter) wait(ip string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[ip]
	if !ok {
		return 0
	}
	now := l.now()
	if b.TokensAt(now) >= 1 {
		return 0
	}
	r := b.ReserveN(now, 1)
	d := r.DelayFrom(now)
	r.CancelAt(now)
	return d
}

// fail spends one of the address's tokens.
func (l *ipLimiter) fail(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	b, ok := l.buckets[ip]
	if !ok {
		b = rate.NewLimiter(rate.Every(l.every), l.burst)
		l.buckets[ip] = b
	}
	b.AllowN(now, 1)
}

// sweep drops, at most once a minute, the buckets that are full again.
func (l *ipLimiter) sweep(now time.Time) {
	if now.Sub(l.swept) < time.Minute {
		return
	}
	l.swept = now
	for ip, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, ip)
		}
	}
}

// Failed lookups of public links per client address (/c, /u, /survey with a
// token that opens nothing): thirty in a row, then one every two seconds.
// The tokens are signed, so guessing is hopeless anyway; the limit keeps a
// scanner from making the database work for nothing.
const (
	lookupBurst = 30
	lookupEvery = 2 * time.Second
)

// limitLookups refuses a client that failed too many lookups with 429 and
// Retry-After, and counts the lookups that end in 404 or 410.
func (s *server) limitLookups(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ip := c.RealIP()
		if d := s.lookups.wait(ip); d > 0 && !s.authentic(c) {
			c.Response().Header().Set(echo.HeaderRetryAfter, strconv.Itoa(int(math.Ceil(d.Seconds()))))
			return echo.NewHTTPError(http.StatusTooManyRequests, "Too many links that open nothing came from your address. Wait a little, then try the link again.")
		}
		err := next(c)
		if err != nil {
			if status, _ := httpError(err); status == http.StatusNotFound || status == http.StatusGone {
				s.lookups.fail(ip)
			}
		}
		return err
	}
}

// authentic says whether the request's token is one this service signed:
// a limited address still follows its real links, unsubscribes and answers
// its survey (checking a signature costs no database read); guesses wait.
// Set-up links are random, not signed, so they always wait.
func (s *server) authentic(c echo.Context) bool {
	tok, path := c.Param("token"), c.Path()
	switch {
	case strings.HasPrefix(path, "/c/"), strings.HasPrefix(path, "/u/"):
		return s.Tracking != nil && s.Tracking.Authentic(tok)
	case strings.HasPrefix(path, "/survey/"):
		return s.OKR != nil && s.OKR.SurveyLinkAuthentic(tok)
	}
	return false
}

// ipExtractor finds the client's address: the connection's, or, behind the
// trusted proxies only, the first untrusted address of X-Forwarded-For.
func ipExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		_, n, err := net.ParseCIDR(p.String())
		if err == nil {
			opts = append(opts, echo.TrustIPRange(n))
		}
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
