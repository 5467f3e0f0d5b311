package experiments

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"

	"slicelab/tracking"
)

// A fresh import on PostgreSQL (into a team without contacts) streams its
// contacts with COPY straight into the contacts table, in a goroutine of its
// own while the input is read and checked (PostgreSQL inserts while Go
// parses); at the end one INSERT … SELECT writes their tags from the
// contacts' tags column. The transaction stays all or nothing: bad rows stop
// the copy and roll everything back.

// copyColumns are the contacts' columns a fresh import copies.
var copyColumns = []string{"id", "team_id", "email", "email_key", "name", "attributes", "tags", "created_at"}

// errCopyAborted ends a copy whose import failed before its end.
var errCopyAborted = errors.New("import stopped")

// pgCopy is a COPY running on the import's connection: pages are handed
// over through a channel (a page or two ahead at most: memory stays flat).
type pgCopy struct {
	pages chan [][]any
	done  chan error
	err   error // the copy's end, once received from done
	ended bool
	// stopE is why the pages ended (nil: the input's end). pgx reads it
	// (Err) from the copy's goroutine, also when the copy fails while the
	// import is stopping it: hence the lock.
	mu    sync.Mutex
	stopE error

	teamID pgtype.UUID
	now    any

	cur [][]any
	i   int
	n   int // rows handed over
}

func (w *contactWriter) startCopy(ctx context.Context, conn bun.Conn) error {
	c := &pgCopy{pages: make(chan [][]any, 2), done: make(chan error, 1), teamID: pgtype.UUID{Bytes: w.teamID, Valid: true}, now: w.now}
	w.copy = c
	go func() {
		c.done <- conn.Raw(func(dc any) error {
			sc, ok := dc.(*stdlib.Conn)
			if !ok {
				return fmt.Errorf("import: COPY needs the pgx driver, not %T", dc)
			}
			_, err := sc.Conn().CopyFrom(ctx, pgx.Identifier{"contacts"}, copyColumns, c)
			return err
		})
	}()
	return nil
}

// Next, Values and Err make pgCopy pgx's CopyFromSource (called by the
// copy's goroutine).
func (c *pgCopy) Next() bool {
	for c.i >= len(c.cur) {
		p, ok := <-c.pages
		if !ok {
			return false
		}
		c.cur, c.i = p, 0
	}
	c.i++
	return true
}

func (c *pgCopy) Values() ([]any, error) { return c.cur[c.i-1], nil }

// Err says why the pages ended (pgx calls it from the copy's goroutine).
func (c *pgCopy) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopE
}

// send hands a page over to the copy; an error is the copy's failure.
func (c *pgCopy) send(page []ContactInput, keys []string) error {
	if c.ended {
		return c.err
	}
	rows := make([][]any, len(page))
	for i, in := range page {
		attrs, tags := in.storedJSON()
		// Ids as pgtype.UUID: pgx encodes a uuid.UUID through its
		// driver.Valuer after trying (and failing, with errors built with
		// fmt) other plans, half the Go time of an import.
		rows[i] = []any{pgtype.UUID{Bytes: tracking.NewID(), Valid: true}, c.teamID, in.Email, keys[i], in.Name, attrs, tags, c.now}
	}
	select {
	case c.pages <- rows:
		c.n += len(rows)
		return nil
	case err := <-c.done:
		c.ended, c.err = true, copyError(err)
		if c.err == nil {
			c.err = errors.New("import: COPY ended early")
		}
		return c.err
	}
}

// copyError: a unique violation of a fresh import is an address repeated
// in the file (found among the hashes at the end) or added by another
// import meanwhile (see errAddressTaken).
func copyError(err error) error {
	if err != nil && isUniqueViolation(err) {
		return errAddressTaken
	}
	return err
}

// stop ends the copy (why: nil at the input's end, else the copy is
// cancelled) and waits for it.
func (c *pgCopy) stop(why error) error {
	if !c.ended {
		c.mu.Lock()
		c.stopE = why
		c.mu.Unlock()
		close(c.pages)
		c.ended, c.err = true, copyError(<-c.done)
	}
	return c.err
}

// endCopy waits for the end of a fresh PostgreSQL import's copy (after
// the input's last page).
func (w *contactWriter) endCopy() error {
	if w.pipe != nil { // SQLite's
		if err := w.pipe.stop(false); err != nil {
			return err
		}
		w.res.Imported += w.pipe.n
	}
	if w.copy == nil {
		return nil
	}
	if err := w.copy.stop(nil); err != nil {
		return err
	}
	w.res.Imported += w.copy.n
	return nil
}

// finishCopy writes the tags of the contacts a fresh PostgreSQL import
// copied: those of the team created at the import's time (the team had no
// contacts when the import began; another import's rows would repeat tags
// and fail, rolling back).
func (w *contactWriter) finishCopy(ctx context.Context) error {
	if w.copy == nil || w.copy.n == 0 {
		return nil
	}
	if _, err := w.tx.ExecContext(ctx, "INSERT INTO contact_tags (contact_id, team_id, tag) "+
		"SELECT id, team_id, jsonb_array_elements_text(tags::jsonb) FROM contacts WHERE team_id = ? AND created_at = ?", w.teamID, w.now); err != nil {
		if isUniqueViolation(err) {
			return &ConflictError{Reason: "another import added contacts to this team while this one ran; nothing was imported, try again"}
		}
		return err
	}
	return nil
}
