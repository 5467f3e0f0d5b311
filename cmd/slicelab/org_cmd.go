package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"slicelab/okr"
	"slicelab/tracking"
)

// The organisation's commands (issue 13): organisations above teams, their
// admins and the organisation's week.

func orgCreateCmd(fs *flag.FlagSet) runFunc {
	name := fs.String("name", "", "display name of the organisation (default: the slug)")
	return func(ctx context.Context, x *cli, args []string) error {
		a, err := x.openApp(ctx, false)
		if err != nil {
			return err
		}
		defer a.close()
		o, err := a.exps.CreateOrg(ctx, args[0], *name)
		if err != nil {
			return err
		}
		fmt.Fprintf(x.stdout, "created organisation %s (%s) %s\n", o.Slug, o.Name, o.ID)
		return nil
	}
}

func orgListCmd(fs *flag.FlagSet) runFunc {
	return func(ctx context.Context, x *cli, _ []string) error {
		a, err := x.openApp(ctx, false)
		if err != nil {
			return err
		}
		defer a.close()
		if _, err := a.exps.OrgBySlug(ctx, ""); err != nil { // the default one exists once asked for
			return err
		}
		orgs, err := a.exps.Orgs(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(x.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SLUG\tNAME\tTEAMS\tID")
		for _, o := range orgs {
			teams, err := a.exps.OrgTeams(ctx, o.ID)
			if err != nil {
				return err
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", o.Slug, o.Name, len(teams), o.ID)
		}
		return tw.Flush()
	}
}

func orgShowCmd(fs *flag.FlagSet) runFunc {
	return func(ctx context.Context, x *cli, args []string) error {
		slug := ""
		if len(args) > 0 {
			slug = args[0]
		}
		a, err := x.openApp(ctx, false)
		if err != nil {
			return err
		}
		defer a.close()
		o, err := a.exps.OrgBySlug(ctx, slug)
		if err != nil {
			return err
		}
		teams, err := a.exps.OrgTeams(ctx, o.ID)
		if err != nil {
			return err
		}
		people, err := a.exps.OrgMembers(ctx, o.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(x.stdout, "%s (%s) %s\n\nteams:\n", o.Name, o.Slug, o.ID)
		tw := tabwriter.NewWriter(x.stdout, 0, 0, 2, ' ', 0)
		for _, t := range teams {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", t.Slug, t.Name, t.TimeZone)
		}
		if len(teams) == 0 {
			fmt.Fprintln(tw, "  none yet (slicelab team create SLUG --org "+o.Slug+")")
		}
		tw.Flush()
		fmt.Fprintln(x.stdout, "\npeople:")
		for _, p := range people {
			var in []string
			for _, t := range p.Teams {
				s := t.Slug + " " + string(t.Role)
				if t.Function != "" {
					s += ", " + t.Function
				}
				in = append(in, s)
			}
			if p.OrgAdmin {
				in = append([]string{"organisation admin"}, in...)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", p.Email, orDash(p.Name), strings.Join(in, "; "))
		}
		if len(people) == 0 {
			fmt.Fprintln(tw, "  none yet")
		}
		return tw.Flush()
	}
}

func orgAdminAddCmd(fs *flag.FlagSet) runFunc {
	org := fs.String("org", "", "organisation slug (default: the default organisation)")
	name := fs.String("name", "", "display name, for a person seen for the first time")
	return func(ctx context.Context, x *cli, args []string) error {
		a, err := x.openApp(ctx, false)
		if err != nil {
			return err
		}
		defer a.close()
		o, err := a.exps.OrgBySlug(ctx, *org)
		if err != nil {
			return err
		}
		u, err := a.exps.AddOrgAdmin(ctx, o.ID, args[0], *name)
		if err != nil {
			return err
		}
		fmt.Fprintf(x.stdout, "%s is an admin of %s (%s)\n", u.Email, o.Slug, u.ID)
		return nil
	}
}

func reportOrgCmd(fs *flag.FlagSet) runFunc {
	org := fs.String("org", "", "organisation slug (default: the default organisation)")
	weekFlag := fs.String("week", "", "ISO week such as 2026-W48 (default: this week, UTC)")
	format := fs.String("format", "table", "table, json or csv")
	return func(ctx context.Context, x *cli, _ []string) error {
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
		a, err := x.openApp(ctx, false)
		if err != nil {
			return err
		}
		defer a.close()
		o, err := a.exps.OrgBySlug(ctx, *org)
		if err != nil {
			return err
		}
		if *weekFlag == "" {
			week = tracking.WeekOf(a.now(), nil)
		}
		r, err := a.okr.OrgWeeklyReport(ctx, o, week)
		if err != nil {
			return err
		}
		switch *format {
		case "json":
			return writeJSON(x.stdout, r)
		case "csv":
			return r.WriteCSV(x.stdout)
		}
		return writeOrgTable(x.stdout, o.Name, r)
	}
}

func writeOrgTable(w io.Writer, name string, r *okr.OrgWeek) error {
	fmt.Fprintf(w, "The week of %s, %s: how the time went\n\n", name, r.Week)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "team\tanswered\tKTLO\telective split (target)\tflag")
	for _, t := range r.Teams {
		var el []string
		for _, e := range t.Elective {
			el = append(el, fmt.Sprintf("%s %s (%s)", e.Category, pct(e.Share), pct(e.Target)))
		}
		flag := t.Flag
		if t.Hidden != "" {
			flag = strings.TrimSpace(flag + " " + t.Hidden)
		}
		fmt.Fprintf(tw, "%s\t%d of %d\t%s\t%s\t%s\n", t.Name, t.Responses, t.Members, pct(t.KTLOShare), orDash(strings.Join(el, ", ")), orDash(flag))
	}
	var el []string
	for _, e := range r.Mix.Elective {
		el = append(el, fmt.Sprintf("%s %s (%s)", e.Category, pct(e.Share), pct(e.Target)))
	}
	fmt.Fprintf(tw, "organisation (by answers)\t%d\t%s\t%s\t\n", r.Mix.Responses, pct(r.Mix.KTLOShare), orDash(strings.Join(el, ", ")))
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Shared) > 0 {
		fmt.Fprintln(w, "\nshared objectives:")
		for _, so := range r.Shared {
			fmt.Fprintf(w, "  %s (%s, with %s) score %s\n", so.Title, so.Team, strings.Join(so.SharedWith, ", "), numOr(so.Score, "-"))
			if so.Notice != "" {
				fmt.Fprintf(w, "    %s\n", so.Notice)
			}
			for _, k := range so.KeyResults {
				fmt.Fprintf(w, "    %s [%s]: %s\n", k.Title, k.Kind, numOr(k.Value, "-"))
				for _, b := range k.ByTeam {
					v := b.Value
					fmt.Fprintf(w, "      from %s: %s\n", b.Team, numOr(&v, "0"))
				}
			}
		}
	}
	return nil
}
