package tracking

import "github.com/google/uuid"

// NewID returns a new time-ordered (version 7) UUID: the primary key of every
// row slicelab creates. Time order keeps inserts at the end of indexes.
func NewID() uuid.UUID {
	id, err := uuid.NewV7()
	if err != nil { // only when the system's random source fails
		return uuid.New()
	}
	return id
}
