package reports_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/reports"
	"github.com/uptane-hil/uptane-hil/reports/internal/sample"
)

// minimal is a report with every optional field empty, but one of each
// optional list so their required members show.
func minimal() *reports.Report {
	r := reports.New(reports.Tool{Name: "uptane-hil"}, reports.Rig{Name: "virtual", Transport: "virtual",
		Buses: []reports.Bus{{Name: "powertrain"}}}, 7, sample.Started)
	r.Add(reports.Result{Scenario: "s", Attack: "freeze", Standard: []string{"check_timestamp"}, ECU: "ECM-0001",
		Profile: "conformant", Expected: reports.Defended, Observed: reports.Defended, Pass: true,
		Sequence:   []reports.Message{{T: 1, Label: "start", Kind: reports.KindNote}},
		BusLoad:    []reports.BusLoad{{Bus: "powertrain", Samples: []reports.LoadSample{{T: 0, LoadPct: 1}}}},
		Statements: []string{"check_timestamp#4"}})
	r.Coverage = &reports.Coverage{Standard: "Uptane Standard 2.1.0",
		Sections: []reports.CoverageSection{{Section: "check_timestamp", Group: "Verification procedures"}},
		Rows:     []reports.CoverageStatement{{ID: "check_timestamp#4", Section: "check_timestamp", Kind: "SHALL*", Line: 866, Text: "Check that ...", Class: "SC", Scenarios: []string{}}}}
	r.Plan = reports.NewPlan([]reports.PlanScenario{{Name: "s", File: "s.yaml", Digest: "00"}}, []uint64{7}, 2)
	r.Shard = &reports.Shard{Index: 1, Count: 1, Balance: "count", Units: []int{0, 1}}
	r.Unstable = []reports.Unstable{{Scenario: "s", ECU: "ECM-0001", Profile: "conformant", Expected: reports.Defended,
		Verdicts: []reports.SeedVerdicts{{Observed: reports.Defended, Seeds: []uint64{7}}, {Observed: reports.Compromised, Seeds: []uint64{8}}}}}
	r.Finish(sample.Started.Add(time.Second))
	return r
}

// withScale is the sample with the fields of a sharded seed sweep set.
func withScale(r *reports.Report) *reports.Report {
	r.Rig.Digest = "9f2c"
	r.Rig.File = "rigs/noisy.yaml"
	r.Seeds = []uint64{1, 2}
	r.Plan = reports.NewPlan([]reports.PlanScenario{{Name: r.Results[0].Scenario, File: "s.yaml", Digest: "00"}}, r.Seeds, 4)
	r.Shard = &reports.Shard{Index: 2, Count: 2, Balance: "count", Units: []int{1, 3}}
	for i := range r.Results {
		r.Results[i].Seed = 1 + uint64(i%2)
	}
	r.Results[1].Scenario, r.Results[1].ECU, r.Results[1].Profile = r.Results[0].Scenario, r.Results[0].ECU, r.Results[0].Profile
	r.Results[1].Observed, r.Results[1].Pass = reports.Compromised, false
	r.FindUnstable()
	Expect(r.Unstable).NotTo(BeEmpty())
	return r
}

