package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"text/tabwriter"

	"slicelab/okr"
)

// reportCmd runs `slicelab report week --team T --week W --format table|json|csv`.
func reportCmd(ctx context.Context, cfg config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "week" {
		return usageError{"report takes: week --team SLUG [--week YYYY-Www] [--format table|json|csv]"}
	}
	fs := flag.NewFlagSet("report week", flag.ContinueOnError)
	fs.SetOutput(stderr)
	teamSlug := fs.String("team", "", "team slug")
	weekFlag := fs.String("week", "", "ISO week such as 2026-W48 (default: this week in the team's time zone)")
	format := fs.String("format", "table", "table, json or csv")
	if pos, err := parseInterleaved(fs, args[1:]); err != nil {
		return err
	} else if len(pos) > 0 || *teamSlug == "" {
		return usageError{"report week needs --team SLUG"}
	}
	if *format != "table" && *format != "json" && *format != "csv" {
		return usageError{fmt.Sprintf("--format %q: use table, json or csv", *format)}
	}
	a, team, err := openTeam(ctx, cfg, log, *teamSlug)
	if err != nil {
		return err
	}
	defer a.close()
	var week okr.Week
	if *weekFlag != "" {
		if week, err = okr.ParseWeek(*weekFlag); err != nil {
			return usageError{"--week: " + err.Error()}
		}
	} else {
		loc, err := a.okr.Location(ctx, team.ID)
		if err != nil {
			return err
		}
		week = okr.WeekOf(a.now(), loc)
	}
	r, err := a.okr.WeeklyReview(ctx, team, week)
	if err != nil {
		return err
	}
	switch *format {
	case "json":
		return writeJSON(stdout, r)
	case "csv":
		return r.WriteCSV(stdout)
	}
	return writeReviewTable(stdout, r)
}

func writeReviewTable(w io.Writer, r *okr.Review) error {
	fmt.Fprintf(w, "Weekly review of %s, %s (%s to %s, %s)\n\n", r.Team, r.Week, r.Start.Format("2006-01-02 15:04"), r.End.Format("2006-01-02 15:04"), r.TimeZone)
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
				pct(&k.Score), pct(&k.ExpectedProgress), k.Status, conf)
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
