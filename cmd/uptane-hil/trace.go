package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/uptane-hil/uptane-hil/reports"
	"github.com/uptane-hil/uptane-hil/scenarios"
	"github.com/uptane-hil/uptane-hil/uptane/std"
)

func init() {
	register("trace", "the Uptane Standard's normative statements and what covers each (checks, specs, scenarios)", func(args []string) int {
		return traceCmd(args, os.Stdout, os.Stderr)
	})
}

func traceCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("trace", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the matrix and its counts as JSON")
	counts := fs.Bool("counts", false, "print the counts only")
	withText := fs.Bool("text", false, "print each statement's sentence from the Standard below it")
	only := fs.String("class", "", "print only the statements of these classes, e.g. NI,UT")
	src := fs.String("src", ".", "the module's checkout whose specs to scan for labels (elsewhere: the index built in)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: uptane-hil trace [--json] [--counts] [--text] [--class SC,SP,UT,NI,NA,none] [--src DIR] [SCENARIO FILE OR FOLDER ...]

Prints every normative statement of the Uptane Standard 2.1.0 (SHALL, SHALL
NOT, REQUIRED, the mandatory procedure steps SHALL*, SHOULD; uptane/std) with
what covers it, then the counts per kind, per group and per section anchor:

  SC   a scenario with a control run proves it (its defence checks implement
       the statement, or it names it under statements:)
  SP   a spec proves it (labelled Label("std:<ID>"))
  UT   implemented, untested      NI  not implemented (uptane/std/open.yaml)
  NA   not applicable, with the reason (uptane/std/na.yaml)
  none nothing at all

The scenarios are those of the given files or folders (default: scenarios/);
the specs those labelled in the checkout at --src, or, outside a checkout,
the index recorded by go generate ./uptane/std.
Exit status 1 if the trace has problems (a statement without coverage or
reason, a link to a statement that does not exist, an open statement that is
covered now); they are printed to stderr.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	var classes []std.Class
	if *only != "" {
		for _, c := range strings.Split(*only, ",") {
			cl := std.Class(strings.TrimSpace(c))
			if _, ok := reports.TraceClassNames[cl]; !ok {
				fmt.Fprintf(stderr, "uptane-hil trace: --class: %q is none of SC, SP, UT, NI, NA, none\n", c)
				return 2
			}
			classes = append(classes, cl)
		}
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{"scenarios"}
	}
	list, err := scenarios.LoadAll(paths...)
	if err != nil {
		fmt.Fprintln(stderr, "uptane-hil trace:", err)
		return 2
	}
	m := scenarios.Trace(list, *src)
	switch {
	case *asJSON:
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(m); err != nil {
			fmt.Fprintln(stderr, "uptane-hil trace:", err)
			return 1
		}
	default:
		if !*counts {
			if err := reports.WriteTraceRows(stdout, m, reports.TraceRowOptions{Only: classes, Text: *withText}); err != nil {
				fmt.Fprintln(stderr, "uptane-hil trace:", err)
				return 1
			}
			fmt.Fprintln(stdout)
		}
		if err := reports.WriteTraceCounts(stdout, m); err != nil {
			fmt.Fprintln(stderr, "uptane-hil trace:", err)
			return 1
		}
	}
	if len(m.Problems) > 0 {
		for _, p := range m.Problems {
			fmt.Fprintln(stderr, "uptane-hil trace:", p)
		}
		fmt.Fprintf(stderr, "uptane-hil trace: %d problem(s)\n", len(m.Problems))
		return 1
	}
	return 0
}
