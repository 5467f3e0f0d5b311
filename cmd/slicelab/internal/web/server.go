// Package web is slicelab's HTTP layer, and the only package that imports
// echo: the one route table (routes.go), the bearer-token API, the public
// links of emails (tracked clicks, unsubscribe, the allocation survey), and
// rendering. Handlers turn requests into calls of the domain services and
// their answers (or domain errors) into responses; they hold no business
// rules.
package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
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
	s := &server{Deps: d, pages: pages, signins: newIPLimiter(signinEvery, signinBurst, d.Now),
		lookups: newIPLimiter(lookupEvery, lookupBurst, d.Now),
		secure:  strings.HasPrefix(strings.ToLower(d.BaseURL), "https://")}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = ipExtractor(d.TrustedProxies)
	e.Use(middleware.Recover())
	e.Use(securityHeaders)
	e.Use(limitBodies)
	e.Use(middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus: true, LogURIPath: true, LogMethod: true, LogLatency: true, HandleError: true,
		Skipper: func(c echo.Context) bool { // clicks are the hot path and are in the ledger already
			return strings.HasPrefix(c.Path(), "/c/")
		},
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			s.Log.LogAttrs(c.Request().Context(), slog.LevelInfo, "request", slog.String("method", v.Method),
				slog.String("path", logPath(c)), slog.Int("status", v.Status), slog.Duration("latency", v.Latency))
			return nil
		},
	}))
	s.routes(e)
	return e, nil
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
