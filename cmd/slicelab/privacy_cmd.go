package main

import (
	"context"
	"flag"
	"fmt"
)

// A contact's personal data from the command line (GDPR): the same as the
// API's export and erase.

func contactsExportCmd(fs *flag.FlagSet) runFunc {
	team := fs.String("team", "", "team slug (required)")
	return func(ctx context.Context, x *cli, args []string) error {
		if *team == "" {
			return usageError{"--team is required"}
		}
		a, t, err := openTeam(ctx, x, *team)
		if err != nil {
			return err
		}
		defer a.close()
		rec, err := a.exps.ExportContact(ctx, t.ID, args[0])
		if err != nil {
			return err
		}
		events, err := a.okr.ContactEvents(ctx, t.ID, rec.ContactID)
		if err != nil {
			return err
		}
		for _, e := range events {
			rec.Events = append(rec.Events, e)
		}
		return writeJSON(x.stdout, rec)
	}
}

func contactsEraseCmd(fs *flag.FlagSet) runFunc {
	team := fs.String("team", "", "team slug (required)")
	yes := fs.Bool("yes", false, "erase without asking (required: an erasure cannot be undone)")
	return func(ctx context.Context, x *cli, args []string) error {
		if *team == "" {
			return usageError{"--team is required"}
		}
		if !*yes {
			return usageError{"an erasure cannot be undone: add --yes (export it first with slicelab contacts export " + args[0] + " --team " + *team + ")"}
		}
		a, t, err := openTeam(ctx, x, *team)
		if err != nil {
			return err
		}
		defer a.close()
		out, err := a.exps.EraseContact(ctx, t.ID, args[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(x.stdout, "erased %s from %s: %d deliveries kept for the counts without the address, %d clicks' user agents and addresses cleared\n",
			args[0], t.Slug, out.Kept, out.Clicks)
		return nil
	}
}
