package scenarios_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/scenarios"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/std"
)

var _ = Describe("the trace from the Standard to checks, specs and scenarios", func() {
	It("gives every statement coverage or a reason: no SHALL without a scenario, a spec, or an entry in uptane/std/open.yaml or na.yaml; no link to a statement, check or spec that is gone; no open entry that is covered now", func() {
		list, err := scenarios.LoadAll(".")
		Expect(err).NotTo(HaveOccurred())
		m := scenarios.Trace(list, "..")
		Expect(m.Problems).To(BeEmpty())
		Expect(m.Total.Shall.Total).To(Equal(171))
		Expect(m.Total.Should.Total).To(Equal(42))
		Expect(m.Total.Shall.None + m.Total.Should.None).To(Equal(0))
	})

	It("knows which statements each check implements, for every check of uptane/check and only for those", func() {
		for _, c := range check.All {
			Expect(check.Statements).To(HaveKey(c.ID), "check %s: say which statements it implements in uptane/check/statements.go (nil if none)", c.ID)
		}
		for id, sts := range check.Statements {
			_, ok := check.Lookup(id)
			Expect(ok).To(BeTrue(), "uptane/check/statements.go names check %s, which is not in check.All", id)
			for _, s := range sts {
				Expect(std.Known(s)).To(BeTrue(), "check %s: no statement %s", id, s)
			}
		}
	})

	It("links a scenario to the statements of its defence's checks and those it names", func() {
		s, err := scenarios.Parse("x.yaml", []byte(`name: xx
description: d
attack: freeze
standard: [check_timestamp]
transport: backend-link
defence: [check_timestamp.expiry]
statements: ['full_verification#7', 'check_timestamp#4']
steps:
  - campaign: {release: 2}
goal:
  installed: release:2
`))
		Expect(err).NotTo(HaveOccurred())
		Expect(s.StatementIDs()).To(Equal([]std.ID{"full_verification#7", "check_timestamp#4"}))
		m := scenarios.Trace([]*scenarios.Scenario{s}, "")
		r, _ := m.Row("full_verification#7")
		Expect(r.Class).To(Equal(std.ByScenario))
		Expect(r.Scenarios).To(Equal([]string{"xx"}))
		r, _ = m.Row("check_timestamp#4")
		Expect(r.Checks).To(Equal([]string{"check_timestamp.expiry"}))
	})

	It("refuses a scenario naming a statement the Standard does not have, at its line", func() {
		_, err := scenarios.Parse("x.yaml", []byte(`name: xx
description: d
attack: freeze
standard: [check_timestamp]
transport: backend-link
defence: [check_timestamp.expiry]
statements: ['check_timestamp#99']
steps:
  - campaign: {release: 2}
goal:
  installed: release:2
`))
		Expect(err).To(MatchError(ContainSubstring("x.yaml:7")))
		Expect(err).To(MatchError(ContainSubstring(`"check_timestamp#99" is no statement of the Standard`)))
	})
})
