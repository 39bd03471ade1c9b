package reports_test

import (
	"bytes"
	"encoding/xml"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/reports"
)

// A scenario out of the model: its one run is a finding, counted apart
// from the defences, in every form of the report.
var _ = Describe("an out-of-model finding", func() {
	finding := reports.Result{Scenario: "spoofed-vehicle-speed", Attack: "unsafe-state", Standard: []string{"send_images_primary"},
		ECU: "ECM-0001", Profile: "conformant", Expected: reports.OutOfModel, Observed: reports.Compromised, Pass: true,
		Finding: "Outside the model: a CAN frame carries no sender."}
	defended := reports.Result{Scenario: "drive-off-mid-transfer", Attack: "unsafe-state", Standard: []string{"send_images_primary"},
		ECU: "ECM-0001", Profile: "conformant", Expected: reports.Defended, Observed: reports.Defended, Pass: true, Detected: "pouf.programming_preconditions"}
	report := func(res ...reports.Result) *reports.Report {
		t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		r := reports.New(reports.Tool{Name: "uptane-hil", Version: "test"}, reports.Rig{Name: "virtual", Transport: "virtual buses"}, 1, t0)
		r.Add(res...)
		r.Finish(t0.Add(time.Second))
		return r
	}

	It("is counted as a finding, not among the passed runs nor the failures, and validates", func() {
		r := report(defended, finding)
		Expect(r.Summary).To(Equal(reports.Summary{Runs: 2, Passed: 1, Findings: 1}))
		Expect(r.Passed()).To(BeTrue())
		Expect(r.Validate()).To(Succeed())
	})

	It("fails when the finding does not reproduce, and a finding without its reason is invalid", func() {
		lost := finding
		lost.Observed, lost.Pass = reports.Defended, false
		Expect(report(lost).Summary).To(Equal(reports.Summary{Runs: 1, Failed: 1}))
		bare := finding
		bare.Finding = ""
		Expect(report(bare).Validate()).To(MatchError(ContainSubstring("an out-of-model result has a finding and no control run")))
		claimed := finding
		claimed.Observed = reports.Defended
		Expect(report(claimed).Validate()).To(MatchError(ContainSubstring("the out-of-model finding was observed \"defended\"")))
	})

	It("reads as a finding in the text summary, the JUnit file and the HTML", func() {
		r := report(defended, finding)
		var txt bytes.Buffer
		Expect(reports.WriteSummary(&txt, r)).To(Succeed())
		Expect(txt.String()).To(MatchRegexp(`spoofed-vehicle-speed .* out-of-model +compromised +- +FINDING`))
		Expect(txt.String()).To(ContainSubstring("1 passed, 0 failed, 1 out-of-model finding(s) (no defence: see each finding) — every attack in the model defended"))

		var j reports.JUnitSuites
		b, err := xml.Marshal(reports.JUnit(r))
		Expect(err).NotTo(HaveOccurred())
		Expect(xml.Unmarshal(b, &j)).To(Succeed())
		Expect(j.Failures).To(BeZero())
		var skipped []reports.JUnitCase
		for _, s := range j.Suites {
			for _, c := range s.Cases {
				if c.Skipped != nil {
					skipped = append(skipped, c)
				}
			}
		}
		Expect(skipped).To(HaveLen(1))
		Expect(skipped[0].Skipped.Message).To(HavePrefix("out-of-model finding (no defence): Outside the model"))

		var h bytes.Buffer
		Expect(reports.WriteHTML(&h, r)).To(Succeed())
		Expect(h.String()).To(ContainSubstring(`<span class="badge finding">FINDING</span>`))
		Expect(h.String()).To(ContainSubstring("Out of the model — a finding, not a defence"))
		Expect(strings.Count(h.String(), "out-of-model findings")).To(Equal(1), "the card")
	})
})
