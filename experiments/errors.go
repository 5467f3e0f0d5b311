package experiments

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Domain errors; cmd/slicelab maps them to HTTP statuses in one place.
var (
	ErrNotFound     = errors.New("not found")
	ErrUnauthorized = errors.New("missing or unknown API token")
	ErrForbidden    = errors.New("your role does not allow this")
)

// ConflictError says an action does not fit the current state (409).
type ConflictError struct{ Reason string }

func (e *ConflictError) Error() string { return e.Reason }

// RateLimitError says an action was refused because it was done too often
// (429); it may be tried again after RetryAfter.
type RateLimitError struct {
	Reason     string
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string { return e.Reason }

// ValidationError lists bad input by field (422). Nothing was stored.
type ValidationError struct {
	Fields map[string]string
}

func (e *ValidationError) Error() string {
	keys := slices.Sorted(maps.Keys(e.Fields))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+e.Fields[k])
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// fieldErrors collects field errors while validating.
type fieldErrors map[string]string

func (f fieldErrors) add(field, format string, args ...any) {
	if _, ok := f[field]; !ok {
		f[field] = fmt.Sprintf(format, args...)
	}
}

func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	return &ValidationError{Fields: f}
}
