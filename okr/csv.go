package okr

import (
	"encoding/csv"
	"io"
	"strconv"
)

// CSVHeader is the header of the review as CSV: one row per key result, per
// contribution, per experiment and per allocation category, told apart by
// the section column.
var CSVHeader = []string{"section", "objective_id", "key_result_id", "experiment_id", "name", "value", "progress", "score",
	"expected_progress", "status", "confidence", "colour", "ctr", "verdict"}

// WriteCSV writes the review as CSV (numbers as JSON writes them).
func (r *Review) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, o := range r.Objectives {
		row := []string{"objective", o.ID.String(), "", "", o.Title, "", "", num(o.Score), "", "", "", o.Colour, "", ""}
		if err := cw.Write(row); err != nil {
			return err
		}
		for _, k := range o.KeyResults {
			conf := ""
			if k.Confidence != nil {
				conf = strconv.Itoa(*k.Confidence)
			}
			row := []string{"key_result", o.ID.String(), k.ID.String(), "", k.Title, num(k.Value), num(k.Progress),
				num(&k.Score), num(&k.ExpectedProgress), string(k.Status), conf, "", "", ""}
			if err := cw.Write(row); err != nil {
				return err
			}
			for _, c := range k.Contributions {
				v := c.Value
				if err := cw.Write([]string{"contribution", o.ID.String(), k.ID.String(), c.ExperimentID.String(), c.Name, num(&v), "", "", "", "", "", "", "", ""}); err != nil {
					return err
				}
			}
		}
	}
	for _, e := range r.Experiments {
		hc := float64(e.HumanClickers)
		if err := cw.Write([]string{"experiment", "", "", e.ID.String(), e.Name, num(&hc), "", "", "", e.Status, "", "", num(e.CTR), e.Verdict.State}); err != nil {
			return err
		}
	}
	a := r.Allocation
	resp, members := float64(a.Responses), float64(a.Members)
	if err := cw.Write([]string{"allocation", "", "", "", "responses", num(&resp), "", "", "", "", "", "", "", ""}); err != nil {
		return err
	}
	if err := cw.Write([]string{"allocation", "", "", "", "members", num(&members), "", "", "", "", "", "", "", ""}); err != nil {
		return err
	}
	if err := cw.Write([]string{"allocation", "", "", "", "ktlo_share", num(a.KTLOShare), "", "", "", "", "", "", "", ""}); err != nil {
		return err
	}
	for _, c := range a.Categories {
		kind := "elective"
		if !c.Elective {
			kind = "non-elective"
		}
		if err := cw.Write([]string{"allocation_category", "", "", "", c.Name, num(c.Share), "", "", "", kind, "", "", "", ""}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func num(p *float64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(*p, 'g', -1, 64)
}
