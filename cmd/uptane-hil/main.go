// Command uptane-hil is the hardware-in-the-loop Uptane test harness. Each
// subcommand lives in its own file and registers itself in init with
// register; adding one is one function.
package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
)

// command is one subcommand: run gets the arguments after its name and
// returns the exit code; it handles its own --help.
type command struct {
	summary string
	run     func(args []string) int
}

var commands = map[string]command{}

// register adds a subcommand (called from init functions).
func register(name, summary string, run func(args []string) int) {
	if _, dup := commands[name]; dup {
		panic("uptane-hil: subcommand " + name + " registered twice")
	}
	commands[name] = command{summary: summary, run: run}
}

func main() { os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr)) }

// dispatch runs the subcommand named by args[0].
func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				return c.run([]string{"--help"})
			}
		}
		printUsage(stdout)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "uptane-hil: unknown command %q\n", args[0])
		printUsage(stderr)
		return 2
	}
	return c.run(args[1:])
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: uptane-hil <command> [arguments]   (uptane-hil <command> --help for details)")
	fmt.Fprintln(w, "\ncommands:")
	names := slices.Sorted(maps.Keys(commands))
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
}
