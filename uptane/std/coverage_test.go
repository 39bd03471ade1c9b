package std_test

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/uptane/std"
)

var _ = Describe("the spec index", func() {
	It("has the labels a scan of the module's specs finds today, file by file (else: go generate ./uptane/std), so no label points at a spec that is gone", func() {
		fresh, ok := std.ModuleSpecs("../..")
		Expect(ok).To(BeTrue())
		Expect(std.SpecFiles(std.Specs())).To(Equal(std.SpecFiles(fresh)))
		Expect(len(fresh)).To(BeNumerically(">", 100), "the labelled specs were found")
	})
	It("counts a label only inside a Label( ) decorator of a _test.go file, outside testdata, with its file and line", func() {
		dir := GinkgoT().TempDir()
		lbl := func(id string) string { return `"` + std.Label(std.ID(id)) + `"` }
		write := func(name, body string) {
			GinkgoHelper()
			Expect(os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)).To(Succeed())
			Expect(os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)).To(Succeed())
		}
		write("go.mod", "module github.com/uptane-hil/uptane-hil\n\ngo 1.26\n")
		write("a/a_test.go", "package a\n\nvar _ = It(\"x\", Label("+lbl("check_root#3")+", \"vcan\", "+lbl("check_root#4")+"), func() {})\n"+
			"var msg = "+lbl("check_root#5")+" // not a label\n")
		write("a/a.go", "package a\nvar _ = Label("+lbl("check_root#6")+")\n")
		write("a/testdata/t_test.go", "Label("+lbl("check_root#7")+")\n")
		m, ok := std.ModuleSpecs(dir)
		Expect(ok).To(BeTrue())
		Expect(m).To(Equal(map[std.ID][]std.SpecRef{
			"check_root#3": {{File: "a/a_test.go", Line: 3}},
			"check_root#4": {{File: "a/a_test.go", Line: 3}},
		}))
	})
	It("scans only this module's checkout", func() {
		_, ok := std.ModuleSpecs(GinkgoT().TempDir())
		Expect(ok).To(BeFalse())
	})
	It("names only statements the Standard has", func() {
		for id, refs := range std.Specs() {
			Expect(std.Known(id)).To(BeTrue(), "%s labelled at %v", id, refs)
		}
	})
})

var _ = Describe("the not-applicable and open lists", func() {
	It("parse, each entry with its reason, open ones with their issue and class UT or NI", func() {
		na, err := std.NotApplicableList()
		Expect(err).NotTo(HaveOccurred())
		Expect(na).NotTo(BeEmpty())
		for _, r := range na {
			Expect(r.Class).To(Equal(std.NotApplicable))
		}
		open, err := std.OpenList()
		Expect(err).NotTo(HaveOccurred())
		for _, r := range open {
			Expect(r.Class).To(BeElementOf(std.Untested, std.NotImplemented))
			Expect(r.Issue).NotTo(BeEmpty())
		}
	})
})

