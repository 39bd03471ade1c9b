package std

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"

	"github.com/uptane-hil/uptane-hil/internal/yamlx"
)

// Class is how a statement is covered (the classes of the review).
type Class string

const (
	// ByScenario: a scenario with a control run proves it (the conformant
	// profile defends, the profile without the defence is compromised).
	ByScenario Class = "SC"
	// BySpec: a spec proves it (and no scenario).
	BySpec Class = "SP"
	// Untested: implemented (a check implements it, or open.yaml says so),
	// but nothing proves it.
	Untested Class = "UT"
	// NotImplemented: open.yaml lists it as not (or only partly) implemented.
	NotImplemented Class = "NI"
	// NotApplicable: na.yaml gives the reason.
	NotApplicable Class = "NA"
	// Uncovered: nothing at all; a spec fails on it.
	Uncovered Class = "none"
)

// Classes in the order of the counts' columns.
var Classes = []Class{ByScenario, BySpec, Untested, NotImplemented, NotApplicable, Uncovered}

// Reason is an entry of na.yaml or open.yaml.
type Reason struct {
	ID ID `yaml:"id" json:"id"`
	// Class is UT or NI in open.yaml, and NA (implied) in na.yaml.
	Class Class `yaml:"class" json:"class,omitempty"`
	// Issue is the issue that closes an open statement, e.g. "15".
	Issue string `yaml:"issue" json:"issue,omitempty"`
	// Why: the reason it does not apply, or the gap that keeps it open.
	Why string `yaml:"why" json:"why"`
}

//go:embed na.yaml
var naYAML []byte

//go:embed open.yaml
var openYAML []byte

// NotApplicableList returns na.yaml: the statements that do not apply to
// this implementation, each with its reason.
func NotApplicableList() ([]Reason, error) { return parseReasons("uptane/std/na.yaml", naYAML, false) }

// OpenList returns open.yaml: the statements still untested or not
// implemented, each with the issue and gap; the trace accepts them, and fails
// once one of them is covered (then it must leave the list).
func OpenList() ([]Reason, error) { return parseReasons("uptane/std/open.yaml", openYAML, true) }

func parseReasons(file string, data []byte, open bool) ([]Reason, error) {
	var doc struct {
		Statements []Reason `yaml:"statements"`
	}
	d, err := yamlx.Decode(file, data, &doc)
	if err != nil {
		return nil, err
	}
	for i, r := range doc.Statements {
		at := fmt.Sprintf("statements[%d]", i)
		if !Known(r.ID) {
			return nil, d.Errorf(at+".id", "%q is no statement of the Standard (uptane/std/statements.json)", r.ID)
		}
		if strings.TrimSpace(r.Why) == "" {
			return nil, d.Errorf(at+".why", "%s: give the reason", r.ID)
		}
		switch {
		case open && r.Class != Untested && r.Class != NotImplemented:
			return nil, d.Errorf(at+".class", "%s: class %q: open statements are UT or NI", r.ID, r.Class)
		case open && r.Issue == "":
			return nil, d.Errorf(at+".issue", "%s: name the issue that closes it", r.ID)
		case !open && r.Class != "" && r.Class != NotApplicable:
			return nil, d.Errorf(at+".class", "%s: class %q in the not-applicable list", r.ID, r.Class)
		}
		if !open {
			doc.Statements[i].Class = NotApplicable
		}
	}
	return doc.Statements, nil
}

// Links say what covers each statement. The packages that know checks and
// scenarios fill them (scenarios.Links); Specs defaults to the generated
// index (Specs()).
type Links struct {
	Checks    map[ID][]string  // statement -> the checks that implement it
	Scenarios map[ID][]string  // statement -> the scenarios that prove it (with a control run)
	Specs     map[ID][]SpecRef // statement -> the specs labelled with it
	// NA and Open default to na.yaml and open.yaml.
	NA, Open []Reason
}

// Row is one statement of the matrix.
type Row struct {
	Statement
	Class     Class     `json:"class"`
	Checks    []string  `json:"checks,omitempty"`
	Scenarios []string  `json:"scenarios,omitempty"`
	Specs     []SpecRef `json:"specs,omitempty"`
	// Reason is the na.yaml reason (NA) or the open.yaml entry (UT, NI).
	Reason *Reason `json:"reason,omitempty"`
}

// Counts counts statements by class.
type Counts struct {
	SC    int `json:"SC"`
	SP    int `json:"SP"`
	UT    int `json:"UT"`
	NI    int `json:"NI"`
	NA    int `json:"NA"`
	None  int `json:"none"`
	Total int `json:"total"`
}

// Of returns the count of one class.
func (c Counts) Of(cl Class) int {
	switch cl {
	case ByScenario:
		return c.SC
	case BySpec:
		return c.SP
	case Untested:
		return c.UT
	case NotImplemented:
		return c.NI
	case NotApplicable:
		return c.NA
	}
	return c.None
}

func (c *Counts) add(cl Class) {
	c.Total++
	switch cl {
	case ByScenario:
		c.SC++
	case BySpec:
		c.SP++
	case Untested:
		c.UT++
	case NotImplemented:
		c.NI++
	case NotApplicable:
		c.NA++
	default:
		c.None++
	}
}

// Tally is the SHALL and SHOULD counts of a set of statements.
type Tally struct {
	Name   string `json:"name"`
	Shall  Counts `json:"shall"`
	Should Counts `json:"should"`
}

