package experiments

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slicelab/tracking"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// Contact is one address in a team's audience.
type Contact struct {
	bun.BaseModel `bun:"table:contacts"`

	ID             uuid.UUID         `bun:"id,pk,type:uuid" json:"id"`
	TeamID         uuid.UUID         `bun:"team_id,type:uuid" json:"-"`
	Email          string            `bun:"email" json:"email"`
	EmailKey       string            `bun:"email_key" json:"-"`
	Name           string            `bun:"name" json:"name"`
	Attributes     map[string]string `bun:"attributes,type:text,json_use_number" json:"attributes"`
	Tags           []string          `bun:"tags,type:text" json:"tags"`
	UnsubscribedAt *time.Time        `bun:"unsubscribed_at" json:"unsubscribed_at"`
	BouncedAt      *time.Time        `bun:"bounced_at" json:"bounced_at"`
	CreatedAt      time.Time         `bun:"created_at" json:"created_at"`
}

// Attr returns a free attribute, or "" when the contact has none of that
// name; templates call it as {{.Contact.Attr "plan"}}.
func (c Contact) Attr(name string) string { return c.Attributes[name] }

type contactTag struct {
	bun.BaseModel `bun:"table:contact_tags"`

	ContactID uuid.UUID `bun:"contact_id,type:uuid"`
	TeamID    uuid.UUID `bun:"team_id,type:uuid"`
	Tag       string    `bun:"tag"`
}

// ContactInput is one contact to import.
type ContactInput struct {
	Email      string            `json:"email"`
	Name       string            `json:"name"`
	Tags       []string          `json:"tags"`
	Attributes map[string]string `json:"attributes"`

	row int // the row number reported in errors
}

