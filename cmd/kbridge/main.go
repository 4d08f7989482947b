// Command kbridge streams events from Kafka topics and HTTP into Keboola Storage tables.
//
// This package only wires: it parses flags, loads configuration and calls into the
// library packages. Every subcommand is a function in its own file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/kbridge/kbridge/mapping"
)

// command is one subcommand: it reads its own flags from args and writes to the streams it is given.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands is the subcommand table; each file registers its commands in init.
var commands = map[string]command{}

// errUsage marks an error whose message is usage help; the exit status is 2.
var errUsage = errors.New("usage")

// errHelp marks help that was asked for (-h): the flags were printed, the exit status is 0.
var errHelp = errors.New("help")

// parseError is what a subcommand returns when its flags do not parse: help asked for with -h
// is not a mistake.
func parseError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return errHelp
	}
	return errUsage
}

func main() {
	mapping.InitWorkers() // a template worker serves here and exits; see mapping.InitWorkers
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "kbridge: unknown command %q\n\n", args[0])
		printUsage(stderr)
		return 2
	}
	if err := cmd.run(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, errHelp) {
			return 0
		}
		if errors.Is(err, errUsage) {
			return 2
		}
		fmt.Fprintf(stderr, "kbridge %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "kbridge streams events from Kafka and HTTP into Keboola Storage tables.")
	fmt.Fprintln(w, "\nUsage: kbridge <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-16s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w, "\nRun 'kbridge <command> -h' for the flags of a command.")
}
