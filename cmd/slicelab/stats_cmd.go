package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"slicelab/experiments/stats"
)

// The stats commands run the functions behind the results endpoint on
// counts given on the command line (product.md §7, §13); they need no
// configuration and no database.

// formatFlag adds --format json|table.
func formatFlag(fs *flag.FlagSet) func() (string, error) {
	format := fs.String("format", "table", "json or table")
	return func() (string, error) {
		if *format != "json" && *format != "table" {
			return "", usageError{fmt.Sprintf("--format %q: use json or table", *format)}
		}
		return *format, nil
	}
}

func statsCompareCmd(fs *flag.FlagSet) runFunc {
	format := formatFlag(fs)
	control := fs.String("control", "", "control clickers/delivered, e.g. 120/1000")
	var variants multiFlag
	fs.Var(&variants, "variant", "variant clickers/delivered (repeat for each variant)")
	return func(_ context.Context, x *cli, _ []string) error {
		f, err := format()
		if err != nil {
			return err
		}
		c, err := parseCount("--control", *control)
		if err != nil {
			return err
		}
		if len(variants) == 0 {
			return usageError{"at least one --variant X/N is required"}
		}
		var vs []stats.Count
		for _, v := range variants {
			n, err := parseCount("--variant", v)
			if err != nil {
				return err
			}
			vs = append(vs, n)
		}
		res := stats.Compare(c, vs)
		if f == "json" {
			return writeJSON(x.stdout, res)
		}
		tw := tabwriter.NewWriter(x.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "arm\trate\t95% CI\tabs diff\tlift\tlift 95% CI\tp-value\tchance to beat\texpected loss\t")
		fmt.Fprintf(tw, "control\t%s\t%s\t\t\t\t\t\t\t\n", pct(res.Control.Rate), pctPair(res.Control.CI))
		for i, v := range res.Variants {
			fmt.Fprintf(tw, "variant %d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", i+1, pct(v.Rate), pctPair(v.CI), pct(v.AbsoluteDiff),
				pct(v.Lift), pctPair(v.LiftCI), plain(v.PValue), pct(v.ChanceToBeatControl), pct(v.ExpectedLoss))
		}
		return tw.Flush()
	}
}

func statsSRMCmd(fs *flag.FlagSet) runFunc {
	format := formatFlag(fs)
	observed := fs.String("observed", "", "observed counts per arm, e.g. 5050,4950")
	weights := fs.String("weights", "", "configured weights per arm, e.g. 1,1")
	return func(_ context.Context, x *cli, _ []string) error {
		f, err := format()
		if err != nil {
			return err
		}
		obs, err := parseList("--observed", *observed, func(s string) (int, error) { return strconv.Atoi(s) })
		if err != nil {
			return err
		}
		w, err := parseList("--weights", *weights, func(s string) (float64, error) { return strconv.ParseFloat(s, 64) })
		if err != nil {
			return err
		}
		if len(obs) != len(w) {
			return usageError{fmt.Sprintf("--observed has %d arms and --weights %d; give one weight per arm", len(obs), len(w))}
		}
		res := stats.SRMCheck(obs, w)
		if f == "json" {
			return writeJSON(x.stdout, res)
		}
		fmt.Fprintf(x.stdout, "chi2     %s\np-value  %s\nflag     %v (sample-ratio mismatch when p < 0.001)\n", plain(res.Chi2), plain(res.PValue), res.Flag)
		return nil
	}
}

func statsPlanCmd(fs *flag.FlagSet) runFunc {
	format := formatFlag(fs)
	baseline := fs.Float64("baseline", 0, "baseline rate, e.g. 0.05")
	mde := fs.Float64("mde", 0, "relative minimum detectable effect, e.g. 0.1 for +10%")
	weekly := fs.Int("weekly", 0, "recipients per week, over all arms")
	arms := fs.Int("arms", 2, "number of arms, control included")
	weeks := fs.Int("weeks", 4, "weeks to plan")
	return func(_ context.Context, x *cli, _ []string) error {
		f, err := format()
		if err != nil {
			return err
		}
		res, err := stats.Plan(*baseline, *mde, *weekly, *arms, *weeks)
		var ae *stats.ArgumentError
		if errors.As(err, &ae) {
			return usageError{fmt.Sprintf("--%s: %s", strings.ReplaceAll(ae.Name, "_", "-"), ae.Reason)}
		}
		if err != nil {
			return err
		}
		if f == "json" {
			return writeJSON(x.stdout, res)
		}
		n := "unreachable"
		if res.NPerArm != nil {
			n = strconv.Itoa(*res.NPerArm)
		}
		fmt.Fprintf(x.stdout, "recipients per arm for 80%% power: %s\n", n)
		tw := tabwriter.NewWriter(x.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "week\tpower\tMDE at 80% power\t")
		for _, w := range res.Weeks {
			fmt.Fprintf(tw, "%d\t%s\t%s\t\n", w.Week, pct(&w.Power), pct(w.MDE))
		}
		return tw.Flush()
	}
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func parseCount(name, v string) (stats.Count, error) {
	x, n, ok := strings.Cut(v, "/")
	xi, err1 := strconv.Atoi(strings.TrimSpace(x))
	ni, err2 := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err1 != nil || err2 != nil || xi < 0 || ni < 0 || xi > ni {
		return stats.Count{}, usageError{fmt.Sprintf("%s %q: give clickers/delivered, e.g. 120/1000, with clickers no more than delivered", name, v)}
	}
	return stats.Count{Clicks: xi, N: ni}, nil
}

func parseList[T any](name, v string, parse func(string) (T, error)) ([]T, error) {
	if v == "" {
		return nil, usageError{name + " is required, e.g. 5050,4950"}
	}
	var out []T
	for _, p := range strings.Split(v, ",") {
		x, err := parse(strings.TrimSpace(p))
		if err != nil {
			return nil, usageError{fmt.Sprintf("%s: %q is not a number", name, p)}
		}
		out = append(out, x)
	}
	return out, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func pct(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p*100, 'f', 2, 64) + "%"
}

func pctPair(p *[2]float64) string {
	if p == nil {
		return "-"
	}
	return "[" + pct(&p[0]) + ", " + pct(&p[1]) + "]"
}

func plain(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p, 'g', 5, 64)
}
