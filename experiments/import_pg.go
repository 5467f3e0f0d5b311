package experiments

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"

	"slicelab/tracking"
)

// A fresh import on PostgreSQL (into a team without contacts) streams its
// rows with COPY into a temporary table of the transaction (no indexes, no
// write-ahead log), in a goroutine of its own while the input is read and
// checked; at the end, one INSERT … SELECT per table moves them into the
// team's contacts and tags. The transaction stays all or nothing: bad rows
// stop the copy and roll everything back, the temporary table included.

// importRowsColumns are the temporary table's columns, in COPY's order.
var importRowsColumns = []string{"id", "email", "email_key", "name", "attributes", "tags", "tag_list"}

// errCopyAborted ends a copy whose import failed before its end.
var errCopyAborted = errors.New("import stopped")

// pgCopy is a COPY running on the import's connection: pages are handed
// over through a channel (a page or two ahead at most: memory stays flat).
type pgCopy struct {
	pages chan [][]any
	done  chan error
	err   error // the copy's end, once received from done
	ended bool
	stopE error // why the pages ended (nil: the input's end)

	cur [][]any
	i   int
}

func (w *contactWriter) startCopy(ctx context.Context, conn bun.Conn) error {
	if _, err := w.tx.ExecContext(ctx, "CREATE TEMPORARY TABLE import_rows (id uuid NOT NULL, email text NOT NULL, "+
		"email_key text NOT NULL, name text NOT NULL, attributes text NOT NULL, tags text NOT NULL, tag_list text[] NOT NULL) ON COMMIT DROP"); err != nil {
		return err
	}
	c := &pgCopy{pages: make(chan [][]any, 2), done: make(chan error, 1)}
	w.copy = c
	go func() {
		c.done <- conn.Raw(func(dc any) error {
			sc, ok := dc.(*stdlib.Conn)
			if !ok {
				return fmt.Errorf("import: COPY needs the pgx driver, not %T", dc)
			}
			_, err := sc.Conn().CopyFrom(ctx, pgx.Identifier{"import_rows"}, importRowsColumns, c)
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

// Err is read after the pages' channel is closed: it was set before.
func (c *pgCopy) Err() error { return c.stopE }

// send hands a page over to the copy; an error is the copy's failure.
func (c *pgCopy) send(page []ContactInput, keys []string) error {
	if c.ended {
		return c.err
	}
	rows := make([][]any, len(page))
	for i, in := range page {
		tags := in.Tags
		if tags == nil {
			tags = []string{}
		}
		attrs := in.Attributes
		if attrs == nil {
			attrs = map[string]string{}
		}
		rows[i] = []any{tracking.NewID(), in.Email, keys[i], in.Name, jsonText(attrs), jsonText(tags), tags}
	}
	select {
	case c.pages <- rows:
		return nil
	case err := <-c.done:
		c.ended, c.err = true, err
		if err == nil {
			err = errors.New("import: COPY ended early")
		}
		return err
	}
}

// stop ends the copy (why: nil at the input's end, else the copy is
// cancelled) and waits for it.
func (c *pgCopy) stop(why error) error {
	if !c.ended {
		c.stopE = why
		close(c.pages)
		c.ended, c.err = true, <-c.done
	}
	return c.err
}

// finishCopy ends a fresh PostgreSQL import: the rows copied go into the
// team's contacts and tags.
func (w *contactWriter) finishCopy(ctx context.Context) error {
	if w.copy == nil {
		return nil
	}
	if err := w.copy.stop(nil); err != nil {
		return err
	}
	res, err := w.tx.ExecContext(ctx, "INSERT INTO contacts (id, team_id, email, email_key, name, attributes, tags, created_at) "+
		"SELECT id, ?, email, email_key, name, attributes, tags, ? FROM import_rows", w.teamID, w.now)
	if err != nil {
		if isUniqueViolation(err) { // repeats in the file were found before: another import
			return &ConflictError{Reason: "another import added some of these addresses while this one ran; nothing was imported, try again"}
		}
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	w.res.Imported += int(n)
	if _, err := w.tx.ExecContext(ctx, "INSERT INTO contact_tags (contact_id, team_id, tag) "+
		"SELECT id, ?, unnest(tag_list) FROM import_rows", w.teamID); err != nil {
		return err
	}
	_, err = w.tx.ExecContext(ctx, "DROP TABLE import_rows")
	return err
}
