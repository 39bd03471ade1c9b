package scenarios

import (
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/std"
)

// StatementIDs lists the Standard's statements the scenario proves with its
// control run: those the checks of its defence implement (check.Statements)
// and those its file names under statements:, in the order of the Standard.
func (s *Scenario) StatementIDs() []std.ID {
	seen := map[std.ID]bool{}
	var out []std.ID
	add := func(id std.ID) {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	for _, d := range s.Defence {
		for _, id := range check.Statements[d] {
			add(id)
		}
	}
	for _, id := range s.Statements {
		add(id)
	}
	std.SortIDs(out)
	return out
}

// Links are the trace's links from statements to the checks that implement
// them (check.Statements) and to the scenarios of list that prove them; the
// spec index and the open and not-applicable lists are std's.
func Links(list []*Scenario) std.Links {
	l := std.Links{Checks: map[std.ID][]string{}, Scenarios: map[std.ID][]string{}}
	for c, ids := range check.Statements {
		for _, id := range ids {
			l.Checks[id] = append(l.Checks[id], c.String())
		}
	}
	for _, s := range list {
		for _, id := range s.StatementIDs() {
			l.Scenarios[id] = append(l.Scenarios[id], s.Name)
		}
	}
	return l
}

// Trace is the trace matrix for the scenarios of list. The specs are those
// of the module checked out at root if it is one ("" or not a checkout: the
// index go generate recorded).
func Trace(list []*Scenario, root string) *std.Matrix {
	l := Links(list)
	if root != "" {
		if sp, ok := std.ModuleSpecs(root); ok {
			l.Specs = sp
		}
	}
	return std.Trace(l)
}
