package web

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"slicelab/experiments"
	"slicelab/okr"
	"slicelab/tracking"
)

// apiError is the body of every API error (product.md §13).
type apiError struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// errorFormatKey marks a request whose errors are answered as JSON: the API
// group sets it (routes.go); everything else gets an HTML page.
const errorFormatKey = "slicelab.errors"

// jsonErrors makes the group's errors JSON.
func jsonErrors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Set(errorFormatKey, "json")
		return next(c)
	}
}

// httpError maps an error, domain or transport, to a status and a body: the
// one place where errors become HTTP answers.
func httpError(err error) (int, apiError) {
	var he *echo.HTTPError
	var ve *experiments.ValidationError
	var ce *experiments.ConflictError
	var ie *experiments.ImportError
	var se *experiments.SendError
	var rl *experiments.RateLimitError
	switch {
	case errors.As(err, &rl):
		return http.StatusTooManyRequests, apiError{Code: "too_many_requests", Message: rl.Reason}
	case errors.As(err, &se):
		return http.StatusBadGateway, apiError{Code: "mail_rejected", Message: "the mail server refused the message: " + se.Message}
	case errors.As(err, &ie):
		return http.StatusUnprocessableEntity, apiError{Code: "invalid_rows", Message: ie.Error()}
	case errors.As(err, &ve):
		return http.StatusUnprocessableEntity, apiError{Code: "invalid", Message: "the input is not valid; see fields", Fields: ve.Fields}
	case errors.As(err, &ce):
		return http.StatusConflict, apiError{Code: "conflict", Message: ce.Reason}
	case errors.Is(err, okr.ErrSurveyLinkExpired):
		return http.StatusGone, apiError{Code: "expired", Message: "This survey link has expired. Use the link in this week's email."}
	case errors.Is(err, experiments.ErrNotFound), errors.Is(err, tracking.ErrNotFound):
		return http.StatusNotFound, apiError{Code: "not_found", Message: "not found"}
	case errors.Is(err, tracking.ErrUnavailable):
		return http.StatusServiceUnavailable, apiError{Code: "unavailable", Message: "This link cannot be followed right now. Please try again in a minute."}
	case errors.Is(err, experiments.ErrUnauthorized):
		return http.StatusUnauthorized, apiError{Code: "unauthorized", Message: "send a valid API token as Authorization: Bearer <token>"}
	case errors.Is(err, experiments.ErrForbidden):
		return http.StatusForbidden, apiError{Code: "forbidden", Message: "this token's role does not allow that"}
	case errors.As(err, &he):
		body := apiError{Code: strings.ReplaceAll(strings.ToLower(http.StatusText(he.Code)), " ", "_"), Message: http.StatusText(he.Code)}
		if m, ok := he.Message.(string); ok {
			body.Message = m
		}
		return he.Code, body
	}
	return http.StatusInternalServerError, apiError{Code: "internal", Message: "internal error"}
}

// handleError answers a failed request: JSON in the API group, an HTML page
// for pages and public links.
func (s *server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	if ok, tooLarge := bodyTooLarge(c); ok {
		err = tooLarge
	}
	status, body := httpError(err)
	if status >= 500 {
		s.Log.Error("request failed", "request_id", requestID(c), "method", c.Request().Method, "path", logPath(c), "err", err)
	}
	if status == http.StatusServiceUnavailable {
		c.Response().Header().Set(echo.HeaderRetryAfter, "60")
	}
	if rl := (*experiments.RateLimitError)(nil); errors.As(err, &rl) {
		c.Response().Header().Set(echo.HeaderRetryAfter, strconv.Itoa(max(1, int(math.Ceil(rl.RetryAfter.Seconds())))))
	}
	if status == http.StatusUnauthorized && c.Get(errorFormatKey) == "json" {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, "Bearer")
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	if c.Get(errorFormatKey) == "json" {
		var ie *experiments.ImportError
		if errors.As(err, &ie) { // the import's counts and row errors, as a successful import answers them
			_ = c.JSON(status, map[string]any{"imported": 0, "updated": 0, "skipped": 0, "errors": ie.Result.Errors, "error": body})
			return
		}
		_ = c.JSON(status, map[string]any{"error": body})
		return
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	title, msg := http.StatusText(status), body.Message
	if status == http.StatusNotFound {
		msg = "This link is not valid. It may have been mistyped or cut short."
	}
	if v, ok := viewerOf(c); ok && v.User.Email != "" {
		// A signed-in member: the page keeps the navigation.
		switch {
		case errors.Is(err, experiments.ErrForbidden):
			title, msg = "Not allowed", "Your role in "+principal(c).Team.Name+" is "+string(principal(c).Role)+", which does not allow this. Ask an admin of the team if you need to do it."
		case status == http.StatusNotFound:
			title, msg = "Not found", "There is no such page in "+principal(c).Team.Name+". It may belong to another team, or have been deleted."
		}
		if err := s.page(c, status, "app_error", title, "", msg); err == nil {
			return
		}
	}
	if err := s.render(c, status, "error", map[string]string{"Title": title, "Message": msg}); err != nil {
		_ = c.String(status, title)
	}
}
