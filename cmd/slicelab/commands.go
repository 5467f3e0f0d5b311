package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"slicelab/experiments"
	"slicelab/okr"
	"slicelab/tracking"
)

// commands is the CLI's one command table (product.md §3, §13).
var commands = []command{
	{name: "serve", summary: "run the web server and the send workers", flags: func(fs *flag.FlagSet) runFunc {
		return func(ctx context.Context, x *cli, _ []string) error { return serve(ctx, x, true) }
	}},
	{name: "worker", summary: "run the send workers only (scale-out on PostgreSQL)", flags: func(fs *flag.FlagSet) runFunc {
		return func(ctx context.Context, x *cli, _ []string) error { return serve(ctx, x, false) }
	}},
	{name: "migrate up", summary: "apply the database migrations (slicelab's and River's)", flags: func(fs *flag.FlagSet) runFunc {
		return func(ctx context.Context, x *cli, _ []string) error {
			st, err := openStore(ctx, x.cfg.db)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.migrateUp(ctx, x.stdout); err != nil {
				return err
			}
			fmt.Fprintln(x.stdout, "database is up to date")
			return nil
		}
	}},
	{name: "migrate status", summary: "list the database migrations and whether they are applied", flags: func(fs *flag.FlagSet) runFunc {
		return func(ctx context.Context, x *cli, _ []string) error {
			st, err := openStore(ctx, x.cfg.db)
			if err != nil {
				return err
			}
			defer st.Close()
			return st.migrateStatus(ctx, x.stdout)
		}
	}},
	{name: "org create", args: "SLUG [--name NAME]", summary: "create an organisation (teams join the default one unless told)", nargs: [2]int{1, 1},
		flags: orgCreateCmd},
	{name: "org list", summary: "list the organisations", flags: orgListCmd},
	{name: "org show", args: "[SLUG]", summary: "an organisation's teams and people", nargs: [2]int{0, 1}, flags: orgShowCmd},
	{name: "org admin add", args: "EMAIL [--org SLUG] [--name NAME]", summary: "make a person an admin of an organisation (sees every team's aggregates)",
		nargs: [2]int{1, 1}, flags: orgAdminAddCmd},
	{name: "team create", args: "SLUG [--name NAME] [--org SLUG]", summary: "create a team", nargs: [2]int{1, 1}, flags: func(fs *flag.FlagSet) runFunc {
		name := fs.String("name", "", "display name of the team (default: the slug)")
		org := fs.String("org", "", "organisation slug (default: the default organisation)")
		return func(ctx context.Context, x *cli, args []string) error {
			a, err := x.openApp(ctx, false)
			if err != nil {
				return err
			}
			defer a.close()
			t, err := a.exps.CreateTeamInOrg(ctx, *org, args[0], *name)
			if err != nil {
				return err
			}
			fmt.Fprintf(x.stdout, "created team %s (%s) %s\n", t.Slug, t.Name, t.ID)
			return nil
		}
	}},
	{name: "token create", args: "--team SLUG [--role viewer|editor|admin] [--name NAME] [--expires 90d] | --org SLUG",
		summary: "create an API token (a team's, or an organisation's for its reports); prints only the token", flags: func(fs *flag.FlagSet) runFunc {
			team := fs.String("team", "", "team slug (this or --org is required)")
			org := fs.String("org", "", "organisation slug: a token that reads the organisation's reports, not its teams")
			role := fs.String("role", "editor", "viewer, editor or admin (team tokens)")
			name := fs.String("name", "", "what the token is for, shown by token list")
			expires := fs.String("expires", "", "lifetime such as 90d or 720h (default: no expiry)")
			return func(ctx context.Context, x *cli, _ []string) error {
				if (*team == "") == (*org == "") {
					return usageError{"give --team or --org (one of them)"}
				}
				r, err := experiments.ParseRole(*role)
				if err != nil {
					return usageError{fmt.Sprintf("--role %q: use viewer, editor or admin", *role)}
				}
				life, err := parseLifetime(*expires)
				if err != nil {
					return usageError{"--expires: " + err.Error()}
				}
				a, err := x.openApp(ctx, false)
				if err != nil {
					return err
				}
				defer a.close()
				if *org != "" {
					tok, err := a.exps.CreateOrgToken(ctx, *org, *name, life)
					if err != nil {
						return err
					}
					fmt.Fprintln(x.stdout, tok)
					return nil
				}
				tok, _, err := a.exps.CreateToken(ctx, *team, experiments.TokenInput{Role: r, Name: *name, Expires: life})
				if err != nil {
					return err
				}
				fmt.Fprintln(x.stdout, tok)
				return nil
			}
		}},
	{name: "token list", args: "--team SLUG", summary: "list a team's API tokens (never the tokens themselves)", flags: func(fs *flag.FlagSet) runFunc {
		team := fs.String("team", "", "team slug (required)")
		return func(ctx context.Context, x *cli, _ []string) error {
			if *team == "" {
				return usageError{"--team is required"}
			}
			a, t, err := openTeam(ctx, x, *team)
			if err != nil {
				return err
			}
			defer a.close()
			toks, err := a.exps.Tokens(ctx, t.ID)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(x.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED\tEXPIRES\tLAST USED\tSTATE")
			for _, k := range toks {
				state := "active"
				switch {
				case k.RevokedAt != nil:
					state = "revoked " + k.RevokedAt.Format("2006-01-02")
				case k.ExpiresAt != nil && !k.ExpiresAt.After(a.now()):
					state = "expired"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, orDash(k.Name), k.Role, k.CreatedAt.Format("2006-01-02"),
					dateOr(k.ExpiresAt, "never"), dateOr(k.LastUsedAt, "never"), state)
			}
			return tw.Flush()
		}
	}},
	{name: "token revoke", args: "ID --team SLUG", summary: "revoke an API token for good", nargs: [2]int{1, 1}, flags: func(fs *flag.FlagSet) runFunc {
		team := fs.String("team", "", "team slug (required)")
		return func(ctx context.Context, x *cli, args []string) error {
			if *team == "" {
				return usageError{"--team is required"}
			}
			id, err := uuid.Parse(args[0])
			if err != nil {
				return usageError{fmt.Sprintf("%q is not a token id (see token list)", args[0])}
			}
			a, t, err := openTeam(ctx, x, *team)
			if err != nil {
				return err
			}
			defer a.close()
			k, err := a.exps.RevokeToken(ctx, t.ID, id)
			if err != nil {
				return err
			}
			fmt.Fprintf(x.stdout, "revoked token %s (%s) of %s\n", k.ID, orDash(k.Name), t.Slug)
			return nil
		}
	}},
	{name: "user create", args: "EMAIL --team SLUG [--name NAME] [--role viewer|editor|admin] [--function F] [--password-stdin]",
		summary: "add a person to a team (a member gets the allocation survey and the Monday digest)", nargs: [2]int{1, 1},
		flags: func(fs *flag.FlagSet) runFunc {
			team := fs.String("team", "", "team slug (required)")
			name := fs.String("name", "", "display name")
			role := fs.String("role", "viewer", "viewer, editor or admin")
			function := fs.String("function", "", "what the person does in the team: product, engineering, design, … (the organisation's week groups by it)")
			pwStdin := fs.Bool("password-stdin", false, "read a password for signing in from the first line of standard input")
			return func(ctx context.Context, x *cli, args []string) error {
				if *team == "" {
					return usageError{"--team is required"}
				}
				r, err := experiments.ParseRole(*role)
				if err != nil {
					return usageError{fmt.Sprintf("--role %q: use viewer, editor or admin", *role)}
				}
				in := experiments.MemberInput{Email: args[0], Name: *name, Role: r, Function: *function}
				if *pwStdin {
					line, err := bufio.NewReader(x.stdin).ReadString('\n')
					if err != nil && !errors.Is(err, io.EOF) {
						return fmt.Errorf("read the password: %w", err)
					}
					pw := strings.TrimRight(line, "\r\n")
					in.Password = &pw
				}
				a, t, err := openTeam(ctx, x, *team)
				if err != nil {
					return err
				}
				defer a.close()
				m, err := a.exps.AddMember(ctx, t.ID, in)
				if err != nil {
					return err
				}
				fmt.Fprintf(x.stdout, "added %s to %s as %s (%s)\n", m.Email, t.Slug, m.Role, m.ID)
				return nil
			}
		}},
	{name: "contacts import", args: "FILE.csv --team SLUG", summary: "import contacts from CSV (all or nothing; addresses the team has are updated)", nargs: [2]int{1, 1},
		flags: func(fs *flag.FlagSet) runFunc {
			team := fs.String("team", "", "team slug (required)")
			return func(ctx context.Context, x *cli, args []string) error {
				if *team == "" {
					return usageError{"--team is required"}
				}
				return importContacts(ctx, x, args[0], *team)
			}
		}},
	{name: "contacts export", args: "EMAIL --team SLUG", summary: "print everything stored about one address in a team, as JSON (GDPR access)", nargs: [2]int{1, 1},
		flags: contactsExportCmd},
	{name: "contacts erase", args: "EMAIL --team SLUG --yes", summary: "erase one address's personal data from a team (GDPR erasure); the experiments' counts stay",
		nargs: [2]int{1, 1}, flags: contactsEraseCmd},
	{name: "report week", args: "--team SLUG [--week 2026-W48] [--format table|json|csv]", summary: "the weekly review of a team",
		flags: reportWeekCmd},
	{name: "report org", args: "[--org SLUG] [--week 2026-W48] [--format table|json|csv]", summary: "the organisation's week: each team's time and the shared objectives",
		flags: reportOrgCmd},
	{name: "demo", args: "[--contacts N]", summary: "load a sample team with weeks of history (objectives, experiments, clicks, answers) and print how to sign in",
		flags: func(fs *flag.FlagSet) runFunc {
			n := fs.Int("contacts", 1200, "size of the sample audience (100 to 100000)")
			return func(ctx context.Context, x *cli, _ []string) error {
				if *n < 100 || *n > 100000 {
					return usageError{fmt.Sprintf("--contacts %d: use 100 to 100000", *n)}
				}
				return runDemo(ctx, x, *n)
			}
		}},
	{name: "survey send", args: "[--week 2026-W48]", summary: "email the time-allocation survey of a week to every member now (once per week)",
		flags: func(fs *flag.FlagSet) runFunc {
			week := fs.String("week", "", "ISO week (default: this week in UTC)")
			return func(ctx context.Context, x *cli, _ []string) error {
				w := tracking.WeekOf(time.Now(), time.UTC)
				if *week != "" {
					var err error
					if w, err = tracking.ParseWeek(*week); err != nil {
						return usageError{fmt.Sprintf("--week: %v", err)}
					}
				}
				a, err := x.openApp(ctx, false)
				if err != nil {
					return err
				}
				defer a.close()
				queued, err := okr.QueueSurvey(ctx, a.jobs, w)
				if err != nil {
					return err
				}
				if !queued {
					fmt.Fprintf(x.stdout, "the survey of %s was sent already; each week's survey goes out once, so nothing more is sent\n", w)
					return nil
				}
				fmt.Fprintf(x.stdout, "queued the survey of %s: a running slicelab (serve or worker) emails every member now\n", w)
				return nil
			}
		}},
	{name: "digest send", summary: "email last week's review to every member now (each member gets a week's digest once)",
		flags: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, x *cli, _ []string) error {
				a, err := x.openApp(ctx, false)
				if err != nil {
					return err
				}
				defer a.close()
				if err := okr.QueueDigest(ctx, a.jobs); err != nil {
					return err
				}
				fmt.Fprintln(x.stdout, "queued the digest: a running slicelab (serve or worker) emails every member the review of last week now; members who got it already are skipped")
				return nil
			}
		}},
	{name: "stats compare", args: "--control X/N --variant X/N [--variant X/N …] [--format json|table]",
		summary: "compare variants with the control (the results endpoint's statistics)", noConfig: true, flags: statsCompareCmd},
	{name: "stats srm", args: "--observed A,B[,…] --weights a,b[,…] [--format json|table]",
		summary: "sample-ratio-mismatch check (Pearson χ²)", noConfig: true, flags: statsSRMCmd},
	{name: "stats plan", args: "--baseline P --mde E --weekly N --arms K --weeks W [--format json|table]",
		summary: "sample size per arm and week-by-week power", noConfig: true, flags: statsPlanCmd},
}

