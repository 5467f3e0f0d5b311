// Command slicelab runs the slicelab service and its command-line tools.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"slicelab/experiments"
)

const usage = `slicelab: email experiments, tracked clicks and the weekly OKR review.

Usage:
  slicelab serve                                  run the web server and the send workers
  slicelab worker                                 run the send workers only (scale-out on PostgreSQL)
  slicelab migrate up|status                      apply or list database migrations (slicelab's and River's)
  slicelab team create SLUG [--name NAME]         create a team
  slicelab token create --team SLUG --role R      create an API token (viewer|editor|admin); prints only the token
  slicelab contacts import FILE.csv --team SLUG   import contacts from CSV (all or nothing)
  slicelab user create EMAIL --team SLUG [--name NAME]  add a team member (allocation survey, Monday digest)
  slicelab report week --team SLUG [--week 2026-W48] [--format table|json|csv]   the weekly review
  slicelab stats compare --control X/N --variant X/N [--variant X/N …] [--format json|table]
  slicelab stats srm --observed A,B[,…] --weights a,b[,…] [--format json|table]
  slicelab stats plan --baseline P --mde E --weekly N --arms K --weeks W [--format json|table]
  slicelab help                                   this text

`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: testable with its own arguments,
// environment and streams. It returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage+envHelp)
		return 0
	}
	if args[0] == "stats" { // pure computation: no configuration, no database
		if err := statsCmd(args[1:], stdout, stderr); err != nil {
			var ue usageError
			if errors.As(err, &ue) {
				fmt.Fprintf(stderr, "slicelab: %s\n", ue.msg)
				return 2
			}
			fmt.Fprintf(stderr, "slicelab: %s\n", err)
			return 1
		}
		return 0
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "slicelab: configuration:\n  %s\n", strings.ReplaceAll(err.Error(), "\n", "\n  "))
		return 2
	}
	log := newLogger(stderr, cfg.LogLevel)
	err = dispatch(ctx, cfg, log, args, stdin, stdout, stderr)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "slicelab: %s\n\n%s", ue.msg, usage)
		return 2
	default:
		fmt.Fprintf(stderr, "slicelab: %s\n", err)
		return 1
	}
}

type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func dispatch(ctx context.Context, cfg config, log *slog.Logger, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve", "worker":
		fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
		fs.SetOutput(stderr)
		if err := fs.Parse(rest); err != nil {
			return usageError{err.Error()}
		}
		a, err := openApp(ctx, cfg, log, true)
		if err != nil {
			return err
		}
		if cmd == "worker" {
			log.Info("slicelab worker started", "database", a.dbLabel(), "mail", a.mailLabel())
			return a.run(ctx, nil)
		}
		ln, err := net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			a.close()
			return fmt.Errorf("listen on %s: %w (set SLICELAB_HTTP_ADDR to another address)", cfg.HTTPAddr, err)
		}
		return a.run(ctx, ln)
	case "migrate":
		if len(rest) != 1 || (rest[0] != "up" && rest[0] != "status") {
			return usageError{"migrate takes up or status"}
		}
		st, err := openStore(ctx, cfg.db)
		if err != nil {
			return err
		}
		defer st.Close()
		if rest[0] == "up" {
			if err := st.migrateUp(ctx, stdout); err != nil {
				return err
			}
			fmt.Fprintln(stdout, "database is up to date")
			return nil
		}
		return st.migrateStatus(ctx, stdout)
	case "team":
		return teamCmd(ctx, cfg, log, rest, stdout, stderr)
	case "token":
		return tokenCmd(ctx, cfg, log, rest, stdout, stderr)
	case "contacts":
		return contactsCmd(ctx, cfg, log, rest, stdout, stderr)
	case "report":
		return reportCmd(ctx, cfg, log, rest, stdout, stderr)
	case "user", "member":
		return userCmd(ctx, cfg, log, rest, stdout, stderr)
	}
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}

// parseInterleaved parses flags that may come before or after positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// openForCLI opens the database (migrating it) with the domain services but no workers.
func openForCLI(ctx context.Context, cfg config, log *slog.Logger) (*app, error) {
	return openApp(ctx, cfg, log, false)
}

// openTeam opens the database for a command about one team.
func openTeam(ctx context.Context, cfg config, log *slog.Logger, slug string) (*app, experiments.Team, error) {
	a, err := openForCLI(ctx, cfg, log)
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

func teamCmd(ctx context.Context, cfg config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return usageError{"team takes: create SLUG [--name NAME]"}
	}
	fs := flag.NewFlagSet("team create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "display name of the team")
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"team create takes one SLUG"}
	}
	a, err := openForCLI(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	t, err := a.exps.CreateTeam(ctx, pos[0], *name)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created team %s (%s) %s\n", t.Slug, t.Name, t.ID)
	return nil
}

func tokenCmd(ctx context.Context, cfg config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return usageError{"token takes: create --team SLUG --role viewer|editor|admin"}
	}
	fs := flag.NewFlagSet("token create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	team := fs.String("team", "", "team slug")
	role := fs.String("role", "editor", "viewer, editor or admin")
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 0 || *team == "" {
		return usageError{"token create needs --team SLUG"}
	}
	r, err := experiments.ParseRole(*role)
	if err != nil {
		return err
	}
	a, err := openForCLI(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	tok, err := a.exps.CreateToken(ctx, *team, r)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

func contactsCmd(ctx context.Context, cfg config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "import" {
		return usageError{"contacts takes: import FILE.csv --team SLUG"}
	}
	fs := flag.NewFlagSet("contacts import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	team := fs.String("team", "", "team slug")
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 || *team == "" {
		return usageError{"contacts import needs FILE.csv and --team SLUG"}
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	a, t, err := openTeam(ctx, cfg, log, *team)
	if err != nil {
		return err
	}
	defer a.close()
	var r io.Reader = f
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		r = &progressReader{r: f, total: fi.Size(), out: stderr}
	}
	in, rowErrs := experiments.ParseContactsCSV(r)
	if pr, ok := r.(*progressReader); ok {
		pr.done()
	}
	res, err := a.exps.ImportContacts(ctx, t.ID, in, rowErrs)
	var ie *experiments.ImportError
	if errors.As(err, &ie) {
		for _, e := range ie.Result.Errors {
			fmt.Fprintf(stderr, "row %d: %s: %s\n", e.Row, e.Field, e.Message)
		}
		return fmt.Errorf("%d bad rows; nothing was imported", len(ie.Result.Errors))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %d, skipped %d (already in the team)\n", res.Imported, res.Skipped)
	return nil
}

func userCmd(ctx context.Context, cfg config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return usageError{"user takes: create EMAIL --team SLUG [--name NAME]"}
	}
	fs := flag.NewFlagSet("user create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	team := fs.String("team", "", "team slug")
	name := fs.String("name", "", "display name")
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 || *team == "" {
		return usageError{"user create needs EMAIL and --team SLUG"}
	}
	a, t, err := openTeam(ctx, cfg, log, *team)
	if err != nil {
		return err
	}
	defer a.close()
	m, err := a.okr.AddMember(ctx, t.ID, pos[0], *name)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "added %s to %s (%s)\n", m.Email, t.Slug, m.ID)
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
