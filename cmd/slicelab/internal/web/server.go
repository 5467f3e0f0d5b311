// Package web is slicelab's HTTP layer, and the only package that imports
// echo: the one route table (routes.go), the bearer-token API, the public
// links of emails (tracked clicks, unsubscribe, the allocation survey), and
// rendering. Handlers turn requests into calls of the domain services and
// their answers (or domain errors) into responses; they hold no business
// rules.
package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"slicelab/experiments"
	"slicelab/okr"
	"slicelab/templates"
	"slicelab/tracking"
)

// Deps are what the handlers need, built by the composition root.
type Deps struct {
	Experiments *experiments.Service
	OKR         *okr.Service
	Tracking    *tracking.Service
	// Sender sends test messages; nil in a process without send workers.
	Sender *experiments.Sender
	// Ready tells whether the database is reachable (/readyz).
	Ready func(context.Context) error
	// ClicksCounted waits until the clicks recorded so far are in the
	// rollups (or its context ends); results and the weekly review call it
	// first, so that they count the clicks their reader has just made. Nil:
	// no wait.
	ClicksCounted func(context.Context) error
	// Metrics serves the Prometheus metrics (/metrics); nil: none. With a
	// MetricsToken a scraper must send it as a bearer token; without one
	// only clients on the loopback interface are answered.
	Metrics      http.Handler
	MetricsToken string
	// TrustedProxies are reverse proxies whose X-Forwarded-For names the
	// client; without any the connection's address is the client.
	TrustedProxies []netip.Prefix
	Log            *slog.Logger
	Now            func() time.Time

	// BaseURL is the service's absolute URL (SLICELAB_BASE_URL): cookies
	// are Secure when it is https.
	BaseURL string
	// OutboxDir is the folder of the outbox transport, whose .eml files the
	// outbox viewer shows; "" when mail goes out over SMTP.
	OutboxDir string
	// Jobs inserts River jobs: the survey and digest "send now" buttons.
	Jobs okr.JobInserter
	// SendRate is the configured messages per second (0: unlimited), for
	// the launch confirmation's estimate.
	SendRate float64
	// SetupToken, when set, opens /setup/<token>, where the first admin
	// creates a team and an account; it works only while nobody can sign in.
	SetupToken string
	// ImportMaxBytes bounds a contact import's body (API and upload); 0: 1 GiB.
	ImportMaxBytes int64
}

// server holds the dependencies; its methods are the handlers.
type server struct {
	Deps
	pages   map[string]*template.Template
	signins *ipLimiter
	lookups *ipLimiter // failed lookups of public links (a token that opens nothing)
	secure  bool       // cookies are Secure (BaseURL is https)
	rates   rates
}

// New builds the HTTP handler of slicelab.
func New(d Deps) (http.Handler, error) {
	pages, err := templates.Web(pageFuncs)
	if err != nil {
		return nil, err
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.ImportMaxBytes <= 0 {
		d.ImportMaxBytes = 1 << 30
	}
	s := &server{Deps: d, pages: pages, signins: newIPLimiter(signinEvery, signinBurst, d.Now),
		lookups: newIPLimiter(lookupEvery, lookupBurst, d.Now),
		secure:  strings.HasPrefix(strings.ToLower(d.BaseURL), "https://")}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = ipExtractor(d.TrustedProxies)
	e.Use(middleware.Recover())
	// Every request gets an id (X-Request-Id, kept when a proxy in front set
	// one), which its log line and any error logged for it carry.
	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{Generator: newRequestIDs()}))
	e.Use(securityHeaders)
	e.Use(limitBodies)
	e.Use(middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus: true, LogURIPath: true, LogMethod: true, LogLatency: true, LogRequestID: true, HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			// Clicks are the hot path and are in the ledger already: a
			// redirected one is logged at debug level only.
			level := slog.LevelInfo
			if v.Status == http.StatusFound && strings.HasPrefix(c.Path(), "/c/") {
				level = slog.LevelDebug
			}
			ctx := c.Request().Context()
			if !s.Log.Enabled(ctx, level) {
				return nil
			}
			s.Log.LogAttrs(ctx, level, "request", slog.String("request_id", v.RequestID), slog.String("method", v.Method),
				slog.String("path", logPath(c)), slog.Int("status", v.Status), slog.Duration("latency", v.Latency))
			return nil
		},
	}))
	s.routes(e)
	return e, nil
}

// newRequestIDs returns a generator of request ids: a random prefix for the
// process and a counter, unique without a random draw per request.
func newRequestIDs() func() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := hex.EncodeToString(b[:]) + "-"
	var n atomic.Uint64
	return func() string { return prefix + strconv.FormatUint(n.Add(1), 36) }
}

// requestID is the id of the request being answered.
func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

// clicksWait is how long results and the weekly review wait for clicks to
// be counted; past it they answer with what is counted (and say as_of).
const clicksWait = 2 * time.Second

// clicksCounted waits (a little) for the clicks recorded so far to be counted.
func (s *server) clicksCounted(c echo.Context) {
	if s.ClicksCounted == nil {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), clicksWait)
	defer cancel()
	_ = s.ClicksCounted(ctx)
}

// render executes a page (one template set per page, with the layout).
func (s *server) render(c echo.Context, status int, page string, data any) error {
	t, ok := s.pages[page]
	if !ok {
		return errors.New("web: unknown page " + page)
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", data); err != nil {
		return err
	}
	return c.HTML(status, b.String())
}

func (s *server) metrics(c echo.Context) error {
	if s.Metrics == nil {
		return echo.ErrNotFound
	}
	if s.MetricsToken != "" {
		got, _ := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
		if subtle.ConstantTimeCompare([]byte(got), []byte(s.MetricsToken)) != 1 {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, "Bearer")
			return echo.NewHTTPError(http.StatusUnauthorized, "send SLICELAB_METRICS_TOKEN as Authorization: Bearer <token>")
		}
	} else if ip, err := netip.ParseAddr(c.RealIP()); err != nil || !ip.IsLoopback() {
		return echo.NewHTTPError(http.StatusForbidden, "metrics are served to this machine only; set SLICELAB_METRICS_TOKEN to scrape them from elsewhere")
	}
	s.Metrics.ServeHTTP(c.Response(), c.Request())
	return nil
}

func (s *server) healthz(c echo.Context) error { return c.String(http.StatusOK, "ok\n") }

func (s *server) readyz(c echo.Context) error {
	if err := s.Ready(c.Request().Context()); err != nil {
		return c.String(http.StatusServiceUnavailable, "database unreachable\n")
	}
	return c.String(http.StatusOK, "ready\n")
}

// logPath is the request's path for logs, with the tokens of public links
// (a survey or set-up link is its member's key) left out.
func logPath(c echo.Context) string {
	if c.Param("token") != "" {
		return strings.Replace(c.Path(), ":token", "[token]", 1)
	}
	return c.Request().URL.Path
}
