package main

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"slicelab/tracking"
)

// followLink answers GET|HEAD /c/:token with a 302 to the stored destination,
// after the click is committed.
func (a *api) followLink(c echo.Context) error {
	r := c.Request()
	dest, err := a.trk.Follow(r.Context(), c.Param("token"), tracking.Hit{
		Method: r.Method, UserAgent: r.UserAgent(), IP: c.RealIP(),
	})
	if errors.Is(err, tracking.ErrNotFound) {
		return err
	}
	if err != nil {
		if dest == "" {
			return err
		}
		// The person still goes where the link says; the lost click is logged.
		a.log.Error("click not recorded", "err", err)
	}
	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Robots-Tag", "noindex")
	return c.Redirect(http.StatusFound, dest)
}

type unsubscribeView struct {
	Email        string
	Unsubscribed bool
	Action       string
}

// unsubscribePage shows the confirmation form; a GET never unsubscribes
// (mail scanners follow every link).
func (a *api) unsubscribePage(c echo.Context) error {
	rc, err := a.trk.Recipient(c.Request().Context(), c.Param("token"))
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return a.render(c, http.StatusOK, "unsubscribe", unsubscribeView{
		Email: rc.Email, Unsubscribed: rc.Unsubscribed, Action: "/u/" + c.Param("token"),
	})
}

// unsubscribe handles the form and the RFC 8058 one-click POST
// (List-Unsubscribe=One-Click), which carries no cookie or CSRF token.
func (a *api) unsubscribe(c echo.Context) error {
	rc, err := a.trk.Unsubscribe(c.Request().Context(), c.Param("token"))
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return a.render(c, http.StatusOK, "unsubscribed", rc)
}
