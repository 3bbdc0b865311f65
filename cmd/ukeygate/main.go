package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line and returns the process exit code: 0, 1
// for a failure, 2 for a usage error. Every failure is one line on stderr,
// "ukeygate: …". SIGINT and SIGTERM cancel the command's context (serve
// then shuts down gracefully); a second signal kills at once.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // restore the default action for a second signal
	}()

	root, state := newRootCmd()
	return execute(ctx, root, state, args, stdout, stderr)
}

// execute runs root and turns its error into the exit code and the one
// line on stderr (report).
func execute(ctx context.Context, root *cobra.Command, state *runState, args []string, stdout, stderr io.Writer) int {
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	line, code := report(cmd, err, state.started)
	fmt.Fprintln(stderr, line)
	return code
}

// usageError marks an error as a misuse of the command line (exit code 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usageErrorf makes a usage error (exit code 2) for a subcommand's RunE,
// e.g. a flag value it refuses.
func usageErrorf(format string, a ...any) error {
	return &usageError{err: fmt.Errorf(format, a...)}
}

// oneLine joins the lines of a message so that every error fits on one
// line of stderr.
func oneLine(msg string) string {
	var parts []string
	for _, l := range strings.Split(msg, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " ")
}
