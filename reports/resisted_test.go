package reports_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/reports"
	"github.com/uptane-hil/uptane-hil/reports/internal/sample"
)

// resistedDetail is what the DUT did, as scenarios.outOfModel writes it.
const resistedDetail = "the device under test resisted: the attack did not reach its goal on it (out of the model: no Uptane check is credited); what it did: refused send metadata with NRC 0x22 (conditions not met: ESC_WheelSpeeds.VehicleSpeed invalid: its end-to-end check … ESC_WheelSpeeds_Alive 6 repeated …); the Primary waited 3s, the Primary gave up"

// dutResisted is the sample DUT report plus spoofed-vehicle-speed, which
// the device resisted (an end-to-end check on the speed).
func dutResisted() *reports.Report {
	r := sample.DUTReport()
	r.Add(reports.Result{Scenario: "spoofed-vehicle-speed", Attack: "unsafe-state", Standard: []string{"send_images_primary"},
		ECU: r.DUT.ECU, Profile: "conformant", Expected: reports.OutOfModel, Observed: reports.Resisted, Pass: true,
		Detail: resistedDetail, Finding: "Outside the model: a CAN frame carries no sender.", Target: reports.TargetDUT,
		Identity: &reports.Identity{}})
	r.Summarize()
	return r
}

// A device under test that resists an attack out of the model: a good
// outcome, shown apart, never a failure, a finding or a defence.
var _ = Describe("a report on a device under test that resisted an attack out of the model", func() {
	It("counts it apart (resisted): passing, not a failure, not a finding, not a defence; the run passes; schema v3", func() {
		r := dutResisted()
		Expect(r.Summary.Resisted).To(Equal(1))
		Expect(r.Summary.Findings).To(BeZero())
		Expect(r.Summary.Failed).To(BeZero())
		Expect(r.Summary.Passed).To(Equal(sample.DUTReport().Summary.Passed), "not among the passed runs (no check defended it)")
		Expect(r.Summary.Runs).To(Equal(r.Summary.Passed + r.Summary.Failed + r.Summary.NotApplicable + r.Summary.Findings + r.Summary.Resisted))
		Expect(r.DUT.Resisted).To(Equal(1))
		Expect(r.DUT.Findings).To(BeZero())
		Expect(r.DUT.Defended).To(Equal(sample.DUTReport().DUT.Defended))
		Expect(r.DUT.Compromised).To(BeZero())
		row := rowOf(r, "spoofed-vehicle-speed")
		Expect(row.Verdict).To(Equal(reports.Resisted))
		Expect(row.Pass).To(BeTrue())
		Expect(row.Detected).To(BeEmpty())
		Expect(row.Missing).To(BeEmpty())
		Expect(row.Finding).To(ContainSubstring("no sender"))
		Expect(r.Passed()).To(BeTrue())
		Expect(r.Schema).To(Equal(reports.SchemaResisted))
		Expect(r.Validate()).To(Succeed())

		// it reads back; a report without a resisted result keeps v2 and v1
		got, err := reports.ReadJSON(bytes.NewReader(jsonOf(r)))
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Schema).To(Equal("uptane-hil/report/v3"))
		Expect(got.Summary.Resisted).To(Equal(1))
		var raw map[string]any
		Expect(json.Unmarshal(jsonOf(r), &raw)).To(Succeed())
		Expect(raw["summary"]).To(HaveKeyWithValue("resisted", BeNumerically("==", 1)))
		Expect(raw["dut"]).To(HaveKeyWithValue("resisted", BeNumerically("==", 1)))
		Expect(string(jsonOf(dutFinding()))).To(ContainSubstring(`"schema": "uptane-hil/report/v2"`))
		Expect(string(jsonOf(dutFinding()))).NotTo(ContainSubstring(`"resisted"`))
		Expect(string(jsonOf(sample.Report(0)))).To(ContainSubstring(`"schema": "uptane-hil/report/v1"`))
	})

	It("refuses resisted where it does not belong: off the device, credited to a check, failing, without what the device did", func() {
		for what, edit := range map[string]func(*reports.Result){
			"on the simulated vehicle": func(x *reports.Result) { x.Target = "" },
			"on the twin":              func(x *reports.Result) { x.Target = reports.TargetTwin },
			"credited to a check":      func(x *reports.Result) { x.Detected = "pouf.programming_preconditions" },
			"failing":                  func(x *reports.Result) { x.Pass = false },
			"without a detail":         func(x *reports.Result) { x.Detail = "" },
			"of a scenario in the model": func(x *reports.Result) {
				x.Expected, x.Finding = reports.Defended, ""
			},
		} {
			r := dutResisted()
			edit(&r.Results[len(r.Results)-1])
			r.Summarize()
			Expect(r.Validate()).To(MatchError(ContainSubstring(`is only the verdict of an out-of-model result on the device under test`)), what)
		}
		r := dutResisted()
		r.Results[0].Expected = reports.Resisted
		r.Summarize()
		Expect(r.Validate()).To(MatchError(ContainSubstring(`results[0].expected: "resisted"`)), "never expected")
	})

	It("reads as resisted in the text summary, the JUnit file (a passing case) and the HTML", func() {
		r := dutResisted()
		var txt bytes.Buffer
		Expect(reports.WriteSummary(&txt, r)).To(Succeed())
		Expect(txt.String()).To(MatchRegexp(`spoofed-vehicle-speed +BRK-0001 \(DUT\) +conformant +out-of-model +resisted +- +RESISTED`))
		Expect(txt.String()).To(ContainSubstring("1 out-of-model attack(s) resisted by the device under test (no Uptane check credited)"))
		Expect(txt.String()).To(ContainSubstring("0 compromised, 3 not applicable, 1 out-of-model attack(s) resisted"))

		b, err := xml.Marshal(reports.JUnit(r))
		Expect(err).NotTo(HaveOccurred())
		var j reports.JUnitSuites
		Expect(xml.Unmarshal(b, &j)).To(Succeed())
		Expect(j.Failures).To(BeZero())
		var c *reports.JUnitCase
		for _, s := range j.Suites {
			for i := range s.Cases {
				if strings.Contains(s.Cases[i].ClassName, "spoofed-vehicle-speed") {
					c = &s.Cases[i]
				}
			}
		}
		Expect(c).NotTo(BeNil())
		Expect(c.Failure).To(BeNil())
		Expect(c.Skipped).To(BeNil(), "a passing case, not a finding's skipped one")
		Expect(c.SystemOut).To(ContainSubstring("the device resisted the attack"))
		Expect(c.SystemOut).To(ContainSubstring("observed: resisted"))

		var h bytes.Buffer
		Expect(reports.WriteHTML(&h, r)).To(Succeed())
		html := h.String()
		Expect(html).To(ContainSubstring(`<span class="badge resisted">resisted, out of the model</span> <span class="v v-resisted">resisted</span>`))
		Expect(html).To(ContainSubstring(`<span class="badge resisted">RESISTED</span>`))
		Expect(html).To(ContainSubstring("Out of the model — resisted by the device under test: a good outcome, not a defence of an Uptane check"))
		Expect(html).To(ContainSubstring("out-of-model attacks resisted"))
		Expect(html).NotTo(ContainSubstring("Out of the model — a finding, not a defence"))
		Expect(html).To(ContainSubstring("ESC_WheelSpeeds_Alive 6 repeated"), "what the device did")
		Expect(html).To(ContainSubstring("; 1 attack(s) out of the model resisted"), "the verdict at the top")

		// a run of that scenario alone passes, and says so
		only := sample.DUTReport()
		only.Results = nil
		only.Add(r.Results[len(r.Results)-1])
		Expect(only.Passed()).To(BeTrue())
		h.Reset()
		Expect(reports.WriteHTML(&h, only)).To(Succeed())
		Expect(h.String()).To(ContainSubstring("<strong>No attack in the model was judged; 1 attack(s) out of the model resisted"))
		txt.Reset()
		Expect(reports.WriteSummary(&txt, only)).To(Succeed())
		Expect(txt.String()).To(ContainSubstring("the device under test BRK-0001 resisted every attack out of the model played on it"))
	})
})
