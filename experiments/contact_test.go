package experiments

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// parseAndValidateCSV runs a CSV through the same steps as an import,
// without a database: the rows a good file would write, or the problems in
// row order.
func parseAndValidateCSV(t *testing.T, src string) (in []ContactInput, errs []RowError) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("the CSV import panicked on %q: %v", src, p)
		}
	}()
	return runImport(t, func(lim ImportLimits) (source, error) { return newCSVSource(strings.NewReader(src), lim) }, DefaultImportLimits)
}

// runImport reads a source as an import does, collecting the pages that
// would be written.
func runImport(t *testing.T, open func(ImportLimits) (source, error), lim ImportLimits) (in []ContactInput, errs []RowError) {
	t.Helper()
	src, err := open(lim)
	var stop *errStop
	if errors.As(err, &stop) {
		return nil, []RowError{stop.RowError}
	}
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	run := newImportRun(lim, func(page []ContactInput, _ []string) error { in = append(in, page...); return nil })
	err = run.run(src)
	var ie *ImportError
	if errors.As(err, &ie) {
		return nil, ie.Result.Errors
	}
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return in, nil
}

// wantRowError is an expected RowError; msg is a part of the message.
type wantRowError struct {
	row   int
	field string
	msg   string
}

func checkRowErrors(t *testing.T, got []RowError, want []wantRowError) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d errors %+v, want %d %+v", len(got), got, len(want), want)
	}
	for i, w := range want {
		g := got[i]
		if g.Row != w.row || g.Field != w.field || !strings.Contains(g.Message, w.msg) {
			t.Errorf("error %d = %+v, want row %d field %q message containing %q", i, g, w.row, w.field, w.msg)
		}
	}
}

