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

// TraceRowOptions choose what WriteTraceRows prints.
type TraceRowOptions struct {
	Only []std.Class // only statements of these classes (all if empty)
	Text bool        // each statement's sentence on an indented line below it
}

// WriteTraceRows writes the matrix, one statement a line: ID, kind, line in
// the Standard, class, and what covers it (scenarios, specs, checks, or the
// reason).
func WriteTraceRows(w io.Writer, m *std.Matrix, o TraceRowOptions) error {
	keep := map[std.Class]bool{}
	for _, c := range o.Only {
		keep[c] = true
	}
	var rows []std.Row
	wID, wKind, wLine := len("statement"), len("kind"), len("line")
	for _, r := range m.Rows {
		if len(keep) > 0 && !keep[r.Class] {
			continue
		}
		rows = append(rows, r)
		wID, wKind, wLine = max(wID, len(r.ID)), max(wKind, len(r.Kind)), max(wLine, len(r.Lines()))
	}
	// fixed widths, not a tabwriter: the sentence lines (--text) must not
	// break the columns' alignment
	line := func(id, kind, lines, class, by string) error {
		_, err := fmt.Fprintf(w, "%-*s  %-*s  %-*s  %-5s  %s\n", wID, id, wKind, kind, wLine, lines, class, by)
		return err
	}
	if err := line("statement", "kind", "line", "class", "covered by"); err != nil {
		return err
	}
	for _, r := range rows {
		if err := line(string(r.ID), string(r.Kind), r.Lines(), string(r.Class), coveredBy(r)); err != nil {
			return err
		}
		if o.Text {
			if _, err := fmt.Fprintf(w, "    %s\n", r.Text); err != nil {
				return err
			}
		}
	}
	return nil
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