// serve runs the service (web and workers) or the workers alone until ctx ends.
func serve(ctx context.Context, x *cli, web bool) error {
	a, err := x.openApp(ctx, true)
	if err != nil {
		return err
	}
	if !web {
		x.log.Info("slicelab worker started", "database", a.dbLabel(), "mail", a.mailLabel())
		return a.run(ctx, nil)
	}
	ln, err := net.Listen("tcp", x.cfg.HTTPAddr)
	if err != nil {
		a.close()
		return fmt.Errorf("listen on %s: %w (set SLICELAB_HTTP_ADDR to another address)", x.cfg.HTTPAddr, err)
	}
	return a.run(ctx, ln)
}

// openTeam opens the database for a command about one team.
func openTeam(ctx context.Context, x *cli, slug string) (*app, experiments.Team, error) {
	a, err := x.openApp(ctx, false)
	if err != nil {
		return nil, experiments.Team{}, err
	}
	t, err := a.exps.TeamBySlug(ctx, slug)
	if err != nil {
		a.close()
		return nil, experiments.Team{}, err
	}
	return a, t, nil
}

func importContacts(ctx context.Context, x *cli, path, team string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	a, t, err := openTeam(ctx, x, team)
	if err != nil {
		return err
	}
	defer a.close()
	var r io.Reader = f
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		r = &progressReader{r: f, total: fi.Size(), out: x.stderr}
	}
	res, err := a.exps.ImportContactsCSV(ctx, t.ID, r)
	if pr, ok := r.(*progressReader); ok {
		pr.done()
	}
	var ie *experiments.ImportError
	if errors.As(err, &ie) {
		for _, e := range ie.Result.Errors {
			fmt.Fprintf(x.stderr, "row %d: %s: %s\n", e.Row, e.Field, e.Message)
		}
		return fmt.Errorf("%d bad rows; nothing was imported", len(ie.Result.Errors))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(x.stdout, "imported %d, updated %d, skipped %d (already in the team, unchanged)\n", res.Imported, res.Updated, res.Skipped)
	return nil
}

// progressReader draws a progress bar on stderr while a file is read.
type progressReader struct {
	r        io.Reader
	total    int64
	read     int64
	lastStep int64
	out      io.Writer
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.read += int64(n)
	if step := p.read * 40 / p.total; step != p.lastStep {
		p.lastStep = step
		fmt.Fprintf(p.out, "\rreading [%-40s] %3d%%", strings.Repeat("#", int(step)), p.read*100/p.total)
	}
	return n, err
}

func (p *progressReader) done() {
	if p.lastStep > 0 {
		fmt.Fprintln(p.out)
	}
}

// parseLifetime reads a lifetime such as 90d, 720h or 30m ("" is none).
func parseLifetime(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("%q is not a number of days such as 90d", v)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a lifetime such as 90d or 720h", v)
	}
	return d, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func dateOr(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return t.Format("2006-01-02")
}
