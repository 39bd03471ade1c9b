package reports

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// JUnit XML as Jenkins, GitLab and GitHub test reporters read it.

// JUnitSuites is the root element of a JUnit report.
type JUnitSuites struct {
	XMLName  xml.Name `xml:"testsuites"`
	Name     string   `xml:"name,attr"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	// Skipped counts the results of scenarios that do not apply to the
	// device under test.
	Skipped int          `xml:"skipped,attr,omitempty"`
	Time    string       `xml:"time,attr"`
	Suites  []JUnitSuite `xml:"testsuite"`
}

// JUnitSuite is one scenario.
type JUnitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []JUnitProperty `xml:"properties>property"`
	Cases      []JUnitCase     `xml:"testcase"`
}

// JUnitProperty is a name/value pair of a suite.
type JUnitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// JUnitCase is one (scenario, ECU, profile) result.
type JUnitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *JUnitFailure `xml:"failure,omitempty"`
	Skipped   *JUnitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

// JUnitSkipped marks a result that is neither passed nor failed: a
// scenario that does not apply to the device under test, or an
// out-of-model finding (no defence); Message says which and why.
type JUnitSkipped struct {
	Message string `xml:"message,attr"`
}

// JUnitFailure says why a result failed.
type JUnitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnit converts the report: one testsuite per scenario (in the order the
// scenarios first appear), one testcase per (scenario, ECU, profile), a
// failure element with the ECU's detail for each failed result, and the
// seed, rig, attack and Standard sections as suite properties. Times are
// the wall-clock seconds of the runs.
func JUnit(r *Report) JUnitSuites {
	root := JUnitSuites{Name: r.Tool.Name}
	if root.Name == "" {
		root.Name = "uptane-hil"
	}
	var total float64
	for _, g := range groupByScenario(r.Results) {
		first := g.Results[0]
		s := JUnitSuite{
			Name: g.Scenario,
			Properties: []JUnitProperty{
				{"seed", strconv.FormatUint(r.Seed, 10)},
				{"rig", r.Rig.Name},
				{"rig.file", r.Rig.File},
				{"rig.transport", r.Rig.Transport},
				{"attack", first.Attack},
				{"standard", strings.Join(first.Standard, ",")},
				{"description", first.Description},
			},
		}
		if len(first.Statements) > 0 {
			// the Standard's statements the scenario proves (uptane/std IDs)
			s.Properties = append(s.Properties, JUnitProperty{"statements", strings.Join(first.Statements, ",")})
		}
		if !r.Started.IsZero() {
			s.Timestamp = r.Started.UTC().Format("2006-01-02T15:04:05")
		}
		var st float64
		for _, x := range g.Results {
			c := JUnitCase{
				Name:      caseName(r, x),
				ClassName: "uptane-hil." + x.Attack + "." + x.Scenario,
				Time:      seconds(x.Wall),
				SystemOut: caseOut(x),
			}
			switch {
			case x.IsNotApplicable():
				c.Skipped = &JUnitSkipped{Message: NotApplicable + ": " + x.Detail}
				s.Skipped++
			case x.IsResisted():
				// passed: the device resisted an attack out of the model
				// (what it did is in the case's output), neither a finding
				// (skipped) nor a defence
			case x.Pass && x.Expected == OutOfModel:
				c.Skipped = &JUnitSkipped{Message: "out-of-model finding (no defence): " + x.Finding}
				s.Skipped++
			case !x.Pass:
				msg := fmt.Sprintf("expected %s, observed %s", x.Expected, x.Observed)
				if x.Expected == x.Observed {
					msg = fmt.Sprintf("%s, but not by the expected check (detected: %q)", x.Observed, x.Detected)
				}
				if x.Target == TargetDUT && len(x.Checks) > 0 {
					msg += "; " + lacksText(x.Checks)
				}
				c.Failure = &JUnitFailure{Message: msg, Type: x.Attack, Text: x.Detail}
				s.Failures++
			}
			s.Tests++
			st += x.Wall
			s.Cases = append(s.Cases, c)
		}
		s.Time = seconds(st)
		total += st
		root.Tests += s.Tests
		root.Failures += s.Failures
		root.Skipped += s.Skipped
		root.Suites = append(root.Suites, s)
	}
	if len(r.Unstable) > 0 {
		root.Suites = append(root.Suites, unstableSuite(r))
		root.Tests += len(r.Unstable)
		root.Failures += len(r.Unstable)
	}
	root.Time = seconds(total)
	return root
}

// caseName is "ECU / profile", " / seed N" in a seed sweep, and where it
// ran on a suite with a device under test: "ECU / DUT / profile" or "ECU /
// twin / profile".
func caseName(r *Report, x Result) string {
	name := fmt.Sprintf("%s / %s", x.ECU, x.Profile)
	switch x.Target {
	case TargetDUT:
		name = fmt.Sprintf("%s / DUT / %s", x.ECU, x.Profile)
	case TargetTwin:
		name = fmt.Sprintf("%s / twin / %s", x.ECU, x.Profile)
	}
	if len(r.Seeds) > 0 {
		name += fmt.Sprintf(" / seed %d", x.Seed)
	}
	return name
}

// unstableSuite has a failed testcase per run whose verdict differs
// between seeds, listing the seeds of each verdict and how to replay it.
func unstableSuite(r *Report) JUnitSuite {
	s := JUnitSuite{Name: "verdicts that differ between seeds", Properties: []JUnitProperty{{"seeds", SeedRanges(r.Seeds)}, {"rig", r.Rig.Name}}}
	for _, u := range r.Unstable {
		var b strings.Builder
		for _, v := range u.Verdicts {
			fmt.Fprintf(&b, "%s (detected %q, %s) under seeds %s", v.Observed, v.Detected, passWord(v.Pass), SeedRanges(v.Seeds))
			if v.Replay != "" {
				fmt.Fprintf(&b, "; replay: %s", v.Replay)
			}
			b.WriteByte('\n')
		}
		s.Cases = append(s.Cases, JUnitCase{Name: fmt.Sprintf("%s / %s", u.ECU, u.Profile), ClassName: "uptane-hil.seeds." + u.Scenario, Time: seconds(0),
			Failure: &JUnitFailure{Message: fmt.Sprintf("the verdict differs between seeds (expected %s)", u.Expected), Type: "unstable", Text: b.String()}})
		s.Tests++
		s.Failures++
	}
	return s
}

func caseOut(x Result) string {
	var b strings.Builder
	role := "conformant: the attack must be defended"
	if x.Control {
		role = "control: the attack must succeed without the defence"
	}
	switch {
	case x.IsNotApplicable():
		role = "device under test: the scenario does not apply (neither passed nor failed)"
	case x.IsResisted():
		role = "device under test, out of the model: the device resisted the attack (a good outcome; no check of the Uptane model is credited, the finding stands for other ECUs)"
	case x.Expected == OutOfModel:
		role = "out of the model: no ECU check can stop this attack; the run documents the finding"
	case x.Target == TargetDUT:
		role = "device under test, conformant: the device must defend the attack by itself"
	case x.Target == TargetTwin:
		role = "the device's simulated twin, control: the attack must succeed without the defence"
	}
	fmt.Fprintf(&b, "%s\nexpected: %s\nobserved: %s\n", role, x.Expected, x.Observed)
	if x.Finding != "" {
		fmt.Fprintf(&b, "finding: %s\n", x.Finding)
	}
	if x.Detected != "" {
		fmt.Fprintf(&b, "detected: %s\n", x.Detected)
	}
	if x.Applicability != "" {
		fmt.Fprintf(&b, "applicability: %s\n", x.Applicability)
	}
	if len(x.Checks) > 0 && x.Target == TargetDUT && !x.Pass && !slices.Contains(x.Checks, x.Detected) {
		fmt.Fprintf(&b, "missing: %s\n", lacksText(x.Checks))
	}
	if id := x.Identity; id != nil {
		fmt.Fprintf(&b, "device before the scenario: %s\n", id.Line())
	}
	if x.Detail != "" {
		fmt.Fprintf(&b, "detail: %s\n", x.Detail)
	}
	fmt.Fprintf(&b, "simulated time: %s ms\n", strconv.FormatFloat(x.Duration, 'f', -1, 64))
	for _, p := range []string{x.Capture, x.CandumpLog} {
		if p != "" {
			fmt.Fprintf(&b, "[[ATTACHMENT|%s]]\n", p)
		}
	}
	return b.String()
}

func seconds(ms float64) string { return strconv.FormatFloat(ms/1000, 'f', 3, 64) }

// WriteJUnit writes the report as JUnit XML, redacted.
func WriteJUnit(w io.Writer, r *Report) error {
	c, err := Redact(r)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(JUnit(c)); err != nil {
		return err
	}
	buf.WriteByte('\n')
	return emit(w, buf.Bytes())
}

// scenarioGroup is the results of one scenario, in report order.
type scenarioGroup struct {
	Scenario string
	Results  []Result
}

func groupByScenario(rs []Result) []scenarioGroup {
	var out []scenarioGroup
	idx := map[string]int{}
	for _, x := range rs {
		i, ok := idx[x.Scenario]
		if !ok {
			i = len(out)
			idx[x.Scenario] = i
			out = append(out, scenarioGroup{Scenario: x.Scenario})
		}
		out[i].Results = append(out[i].Results, x)
	}
	return out
}
