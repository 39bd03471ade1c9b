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
			cell(x.Expected), cell(x.Observed), cell(det), resultWord(x))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	s := c.Summary
	fmt.Fprintf(&buf, "\n%d runs: %d passed, %d failed", s.Runs, s.Passed, s.Failed)
	if s.Findings > 0 {
		fmt.Fprintf(&buf, ", %d out-of-model finding(s) (no defence: see each finding)", s.Findings)
	}
	if s.Failed == 0 && s.Runs > s.Findings {
		in := ""
		if s.Findings > 0 {
			in = " in the model"
		}
		buf.WriteString(" — every attack" + in + " defended by the conformant profile and seen to succeed without its defence")
	}
	buf.WriteByte('\n')
	return emit(w, buf.Bytes())
}

// resultWord is PASS or FAIL, or FINDING for an out-of-model result whose
// finding reproduced: it is no defence.
func resultWord(x Result) string {
	if x.Expected == OutOfModel && x.Pass {
		return "FINDING"
	}
	return passWord(x.Pass)
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
