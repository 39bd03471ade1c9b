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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cell(x.Scenario), cell(ecuCell(x)), cell(x.Profile),
			cell(x.Expected), cell(x.Observed), cell(det), ResultWord(x))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	s := c.Summary
	fmt.Fprintf(&buf, "\n%d runs: %s", s.Runs, s.Counts())
	in := ""
	if s.Findings > 0 {
		in = " in the model"
	}
	switch {
	case s.Failed == 0 && s.Passed == 0 && s.Resisted > 0 && c.DUT != nil:
		fmt.Fprintf(&buf, " — the device under test %s resisted every attack out of the model played on it", c.DUT.ECU)
	case s.Failed == 0 && s.Passed > 0 && c.DUT != nil:
		fmt.Fprintf(&buf, " — every applicable attack defended by the device under test %s and seen to succeed on its twin without the defence", c.DUT.ECU)
	case s.Failed == 0 && s.Passed > 0:
		buf.WriteString(" — every attack" + in + " defended by the conformant profile and seen to succeed without its defence")
	}
	buf.WriteByte('\n')
	if d := c.DUT; d != nil {
		finds := ""
		if d.Findings > 0 {
			finds = fmt.Sprintf(", %d out-of-model finding(s)", d.Findings)
		}
		if d.Resisted > 0 {
			finds += fmt.Sprintf(", %d out-of-model attack(s) resisted", d.Resisted)
		}
		fmt.Fprintf(&buf, "device under test %s: %d defended, %d compromised, %d not applicable%s\n", d.ECU, d.Defended, d.Compromised, d.NotApplicable, finds)
		for _, row := range d.Scenarios {
			if m := row.MissingText(); m != "" {
				fmt.Fprintf(&buf, "  %s: %s\n", cell(row.Scenario), m)
			}
		}
	}
	return emit(w, buf.Bytes())
}

// Counts is "N passed, N failed", ", N not applicable" when there are
// results of scenarios that do not apply to the device under test,
// ", N out-of-model finding(s) (no defence: see each finding)" when there
// are findings, and ", N out-of-model attack(s) resisted by the device
// under test …" when it resisted some.
func (s Summary) Counts() string {
	out := fmt.Sprintf("%d passed, %d failed", s.Passed, s.Failed)
	if s.NotApplicable > 0 {
		out += fmt.Sprintf(", %d not applicable", s.NotApplicable)
	}
	if s.Findings > 0 {
		out += fmt.Sprintf(", %d out-of-model finding(s) (no defence: see each finding)", s.Findings)
	}
	if s.Resisted > 0 {
		out += fmt.Sprintf(", %d out-of-model attack(s) resisted by the device under test (no Uptane check credited)", s.Resisted)
	}
	return out
}

// ResultWord is PASS, FAIL, N/A for a scenario that does not apply to the
// device under test (neither passed nor failed), FINDING for an
// out-of-model result whose finding reproduced (no defence), or RESISTED
// for one the device under test resisted (passed, no defence either).
func ResultWord(x Result) string {
	if x.IsNotApplicable() {
		return "N/A"
	}
	if x.IsResisted() {
		return "RESISTED"
	}
	if x.Expected == OutOfModel && x.Pass {
		return "FINDING"
	}
	return passWord(x.Pass)
}

// ecuCell is the ECU, marked as the device under test or its twin.
func ecuCell(x Result) string {
	switch x.Target {
	case TargetDUT:
		return x.ECU + " (DUT)"
	case TargetTwin:
		return x.ECU + " (twin)"
	}
	return x.ECU
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
