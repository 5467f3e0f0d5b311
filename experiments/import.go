package experiments

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"slicelab/tracking"
)

// Contact imports stream: a CSV or JSON body is read one row at a time,
// checked, and written in pages of importPage contacts (multi-row
// statements) inside one transaction, so that an import is all or nothing
// and memory does not grow with the file. Rows with problems are collected
// (up to maxImportErrors) and the transaction is rolled back at the end.
// Addresses that appear twice in one file are found without keeping the
// addresses: each row leaves a 64-bit hash of its address and its row
// number (12 bytes a row), sorted once at the end.

// ImportLimits bound one import; every refusal names the field.
type ImportLimits struct {
	// Columns bounds the columns of a CSV (email, name and tags included)
	// and the attributes of a JSON contact.
	Columns int
	// KeyChars bounds an attribute's name (a CSV column's header).
	KeyChars int
	// ValueChars bounds an attribute's value and a contact's name.
	ValueChars int
	// EmailChars bounds an address (RFC 5321 allows 254).
	EmailChars int
	// Tags bounds the tags of one contact, TagChars each tag.
	Tags, TagChars int
	// RowBytes bounds one CSV row or one JSON contact as read. A row far
	// longer than this stops the reading (memory stays bounded).
	RowBytes int
	// Rows bounds the contacts of one import; 0: any number.
	Rows int
}

// DefaultImportLimits are the limits of an import that sets none.
var DefaultImportLimits = ImportLimits{Columns: 200, KeyChars: 100, ValueChars: 1000, EmailChars: 254,
	Tags: 100, TagChars: 100, RowBytes: 64 << 10}

func (l ImportLimits) withDefaults() ImportLimits {
	d := DefaultImportLimits
	for _, f := range []struct{ v, def *int }{{&l.Columns, &d.Columns}, {&l.KeyChars, &d.KeyChars}, {&l.ValueChars, &d.ValueChars},
		{&l.EmailChars, &d.EmailChars}, {&l.Tags, &d.Tags}, {&l.TagChars, &d.TagChars}, {&l.RowBytes, &d.RowBytes}} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	return l
}

// ContactInput is one contact to import.
type ContactInput struct {
	Email      string            `json:"email"`
	Name       string            `json:"name"`
	Tags       []string          `json:"tags"`
	Attributes map[string]string `json:"attributes"`

	row int // the row number reported in errors
	// hasName and hasTags: the input gives a name (tags); a re-import
	// leaves out what the input does not give.
	hasName, hasTags bool
}