var _ = Describe("the trace", func() {
	// links: only check_root#3 and #4 have anything; the rest of the
	// Standard is listed as not applicable so that the matrix is complete.
	var na []std.Reason
	BeforeEach(func() {
		na = nil
		for _, s := range std.Statements() {
			switch s.ID {
			case "check_root#1", "check_root#2", "check_root#3", "check_root#4", "check_root#5", "check_root#6":
			default:
				na = append(na, std.Reason{ID: s.ID, Why: "out of this spec's scope"})
			}
		}
	})
	links := func() std.Links {
		return std.Links{
			Checks:    map[std.ID][]string{"check_root#2": {"check_root.size"}, "check_root#3": {"check_root.signatures"}, "check_root#6": {"check_root.expiry"}},
			Scenarios: map[std.ID][]string{"check_root#3": {"rotate-root"}},
			Specs:     map[std.ID][]std.SpecRef{"check_root#3": {{File: "a_test.go", Line: 3}}, "check_root#4": {{File: "a_test.go", Line: 4}}},
			NA:        na,
			Open: []std.Reason{
				{ID: "check_root#1", Class: std.NotImplemented, Issue: "1", Why: "not yet"},
				{ID: "check_root#2", Class: std.Untested, Issue: "1", Why: "no spec"},
			},
		}
	}
	row := func(m *std.Matrix, id std.ID) std.Row {
		GinkgoHelper()
		r, ok := m.Row(id)
		Expect(ok).To(BeTrue())
		return r
	}

	It("classes each statement: scenario over spec over open over a check alone", func() {
		m := std.Trace(links())
		Expect(row(m, "check_root#3").Class).To(Equal(std.ByScenario))
		Expect(row(m, "check_root#3").Scenarios).To(Equal([]string{"rotate-root"}))
		Expect(row(m, "check_root#4").Class).To(Equal(std.BySpec))
		Expect(row(m, "check_root#1").Class).To(Equal(std.NotImplemented))
		Expect(row(m, "check_root#2").Class).To(Equal(std.Untested))
		Expect(row(m, "check_root#2").Reason.Why).To(Equal("no spec"))
		Expect(row(m, "check_root#6").Class).To(Equal(std.Untested))
		Expect(row(m, "check_root#5").Class).To(Equal(std.Uncovered))
		Expect(row(m, "root_role#1").Class).To(Equal(std.NotApplicable))
		Expect(m.Total.Shall.Total + m.Total.Should.Total).To(Equal(213))
		Expect(m.Total.Shall.SC).To(Equal(1))
		Expect(m.Total.Shall.SP).To(Equal(1))
		Expect(m.Total.Shall.UT).To(Equal(2))
		Expect(m.Total.Shall.NI).To(Equal(1))
		Expect(m.Total.Shall.None).To(Equal(1))
		var sec std.Tally
		for _, t := range m.Sections {
			if t.Name == "check_root" {
				sec = t
			}
		}
		Expect(sec.Shall).To(Equal(std.Counts{SC: 1, SP: 1, UT: 2, NI: 1, NA: 1, None: 1, Total: 7}))
		Expect(m.Groups).To(HaveLen(7))
		Expect(m.Groups[6].Shall.SC).To(Equal(1))
	})

	It("fails on a SHALL without coverage and on a SHALL only a check implements", func() {
		m := std.Trace(links())
		Expect(m.Problems).To(ConsistOf(
			ContainSubstring("check_root#5 (SHALL*, L854-855)"),
			ContainSubstring("check_root#6 (SHALL*, L856)"),
		))
		Expect(m.Problems[0]).To(ContainSubstring(`Label("` + std.Label("check_root#5") + `")`))
	})

	It("fails on an open statement that is covered now, and on links to statements that do not exist", func() {
		l := links()
		l.Open = append(l.Open, std.Reason{ID: "check_root#4", Class: std.Untested, Issue: "1", Why: "no spec"})
		l.Checks["check_root#99"] = []string{"check_root.ghost"}
		l.Scenarios["nope#1"] = []string{"old-scenario"}
		l.Specs["nope#2"] = []std.SpecRef{{File: "b_test.go", Line: 9}}
		m := std.Trace(l)
		Expect(m.Problems).To(ContainElements(
			ContainSubstring("check_root#4 is covered now (SP) but still listed in uptane/std/open.yaml"),
			ContainSubstring("checks check_root.ghost name statement check_root#99"),
			ContainSubstring("scenarios old-scenario name statement nope#1"),
			ContainSubstring("specs at b_test.go:9 are labelled std:nope#2"),
		))
	})

	It("fails on a statement both open and not applicable, or listed twice", func() {
		l := links()
		l.NA = append(l.NA, std.Reason{ID: "check_root#1", Why: "x"}, std.Reason{ID: "root_role#1", Why: "again"})
		m := std.Trace(l)
		Expect(m.Problems).To(ContainElements(
			ContainSubstring("check_root#1 is both not applicable"),
			ContainSubstring("na.yaml lists root_role#1 twice"),
		))
	})
})
