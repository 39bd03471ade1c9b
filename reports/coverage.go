package reports

import (
	"github.com/uptane-hil/uptane-hil/uptane/std"
)

// Coverage is the Standard coverage of a run: every normative statement of
// the Uptane Standard 2.1.0 (uptane/std) with how it is covered, and the
// scenarios of this run that exercised it.
type Coverage struct {
	Standard string `json:"standard"` // "Uptane Standard 2.1.0"
	// Shall and Should count the statements by class (SC, SP, UT, NI, NA,
	// none) for SHALL (with SHALL NOT, REQUIRED, SHALL*) and SHOULD.
	Shall    std.Counts          `json:"shall"`
	Should   std.Counts          `json:"should"`
	Sections []CoverageSection   `json:"sections"`
	Rows     []CoverageStatement `json:"statements"`
}

// CoverageSection counts one section anchor's statements.
type CoverageSection struct {
	Section string     `json:"section"`
	Group   string     `json:"group"`
	Shall   std.Counts `json:"shall"`
	Should  std.Counts `json:"should"`
}

// CoverageStatement is one statement and its coverage.
type CoverageStatement struct {
	ID      string `json:"id"`
	Section string `json:"section"`
	Kind    string `json:"kind"`
	Line    int    `json:"line"` // in the Standard's markdown (uptane/std/standard)
	Text    string `json:"text"`
	Class   string `json:"class"`
	// Scenarios are the scenarios of this run that exercised the statement
	// (their defence implements it, or they name it); Specs and Checks what
	// else covers it.
	Scenarios []string `json:"scenarios"`
	Specs     []string `json:"specs,omitempty"`
	Checks    []string `json:"checks,omitempty"`
	Reason    string   `json:"reason,omitempty"` // why not applicable, or the open gap
}

// NewCoverage builds the run's Standard coverage from the trace matrix and
// the results (Result.Statements names what each scenario proves).
func NewCoverage(m *std.Matrix, results []Result) *Coverage {
	ran := map[string][]string{}
	seen := map[string]bool{}
	for _, r := range results {
		for _, id := range r.Statements {
			k := id + "\x00" + r.Scenario
			if !seen[k] {
				seen[k] = true
				ran[id] = append(ran[id], r.Scenario)
			}
		}
	}
	group := map[string]string{}
	if rules, err := std.LoadRules(); err == nil {
		for _, g := range rules.Groups {
			for _, s := range g.Sections {
				group[s] = g.Name
			}
		}
	}
	c := &Coverage{Standard: "Uptane Standard 2.1.0", Shall: m.Total.Shall, Should: m.Total.Should}
	for _, t := range m.Sections {
		c.Sections = append(c.Sections, CoverageSection{Section: t.Name, Group: group[t.Name], Shall: t.Shall, Should: t.Should})
	}
	for _, r := range m.Rows {
		row := CoverageStatement{ID: string(r.ID), Section: r.Section, Kind: string(r.Kind), Line: r.Line, Text: r.Text,
			Class: string(r.Class), Scenarios: ran[string(r.ID)], Checks: r.Checks}
		if row.Scenarios == nil {
			row.Scenarios = []string{}
		}
		for _, s := range r.Specs {
			row.Specs = append(row.Specs, s.String())
		}
		if r.Reason != nil {
			row.Reason = r.Reason.Why
		}
		c.Rows = append(c.Rows, row)
	}
	return c
}
