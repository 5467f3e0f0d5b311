package web

import (
	"strings"

	"github.com/labstack/echo/v4"
)

// contentSecurityPolicy is what an HTML page of slicelab may load: its own
// scripts, styles and images only, no plugins, no framing at all (only the
// sandboxed email frames of the preview and the outbox may be framed, by
// slicelab's own pages: see sandboxed), forms that post back here only.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// securityHeaders sets the headers every answer carries, and the policy of
// HTML pages, before the handler writes.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		c.Response().Before(func() {
			// An email shown in a sandboxed frame (sandboxed) has a policy of its own.
			if strings.HasPrefix(h.Get(echo.HeaderContentType), "text/html") && h.Get("Content-Security-Policy") == "" {
				h.Set("Content-Security-Policy", contentSecurityPolicy)
				h.Set("X-Frame-Options", "DENY")
			}
		})
		return next(c)
	}
}