// RowError is a problem with one input row. For CSV, rows are numbered as
// in the file (the header is row 1); for JSON, the array's first element is row 1.
type RowError struct {
	Row     int    `json:"row"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ImportResult is the answer to an import.
type ImportResult struct {
	Imported int        `json:"imported"`
	Skipped  int        `json:"skipped"`
	Errors   []RowError `json:"errors"`
}

// ImportError is returned when any row is bad: nothing was imported.
type ImportError struct{ Result ImportResult }

func (e *ImportError) Error() string {
	first := e.Result.Errors[0]
	return fmt.Sprintf("import refused, %d bad rows (first: row %d, %s: %s); nothing was imported",
		len(e.Result.Errors), first.Row, first.Field, first.Message)
}

// maxImportErrors caps the row errors reported for one import.
const maxImportErrors = 100

// ParseContactsCSV reads a CSV with a header row. `email` is required; `name`
// and `tags` (;-separated) are known columns; every other column becomes an
// attribute.
func ParseContactsCSV(r io.Reader) ([]ContactInput, []RowError) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = false
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, []RowError{{Row: 1, Field: "email", Message: "the file is empty; a header row with an email column is required"}}
	}
	if err != nil {
		return nil, []RowError{{Row: 1, Field: "", Message: "unreadable header: " + csvMessage(err)}}
	}
	col := map[string]int{}
	for i, h := range header {
		if !utf8.ValidString(h) {
			return nil, []RowError{{Row: 1, Field: fmt.Sprintf("column %d", i+1), Message: "header is not valid UTF-8"}}
		}
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\uFEFF")))
		if h == "" {
			return nil, []RowError{{Row: 1, Field: fmt.Sprintf("column %d", i+1), Message: "header is empty"}}
		}
		if _, dup := col[h]; dup {
			return nil, []RowError{{Row: 1, Field: h, Message: "column appears twice in the header"}}
		}
		col[h] = i
		header[i] = h
	}
	if _, ok := col["email"]; !ok {
		return nil, []RowError{{Row: 1, Field: "email", Message: "missing column: the header has no email column"}}
	}
	var out []ContactInput
	var errs []RowError
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.StartLine
			}
			errs = append(errs, RowError{Row: line, Field: "", Message: csvMessage(err)})
			if len(errs) >= maxImportErrors {
				break
			}
			continue
		}
		line, _ := cr.FieldPos(0)
		in := ContactInput{row: line}
		for i, v := range rec {
			switch header[i] {
			case "email":
				in.Email = v
			case "name":
				in.Name = v
			case "tags":
				for _, t := range strings.Split(v, ";") {
					if t = strings.TrimSpace(t); t != "" {
						in.Tags = append(in.Tags, t)
					}
				}
			default:
				if in.Attributes == nil {
					in.Attributes = map[string]string{}
				}
				in.Attributes[header[i]] = v
			}
		}
		out = append(out, in)
	}
	return out, errs
}

func csvMessage(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if pe.Err == csv.ErrFieldCount {
			return "wrong number of fields for the header"
		}
		return pe.Err.Error()
	}
	return err.Error()
}

// ParseContactsJSON reads a JSON array of contacts.
func ParseContactsJSON(r io.Reader) ([]ContactInput, error) {
	var in []ContactInput
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, &ValidationError{Fields: map[string]string{"body": "expected a JSON array of contacts ({\"email\",\"name\",\"tags\",\"attributes\"}): " + err.Error()}}
	}
	if dec.More() {
		return nil, &ValidationError{Fields: map[string]string{"body": "unexpected data after the JSON array"}}
	}
	for i := range in {
		in[i].row = i + 1
	}
	return in, nil
}

// validateContacts checks each row and normalises it; rows are numbered by
// their row field.
func validateContacts(in []ContactInput) []RowError {
	var errs []RowError
	seen := make(map[string]int, len(in))
	add := func(row int, field, msg string) {
		if len(errs) < maxImportErrors {
			errs = append(errs, RowError{Row: row, Field: field, Message: msg})
		}
	}
	for i := range in {
		c := &in[i]
		bad := false
		for _, f := range []struct{ name, v string }{{"email", c.Email}, {"name", c.Name}} {
			if !utf8.ValidString(f.v) {
				add(c.row, f.name, "not valid UTF-8")
				bad = true
			}
		}
		for k, v := range c.Attributes {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				add(c.row, k, "not valid UTF-8")
				bad = true
			}
		}
		for _, t := range c.Tags {
			if !utf8.ValidString(t) {
				add(c.row, "tags", "not valid UTF-8")
				bad = true
			}
		}
		if bad {
			continue
		}
		c.Email = strings.TrimSpace(c.Email)
		c.Name = strings.TrimSpace(c.Name)
		switch {
		case c.Email == "":
			add(c.row, "email", "is required")
			continue
		case strings.ContainsAny(c.Email, "\r\n"):
			add(c.row, "email", "must not contain line breaks")
			continue
		}
		if !ValidAddress(c.Email) {
			add(c.row, "email", fmt.Sprintf("%q is not a valid email address", c.Email))
			continue
		}
		if strings.ContainsAny(c.Name, "\r\n") {
			add(c.row, "name", "must not contain line breaks")
			continue
		}
		key := strings.ToLower(c.Email)
		if prev, dup := seen[key]; dup {
			add(c.row, "email", fmt.Sprintf("duplicate of row %d (%s)", prev, c.Email))
			continue
		}
		seen[key] = c.row
		slices.Sort(c.Tags)
		c.Tags = slices.Compact(c.Tags)
	}
	return errs
}

// ImportContacts stores new contacts of a team, all or nothing. Contacts whose
// address the team already has are skipped (and left as they are, so an
// unsubscribe is never undone by a re-import).
func (s *Service) ImportContacts(ctx context.Context, teamID uuid.UUID, in []ContactInput, parseErrs []RowError) (ImportResult, error) {
	errs := append(parseErrs, validateContacts(in)...)
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b RowError) int { return a.Row - b.Row })
		if len(errs) > maxImportErrors {
			errs = errs[:maxImportErrors]
		}
		return ImportResult{Errors: errs}, &ImportError{Result: ImportResult{Errors: errs}}
	}
	res := ImportResult{Errors: []RowError{}}
	now := s.now().UTC()
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		const chunk = 500
		for start := 0; start < len(in); start += chunk {
			part := in[start:min(start+chunk, len(in))]
			keys := make([]string, len(part))
			for i, c := range part {
				keys[i] = strings.ToLower(c.Email)
			}
			var existing []string
			if err := tx.NewSelect().Table("contacts").Column("email_key").
				Where("team_id = ?", teamID).Where("email_key IN (?)", bun.In(keys)).Scan(ctx, &existing); err != nil {
				return err
			}
			have := make(map[string]bool, len(existing))
			for _, k := range existing {
				have[k] = true
			}
			rows := make([]Contact, 0, len(part))
			var tags []contactTag
			for i, c := range part {
				if have[keys[i]] {
					res.Skipped++
					continue
				}
				attrs := c.Attributes
				if attrs == nil {
					attrs = map[string]string{}
				}
				t := c.Tags
				if t == nil {
					t = []string{}
				}
				row := Contact{ID: tracking.NewID(), TeamID: teamID, Email: c.Email, EmailKey: keys[i], Name: c.Name,
					Attributes: attrs, Tags: t, CreatedAt: now}
				rows = append(rows, row)
				for _, tag := range t {
					tags = append(tags, contactTag{ContactID: row.ID, TeamID: teamID, Tag: tag})
				}
			}
			if len(rows) > 0 {
				if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
					return err
				}
				res.Imported += len(rows)
			}
			if len(tags) > 0 {
				if _, err := tx.NewInsert().Model(&tags).Exec(ctx); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return ImportResult{}, fmt.Errorf("experiments: import contacts: %w", err)
	}
	return res, nil
}

// ContactPage is one page of a team's contacts, in creation order.
type ContactPage struct {
	Contacts []Contact `json:"contacts"`
	Next     string    `json:"next"` // pass as ?after= for the next page; "" on the last page
}

// ListContacts returns up to limit contacts after the given contact id.
func (s *Service) ListContacts(ctx context.Context, teamID uuid.UUID, after string, limit int) (ContactPage, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	q := s.db.NewSelect().Model((*Contact)(nil)).Where("team_id = ?", teamID).Order("id").Limit(limit + 1)
	if after != "" {
		id, err := uuid.Parse(after)
		if err != nil {
			return ContactPage{}, &ValidationError{Fields: map[string]string{"after": "must be a contact id from the previous page's next"}}
		}
		q = q.Where("id > ?", id)
	}
	page := ContactPage{Contacts: []Contact{}}
	if err := q.Scan(ctx, &page.Contacts); err != nil {
		return ContactPage{}, fmt.Errorf("experiments: list contacts: %w", err)
	}
	if len(page.Contacts) > limit {
		page.Contacts = page.Contacts[:limit]
		page.Next = page.Contacts[limit-1].ID.String()
	}
	return page, nil
}
