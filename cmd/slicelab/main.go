// Command slicelab runs the slicelab service and its command-line tools.
// It is the composition root: configuration (config.go), the database
// (db.go), the mail transports (mailer.go), the services and River wired
// together (app.go), and the CLI's one command table (commands.go). The
// HTTP layer is internal/web.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() { os.Exit(process(os.Args[1:])) }

// process runs a command line as the slicelab binary does: SIGINT or SIGTERM
// stops it gracefully. It returns the exit code.
func process(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
}
