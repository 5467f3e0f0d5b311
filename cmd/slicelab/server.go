package main

import (
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/uptrace/bun"

	"slicelab/experiments"
	"slicelab/okr"
	"slicelab/tracking"
)

// api holds what the handlers need; one method per route.
type api struct {
	db     *bun.DB
	exps   *experiments.Service
	okr    *okr.Service
	now    func() time.Time
	sender *experiments.Sender // nil without workers
	trk    *tracking.Service
	pages  map[string]*template.Template
	log    *slog.Logger
}

// newServer builds the echo server with the one route table of slicelab.
func newServer(a *api) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = a.handleError
	e.IPExtractor = echo.ExtractIPDirect()
	e.Use(middleware.Recover())
	e.Use(middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus: true, LogURIPath: true, LogMethod: true, LogLatency: true, HandleError: true,
		Skipper: func(c echo.Context) bool { // clicks are the hot path and are in the ledger already
			return strings.HasPrefix(c.Path(), "/c/")
		},
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			a.log.LogAttrs(c.Request().Context(), slog.LevelInfo, "request", slog.String("method", v.Method),
				slog.String("path", v.URIPath), slog.Int("status", v.Status), slog.Duration("latency", v.Latency))
			return nil
		},
	}))

	// Public endpoints (product.md §11).
	e.GET("/healthz", a.healthz)
	e.GET("/readyz", a.readyz)
	e.Match([]string{http.MethodGet, http.MethodHead}, "/c/:token", a.followLink)
	e.GET("/u/:token", a.unsubscribePage, middleware.BodyLimit("16K"))
	e.POST("/u/:token", a.unsubscribe, middleware.BodyLimit("16K"))

	// The API: bearer token, scoped to the token's team.
	g := e.Group("/api/v1", a.authenticate)
	g.POST("/teams/:team/contacts", a.importContacts, need(experiments.RoleEditor), middleware.BodyLimit("256M"))
	g.GET("/teams/:team/contacts", a.listContacts)
	g.POST("/teams/:team/experiments", a.createExperiment, need(experiments.RoleEditor), middleware.BodyLimit("2M"))
	g.GET("/teams/:team/experiments", a.listExperiments)
	g.GET("/experiments/:id", a.getExperiment)
	g.POST("/experiments/:id/launch", a.launchExperiment, need(experiments.RoleEditor))
	g.POST("/experiments/:id/pause", a.pauseExperiment, need(experiments.RoleEditor))
	g.POST("/experiments/:id/resume", a.resumeExperiment, need(experiments.RoleEditor))
	g.POST("/experiments/:id/cancel", a.cancelExperiment, need(experiments.RoleEditor))
	g.GET("/experiments/:id/results", a.experimentResults)
	g.GET("/experiments/:id/preview", a.previewExperiment)
	g.POST("/experiments/:id/test", a.sendTest, need(experiments.RoleEditor))
	a.okrRoutes(g)
	a.allocationRoutes(e, g)
	return e
}

const principalKey = "principal"

// authenticate resolves the bearer token; every API handler then works within its team.
func (a *api) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		token, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return experiments.ErrUnauthorized
		}
		p, err := a.exps.Authenticate(c.Request().Context(), strings.TrimSpace(token))
		if err != nil {
			return err
		}
		c.Set(principalKey, p)
		return next(c)
	}
}

func principal(c echo.Context) experiments.Principal {
	p, _ := c.Get(principalKey).(experiments.Principal)
	return p
}

// need requires a role of at least r.
func need(r experiments.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !principal(c).Role.Allows(r) {
				return experiments.ErrForbidden
			}
			return next(c)
		}
	}
}

// teamParam checks that :team is the caller's team; another team's slug is
// answered as if it did not exist.
func teamParam(c echo.Context) (experiments.Team, error) {
	p := principal(c)
	if c.Param("team") != p.Team.Slug {
		return experiments.Team{}, experiments.ErrNotFound
	}
	return p.Team, nil
}

func idParam(c echo.Context) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return uuid.Nil, experiments.ErrNotFound
	}
	return id, nil
}

type apiError struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// handleError is the one place where errors become HTTP answers: JSON under
// /api/, a small page elsewhere.
func (a *api) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, body := http.StatusInternalServerError, apiError{Code: "internal", Message: "internal error"}
	var he *echo.HTTPError
	var ve *experiments.ValidationError
	var ce *experiments.ConflictError
	var ie *experiments.ImportError
	var se *experiments.SendError
	switch {
	case errors.As(err, &se):
		status, body = http.StatusBadGateway, apiError{Code: "mail_rejected", Message: "the mail server refused the message: " + se.Message}
	case errors.As(err, &ie):
		if strings.HasPrefix(c.Path(), "/api/") {
			_ = c.JSON(http.StatusUnprocessableEntity, map[string]any{
				"imported": 0, "skipped": 0, "errors": ie.Result.Errors,
				"error": apiError{Code: "invalid_rows", Message: ie.Error()},
			})
			return
		}
		status, body = http.StatusUnprocessableEntity, apiError{Code: "invalid_rows", Message: ie.Error()}
	case errors.As(err, &ve):
		status, body = http.StatusUnprocessableEntity, apiError{Code: "invalid", Message: "the input is not valid; see fields", Fields: ve.Fields}
	case errors.As(err, &ce):
		status, body = http.StatusConflict, apiError{Code: "conflict", Message: ce.Reason}
	case errors.Is(err, experiments.ErrNotFound), errors.Is(err, tracking.ErrNotFound):
		status, body = http.StatusNotFound, apiError{Code: "not_found", Message: "not found"}
	case errors.Is(err, experiments.ErrUnauthorized):
		status, body = http.StatusUnauthorized, apiError{Code: "unauthorized", Message: "send a valid API token as Authorization: Bearer <token>"}
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, "Bearer")
	case errors.Is(err, experiments.ErrForbidden):
		status, body = http.StatusForbidden, apiError{Code: "forbidden", Message: "this token's role does not allow that"}
	case errors.As(err, &he):
		status = he.Code
		body = apiError{Code: strings.ReplaceAll(strings.ToLower(http.StatusText(he.Code)), " ", "_"), Message: http.StatusText(he.Code)}
		if m, ok := he.Message.(string); ok {
			body.Message = m
		}
	}
	if status >= 500 {
		a.log.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	if strings.HasPrefix(c.Request().URL.Path, "/api/") {
		_ = c.JSON(status, map[string]any{"error": body})
		return
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	title := http.StatusText(status)
	msg := body.Message
	if status == http.StatusNotFound {
		msg = "This link is not valid. It may have been mistyped or cut short."
	}
	if err := a.render(c, status, "error", map[string]string{"Title": title, "Message": msg}); err != nil {
		_ = c.String(status, title)
	}
}

func (a *api) render(c echo.Context, status int, page string, data any) error {
	t, ok := a.pages[page]
	if !ok {
		return errors.New("unknown page " + page)
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", data); err != nil {
		return err
	}
	return c.HTML(status, b.String())
}

func (a *api) healthz(c echo.Context) error { return c.String(http.StatusOK, "ok\n") }

func (a *api) readyz(c echo.Context) error {
	if err := a.db.PingContext(c.Request().Context()); err != nil {
		return c.String(http.StatusServiceUnavailable, "database unreachable\n")
	}
	return c.String(http.StatusOK, "ready\n")
}
