package experiments

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// Each limit of an import refuses with the field and the reason.
func TestImportLimitsCSV(t *testing.T) {
	cols := func(n int) string {
		var b strings.Builder
		b.WriteString("email")
		for i := 1; i < n; i++ {
			fmt.Fprintf(&b, ",c%d", i)
		}
		return b.String()
	}
	tags := func(n int) string {
		var b []string
		for i := range n {
			b = append(b, fmt.Sprintf("t%d", i))
		}
		return strings.Join(b, ";")
	}
	long := func(n int) string { return strings.Repeat("é", n) }
	tests := []struct {
		name string
		csv  string
		want []wantRowError
	}{
		{"200 columns are fine", cols(200) + "\na@example.com" + strings.Repeat(",x", 199) + "\n", nil},
		{"201 columns", cols(201) + "\na@example.com" + strings.Repeat(",x", 200) + "\n", []wantRowError{{1, "columns", "201 columns; a file may have at most 200"}}},
		{"attribute name too long", "email," + strings.Repeat("k", 101) + "\na@example.com,x\n", []wantRowError{{1, "column 2", "101 characters long; an attribute name may have at most 100"}}},
		{"attribute value too long", "email,plan\na@example.com," + long(1001) + "\nb@example.com," + long(1000) + "\n",
			[]wantRowError{{2, "plan", "1001 characters long; an attribute value may have at most 1000"}}},
		{"name too long", "email,name\na@example.com," + long(1001) + "\n", []wantRowError{{2, "name", "1001 characters long"}}},
		{"address too long", "email\n" + strings.Repeat("a", 250) + "@example.com\n", []wantRowError{{2, "email", "262 characters long; an address may have at most 254"}}},
		{"too many tags", "email,tags\na@example.com," + tags(101) + "\nb@example.com," + tags(100) + "\n", []wantRowError{{2, "tags", "101 tags; a contact may have at most 100"}}},
		{"tag too long", "email,tags\na@example.com,x;" + strings.Repeat("t", 101) + "\n", []wantRowError{{2, "tags", "101 characters long; a tag may have at most 100"}}},
		{"row too long, the next ones read on", "email,a,b,c,d,e,f,g,h,i,j\n" +
			"a@example.com" + strings.Repeat(","+strings.Repeat("v", 1000), 10) + "\n" + // 2: 10 KB, fine
			"b@example.com" + strings.Repeat(","+strings.Repeat("é", 999), 10) + strings.Repeat(","+strings.Repeat("é", 999), 0) + "\n" + // 3: 20 KB
			"c@example.com" + strings.Repeat(","+strings.Repeat("x", 7000), 10) + "\n" + // 4: 70 KB
			"bad,,,,,,,,,,\n", // 5
			[]wantRowError{{4, "row", "a row may have at most 64 KiB"}, {5, "email", `"bad"`}}},
		{"row far too long stops the reading", "email,note\nok@example.com,x\n" +
			"b@example.com,\"" + strings.Repeat("line\n", 50000) + "\"\nbad\n",
			[]wantRowError{{3, "row", "longer than 64 KiB; the import stops here"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := parseAndValidateCSV(t, tt.csv)
			checkRowErrors(t, errs, tt.want)
		})
	}
}

// A CSV with 200,000 columns is refused at its header, having read a few
// KiB of it.
func TestImportWideCSVRefusedEarly(t *testing.T) {
	var b strings.Builder
	b.WriteString("email")
	for i := range 200000 {
		fmt.Fprintf(&b, ",column%d", i)
	}
	b.WriteString("\n")
	for range 10 {
		b.WriteString("a@example.com" + strings.Repeat(",x", 200000) + "\n")
	}
	src := strings.NewReader(b.String())
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	errs, err := CheckContactsCSV(src, ImportLimits{})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	checkRowErrors(t, errs, []wantRowError{{1, "columns", "at most 200 columns"}})
	if read := src.Size() - int64(src.Len()); read > 256<<10 {
		t.Errorf("read %d bytes of the file before refusing it", read)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("allocated %d bytes to refuse it", alloc)
	}
}

func TestImportRowsLimit(t *testing.T) {
	src := "email\na@example.com\nb@example.com\nc@example.com\nd@example.com\n"
	_, errs := runImport(t, func(lim ImportLimits) (source, error) { return newCSVSource(strings.NewReader(src), lim) },
		ImportLimits{Rows: 3}.withDefaults())
	checkRowErrors(t, errs, []wantRowError{{5, "rows", "at most 3 contacts"}})
	in, errs := runImport(t, func(lim ImportLimits) (source, error) { return newCSVSource(strings.NewReader(src), lim) },
		ImportLimits{Rows: 4}.withDefaults())
	if len(errs) != 0 || len(in) != 4 {
		t.Errorf("4 rows with a limit of 4: %d contacts, errors %+v", len(in), errs)
	}
}

func TestImportLimitsJSON(t *testing.T) {
	attrs := func(n int) string {
		var b []string
		for i := range n {
			b = append(b, fmt.Sprintf(`"k%d":"v"`, i))
		}
		return "{" + strings.Join(b, ",") + "}"
	}
	tests := []struct {
		name string
		body string
		want []wantRowError
	}{
		{"201 attributes", `[{"email":"a@example.com","attributes":` + attrs(201) + `}]`, []wantRowError{{1, "attributes", "201 attributes; a contact may have at most 200"}}},
		{"attribute name too long", `[{"email":"a@example.com","attributes":{"` + strings.Repeat("k", 101) + `":"v"}}]`, []wantRowError{{1, "attributes", "101 characters long; at most 100"}}},
		{"empty attribute name", `[{"email":"a@example.com","attributes":{" ":"v"}}]`, []wantRowError{{1, "attributes", "empty"}}},
		{"attribute value too long", `[{"email":"a@example.com","attributes":{"plan":"` + strings.Repeat("v", 1001) + `"}}]`, []wantRowError{{1, "plan", "1001 characters"}}},
		{"contact too long", `[{"email":"a@example.com"},{"email":"b@example.com","attributes":{"a":"` + strings.Repeat("v", 70000) + `"}},{"email":"x"}]`,
			[]wantRowError{{2, "row", "a contact may have at most 64 KiB"}, {3, "email", `"x"`}}},
		{"contact far too long", `[{"email":"a@example.com","name":"` + strings.Repeat("v", 200000) + `"}]`,
			[]wantRowError{{1, "row", "longer than 64 KiB; the import stops here"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs, err := parseJSON(t, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			checkRowErrors(t, errs, tt.want)
		})
	}
}

// Repeats far apart (in different pages) are found as well as near ones.
func TestImportDuplicatesAcrossPages(t *testing.T) {
	var b strings.Builder
	b.WriteString("email\n")
	for i := range 3 * importPage {
		fmt.Fprintf(&b, "user%d@example.com\n", i)
	}
	b.WriteString("USER7@example.com\nuser1200@example.com\nuser7@example.com\n")
	n := 3*importPage + 1
	_, errs := parseAndValidateCSV(t, b.String())
	checkRowErrors(t, errs, []wantRowError{
		{n + 1, "email", "duplicate of row 9"},
		{n + 2, "email", "duplicate of row 1202"},
		{n + 3, "email", "duplicate of row 9"},
	})
}
