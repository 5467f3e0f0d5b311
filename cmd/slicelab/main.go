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

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}
