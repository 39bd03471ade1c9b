package reports

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/uptane-hil/uptane-hil/uptane/std"
)

// TraceClassNames says what each class of the trace means, for people.
var TraceClassNames = map[std.Class]string{
	std.ByScenario:     "covered by a scenario with a control run",
	std.BySpec:         "covered by a spec",
	std.Untested:       "implemented, untested",
	std.NotImplemented: "not implemented",
	std.NotApplicable:  "not applicable",
	std.Uncovered:      "no coverage",
}

// WriteTraceRows writes the matrix, one statement a line: ID, kind, line in
// the Standard, class, and what covers it (scenarios, specs, checks, or the
// reason). Only the classes in only, if any are given.
func WriteTraceRows(w io.Writer, m *std.Matrix, only ...std.Class) error {
	keep := map[std.Class]bool{}
	for _, c := range only {
		keep[c] = true
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "statement\tkind\tline\tclass\tcovered by")
	for _, r := range m.Rows {
		if len(keep) > 0 && !keep[r.Class] {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Kind, r.Lines(), r.Class, coveredBy(r))
	}
	return tw.Flush()
}

func coveredBy(r std.Row) string {
	var parts []string
	if len(r.Scenarios) > 0 {
		parts = append(parts, "scenarios "+strings.Join(r.Scenarios, ", "))
	}
	if len(r.Specs) > 0 {
		var s []string
		for _, x := range r.Specs {
			s = append(s, x.String())
		}
		parts = append(parts, "specs "+strings.Join(s, ", "))
	}
	if len(r.Checks) > 0 {
		parts = append(parts, "checks "+strings.Join(r.Checks, ", "))
	}
	if r.Reason != nil {
		if r.Reason.Issue != "" {
			parts = append(parts, fmt.Sprintf("open (issue %s): %s", r.Reason.Issue, r.Reason.Why))
		} else {
			parts = append(parts, "n/a: "+r.Reason.Why)
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "; ")
}

// WriteTraceCounts writes the counts in the shape of the review
// (../shared/ref/shall-coverage.md): SHALL / SHOULD / all by class, then per
// group and per section anchor as "SHALL/SHOULD" cells.
func WriteTraceCounts(w io.Writer, m *std.Matrix) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	cols := []std.Class{std.ByScenario, std.BySpec, std.Untested, std.NotImplemented, std.NotApplicable}
	withNone := m.Total.Shall.None+m.Total.Should.None > 0
	if withNone {
		cols = append(cols, std.Uncovered)
	}
	head := func(first string) {
		fmt.Fprint(tw, first+"\t")
		for _, c := range cols {
			fmt.Fprintf(tw, "%s\t", c)
		}
		fmt.Fprintln(tw, "total\t")
	}
	head("")
	var all std.Counts
	for _, row := range []struct {
		name string
		c    std.Counts
	}{{"SHALL", m.Total.Shall}, {"SHOULD", m.Total.Should}} {
		fmt.Fprint(tw, row.name+"\t")
		for _, c := range cols {
			fmt.Fprintf(tw, "%d\t", row.c.Of(c))
		}
		fmt.Fprintf(tw, "%d\t\n", row.c.Total)
	}
	all = sum(m.Total.Shall, m.Total.Should)
	fmt.Fprint(tw, "all\t")
	for _, c := range cols {
		fmt.Fprintf(tw, "%d\t", all.Of(c))
	}
	fmt.Fprintf(tw, "%d\t\n", all.Total)
	pair := func(t std.Tally) {
		fmt.Fprint(tw, t.Name+"\t")
		for _, c := range cols {
			fmt.Fprintf(tw, "%d/%d\t", t.Shall.Of(c), t.Should.Of(c))
		}
		fmt.Fprintf(tw, "%d/%d\t\n", t.Shall.Total, t.Should.Total)
	}
	// each table aligns on its own
	next := func() error {
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		return nil
	}
	if err := next(); err != nil {
		return err
	}
	head("per group (SHALL/SHOULD)")
	for _, g := range m.Groups {
		pair(g)
	}
	if err := next(); err != nil {
		return err
	}
	head("per section (SHALL/SHOULD)")
	for _, s := range m.Sections {
		pair(s)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, c := range cols {
		fmt.Fprintf(w, "%-4s %s\n", c, TraceClassNames[c])
	}
	return nil
}

func sum(a, b std.Counts) std.Counts {
	return std.Counts{SC: a.SC + b.SC, SP: a.SP + b.SP, UT: a.UT + b.UT, NI: a.NI + b.NI, NA: a.NA + b.NA, None: a.None + b.None, Total: a.Total + b.Total}
}