// UnmarshalJSON reads one contact of a JSON import, refusing unknown fields
// and noting which of name and tags it gives.
func (c *ContactInput) UnmarshalJSON(b []byte) error {
	var raw struct {
		Email      string            `json:"email"`
		Name       *string           `json:"name"`
		Tags       *[]string         `json:"tags"`
		Attributes map[string]string `json:"attributes"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	*c = ContactInput{Email: raw.Email, Attributes: raw.Attributes, row: c.row}
	if raw.Name != nil {
		c.Name, c.hasName = *raw.Name, true
	}
	if raw.Tags != nil {
		c.Tags, c.hasTags = *raw.Tags, true
	}
	return nil
}

// RowError is a problem with one input row. For CSV, rows are numbered as
// in the file (the header is row 1); for JSON, the array's first element is row 1.
type RowError struct {
	Row     int    `json:"row"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ImportResult is the answer to an import: contacts new to the team
// (imported), contacts the team had whose name, tags or attributes changed
// (updated), and contacts the team had with the same values (skipped).
type ImportResult struct {
	Imported int        `json:"imported"`
	Updated  int        `json:"updated"`
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

// maxImportErrors caps the row errors reported for one import: reading
// stops at that many.
const maxImportErrors = 100

// importPage is the number of contacts read before they are written: one
// lookup of the addresses the team has, then one statement per table on
// SQLite (the rows as one JSON parameter), statements of chunks' sizes on
// PostgreSQL (250 rows of 8 columns stay far below any parameter limit).
const importPage = 500

// errStop is a problem after which the input cannot be read on.
type errStop struct{ RowError }

func (e *errStop) Error() string { return e.Message }

// source yields an import's rows: a contact, or a *RowError for a row that
// is bad but does not stop the reading; io.EOF at the end; an *errStop or
// a *ValidationError when the input cannot be read on.
type source interface {
	next() (ContactInput, *RowError, error)
}

// rowLimiter hands its reader's bytes over in small reads and fails once
// more than max bytes were read since the last reset: a row (or a JSON
// contact) without an end cannot fill the memory.
type rowLimiter struct {
	r      io.Reader
	n, max int
}

var errRowTooLong = errors.New("row too long")

func (l *rowLimiter) Read(p []byte) (int, error) {
	if l.n > l.max {
		return 0, errRowTooLong
	}
	if len(p) > 4096 {
		p = p[:4096]
	}
	n, err := l.r.Read(p)
	l.n += n
	return n, err
}

// slack is what the readers above a rowLimiter may have read ahead of the
// row they return (bufio's and json's buffers, in reads of 4 KiB).
const slack = 16 << 10

func sizeText(n int) string {
	if n >= 1<<10 && n%(1<<10) == 0 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// csvSource reads a CSV with a header row. `email` is required; `name` and
// `tags` (;-separated) are known columns; every other column becomes an
// attribute (its name lower-cased).
type csvSource struct {
	cr       *csv.Reader
	lr       *rowLimiter
	lim      ImportLimits
	header   []string
	col      map[string]int
	nextLine int // where the row after the last one read starts, at the earliest
}

func newCSVSource(r io.Reader, lim ImportLimits) (*csvSource, error) {
	lr := &rowLimiter{r: r, max: lim.RowBytes + slack}
	cr := csv.NewReader(lr)
	cr.ReuseRecord = true
	header, err := cr.Read()
	stop := func(field, format string, args ...any) error {
		return &errStop{RowError{Row: 1, Field: field, Message: fmt.Sprintf(format, args...)}}
	}
	switch {
	case errors.Is(err, io.EOF):
		return nil, stop("email", "the file is empty; a header row with an email column is required")
	case errors.Is(err, errRowTooLong):
		return nil, stop("columns", "the header row is longer than %s; a file may have at most %d columns", sizeText(lim.RowBytes), lim.Columns)
	case err != nil:
		return nil, stop("", "unreadable header: %s", csvMessage(err))
	case len(header) > lim.Columns:
		return nil, stop("columns", "the header has %d columns; a file may have at most %d", len(header), lim.Columns)
	case int(cr.InputOffset()) > lim.RowBytes:
		return nil, stop("columns", "the header row is longer than %s", sizeText(lim.RowBytes))
	}
	header = slices.Clone(header)
	col := map[string]int{}
	for i, h := range header {
		if !utf8.ValidString(h) {
			return nil, stop(fmt.Sprintf("column %d", i+1), "header is not valid UTF-8")
		}
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\uFEFF")))
		if h == "" {
			return nil, stop(fmt.Sprintf("column %d", i+1), "header is empty")
		}
		if n := utf8.RuneCountInString(h); n > lim.KeyChars {
			return nil, stop(fmt.Sprintf("column %d", i+1), "header is %d characters long; an attribute name may have at most %d", n, lim.KeyChars)
		}
		if _, dup := col[h]; dup {
			return nil, stop(h, "column appears twice in the header")
		}
		col[h] = i
		header[i] = h
	}
	if _, ok := col["email"]; !ok {
		return nil, stop("email", "missing column: the header has no email column")
	}
	lr.n = 0
	return &csvSource{cr: cr, lr: lr, lim: lim, header: header, col: col, nextLine: 2}, nil
}

func (s *csvSource) next() (ContactInput, *RowError, error) {
	start := s.cr.InputOffset()
	rec, err := s.cr.Read()
	s.lr.n = 0
	switch {
	case errors.Is(err, io.EOF):
		return ContactInput{}, nil, io.EOF
	case errors.Is(err, errRowTooLong):
		return ContactInput{}, nil, &errStop{RowError{Row: s.nextLine, Field: "row",
			Message: fmt.Sprintf("row %d (or a later one) is longer than %s; the import stops here", s.nextLine, sizeText(s.lim.RowBytes))}}
	case err != nil:
		var pe *csv.ParseError
		if !errors.As(err, &pe) {
			return ContactInput{}, nil, err
		}
		s.nextLine = pe.Line + 1
		return ContactInput{}, &RowError{Row: pe.StartLine, Field: "", Message: csvMessage(err)}, nil
	}
	line, _ := s.cr.FieldPos(0)
	end := line
	for _, v := range rec {
		end += strings.Count(v, "\n")
	}
	s.nextLine = end + 1
	if n := int(s.cr.InputOffset() - start); n > s.lim.RowBytes {
		return ContactInput{}, &RowError{Row: line, Field: "row", Message: fmt.Sprintf("is %d bytes long; a row may have at most %s", n, sizeText(s.lim.RowBytes))}, nil
	}
	in := ContactInput{row: line}
	for i, v := range rec {
		switch h := s.header[i]; h {
		case "email":
			in.Email = v
		case "name":
			in.Name, in.hasName = v, true
		case "tags":
			in.hasTags = true
			for t := range strings.SplitSeq(v, ";") {
				if t = strings.TrimSpace(t); t != "" {
					in.Tags = append(in.Tags, t)
				}
			}
		default:
			if in.Attributes == nil {
				in.Attributes = make(map[string]string, len(rec))
			}
			in.Attributes[h] = v
		}
	}
	return in, nil, nil
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

// jsonSource reads a JSON array of contacts, one element at a time.
type jsonSource struct {
	dec     *json.Decoder
	lr      *rowLimiter
	lim     ImportLimits
	row     int
	started bool
}

const jsonShape = `expected a JSON array of contacts ({"email","name","tags","attributes"})`

func bodyError(format string, args ...any) error {
	return &ValidationError{Fields: map[string]string{"body": fmt.Sprintf(format, args...)}}
}

func (s *jsonSource) next() (ContactInput, *RowError, error) {
	if !s.started {
		s.started = true
		tok, err := s.dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return ContactInput{}, nil, bodyError("%s: the body is empty", jsonShape)
			}
			return ContactInput{}, nil, bodyError("%s: %v", jsonShape, err)
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return ContactInput{}, nil, bodyError("%s: the body starts with %v", jsonShape, tok)
		}
	}
	if !s.dec.More() {
		if _, err := s.dec.Token(); err != nil { // the closing ]
			return ContactInput{}, nil, bodyError("%s: %v", jsonShape, err)
		}
		if _, err := s.dec.Token(); !errors.Is(err, io.EOF) {
			return ContactInput{}, nil, bodyError("unexpected data after the JSON array")
		}
		return ContactInput{}, nil, io.EOF
	}
	s.row++
	s.lr.n = 0
	start := s.dec.InputOffset()
	in := ContactInput{row: s.row}
	if err := s.dec.Decode(&in); err != nil {
		if errors.Is(err, errRowTooLong) {
			return ContactInput{}, nil, &errStop{RowError{Row: s.row, Field: "row",
				Message: fmt.Sprintf("contact %d is longer than %s; the import stops here", s.row, sizeText(s.lim.RowBytes))}}
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return ContactInput{}, nil, bodyError("%s: the body ends inside contact %d", jsonShape, s.row)
		}
		return ContactInput{}, nil, bodyError("%s: contact %d: %v", jsonShape, s.row, err)
	}
	in.row = s.row
	if n := int(s.dec.InputOffset() - start); n > s.lim.RowBytes {
		return ContactInput{}, &RowError{Row: s.row, Field: "row", Message: fmt.Sprintf("is %d bytes long; a contact may have at most %s", n, sizeText(s.lim.RowBytes))}, nil
	}
	return in, nil, nil
}

func newJSONSource(r io.Reader, lim ImportLimits) *jsonSource {
	lr := &rowLimiter{r: r, max: lim.RowBytes + slack}
	return &jsonSource{dec: json.NewDecoder(lr), lr: lr, lim: lim}
}

// sliceSource yields contacts built in Go (the demo); each gives its name and tags.
type sliceSource struct {
	in []ContactInput
	i  int
}

func (s *sliceSource) next() (ContactInput, *RowError, error) {
	if s.i >= len(s.in) {
		return ContactInput{}, nil, io.EOF
	}
	c := s.in[s.i]
	s.i++
	c.row, c.hasName, c.hasTags = s.i, true, true
	return c, nil, nil
}

// validateContact checks one row and normalises it (trimmed address and
// name, tags sorted without repeats). It returns the row's problems.
func validateContact(c *ContactInput, lim ImportLimits) []RowError {
	var errs []RowError
	add := func(field, format string, args ...any) {
		errs = append(errs, RowError{Row: c.row, Field: field, Message: fmt.Sprintf(format, args...)})
	}
	for _, f := range []struct{ name, v string }{{"email", c.Email}, {"name", c.Name}} {
		if !utf8.ValidString(f.v) {
			add(f.name, "not valid UTF-8")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.Attributes)) {
		if !utf8.ValidString(k) || !utf8.ValidString(c.Attributes[k]) {
			add(k, "not valid UTF-8")
		}
	}
	for _, t := range c.Tags {
		if !utf8.ValidString(t) {
			add("tags", "not valid UTF-8")
			break
		}
	}
	if len(errs) > 0 {
		return errs
	}
	c.Email = strings.TrimSpace(c.Email)
	c.Name = strings.TrimSpace(c.Name)
	switch {
	case c.Email == "":
		add("email", "is required")
	case strings.ContainsAny(c.Email, "\r\n"):
		add("email", "must not contain line breaks")
	case utf8.RuneCountInString(c.Email) > lim.EmailChars:
		add("email", "is %d characters long; an address may have at most %d", utf8.RuneCountInString(c.Email), lim.EmailChars)
	case !ValidAddress(c.Email):
		add("email", "%q is not a valid email address", c.Email)
	case strings.ContainsAny(c.Name, "\r\n"):
		add("name", "must not contain line breaks")
	case utf8.RuneCountInString(c.Name) > lim.ValueChars:
		add("name", "is %d characters long; a name may have at most %d", utf8.RuneCountInString(c.Name), lim.ValueChars)
	case len(c.Attributes) > lim.Columns:
		add("attributes", "has %d attributes; a contact may have at most %d", len(c.Attributes), lim.Columns)
	case len(c.Tags) > lim.Tags:
		add("tags", "has %d tags; a contact may have at most %d", len(c.Tags), lim.Tags)
	}
	if len(errs) > 0 {
		return errs
	}
	for _, k := range slices.Sorted(maps.Keys(c.Attributes)) {
		switch v := c.Attributes[k]; {
		case strings.TrimSpace(k) == "":
			add("attributes", "an attribute name is empty")
		case utf8.RuneCountInString(k) > lim.KeyChars:
			add("attributes", "attribute name %.20q… is %d characters long; at most %d", k, utf8.RuneCountInString(k), lim.KeyChars)
		case utf8.RuneCountInString(v) > lim.ValueChars:
			add(k, "is %d characters long; an attribute value may have at most %d", utf8.RuneCountInString(v), lim.ValueChars)
		}
		if len(errs) > 0 {
			return errs
		}
	}
	for _, t := range c.Tags {
		if n := utf8.RuneCountInString(t); n > lim.TagChars {
			add("tags", "tag %.20q… is %d characters long; a tag may have at most %d", t, n, lim.TagChars)
			return errs
		}
	}
	slices.Sort(c.Tags)
	c.Tags = slices.Compact(c.Tags)
	return nil
}

// importRun is one import: the rows read so far, their problems, and the
// page to be written.
type importRun struct {
	lim     ImportLimits
	write   func(page []ContactInput, keys []string) error // nil: check only
	end     func() error                                   // after the last page was written (may be nil)
	errs    []RowError
	rows    int
	stopped bool // reading ends here (too many rows)
	repeat  bool // an address repeats within a page: writing stops
	taken   bool // a write found an address the team has (see errAddressTaken)

	seed   maphash.Seed
	hashes []uint64 // of each good row's address key, in row order
	lines  []int32  // the row of each hash

	page     []ContactInput
	keys     []string
	pageSeen map[string]int
}

func newImportRun(lim ImportLimits, write func([]ContactInput, []string) error) *importRun {
	return &importRun{lim: lim, write: write, seed: maphash.MakeSeed(), pageSeen: make(map[string]int, importPage)}
}

// run reads src to its end (or until maxImportErrors problems), writing
// pages while every row so far is good. The error is an *ImportError for
// bad rows, a *ValidationError for a body that is not readable as a whole,
// or what the writer returned.
func (r *importRun) run(src source) error {
	for len(r.errs) < maxImportErrors && !r.stopped {
		c, rowErr, err := src.next()
		if errors.Is(err, io.EOF) {
			break
		}
		var stop *errStop
		if errors.As(err, &stop) {
			r.errs = append(r.errs, stop.RowError)
			break
		}
		if err != nil {
			return err
		}
		if rowErr != nil {
			r.errs = append(r.errs, *rowErr)
			continue
		}
		if err := r.add(c); err != nil {
			return err
		}
	}
	return r.finish()
}

func (r *importRun) add(c ContactInput) error {
	r.rows++
	if r.lim.Rows > 0 && r.rows > r.lim.Rows {
		r.errs = append(r.errs, RowError{Row: c.row, Field: "rows", Message: fmt.Sprintf("an import may have at most %d contacts; split the file", r.lim.Rows)})
		r.stopped = true
		return nil
	}
	if errs := validateContact(&c, r.lim); len(errs) > 0 {
		r.errs = append(r.errs, errs...)
		return nil
	}
	key := strings.ToLower(c.Email)
	r.hashes = append(r.hashes, maphash.String(r.seed, key))
	r.lines = append(r.lines, int32(c.row))
	if _, dup := r.pageSeen[key]; dup {
		// Reported at the end with the other repeats; nothing is written
		// from here on.
		r.repeat = true
		return nil
	}
	r.pageSeen[key] = c.row
	if len(r.errs) == 0 && !r.repeat && r.write != nil {
		r.page = append(r.page, c)
		r.keys = append(r.keys, key)
	}
	if len(r.pageSeen) >= importPage {
		return r.flush()
	}
	return nil
}

func (r *importRun) flush() error {
	var err error
	if len(r.errs) == 0 && !r.repeat && r.write != nil && len(r.page) > 0 {
		err = r.write(r.page, r.keys)
	}
	if errors.Is(err, errAddressTaken) {
		// An address written by an earlier page (found among the hashes
		// at the end) or by another import meanwhile: nothing more is
		// written, and the end tells which.
		r.repeat, r.taken, err = true, true, nil
	}
	clear(r.page)
	r.page, r.keys = r.page[:0], r.keys[:0]
	clear(r.pageSeen)
	return err
}

// hashSort sorts the address hashes with their rows.
type hashSort struct {
	h []uint64
	l []int32
}

func (s hashSort) Len() int { return len(s.h) }
func (s hashSort) Less(i, j int) bool {
	return s.h[i] < s.h[j] || s.h[i] == s.h[j] && s.l[i] < s.l[j]
}
func (s hashSort) Swap(i, j int) {
	s.h[i], s.h[j] = s.h[j], s.h[i]
	s.l[i], s.l[j] = s.l[j], s.l[i]
}

func (r *importRun) finish() error {
	if err := r.flush(); err != nil {
		return err
	}
	if r.end != nil && len(r.errs) == 0 && !r.repeat {
		err := r.end()
		if errors.Is(err, errAddressTaken) { // as in flush
			r.repeat, r.taken, err = true, true, nil
		}
		if err != nil {
			return err
		}
	}
	// Addresses repeated across pages: equal hashes. (Two different
	// addresses share a 64-bit hash with a chance of about 3 in 10^8 in a
	// file of a million rows.)
	sort.Sort(hashSort{r.hashes, r.lines})
	for i := 1; i < len(r.hashes); i++ {
		if r.hashes[i] != r.hashes[i-1] {
			continue
		}
		first := i - 1
		for first > 0 && r.hashes[first-1] == r.hashes[i] {
			first--
		}
		r.errs = append(r.errs, RowError{Row: int(r.lines[i]), Field: "email", Message: fmt.Sprintf("duplicate of row %d (the same address)", r.lines[first])})
	}
	r.hashes, r.lines = nil, nil
	if len(r.errs) == 0 && r.taken {
		return &ConflictError{Reason: "another import added some of these addresses while this one ran; nothing was imported, try again"}
	}
	if len(r.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(r.errs, func(a, b RowError) int { return a.Row - b.Row })
	if len(r.errs) > maxImportErrors {
		r.errs = r.errs[:maxImportErrors]
	}
	return &ImportError{Result: ImportResult{Errors: r.errs}}
}

// CheckContactsCSV reads a CSV as an import does, without storing anything,
// and returns its rows' problems (nil: the file would import).
func CheckContactsCSV(r io.Reader, lim ImportLimits) ([]RowError, error) {
	lim = lim.withDefaults()
	run := newImportRun(lim, nil)
	src, err := newCSVSource(r, lim)
	if err != nil {
		var stop *errStop
		if errors.As(err, &stop) {
			return []RowError{stop.RowError}, nil
		}
		return nil, err
	}
	err = run.run(src)
	var ie *ImportError
	if errors.As(err, &ie) {
		return ie.Result.Errors, nil
	}
	return nil, err
}

// ImportContactsCSV streams a CSV into a team's contacts, all or nothing
// (see ImportContacts).
func (s *Service) ImportContactsCSV(ctx context.Context, teamID uuid.UUID, r io.Reader) (ImportResult, error) {
	lim := s.cfg.ImportLimits.withDefaults()
	src, err := newCSVSource(r, lim)
	if err != nil {
		var stop *errStop
		if errors.As(err, &stop) {
			res := ImportResult{Errors: []RowError{stop.RowError}}
			return res, &ImportError{Result: res}
		}
		return ImportResult{}, err
	}
	return s.importFrom(ctx, teamID, lim, src)
}

// ImportContactsJSON streams a JSON array of contacts into a team's
// contacts, all or nothing (see ImportContacts).
func (s *Service) ImportContactsJSON(ctx context.Context, teamID uuid.UUID, r io.Reader) (ImportResult, error) {
	lim := s.cfg.ImportLimits.withDefaults()
	return s.importFrom(ctx, teamID, lim, newJSONSource(r, lim))
}

// ImportContacts stores contacts of a team, all or nothing: when any row is
// bad the answer is an *ImportError with the rows' problems and nothing is
// stored. An address the team has already is updated: its name and tags
// are replaced (when the input gives them) and its attributes merged (the
// input's names replace, others stay); its unsubscribe and bounce stay as
// they are. Contacts whose values would not change are counted as skipped.
func (s *Service) ImportContacts(ctx context.Context, teamID uuid.UUID, in []ContactInput) (ImportResult, error) {
	return s.importFrom(ctx, teamID, s.cfg.ImportLimits.withDefaults(), &sliceSource{in: in})
}

func (s *Service) importFrom(ctx context.Context, teamID uuid.UUID, lim ImportLimits, src source) (ImportResult, error) {
	res := ImportResult{Errors: []RowError{}}
	now := s.now().UTC()
	// One connection for the whole import: on PostgreSQL its rows are
	// copied (COPY) on the transaction's connection.
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return ImportResult{}, fmt.Errorf("experiments: import contacts: %w", err)
	}
	defer conn.Close()
	err = conn.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		w := newContactWriter(tx, teamID, now, &res)
		defer w.close()
		any, err := tx.NewSelect().Table("contacts").Where("team_id = ?", teamID).Exists(ctx)
		if err != nil {
			return err
		}
		w.fresh = !any
		if w.pg && w.fresh {
			if err := w.startCopy(ctx, conn); err != nil {
				return err
			}
		}
		if !w.pg {
			// Foreign keys checked at the commit, and INSERT OR FAIL: SQLite
			// then keeps no undo journal per statement (a third of an
			// import's time, written to a temporary file); a failure still
			// rolls the whole transaction back.
			if _, err := tx.ExecContext(ctx, "PRAGMA defer_foreign_keys = ON"); err != nil {
				return err
			}
			if w.fresh {
				w.startPipe(ctx)
			}
		}

		run := newImportRun(lim, func(page []ContactInput, keys []string) error { return w.write(ctx, page, keys) })
		run.end = w.endCopy
		if err := run.run(src); err != nil {
			return err
		}
		if err := w.finishCopy(ctx); err != nil {
			return err
		}
		return addContacts(ctx, tx, teamID, res.Imported)
	})
	var ie *ImportError
	var ve *ValidationError
	switch {
	case errors.As(err, &ie):
		return ie.Result, err
	case errors.As(err, &ve):
		return ImportResult{Errors: []RowError{}}, err
	case err != nil:
		return ImportResult{}, fmt.Errorf("experiments: import contacts: %w", err)
	}
	return res, nil
}

// contactWriter writes the pages of one import in its transaction, with
// prepared multi-row statements (their SQL is parsed once per import, not
// once per page; values are bound, not spelled into the SQL).
type contactWriter struct {
	tx     bun.Tx
	pg     bool
	teamID uuid.UUID
	now    any // created_at as the dialect stores it
	res    *ImportResult
	stmts  map[string]*sql.Stmt
	// fresh: the team had no contacts when the import began, so pages are
	// inserted without looking up their addresses first.
	fresh bool
	// copy: on PostgreSQL, a fresh import's contacts go by COPY (see
	// import_pg.go); pipe: on SQLite, a fresh import's pages are written
	// while the next ones are read (see import_sqlite.go).
	copy *pgCopy
	pipe *sqlitePipe
}

func newContactWriter(tx bun.Tx, teamID uuid.UUID, now time.Time, res *ImportResult) *contactWriter {
	w := &contactWriter{tx: tx, pg: tx.Dialect().Name() == dialect.PG, teamID: teamID, res: res, stmts: map[string]*sql.Stmt{}}
	w.now = now.UTC().Truncate(time.Microsecond) // as PostgreSQL keeps it (a fresh import finds its rows by it)
	if !w.pg {                                   // as bun writes times into SQLite
		w.now = now.UTC().Format("2006-01-02 15:04:05.999999-07:00")
	}
	return w
}

func (w *contactWriter) close() {
	if w.copy != nil {
		w.copy.stop(errCopyAborted)
	}
	if w.pipe != nil {
		w.pipe.stop(true)
	}
	for _, st := range w.stmts {
		st.Close()
	}
}

// stmt prepares (once) a statement of n rows of cols values each: head,
// then the rows as (…), (…), then tail.
func (w *contactWriter) stmt(ctx context.Context, head, tail string, n, cols int) (*sql.Stmt, error) {
	key := fmt.Sprint(head, "\x00", tail, "\x00", n, "\x00", cols)
	if st, ok := w.stmts[key]; ok {
		return st, nil
	}
	var b strings.Builder
	b.WriteString(head)
	p := 0
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := range cols {
			if j > 0 {
				b.WriteString(", ")
			}
			p++
			if w.pg {
				fmt.Fprintf(&b, "$%d", p)
			} else {
				b.WriteByte('?')
			}
		}
		b.WriteByte(')')
	}
	b.WriteString(tail)
	st, err := w.tx.Tx.PrepareContext(ctx, b.String())
	if err != nil {
		return nil, err
	}
	w.stmts[key] = st
	return st, nil
}

