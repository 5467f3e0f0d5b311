package web

import (
	"sync"
	"time"

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
