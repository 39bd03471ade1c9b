package reports

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode"
)

// WriteSummary writes the terminal table: one aligned row per result with
// scenario, ECU, profile, expected, observed, detected check and PASS or
// FAIL, then the totals.
func WriteSummary(w io.Writer, r *Report) error {
	c, err := Redact(r)
	if err != nil {
		return err
	}
	c.Summarize()
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tECU\tPROFILE\tEXPECTED\tOBSERVED\tDETECTED\tRESULT")
	for _, x := range c.Results {
		det := x.Detected
		if det == "" {
			det = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cell(x.Scenario), cell(x.ECU), cell(x.Profile),
			cell(x.Expected), cell(x.Observed), cell(det), passWord(x.Pass))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	s := c.Summary
	fmt.Fprintf(&buf, "\n%d runs: %d passed, %d failed", s.Runs, s.Passed, s.Failed)
	if s.Failed == 0 && s.Runs > 0 {
		buf.WriteString(" — every attack defended by the conformant profile and seen to succeed without its defence")
	}
	buf.WriteByte('\n')
	return emit(w, buf.Bytes())
}

func passWord(p bool) string {
	if p {
		return "PASS"
	}
	return "FAIL"
}

// cell makes a value safe for one table cell: no tabs, newlines or other
// control characters, never empty.
func cell(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if s == "" {
		return "-"
	}
	return s
}