// chunks are the statement sizes rows are written in: few distinct
// statements to prepare, few executions a page.
var chunks = []int{250, 50, 10, 1}

// execRows writes rows of cols values (args, row after row) with the
// prepared statements of chunks' sizes.
func (w *contactWriter) execRows(ctx context.Context, head, tail string, cols int, args []any) error {
	rows := len(args) / cols
	for _, size := range chunks {
		for rows >= size {
			st, err := w.stmt(ctx, head, tail, size, cols)
			if err != nil {
				return err
			}
			if _, err := st.ExecContext(ctx, args[:size*cols]...); err != nil {
				return err
			}
			args, rows = args[size*cols:], rows-size
		}
	}
	return nil
}

type existingContact struct {
	ID         uuid.UUID
	Name       string
	Attributes map[string]string
	Tags       []string
}

// existing reads the contacts of the team with these address keys.
func (w *contactWriter) existing(ctx context.Context, keys []string) (map[string]existingContact, error) {
	var rows *sql.Rows
	if w.pg {
		// A join from the keys, which PostgreSQL can only plan as lookups
		// in the unique index: an IN list's cached (generic) plan was a
		// scan of the team's contacts, growing with every page.
		st, err := w.stmt(ctx, "SELECT c.id, c.email_key, c.name, c.attributes, c.tags FROM unnest($1::text[]) AS k (key) "+
			"JOIN contacts AS c ON c.team_id = $2 AND c.email_key = k.key", "", 0, 0)
		if err != nil {
			return nil, err
		}
		if rows, err = st.QueryContext(ctx, keys, w.teamID); err != nil {
			return nil, err
		}
	} else {
		var err error
		rows, err = w.tx.QueryContext(ctx, "SELECT id, email_key, name, attributes, tags FROM contacts "+
			"WHERE team_id = ? AND email_key IN (SELECT value FROM json_each(?))", w.teamID.String(), jsonText(keys))
		if err != nil {
			return nil, err
		}
	}
	defer rows.Close()
	out := map[string]existingContact{}
	for rows.Next() {
		var c existingContact
		var key, attrs, tags string
		if err := rows.Scan(&c.ID, &key, &c.Name, &attrs, &tags); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(attrs), &c.Attributes); err != nil {
			return nil, fmt.Errorf("contact %s: attributes: %w", c.ID, err)
		}
		if err := json.Unmarshal([]byte(tags), &c.Tags); err != nil {
			return nil, fmt.Errorf("contact %s: tags: %w", c.ID, err)
		}
		out[key] = c
	}
	return out, rows.Err()
}