var _ = Describe("the report model and its JSON", func() {
	It("round-trips through WriteJSON and ReadJSON", func() {
		r := sample.Report(2)
		got, err := reports.ReadJSON(bytes.NewReader(jsonOf(r)))
		Expect(err).NotTo(HaveOccurred())
		want, err := json.Marshal(r)
		Expect(err).NotTo(HaveOccurred())
		back, err := json.Marshal(got)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(back)).To(Equal(string(want)))
		Expect(got.Started.Equal(r.Started)).To(BeTrue())
		Expect(got.Summary).To(Equal(reports.Summary{Runs: 26, Passed: 24, Failed: 2}))
	})

	It("always writes the fields documented as required, and nothing optional that is empty", func() {
		doc := documentedFields()
		written := jsonPaths(jsonOf(minimal()))
		for p, req := range doc {
			// the objects of a report on a device under test: dut_test.go
			if req && !strings.HasPrefix(p, "dut") && !strings.HasPrefix(p, "results[].identity") {
				Expect(written).To(HaveKey(p), "required field missing: %s", p)
			}
		}
		var optional []string
		for p := range written {
			if !doc[p] {
				optional = append(optional, p)
			}
		}
		Expect(optional).To(ConsistOf("results[].sequence", "results[].busLoad", "results[].statements", "coverage", "plan", "shard", "unstable", "summary.unstable"))
	})

	It("writes RFC 3339 times, the schema name and millisecond numbers", func() {
		var raw map[string]any
		Expect(json.Unmarshal(jsonOf(sample.Report(0)), &raw)).To(Succeed())
		Expect(raw["schema"]).To(Equal("uptane-hil/report/v1"))
		for _, k := range []string{"started", "finished"} {
			_, err := time.Parse(time.RFC3339, raw[k].(string))
			Expect(err).NotTo(HaveOccurred(), k)
		}
		res := raw["results"].([]any)[0].(map[string]any)
		Expect(res["duration"]).To(BeNumerically(">", 0))
		Expect(res["versionReport"]).To(HaveKey("signed"), "raw JSON is embedded as JSON, not as a string")
	})

	It("validates the sample and an empty report", func() {
		Expect(sample.Report(3).Validate()).To(Succeed())
		r := reports.New(reports.Tool{Name: "t"}, reports.Rig{Name: "r", Transport: "virtual"}, 0, sample.Started)
		r.Finish(sample.Started)
		Expect(r.Validate()).To(Succeed())
		Expect(string(jsonOf(r))).To(ContainSubstring(`"results": []`))
	})

	DescribeTable("rejects a broken report, naming the field",
		func(breakIt func(*reports.Report), field string) {
			r := sample.Report(0)
			breakIt(r)
			err := r.Validate()
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(field))
		},
		Entry("schema", func(r *reports.Report) { r.Schema = "uptane-hil/report/v0" }, "schema"),
		Entry("tool name", func(r *reports.Report) { r.Tool.Name = "" }, "tool.name"),
		Entry("rig transport", func(r *reports.Report) { r.Rig.Transport = "" }, "rig.transport"),
		Entry("finished before started", func(r *reports.Report) { r.Finished = r.Started.Add(-time.Second) }, "finished"),
		Entry("observed enum", func(r *reports.Report) { r.Results[3].Observed = "owned" }, "results[3].observed"),
		Entry("expected enum", func(r *reports.Report) { r.Results[0].Expected = "" }, "results[0].expected"),
		Entry("missing ECU", func(r *reports.Report) { r.Results[1].ECU = "" }, "results[1].ecu"),
		Entry("no Standard section", func(r *reports.Report) { r.Results[2].Standard = nil }, "results[2].standard"),
		Entry("pass although compromised", func(r *reports.Report) { r.Results[0].Observed = reports.Compromised }, "results[0].pass"),
		Entry("sequence kind", func(r *reports.Report) { r.Results[0].Sequence[4].Kind = "smoke" }, "results[0].sequence[4].kind"),
		Entry("exchange without receiver", func(r *reports.Report) {
			r.Results[0].Sequence = append(r.Results[0].Sequence, reports.Message{Kind: reports.KindUDS, From: "TCU-0001", Label: "x"})
		}, "needs from and to"),
		Entry("load out of range", func(r *reports.Report) { r.Results[0].BusLoad[0].Samples[2].LoadPct = 140 }, "results[0].busLoad[0].samples[2]"),
		Entry("load split that is not the load", func(r *reports.Report) { r.Results[0].BusLoad[0].Samples[2].UpdatePct += 5 }, "is not loadPct"),
		Entry("negative load part", func(r *reports.Report) { r.Results[0].BusLoad[1].Samples[1].AttackerPct = -1 }, "results[0].busLoad[1].samples[1]"),
		Entry("raw JSON", func(r *reports.Report) { r.Results[0].VersionReport = []byte("{nope") }, "results[0].versionReport"),
		Entry("summary", func(r *reports.Report) { r.Summary.Passed-- }, "summary"),
	)

	It("ReadJSON refuses another schema version", func() {
		doc := strings.Replace(string(jsonOf(sample.Report(0))), reports.Schema, "uptane-hil/report/v9", 1)
		_, err := reports.ReadJSON(strings.NewReader(doc))
		Expect(err).To(MatchError(reports.ErrSchema))
	})

	It("WriteAll writes report.json, junit.xml and report.html that read back", func() {
		dir := GinkgoT().TempDir()
		r := sample.Report(1)
		Expect(reports.WriteAll(dir, r, reports.WithStandard(reports.StandardSections(standardMD())))).To(Succeed())
		f, err := os.Open(filepath.Join(dir, "report.json"))
		Expect(err).NotTo(HaveOccurred())
		defer f.Close()
		got, err := reports.ReadJSON(f)
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Results).To(HaveLen(26))
		for _, n := range []string{"junit.xml", "report.html"} {
			st, err := os.Stat(filepath.Join(dir, n))
			Expect(err).NotTo(HaveOccurred())
			Expect(st.Size()).To(BeNumerically(">", 1000))
		}
	})

	It("counts passes and failures as results are added", func() {
		r := minimal()
		r.Add(reports.Result{Pass: false}, reports.Result{Pass: true})
		Expect(r.Summary).To(Equal(reports.Summary{Runs: 3, Passed: 2, Failed: 1, Unstable: 1}), "minimal has one unstable run")
		Expect(r.Passed()).To(BeFalse())
		Expect(reports.Ms(1500 * time.Microsecond)).To(Equal(1.5))
	})
})
