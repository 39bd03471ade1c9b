// Package std carries the Uptane Standard 2.1.0 and its normative statements
// as data: every SHALL, SHALL NOT, REQUIRED and SHOULD (and every step of a
// verification procedure the Standard makes mandatory, "SHALL*"), each with an
// ID made of its section anchor and ordinal ("check_root#3"), its kind, its
// line in the Standard and its sentence.
//
// The statements are extracted from the Standard's markdown by Extract, under
// the alignment rules of rules.yaml, and kept in statements.json (go generate
// writes it; a spec fails when it is stale). The links from statements to what
// covers them (checks, specs, scenarios) and the statements that do not apply
// or are still open are in coverage.go, na.yaml and open.yaml; the packages
// above (scenarios, reports, cmd/uptane-hil trace) put the trace together.
package std

//go:generate go run ./gen

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Text is the Uptane Standard 2.1.0 (Apache-2.0, standard/uptane-standard.LICENSE.md),
// embedded so that the trace and the reports quote it without reading any
// file at run time.
//
//go:embed standard/uptane-standard.md
var Text []byte

// ID names one normative statement: "<section anchor>#<ordinal>", e.g.
// "check_root#3". The ordinal counts the section's statements in the order of
// the Standard, from 1.
type ID string

// Section is the anchor part of the ID.
func (id ID) Section() string {
	s, _, _ := strings.Cut(string(id), "#")
	return s
}

// Ordinal is the number after '#', 0 if there is none.
func (id ID) Ordinal() int {
	_, o, _ := strings.Cut(string(id), "#")
	n, _ := strconv.Atoi(o)
	return n
}

// Kind is how binding a statement is.
type Kind string

const (
	Shall     Kind = "SHALL"
	ShallNot  Kind = "SHALL NOT"
	Required  Kind = "REQUIRED"
	ShallStep Kind = "SHALL*" // a procedure step that "SHALL perform the following steps" makes mandatory
	Should    Kind = "SHOULD"
	ShouldNot Kind = "SHOULD NOT"
)

// Mandatory is true for SHALL, SHALL NOT, REQUIRED and SHALL*; false for
// SHOULD and SHOULD NOT.
func (k Kind) Mandatory() bool {
	switch k {
	case Shall, ShallNot, Required, ShallStep:
		return true
	}
	return false
}

// Family is "SHALL" for a mandatory kind and "SHOULD" otherwise: the two rows
// of the counts.
func (k Kind) Family() string {
	if k.Mandatory() {
		return "SHALL"
	}
	return "SHOULD"
}

// Statement is one normative statement of the Standard.
type Statement struct {
	ID      ID     `json:"id"`
	Section string `json:"section"`
	Kind    Kind   `json:"kind"`
	// Line and EndLine are the statement's lines in standard/uptane-standard.md
	// (EndLine = Line for one line).
	Line    int    `json:"line"`
	EndLine int    `json:"endLine"`
	Text    string `json:"text"` // the sentence (or procedure step) from the Standard
}

// Lines is "L852" or "L634-636".
func (s Statement) Lines() string {
	if s.EndLine > s.Line {
		return fmt.Sprintf("L%d-%d", s.Line, s.EndLine)
	}
	return fmt.Sprintf("L%d", s.Line)
}

//go:embed statements.json
var statementsJSON []byte

var loaded = sync.OnceValues(func() ([]Statement, map[ID]int) {
	var all []Statement
	if err := json.Unmarshal(statementsJSON, &all); err != nil {
		panic("std: statements.json: " + err.Error())
	}
	idx := make(map[ID]int, len(all))
	for i, s := range all {
		if _, dup := idx[s.ID]; dup {
			panic("std: statements.json: duplicate ID " + string(s.ID))
		}
		idx[s.ID] = i
	}
	return all, idx
})

// Statements returns every statement, in the order of the Standard. The slice
// is shared: do not modify it.
func Statements() []Statement {
	all, _ := loaded()
	return all
}

// Lookup returns the statement with that ID.
func Lookup(id ID) (Statement, bool) {
	all, idx := loaded()
	i, ok := idx[id]
	if !ok {
		return Statement{}, false
	}
	return all[i], true
}

// Known reports whether id names a statement.
func Known(id ID) bool {
	_, ok := Lookup(id)
	return ok
}

// Sections lists the section anchors that hold statements, in the order of
// the Standard.
func Sections() []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range Statements() {
		if !seen[s.Section] {
			seen[s.Section] = true
			out = append(out, s.Section)
		}
	}
	return out
}

// SortIDs sorts statement IDs in the order of the Standard (unknown IDs last,
// by name).
func SortIDs(ids []ID) {
	_, idx := loaded()
	sort.SliceStable(ids, func(i, j int) bool {
		a, oka := idx[ids[i]]
		b, okb := idx[ids[j]]
		switch {
		case oka && okb:
			return a < b
		case oka != okb:
			return oka
		}
		return ids[i] < ids[j]
	})
}