// writeSQLite writes a page into SQLite: each statement takes its rows as
// one JSON array (json_each), so its SQL stays short and the same whatever
// the page (SQLite's driver parses every statement it runs).
func (w *contactWriter) writeSQLite(ctx context.Context, add, update, retag, tagRows []any) error {
	rowsOf := func(args []any, cols int, skip ...int) string {
		out := make([][]any, 0, len(args)/cols)
		for i := 0; i+cols <= len(args); i += cols {
			var row []any
			for j, v := range args[i : i+cols] {
				if !slices.Contains(skip, j) {
					if id, ok := v.(uuid.UUID); ok {
						v = id.String()
					}
					row = append(row, v)
				}
			}
			out = append(out, row)
		}
		return jsonText(out)
	}
	if len(add) > 0 { // id, team_id, email, email_key, name, attributes, tags, created_at
		if _, err := w.tx.ExecContext(ctx, "INSERT OR FAIL INTO contacts (id, team_id, email, email_key, name, attributes, tags, created_at) "+
			"SELECT value->>0, ?, value->>1, value->>2, value->>3, value->>4, value->>5, ? FROM json_each(?)",
			w.teamID.String(), w.now, rowsOf(add, 8, 1, 7)); err != nil {
			if w.fresh && isUniqueViolation(err) {
				return errAddressTaken
			}
			return err
		}
		w.res.Imported += len(add) / 8
	}
	if len(update) > 0 { // id, name, attributes, tags
		if _, err := w.tx.ExecContext(ctx, "UPDATE contacts SET name = v.value->>1, attributes = v.value->>2, tags = v.value->>3 "+
			"FROM json_each(?) AS v WHERE contacts.id = v.value->>0", rowsOf(update, 4)); err != nil {
			return err
		}
		w.res.Updated += len(update) / 4
	}
	if len(retag) > 0 {
		ids := make([]string, len(retag))
		for i, id := range retag {
			ids[i] = id.(uuid.UUID).String()
		}
		if _, err := w.tx.ExecContext(ctx, "DELETE FROM contact_tags WHERE contact_id IN (SELECT value FROM json_each(?))", jsonText(ids)); err != nil {
			return err
		}
	}
	if len(tagRows) > 0 { // contact_id, team_id, tag
		if _, err := w.tx.ExecContext(ctx, "INSERT OR FAIL INTO contact_tags (contact_id, team_id, tag) SELECT value->>0, ?, value->>1 FROM json_each(?)",
			w.teamID.String(), rowsOf(tagRows, 3, 1)); err != nil {
			return err
		}
	}
	return nil
}

