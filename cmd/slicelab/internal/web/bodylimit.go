package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"
)

// Every request body is limited: to defaultBodyLimit unless its route says
// more with bodyLimit (routes.go). A body over the limit is answered 413,
// whatever the handler made of the short read.

const defaultBodyLimit = 64 << 10

const bodyKey = "slicelab.body"

var errBodyTooLarge = errors.New("request body too large")

// limitedBody reads a request body up to max bytes.
type limitedBody struct {
	io.ReadCloser
	length int64 // the Content-Length, -1 when unknown
	max, n int64
	over   bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.over || b.length > b.max {
		b.over = true
		return 0, errBodyTooLarge
	}
	if left := b.max - b.n + 1; int64(len(p)) > left {
		p = p[:left]
	}
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if b.n > b.max {
		b.over = true
		return n - int(b.n-b.max), errBodyTooLarge
	}
	return n, err
}

// limitBodies gives every request the default limit.
func limitBodies(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Body != nil && r.Body != http.NoBody {
			b := &limitedBody{ReadCloser: r.Body, length: r.ContentLength, max: defaultBodyLimit}
			r.Body = b
			c.Set(bodyKey, b)
		}
		return next(c)
	}
}

// bodyLimit raises (or lowers) the limit of a route's bodies to n bytes.
func bodyLimit(n int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if b, ok := c.Get(bodyKey).(*limitedBody); ok {
				b.max = n
				if b.length > n { // refused before any work
					b.over = true
					_, err := bodyTooLarge(c)
					return err
				}
			}
			return next(c)
		}
	}
}

// bodyTooLarge tells whether the request's body went over its limit, and
// the error to answer then.
func bodyTooLarge(c echo.Context) (bool, error) {
	b, ok := c.Get(bodyKey).(*limitedBody)
	if !ok || !(b.over || b.length > b.max) {
		return false, nil
	}
	return true, echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is larger than this route takes (%s)", byteSize(b.max)))
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
