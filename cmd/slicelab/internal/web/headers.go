package web

import (
	"strings"

	"github.com/labstack/echo/v4"
)

// contentSecurityPolicy is what an HTML page of slicelab may load: its own
// scripts, styles and images only, no plugins, no framing by other sites,
// forms that post back here only.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"

// securityHeaders sets the headers every answer carries, and the policy of
// HTML pages, before the handler writes.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		c.Response().Before(func() {
			if strings.HasPrefix(h.Get(echo.HeaderContentType), "text/html") {
				h.Set("Content-Security-Policy", contentSecurityPolicy)
				h.Set("X-Frame-Options", "SAMEORIGIN")
			}
		})
		return next(c)
	}
}
