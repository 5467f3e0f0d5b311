//go:build !unix

package tracking

import (
	"errors"
	"os"
)

var errLocked = errors.New("held by another process")

// lockFile does nothing where flock is not available: one process per data
// folder there.
func lockFile(*os.File) error { return nil }
