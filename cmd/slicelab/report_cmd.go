package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"slicelab/okr"
	"slicelab/tracking"
)

// reportWeekCmd is `slicelab report week --team T --week W --format table|json|csv`.
func reportWeekCmd(fs *flag.FlagSet) runFunc {
	teamSlug := fs.String("team", "", "team slug (required)")
	weekFlag := fs.String("week", "", "ISO week such as 2026-W48 (default: this week in the team's time zone)")
	format := fs.String("format", "table", "table, json or csv")
	return func(ctx context.Context, x *cli, _ []string) error {
		if *teamSlug == "" {
			return usageError{"--team is required"}
		}
		if *format != "table" && *format != "json" && *format != "csv" {
			return usageError{fmt.Sprintf("--format %q: use table, json or csv", *format)}
		}
		var week tracking.Week
		if *weekFlag != "" {
			w, err := tracking.ParseWeek(*weekFlag)
			if err != nil {
				return usageError{"--week: " + err.Error()}
			}
			week = w
		}
		a, team, err := openTeam(ctx, x, *teamSlug)
		if err != nil {
			return err
		}
		defer a.close()
		if *weekFlag == "" {
			week = tracking.WeekOf(a.now(), team.Location())
		}
		r, err := a.okr.WeeklyReview(ctx, team, week)
		if err != nil {
			return err
		}
		switch *format {
		case "json":
			return writeJSON(x.stdout, r)
		case "csv":
			return r.WriteCSV(x.stdout)
		}
		return writeReviewTable(x.stdout, r)
	}
}

func writeReviewTable(w io.Writer, r *okr.Review) error {
	fmt.Fprintf(w, "Weekly review of %s, %s (%s to %s, %s)\n", r.Team, r.Week, r.Start.Format("2006-01-02 15:04"), r.End.Format("2006-01-02 15:04"), r.TimeZone)
	fmt.Fprintf(w, "Clicks counted as of %s\n\n", r.AsOf.In(r.Start.Location()).Format("2006-01-02 15:04:05"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, o := range r.Objectives {
		fmt.Fprintf(tw, "%s\t%s\tscore %s (%s)\t\n", o.Title, o.Kind, numOr(o.Score, "-"), o.Colour)
		fmt.Fprintln(tw, "  key result\tsource\tvalue\tprogress\tscore\texpected\tstatus\tconfidence\t")
		for _, k := range o.KeyResults {
			conf := "-"
			if k.Confidence != nil {
				conf = strconv.Itoa(*k.Confidence)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", k.Title, k.Source, numOr(k.Value, "-"), pct(k.Progress),
				pct(k.Score), pct(&k.ExpectedProgress), k.Status, conf)
			for _, c := range k.Contributions {
				v := c.Value
				fmt.Fprintf(tw, "    from %s\t\t%s\t\t\t\t\t\t\n", c.Name, numOr(&v, "0"))
			}
		}
		fmt.Fprintln(tw, "\t\t\t\t\t\t\t\t")
	}
	if len(r.Experiments) > 0 {
		fmt.Fprintln(tw, "experiment\tinitiative\tsent\thuman clickers\tCTR\tverdict\t\t\t")
		for _, e := range r.Experiments {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t\t\t\n", e.Name, e.Initiative, e.Sent, e.HumanClickers, pct(e.CTR), e.Verdict.State)
		}
		fmt.Fprintln(tw, "\t\t\t\t\t\t\t\t")
	}
	a := r.Allocation
	fmt.Fprintf(tw, "time allocation\t%d of %d answered\tKTLO %s\t\t\t\t\t\t\n", a.Responses, a.Members, pct(a.KTLOShare))
	for _, c := range a.Categories {
		kind := "elective"
		if !c.Elective {
			kind = "non-elective"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s of the time\t%s of elective\ttarget %s\t\t\t\t\n", c.Name, kind, pct(c.Share), pct(c.ElectiveShare), pct(c.Target))
	}
	return tw.Flush()
}

func numOr(p *float64, dflt string) string {
	if p == nil {
		return dflt
	}
	return strconv.FormatFloat(*p, 'g', 6, 64)
}
