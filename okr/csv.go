package okr

import (
	"encoding/csv"
	"io"
	"math"
	"strconv"
	"strings"
)

// CSVHeader is the header of the review as CSV: one row per objective, key
// result, contribution, experiment and allocation figure, told apart by the
// section column. Rates and shares are percentages, in the columns whose
// names end in _percent (the JSON gives them as fractions); a ctr key
// result's value is a percentage too, as its value_unit says.
var CSVHeader = []string{"section", "objective_id", "key_result_id", "experiment_id", "name", "value", "value_unit",
	"progress_percent", "score_percent", "expected_progress_percent", "status", "confidence", "colour", "ctr_percent", "verdict"}

// WriteCSV writes the review as CSV. Text that a spreadsheet would take for
// a formula is neutralised (SafeCSVText).
func (r *Review) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	row := func(cells ...string) error {
		out := make([]string, len(CSVHeader))
		copy(out, cells)
		return cw.Write(out)
	}
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, o := range r.Objectives {
		if err := row("objective", o.ID.String(), "", "", SafeCSVText(o.Title), "", "", "", pctCell(o.Score), "", "", "", o.Colour); err != nil {
			return err
		}
		for _, k := range o.KeyResults {
			conf := ""
			if k.Confidence != nil {
				conf = strconv.Itoa(*k.Confidence)
			}
			value, unit := numCell(k.Value), SafeCSVText(k.Unit)
			if k.Source == SourceCTR {
				value, unit = pctCell(k.Value), "%"
			}
			if err := row("key_result", o.ID.String(), k.ID.String(), "", SafeCSVText(k.Title), value, unit, pctCell(k.Progress),
				pctCell(k.Score), pctCell(&k.ExpectedProgress), string(k.Status), conf); err != nil {
				return err
			}
			for _, c := range k.Contributions {
				v := c.Value
				if err := row("contribution", o.ID.String(), k.ID.String(), c.ExperimentID.String(), SafeCSVText(c.Name), numCell(&v), unit); err != nil {
					return err
				}
			}
		}
	}
	for _, e := range r.Experiments {
		hc := float64(e.HumanClickers)
		if err := row("experiment", "", "", e.ID.String(), SafeCSVText(e.Name), numCell(&hc), "human clickers", "", "", "", e.Status, "", "",
			pctCell(e.CTR), e.Verdict.State); err != nil {
			return err
		}
	}
	a := r.Allocation
	resp, members := float64(a.Responses), float64(a.Members)
	for _, c := range []struct {
		name, value, unit string
	}{{"responses", numCell(&resp), "people"}, {"members", numCell(&members), "people"}, {"ktlo_share", pctCell(a.KTLOShare), "%"}} {
		if err := row("allocation", "", "", "", c.name, c.value, c.unit); err != nil {
			return err
		}
	}
	for _, c := range a.Categories {
		kind := "elective"
		if !c.Elective {
			kind = "non-elective"
		}
		if err := row("allocation_category", "", "", "", SafeCSVText(c.Name), pctCell(c.Share), "%", "", "", "", kind); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// SafeCSVText neutralises a text cell that a spreadsheet would evaluate as
// a formula (OWASP's CSV injection rule): a cell starting with =, +, -, @,
// a tab or a carriage return is prefixed with a single quote.
func SafeCSVText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// Round rounds a figure for people and files: to 6 decimals, so that
// 0.1 + 0.2 reads 0.3 (magnitudes beyond 1e12 are left as they are).
func Round(x float64) float64 {
	if math.Abs(x) >= 1e12 || math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	return math.Round(x*1e6) / 1e6
}

func numCell(p *float64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(Round(*p), 'f', -1, 64)
}

func pctCell(p *float64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(math.Round(*p*1e4)/1e2, 'f', -1, 64)
}