func TestContactsCSVErrors(t *testing.T) {
	tests := []struct {
		name string
		csv  string
		want []wantRowError
	}{
		{"empty file", "", []wantRowError{{1, "email", "empty"}}},
		{"no email column", "name,plan\nBob,pro\n", []wantRowError{{1, "email", "missing column"}}},
		{"email column misspelt", "e-mail,name\nbob@example.com,Bob\n", []wantRowError{{1, "email", "missing column"}}},
		{"empty header name", "email,,name\na@example.com,x,A\n", []wantRowError{{1, "column 2", "empty"}}},
		{"column twice", "email,Plan,plan\na@example.com,x,y\n", []wantRowError{{1, "plan", "twice"}}},
		{"invalid addresses on their lines", "email,name\n" +
			"ok@example.com,Ok\n" + // 2
			"not-an-email,A\n" + // 3
			"bob@example,B\n" + // 4
			"Bob <bob@example.com>,C\n" + // 5
			"bob@@example.com,D\n" + // 6
			",E\n" + // 7
			"   ,F\n" + // 8
			"bob@exa mple.com,G\n" + // 9
			"local@localhost,H\n", // 10: allowed
			[]wantRowError{
				{3, "email", `"not-an-email" is not a valid email address`},
				{4, "email", "not a valid email address"},
				{5, "email", "not a valid email address"},
				{6, "email", "not a valid email address"},
				{7, "email", "is required"},
				{8, "email", "is required"},
				{9, "email", "not a valid email address"},
			}},
		{"blank lines still count", "email\n\nok@example.com\n\n\nbad\n", []wantRowError{{6, "email", `"bad"`}}},
		{"CRLF line ends", "email,name\r\nok@example.com,A\r\nbad,B\r\n", []wantRowError{{3, "email", `"bad"`}}},
		{"duplicate, case-insensitive", "email,name\n" +
			"Bob@Example.com,A\n" + // 2
			"carol@example.com,B\n" + // 3
			"bob@example.COM,C\n" + // 4
			" BOB@EXAMPLE.COM ,D\n", // 5
			[]wantRowError{
				{4, "email", "duplicate of row 2"},
				{5, "email", "duplicate of row 2"},
			}},
		{"wrong field count", "email,name\n" +
			"a@example.com,A\n" + // 2
			"b@example.com\n" + // 3
			"c@example.com,C,extra\n" + // 4
			"d@example.com,D\n", // 5
			[]wantRowError{
				{3, "", "wrong number of fields"},
				{4, "", "wrong number of fields"},
			}},
		{"invalid UTF-8 in each kind of field", "email,name,tags,plan\n" +
			"a@example.com,B\xffob,,\n" + // 2
			"b\xff@example.com,B,,\n" + // 3
			"c@example.com,C,x;\xfe,\n" + // 4
			"d@example.com,D,,pr\xffo\n" + // 5
			"e@example.com,E,,pro\n", // 6
			[]wantRowError{
				{2, "name", "UTF-8"},
				{3, "email", "UTF-8"},
				{4, "tags", "UTF-8"},
				{5, "plan", "UTF-8"},
			}},
		{"name with a line break", "email,name\n" +
			"a@example.com,\"Bob\nSmith\"\n" + // 2-3
			"b@example.com,\"Carol\r\nJones\"\n" + // 4-5
			"bad,X\n", // 6
			[]wantRowError{
				{2, "name", "line breaks"},
				{4, "name", "line breaks"},
				{6, "email", `"bad"`},
			}},
		{"email with a line break", "email\n\"a@example.com\nb@example.com\"\n", []wantRowError{{2, "email", "line breaks"}}},
		{"quoted multi-line fields keep later rows on their lines", "email,name,note\n" +
			"a@example.com,A,\"one\ntwo\nthree\"\n" + // 2-4
			"nope,B,x\n", // 5
			[]wantRowError{{5, "email", `"nope"`}}},
		{"several problems sorted by row", "email,name\n" +
			"dup@example.com,A\n" + // 2
			"x,B\n" + // 3
			"only-one-field\n" + // 4
			"DUP@example.com,\"C\nD\"\n", // 5
			[]wantRowError{
				{3, "email", "not a valid email address"},
				{4, "", "wrong number of fields"},
				{5, "name", "line breaks"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := parseAndValidateCSV(t, tt.csv)
			checkRowErrors(t, errs, tt.want)
		})
	}
}

func TestContactsCSVValues(t *testing.T) {
	tests := []struct {
		name string
		csv  string
		want []ContactInput
	}{
		{"header only", "email,name\n", nil},
		{"email only", "email\nbob@example.com\n", []ContactInput{{Email: "bob@example.com"}}},
		{"known and free columns", "email,name,tags,plan,Company\n" +
			"bob@example.com,Bob, a ; b ;;c ,pro,Acme\n",
			[]ContactInput{{Email: "bob@example.com", Name: "Bob", Tags: []string{"a", "b", "c"},
				Attributes: map[string]string{"plan": "pro", "company": "Acme"}}}},
		{"tags sorted and deduplicated, empty ones dropped", "email,tags\na@example.com,zeta; alpha ;zeta;;  ;beta\n",
			[]ContactInput{{Email: "a@example.com", Tags: []string{"alpha", "beta", "zeta"}}}},
		{"empty tags column", "email,tags\na@example.com,\n", []ContactInput{{Email: "a@example.com"}}},
		{"empty attribute kept", "email,plan\na@example.com,\n",
			[]ContactInput{{Email: "a@example.com", Attributes: map[string]string{"plan": ""}}}},
		{"columns in any order, header case and spaces ignored", " Name ,PLAN, EMAIL \nBob,pro,bob@example.com\n",
			[]ContactInput{{Email: "bob@example.com", Name: "Bob", Attributes: map[string]string{"plan": "pro"}}}},
		{"email and name trimmed", "email,name\n  bob@example.com  ,  Bob Smith \n",
			[]ContactInput{{Email: "bob@example.com", Name: "Bob Smith"}}},
		{"case of the address kept", "email\nBob.Smith@Example.COM\n", []ContactInput{{Email: "Bob.Smith@Example.COM"}}},
		{"UTF-8 byte order mark before the header", "\ufeffemail,name\nbob@example.com,Bob\n",
			[]ContactInput{{Email: "bob@example.com", Name: "Bob"}}},
		{"byte order mark before a spaced, capitalised header", "\ufeff Email ,name\r\nbob@example.com,Bob\r\n",
			[]ContactInput{{Email: "bob@example.com", Name: "Bob"}}},
		{"non-ASCII values", "email,name,city\nzoë@example.com,Zoë Çelik,İstanbul\n",
			[]ContactInput{{Email: "zoë@example.com", Name: "Zoë Çelik", Attributes: map[string]string{"city": "İstanbul"}}}},
		{"two rows", "email,name\na@example.com,A\nb@example.com,B\n",
			[]ContactInput{{Email: "a@example.com", Name: "A"}, {Email: "b@example.com", Name: "B"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, errs := parseAndValidateCSV(t, tt.csv)
			if len(errs) > 0 {
				t.Fatalf("unexpected errors %+v", errs)
			}
			if len(in) != len(tt.want) {
				t.Fatalf("got %d contacts %+v, want %d", len(in), in, len(tt.want))
			}
			for i, w := range tt.want {
				g := in[i]
				if g.Email != w.Email || g.Name != w.Name || !slices.Equal(g.Tags, w.Tags) || !maps.Equal(g.Attributes, w.Attributes) {
					t.Errorf("contact %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

// Each parsed row remembers the file line it started on (the header is line 1).
func TestContactsCSVRowNumbers(t *testing.T) {
	src := "email,note\n" + // 1
		"a@example.com,x\n" + // 2
		"\n" + // 3
		"b@example.com,\"multi\nline\"\n" + // 4-5
		"c@example.com,y\n" // 6
	in, errs := parseAndValidateCSV(t, src)
	if len(errs) > 0 {
		t.Fatalf("unexpected errors %+v", errs)
	}
	var rows []int
	for _, c := range in {
		rows = append(rows, c.row)
	}
	if want := []int{2, 4, 6}; !slices.Equal(rows, want) {
		t.Errorf("rows = %v, want %v", rows, want)
	}
}

// A malformed quote in a data row is one row error like any other.
func TestContactsCSVBadQuotes(t *testing.T) {
	tests := []struct {
		name string
		csv  string
		want []wantRowError
	}{
		{"bare quote in the first field", "email,name\nok@example.com,A\nb\"ad@example.com,B\nc@example.com,C\n",
			[]wantRowError{{3, "", "quote"}}},
		{"bare quote in a later field", "email,name\nok@example.com,A\nb@example.com,B\"ob\nc@example.com,C\n",
			[]wantRowError{{3, "", "quote"}}},
		{"unterminated quoted field", "email,name\nok@example.com,A\n\"b@example.com,B\n",
			[]wantRowError{{3, "", "quote"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := parseAndValidateCSV(t, tt.csv)
			checkRowErrors(t, errs, tt.want)
		})
	}
}

// A header name that is not valid UTF-8 is refused at row 1.
func TestContactsCSVHeaderNotUTF8(t *testing.T) {
	_, errs := parseAndValidateCSV(t, "email,pl\xffan\na@example.com,pro\n")
	checkRowErrors(t, errs, []wantRowError{{1, "column 2", "UTF-8"}})
}

func parseJSON(t *testing.T, body string) (in []ContactInput, errs []RowError, err error) {
	t.Helper()
	src := newJSONSource(strings.NewReader(body), DefaultImportLimits)
	run := newImportRun(DefaultImportLimits, func(page []ContactInput, _ []string) error { in = append(in, page...); return nil })
	err = run.run(src)
	var ie *ImportError
	if errors.As(err, &ie) {
		return nil, ie.Result.Errors, nil
	}
	return in, nil, err
}

func TestContactsJSON(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		want     []ContactInput
		wantErrs []wantRowError
	}{
		{"empty array", `[]`, nil, nil},
		{"full contact", `[{"email":" bob@example.com ","name":"Bob","tags":["b","a","b"],"attributes":{"plan":"pro"}}]`,
			[]ContactInput{{Email: "bob@example.com", Name: "Bob", Tags: []string{"a", "b"}, Attributes: map[string]string{"plan": "pro"}}}, nil},
		{"rows numbered from 1", `[{"email":"a@example.com"},{"email":"bad"},{"email":"c@example.com","name":"C\nD"},{"email":"A@EXAMPLE.com"}]`,
			nil, []wantRowError{{2, "email", `"bad"`}, {3, "name", "line breaks"}, {4, "email", "duplicate of row 1"}}},
		{"missing email", `[{"name":"Nobody"}]`, nil, []wantRowError{{1, "email", "is required"}}},
		{"white space around the array", " \n[{\"email\":\"a@example.com\"}]\n ", []ContactInput{{Email: "a@example.com"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, errs, err := parseJSON(t, tt.body)
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			checkRowErrors(t, errs, tt.wantErrs)
			if len(in) != len(tt.want) {
				t.Fatalf("got %d contacts %+v, want %d", len(in), in, len(tt.want))
			}
			for i, w := range tt.want {
				g := in[i]
				if g.Email != w.Email || g.Name != w.Name || !slices.Equal(g.Tags, w.Tags) || !maps.Equal(g.Attributes, w.Attributes) {
					t.Errorf("contact %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestContactsJSONRefused(t *testing.T) {
	tests := []struct{ name, body string }{
		{"unknown field", `[{"email":"a@example.com","phone":"123"}]`},
		{"object instead of array", `{"email":"a@example.com"}`},
		{"string", `"a@example.com"`},
		{"array of strings", `["a@example.com"]`},
		{"wrong type of tags", `[{"email":"a@example.com","tags":"a;b"}]`},
		{"non-string attribute", `[{"email":"a@example.com","attributes":{"n":1}}]`},
		{"not JSON", `email,name`},
		{"empty body", ``},
		{"truncated", `[{"email":"a@example.com"`},
		{"data after the array", `[{"email":"a@example.com"}] [`},
		{"element not closed", `[{"email":"a@example.com"} {"email":"b@example.com"}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, _, err := parseJSON(t, tt.body)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("ParseContactsJSON(%s) = %+v, %v; want a *ValidationError", tt.body, in, err)
			}
			if _, ok := ve.Fields["body"]; !ok || len(ve.Fields) != 1 {
				t.Errorf("Fields = %q, want one error on body", ve.Fields)
			}
			if in != nil {
				t.Errorf("contacts = %+v, want none", in)
			}
		})
	}
}

func TestValidateContactsCapsErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString("email\n")
	for i := range 150 {
		fmt.Fprintf(&b, "bad%d\n", i)
	}
	_, errs := parseAndValidateCSV(t, b.String())
	if len(errs) != maxImportErrors {
		t.Fatalf("got %d errors, want the cap of %d", len(errs), maxImportErrors)
	}
	if errs[0].Row != 2 || errs[len(errs)-1].Row != maxImportErrors+1 {
		t.Errorf("errors run from row %d to %d, want 2 to %d", errs[0].Row, errs[len(errs)-1].Row, maxImportErrors+1)
	}
}
