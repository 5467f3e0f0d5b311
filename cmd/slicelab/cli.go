package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
)

// command is one subcommand of the CLI. Every command is listed in
// commands (commands.go) and gets its own --help.
type command struct {
	name    string // words after "slicelab", e.g. "team create"
	args    string // positional arguments and flags, for the usage line
	summary string // one line
	nargs   [2]int // the fewest and most positional arguments
	// noConfig commands run without the operator's configuration (no database).
	noConfig bool
	// flags registers the command's flags and returns what runs it.
	flags func(fs *flag.FlagSet) runFunc
}

// runFunc runs a command with its positional arguments.
type runFunc func(ctx context.Context, x *cli, args []string) error

// cli is what a running command has: its configuration (unless noConfig),
// logger and streams.
type cli struct {
	cfg            config
	log            *slog.Logger
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	openApp        func(ctx context.Context, workers bool) (*app, error)
}

// usageError is a mistake in the command line: exit code 2, with help.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

// find returns the command named by the longest prefix of args, and the rest.
func find(args []string) (*command, []string) {
	var best *command
	n := 0
	for i := range commands {
		c := &commands[i]
		words := strings.Fields(c.name)
		if len(words) > n && len(args) >= len(words) && slices.Equal(args[:len(words)], words) {
			best, n = c, len(words)
		}
	}
	if best == nil {
		return nil, args
	}
	return best, args[n:]
}

// group lists the commands whose names start with prefix (the words typed so far).
func group(prefix []string) []*command {
	var out []*command
	for i := range commands {
		words := strings.Fields(commands[i].name)
		if len(words) > len(prefix) && slices.Equal(words[:len(prefix)], prefix) {
			out = append(out, &commands[i])
		}
	}
	return out
}

func (c *command) usageLine() string {
	return strings.TrimSpace("slicelab " + c.name + " " + c.args)
}

// listing is the table of commands for help texts.
func listing(cmds []*command) string {
	var b strings.Builder
	for _, c := range cmds {
		fmt.Fprintf(&b, "  %-58s %s\n", strings.TrimPrefix(c.usageLine(), "slicelab "), c.summary)
	}
	return b.String()
}

func isHelp(a string) bool { return a == "-h" || a == "-help" || a == "--help" || a == "help" }

// run is main without the process: testable with its own arguments,
// environment and streams. It returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	all := make([]*command, len(commands))
	for i := range commands {
		all[i] = &commands[i]
	}
	if len(args) == 0 || (len(args) == 1 && isHelp(args[0])) {
		fmt.Fprintf(stdout, "slicelab: email experiments, tracked clicks and the weekly OKR review.\n\nUsage:\n%s\n%s", listing(all), envHelp)
		return 0
	}
	c, rest := find(args)
	if c == nil {
		// A group name alone ("team", "stats --help") lists its commands.
		words := slices.DeleteFunc(slices.Clone(args), isHelp)
		if sub := group(words); len(sub) > 0 && len(words) > 0 {
			fmt.Fprintf(stdout, "Commands of slicelab %s:\n%s", strings.Join(words, " "), listing(sub))
			if len(words) == len(args) {
				return 2 // a group without a command is a mistake; with --help it is a question
			}
			return 0
		}
		fmt.Fprintf(stderr, "slicelab: unknown command %q\n\nUsage:\n%s", strings.Join(args, " "), listing(all))
		return 2
	}
	fs := flag.NewFlagSet("slicelab "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	runCmd := c.flags(fs)
	help := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: %s\n\n%s.\n", c.usageLine(), strings.ToUpper(c.summary[:1])+c.summary[1:])
		var flags strings.Builder
		fs.SetOutput(&flags)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		if flags.Len() > 0 {
			fmt.Fprintf(w, "\nFlags:\n%s", flags.String())
		}
	}
	pos, err := parseInterleaved(fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		help(stdout)
		return 0
	}
	if err == nil && (len(pos) < c.nargs[0] || len(pos) > c.nargs[1]) {
		err = usageError{fmt.Sprintf("%s takes %s", c.name, argCount(c.nargs))}
	}
	if err != nil {
		fmt.Fprintf(stderr, "slicelab %s: %s\n\n", c.name, err)
		help(stderr)
		return 2
	}
	x := &cli{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	if !c.noConfig {
		cfg, err := loadConfig(getenv)
		if err != nil {
			fmt.Fprintf(stderr, "slicelab: configuration:\n  %s\n", strings.ReplaceAll(err.Error(), "\n", "\n  "))
			return 2
		}
		x.cfg, x.log = cfg, newLogger(stderr, cfg.LogLevel)
		x.openApp = func(ctx context.Context, workers bool) (*app, error) { return openApp(ctx, cfg, x.log, workers) }
	}
	err = runCmd(ctx, x, pos)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "slicelab %s: %s\n\n", c.name, ue.msg)
		help(stderr)
		return 2
	default:
		fmt.Fprintf(stderr, "slicelab: %s\n", err)
		return 1
	}
}

func argCount(n [2]int) string {
	switch {
	case n[1] == 0:
		return "no arguments"
	case n[0] == n[1] && n[0] == 1:
		return "one argument"
	case n[0] == n[1]:
		return fmt.Sprintf("%d arguments", n[0])
	}
	return fmt.Sprintf("%d to %d arguments", n[0], n[1])
}

// parseInterleaved parses flags that may come before or after positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
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