// Matrix is the trace: every statement with its coverage, and the counts.
type Matrix struct {
	Rows     []Row   `json:"rows"`
	Sections []Tally `json:"sections"` // per section anchor, in the order of the Standard
	Groups   []Tally `json:"groups"`   // per group of rules.yaml
	Total    Tally   `json:"total"`
	// Problems are what makes the trace fail: a statement without any
	// coverage or reason, a link to a statement that does not exist, an open
	// statement that is covered now.
	Problems []string `json:"problems,omitempty"`
}

// Trace puts the matrix together.
func Trace(l Links) *Matrix {
	m := &Matrix{Total: Tally{Name: "total"}}
	if l.Specs == nil {
		l.Specs = Specs()
	}
	if l.NA == nil {
		var err error
		if l.NA, err = NotApplicableList(); err != nil {
			m.Problems = append(m.Problems, err.Error())
		}
	}
	if l.Open == nil {
		var err error
		if l.Open, err = OpenList(); err != nil {
			m.Problems = append(m.Problems, err.Error())
		}
	}
	unknown := func(what string, ids map[ID][]string) {
		for id, by := range ids {
			if !Known(id) {
				m.Problems = append(m.Problems, fmt.Sprintf("%s %s name statement %s, which the Standard does not have (uptane/std/statements.json)", what, strings.Join(by, ", "), id))
			}
		}
	}
	unknown("checks", l.Checks)
	unknown("scenarios", l.Scenarios)
	for id, refs := range l.Specs {
		if !Known(id) {
			var at []string
			for _, r := range refs {
				at = append(at, r.String())
			}
			m.Problems = append(m.Problems, fmt.Sprintf("specs at %s are labelled %s%s, which the Standard does not have", strings.Join(at, ", "), LabelPrefix, id))
		}
	}
	na := reasons(m, "na.yaml", l.NA)
	open := reasons(m, "open.yaml", l.Open)
	for id := range na {
		if _, both := open[id]; both {
			m.Problems = append(m.Problems, fmt.Sprintf("%s is both not applicable (na.yaml) and open (open.yaml)", id))
		}
	}

	sections := map[string]*Tally{}
	for _, s := range Statements() {
		r := Row{Statement: s, Checks: sorted(l.Checks[s.ID]), Scenarios: sorted(l.Scenarios[s.ID]), Specs: l.Specs[s.ID]}
		o, isOpen := open[s.ID]
		switch n, isNA := na[s.ID]; {
		case isNA:
			r.Class, r.Reason = NotApplicable, &n
		case len(r.Scenarios) > 0:
			r.Class = ByScenario
		case len(r.Specs) > 0:
			r.Class = BySpec
		case isOpen:
			r.Class, r.Reason = o.Class, &o
		case len(r.Checks) > 0:
			r.Class = Untested
		default:
			r.Class = Uncovered
		}
		if isOpen && (r.Class == ByScenario || r.Class == BySpec) {
			m.Problems = append(m.Problems, fmt.Sprintf("%s is covered now (%s) but still listed in uptane/std/open.yaml (%s): remove it there", s.ID, r.Class, o.Why))
		}
		if r.Class == Uncovered || (r.Class == Untested && !isOpen && s.Kind.Mandatory()) {
			m.Problems = append(m.Problems, fmt.Sprintf("%s (%s, %s) %q has no coverage: label a spec Label(%q), name it in a scenario's statements:, or list it in uptane/std/open.yaml or na.yaml", s.ID, s.Kind, s.Lines(), short(s.Text), Label(s.ID)))
		}
		m.Rows = append(m.Rows, r)
		t := sections[s.Section]
		if t == nil {
			t = &Tally{Name: s.Section}
			sections[s.Section] = t
		}
		for _, x := range []*Tally{t, &m.Total} {
			if s.Kind.Mandatory() {
				x.Shall.add(r.Class)
			} else {
				x.Should.add(r.Class)
			}
		}
	}
	for _, sec := range Sections() {
		m.Sections = append(m.Sections, *sections[sec])
	}
	rules, err := LoadRules()
	if err != nil {
		m.Problems = append(m.Problems, err.Error())
		return m
	}
	grouped := map[string]bool{}
	for _, g := range rules.Groups {
		t := Tally{Name: g.Name}
		for _, sec := range g.Sections {
			grouped[sec] = true
			if st := sections[sec]; st != nil {
				addCounts(&t.Shall, st.Shall)
				addCounts(&t.Should, st.Should)
			}
		}
		m.Groups = append(m.Groups, t)
	}
	for _, sec := range Sections() {
		if !grouped[sec] {
			m.Problems = append(m.Problems, fmt.Sprintf("section %s is in no group of uptane/std/rules.yaml", sec))
		}
	}
	return m
}

// Row returns the row of one statement.
func (m *Matrix) Row(id ID) (Row, bool) {
	for _, r := range m.Rows {
		if r.ID == id {
			return r, true
		}
	}
	return Row{}, false
}

func addCounts(a *Counts, b Counts) {
	a.SC += b.SC
	a.SP += b.SP
	a.UT += b.UT
	a.NI += b.NI
	a.NA += b.NA
	a.None += b.None
	a.Total += b.Total
}

func reasons(m *Matrix, file string, list []Reason) map[ID]Reason {
	out := map[ID]Reason{}
	for _, r := range list {
		if _, dup := out[r.ID]; dup {
			m.Problems = append(m.Problems, fmt.Sprintf("uptane/std/%s lists %s twice", file, r.ID))
		}
		out[r.ID] = r
	}
	return out
}

func sorted(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := append([]string(nil), s...)
	sort.Strings(out)
	// drop duplicates
	w := 0
	for i, x := range out {
		if i == 0 || x != out[w-1] {
			out[w] = x
			w++
		}
	}
	return out[:w]
}

func short(s string) string {
	if len(s) > 90 {
		return s[:87] + "..."
	}
	return s
}
