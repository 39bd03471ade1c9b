package reports_test

import (
	"bytes"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/reports"
	"github.com/uptane-hil/uptane-hil/reports/internal/sample"
)

var _ = Describe("the text summary", func() {
	It("has a row per result in aligned columns and the totals", func() {
		r := sample.Report(2)
		r.Results[5].Scenario = "tab\there\nnewline" // must not break the table
		var buf bytes.Buffer
		Expect(reports.WriteSummary(&buf, r)).To(Succeed())
		lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
		Expect(lines).To(HaveLen(1 + 26 + 2))
		head := lines[0]
		for _, col := range []string{"SCENARIO", "ECU", "PROFILE", "EXPECTED", "OBSERVED", "DETECTED", "RESULT"} {
			Expect(head).To(ContainSubstring(col))
		}
		at := strings.Index(head, "RESULT")
		obs := strings.Index(head, "OBSERVED")
		fails := 0
		for _, l := range lines[1:27] {
			Expect(l[at:]).To(Or(Equal("PASS"), Equal("FAIL")), l)
			Expect(l[obs:]).To(Or(HavePrefix("defended "), HavePrefix("compromised ")), l)
			if l[at:] == "FAIL" {
				fails++
			}
		}
		Expect(fails).To(Equal(2))
		Expect(lines[1]).To(HavePrefix("freeze-director-timestamp"))
		Expect(lines[1][at:]).To(Equal("FAIL"))
		Expect(lines[6]).To(HavePrefix("tab here newline"))
		Expect(lines[28]).To(Equal("26 runs: 24 passed, 2 failed"))
	})

	It("says so when every run passed", func() {
		var buf bytes.Buffer
		Expect(reports.WriteSummary(&buf, sample.Report(0))).To(Succeed())
		Expect(buf.String()).To(ContainSubstring("26 runs: 26 passed, 0 failed — every attack defended"))
	})
})