// storedJSON is a new contact's attributes and tags as the contacts table
// keeps them: JSON text, an empty object and list when there are none.
func (c ContactInput) storedJSON() (attrs, tags string) {
	t, a := c.Tags, c.Attributes
	if t == nil {
		t = []string{}
	}
	if a == nil {
		a = map[string]string{}
	}
	return jsonText(a), jsonText(t)
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// errAddressTaken: an insert met an address the team has. Only an import
// into a team that had no contacts at its start (fresh) inserts without
// looking first; there it means a repeat in the file or another import.
var errAddressTaken = errors.New("address taken")

func isUniqueViolation(err error) bool {
	m := err.Error()
	return strings.Contains(m, "UNIQUE constraint failed") || strings.Contains(m, "SQLSTATE 23505")
}

func (w *contactWriter) write(ctx context.Context, page []ContactInput, keys []string) error {
	if w.copy != nil {
		return w.copy.send(page, keys)
	}
	if w.pipe != nil {
		return w.pipe.send(page, keys)
	}
	existing := map[string]existingContact{}
	if !w.fresh {
		var err error
		if existing, err = w.existing(ctx, keys); err != nil {
			return err
		}
	}
	var add, update, tagRows []any
	var retag []any
	for i, c := range page {
		e, ok := existing[keys[i]]
		if !ok {
			attrs, tags := c.storedJSON()
			id := tracking.NewID()
			add = append(add, id, w.teamID, c.Email, keys[i], c.Name, attrs, tags, w.now)
			for _, tag := range c.Tags {
				tagRows = append(tagRows, id, w.teamID, tag)
			}
			continue
		}
		name, attrs, tags := e.Name, maps.Clone(e.Attributes), e.Tags
		if attrs == nil {
			attrs = map[string]string{}
		}
		if tags == nil {
			tags = []string{}
		}
		if c.hasName {
			name = c.Name
		}
		maps.Copy(attrs, c.Attributes)
		tagsChanged := false
		if c.hasTags {
			t := c.Tags
			if t == nil {
				t = []string{}
			}
			tagsChanged = !slices.Equal(t, tags)
			tags = t
		}
		if name == e.Name && !tagsChanged && maps.Equal(attrs, e.Attributes) {
			w.res.Skipped++
			continue
		}
		update = append(update, e.ID, name, jsonText(attrs), jsonText(tags))
		if tagsChanged {
			retag = append(retag, e.ID)
			for _, tag := range tags {
				tagRows = append(tagRows, e.ID, w.teamID, tag)
			}
		}
	}
	if !w.pg {
		return w.writeSQLite(ctx, add, update, retag, tagRows)
	}
	if len(add) > 0 {
		if err := w.execRows(ctx, "INSERT INTO contacts (id, team_id, email, email_key, name, attributes, tags, created_at) VALUES ", "", 8, add); err != nil {
			if w.fresh && isUniqueViolation(err) {
				return errAddressTaken
			}
			return err
		}
		w.res.Imported += len(add) / 8
	}
	if len(update) > 0 {
		head := "WITH v (id, name, attributes, tags) AS (VALUES "
		tail := ") UPDATE contacts SET name = v.name, attributes = v.attributes, tags = v.tags FROM v WHERE contacts.id = v.id"
		if w.pg {
			tail = ") UPDATE contacts SET name = v.name, attributes = v.attributes, tags = v.tags FROM v WHERE contacts.id = v.id::uuid"
		}
		if err := w.execRows(ctx, head, tail, 4, update); err != nil {
			return err
		}
		w.res.Updated += len(update) / 4
	}
	if len(retag) > 0 {
		if _, err := w.tx.NewDelete().Table("contact_tags").Where("contact_id IN (?)", bun.In(retag)).Exec(ctx); err != nil {
			return err
		}
	}
	if len(tagRows) > 0 {
		if err := w.execRows(ctx, "INSERT INTO contact_tags (contact_id, team_id, tag) VALUES ", "", 3, tagRows); err != nil {
			return err
		}
	}
	return nil
}
