package reports

import "github.com/uptane-hil/uptane-hil/uptane/std"

// htmlCoverage is the "Standard coverage" section of the HTML report.
type htmlCoverage struct {
	C       *Coverage
	Classes []htmlClass
	Groups  []htmlCovGroup
}

type htmlClass struct{ Class, Name string }

type htmlCovGroup struct {
	Name     string
	Sections []htmlCovSection
}

type htmlCovSection struct {
	CoverageSection
	Rows []CoverageStatement
	Ran  int // statements exercised by a scenario of this run
}

// coverageSection groups the report's coverage by the groups and sections of
// the Standard; nil if the report carries none.
func coverageSection(c *Coverage) *htmlCoverage {
	if c == nil {
		return nil
	}
	h := &htmlCoverage{C: c}
	for _, cl := range std.Classes {
		h.Classes = append(h.Classes, htmlClass{string(cl), TraceClassNames[cl]})
	}
	rows := map[string][]CoverageStatement{}
	for _, r := range c.Rows {
		rows[r.Section] = append(rows[r.Section], r)
	}
	index := map[string]int{}
	for _, s := range c.Sections {
		i, ok := index[s.Group]
		if !ok {
			i = len(h.Groups)
			index[s.Group] = i
			h.Groups = append(h.Groups, htmlCovGroup{Name: s.Group})
		}
		sec := htmlCovSection{CoverageSection: s, Rows: rows[s.Section]}
		for _, r := range sec.Rows {
			if len(r.Scenarios) > 0 {
				sec.Ran++
			}
		}
		h.Groups[i].Sections = append(h.Groups[i].Sections, sec)
	}
	return h
}
