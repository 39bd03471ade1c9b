package reports_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/net/html"

	"github.com/uptane-hil/uptane-hil/reports"
	"github.com/uptane-hil/uptane-hil/reports/internal/sample"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// The sample DUT (a full-verification Secondary) performs the defences of
// five of the eight sample scenarios; slow-retrieval-image, drop-request-
// director and partial-bundle are defended by the Primary alone.
var notApplicable = []string{"slow-retrieval-image", "drop-request-director", "partial-bundle"}

// minimalDUT is a report on a device under test with every optional field
// empty, but one of each optional object so their required members show.
func minimalDUT() *reports.Report {
	r := reports.New(reports.Tool{Name: "uptane-hil"}, reports.Rig{Name: "vcan", Transport: "vcan"}, 7, sample.Started)
	r.DUT = &reports.DUT{ECU: "BRK-0001", Start: &reports.Identity{}, End: &reports.Identity{}}
	r.Add(reports.Result{Scenario: "s", Attack: "freeze", Standard: []string{"check_timestamp"}, ECU: "BRK-0001",
		Profile: "conformant", Expected: reports.Compromised, Observed: reports.Compromised, Target: reports.TargetDUT, Identity: &reports.Identity{}},
		reports.Result{Scenario: "s", Attack: "freeze", Standard: []string{"check_timestamp"}, ECU: "BRK-0001",
			Profile: "without:x", Control: true, Expected: reports.Compromised, Observed: reports.Compromised, Pass: true, Target: reports.TargetTwin})
	r.Results[0].Expected = reports.Defended
	r.Finish(sample.Started.Add(time.Second))
	return r
}

func rowOf(r *reports.Report, scenario string) reports.DUTScenario {
	GinkgoHelper()
	for _, row := range r.DUT.Scenarios {
		if row.Scenario == scenario {
			return row
		}
	}
	Fail("no DUT row for " + scenario)
	return reports.DUTScenario{}
}

// dutFinding is the sample DUT report with spoofed-vehicle-speed played
// on the device as a finding that reproduced.
func dutFinding() *reports.Report {
	r := sample.DUTReport()
	r.Add(reports.Result{Scenario: "spoofed-vehicle-speed", Attack: "unsafe-state", Standard: []string{"send_images_primary"},
		ECU: r.DUT.ECU, Profile: "conformant", Expected: reports.OutOfModel, Observed: reports.Compromised, Pass: true,
		Finding: "Outside the model: a CAN frame carries no sender.", Target: reports.TargetDUT, Identity: &reports.Identity{}})
	r.Summarize()
	return r
}

var _ = Describe("a report on a device under test: JSON", func() {
	It("counts an out-of-model finding on the device apart: neither defended nor compromised", func() {
		r := dutFinding()
		Expect(r.DUT.Findings).To(Equal(1))
		Expect(r.DUT.Compromised).To(Equal(0))
		Expect(r.DUT.Defended).To(Equal(5))
		row := rowOf(r, "spoofed-vehicle-speed")
		Expect(row.Finding).To(ContainSubstring("no sender"))
		Expect(row.Twin).To(BeNil(), "a scenario out of the model has no control")
		Expect(r.Summary.Findings).To(Equal(1))
		Expect(r.Validate()).To(Succeed())
		var b bytes.Buffer
		Expect(reports.WriteSummary(&b, r)).To(Succeed())
		Expect(b.String()).To(ContainSubstring("0 compromised, 3 not applicable, 1 out-of-model finding(s)"))
		var h bytes.Buffer
		Expect(reports.WriteHTML(&h, r)).To(Succeed())
		Expect(h.String()).To(ContainSubstring(`<span class="badge finding">out-of-model finding</span> <span class="v v-compromised">compromised</span>`))
	})

	It("counts a scenario that does not apply apart: neither passed nor failed, never dropped", func() {
		r := sample.DUTReport()
		Expect(r.Results).To(HaveLen(16), "a DUT and a twin result for each of the 8 scenarios")
		Expect(r.Summary).To(Equal(reports.Summary{Runs: 16, Passed: 13, Failed: 0, NotApplicable: 3}))
		Expect(r.Passed()).To(BeTrue())
		Expect(r.DUT.Defended).To(Equal(5))
		Expect(r.DUT.Compromised).To(Equal(0))
		Expect(r.DUT.NotApplicable).To(Equal(3))
		for _, name := range notApplicable {
			row := rowOf(r, name)
			Expect(row.Verdict).To(Equal(reports.NotApplicable))
			Expect(row.Pass).To(BeFalse())
			Expect(row.Reason).To(ContainSubstring("its defence is performed by others than a Secondary with full verification"))
			Expect(row.Twin).NotTo(BeNil(), "the twin's control still runs")
			Expect(row.Twin.Observed).To(Equal(reports.Compromised))
		}
		Expect(r.Validate()).To(Succeed())
	})

	It("round-trips through WriteJSON and ReadJSON as schema v2, and the schema of a report without a DUT stays v1", func() {
		r := sample.DUTReport(check.TimestampExpiry)
		doc := jsonOf(r)
		got, err := reports.ReadJSON(bytes.NewReader(doc))
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Schema).To(Equal(reports.SchemaDUT))
		Expect(got.Schema).To(Equal("uptane-hil/report/v2"))
		want, err := json.Marshal(r)
		Expect(err).NotTo(HaveOccurred())
		back, err := json.Marshal(got)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(back)).To(Equal(string(want)))
		Expect(got.Summary).To(Equal(reports.Summary{Runs: 16, Passed: 12, Failed: 1, NotApplicable: 3}))

		var raw map[string]any
		Expect(json.Unmarshal(doc, &raw)).To(Succeed())
		dut := raw["dut"].(map[string]any)
		Expect(dut["start"]).To(HaveKeyWithValue("installed", "brk-v2-r1.bin"))
		Expect(dut["end"]).To(HaveKeyWithValue("installed", "brk-v2-r2.bin"), "the failed freeze let the attacker's image in")
		Expect(dut["start"]).To(HaveKeyWithValue("hardwareId", "brk-v2"))
		Expect(dut["start"]).To(HaveKeyWithValue("vin", "UPTHIL00000000001"))
		Expect(dut["start"]).To(HaveKeyWithValue("profile", "full"))
		Expect(dut["start"]).To(HaveKey("keyId"))

		Expect(string(jsonOf(sample.Report(0)))).To(ContainSubstring(`"schema": "uptane-hil/report/v1"`))
		Expect(string(jsonOf(sample.Report(0)))).NotTo(ContainSubstring("notApplicable"))
	})

	It("names the check a vulnerable DUT lacks, and only on the scenarios of that defence", func() {
		r := sample.DUTReport(check.TimestampExpiry, check.VerifyImageHashes)
		Expect(r.Summary.Failed).To(Equal(2))
		for _, row := range r.DUT.Scenarios {
			switch row.Scenario {
			case "freeze-director-timestamp":
				Expect(row.Verdict).To(Equal(reports.Compromised))
				Expect(row.Missing).To(Equal([]string{"check_timestamp.expiry"}))
				Expect(row.MissingText()).To(Equal("the device under test lacks check_timestamp.expiry"))
			case "arbitrary-software-image":
				Expect(row.Missing).To(Equal([]string{"verify_image.hashes"}))
			default:
				Expect(row.Missing).To(BeEmpty(), row.Scenario)
				Expect(row.Verdict).NotTo(Equal(reports.Compromised), row.Scenario)
			}
		}
	})

	It("writes exactly the fields docs/report-schema.md documents, DUT fields included", func() {
		doc := documentedFields()
		r := withScale(sample.Report(1))
		r.Rig.Buses[0].Interface = "vcan0"
		written := jsonPaths(jsonOf(r))
		d := sample.DUTReport(check.TimestampExpiry)
		for i := range d.Results {
			d.Results[i].Seed = 1 // a sweep's rows name their seed
		}
		d.Summarize()
		for p := range jsonPaths(jsonOf(d)) {
			written[p] = true
		}
		// an out-of-model finding writes results[].finding and summary.findings
		f := sample.Report(1)
		f.Add(reports.Result{Scenario: "spoofed-vehicle-speed", Attack: "unsafe-state", Standard: []string{"send_images_primary"},
			ECU: "ECM-0001", Profile: "conformant", Expected: reports.OutOfModel, Observed: reports.Compromised, Pass: true,
			Finding: "Outside the model: a CAN frame carries no sender."})
		for p := range jsonPaths(jsonOf(f)) {
			written[p] = true
		}
		for p := range jsonPaths(jsonOf(dutFinding())) {
			written[p] = true
		}
		for p := range jsonPaths(jsonOf(dutResisted())) {
			written[p] = true
		}
		for p := range written {
			Expect(doc).To(HaveKey(p), "written but not documented: %s", p)
		}
		for p := range doc {
			Expect(written).To(HaveKey(p), "documented but never written: %s", p)
		}
	})

	It("always writes the DUT fields documented as required, and nothing optional that is empty", func() {
		doc := documentedFields()
		written := jsonPaths(jsonOf(minimalDUT()))
		for p, req := range doc {
			if req && (strings.HasPrefix(p, "dut") || strings.HasPrefix(p, "results[].identity") || !strings.Contains(p, ".") && p != "plan" && p != "shard") {
				Expect(written).To(HaveKey(p), "required field missing: %s", p)
			}
		}
		var optional []string
		for p := range written {
			if !doc[p] {
				optional = append(optional, p)
			}
		}
		Expect(optional).To(ConsistOf("dut", "dut.start", "dut.end", "results[].target", "results[].identity", "dut.scenarios[].twin", "dut.scenarios[].identity"))
	})

	DescribeTable("rejects a broken DUT report, naming the field",
		func(breakIt func(*reports.Report), field string) {
			r := sample.DUTReport()
			breakIt(r)
			err := r.Validate()
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(field))
		},
		Entry("target enum", func(r *reports.Report) { r.Results[0].Target = "bench" }, "results[0].target"),
		Entry("not applicable counted as passed", func(r *reports.Report) { r.Results[10].Pass = true }, "results[10].pass"),
		Entry("not applicable without a reason", func(r *reports.Report) { r.Results[10].Detail = "" }, "results[10].detail"),
		Entry("not applicable on one side only", func(r *reports.Report) { r.Results[10].Observed = reports.Defended }, "not applicable on both sides"),
		Entry("not applicable on the twin", func(r *reports.Report) {
			r.Results[11].Expected, r.Results[11].Observed, r.Results[11].Pass = reports.NotApplicable, reports.NotApplicable, false
		}, "results[11].expected"),
		Entry("rows that do not follow the results", func(r *reports.Report) { r.DUT.Scenarios = r.DUT.Scenarios[1:] }, "dut.scenarios"),
		Entry("a DUT report under schema v1", func(r *reports.Report) { r.Schema = reports.Schema }, "schema"),
		Entry("a DUT without an id", func(r *reports.Report) { r.DUT.ECU = "" }, "dut.ecu"),
	)
})

// jUnitSkipped is what a CI server reads of skipped testcases.
type jUnitSkipped struct {
	Skipped int `xml:"skipped,attr"`
	Suites  []struct {
		Name    string `xml:"name,attr"`
		Skipped int    `xml:"skipped,attr"`
		Cases   []struct {
			Name    string `xml:"name,attr"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
			Failure *struct {
				Message string `xml:"message,attr"`
			} `xml:"failure"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

var _ = Describe("a report on a device under test: JUnit XML", func() {
	It("marks a scenario that does not apply <skipped> with the reason, never passed and never failed", func() {
		var buf bytes.Buffer
		Expect(reports.WriteJUnit(&buf, sample.DUTReport())).To(Succeed())
		var j jUnitSkipped
		Expect(xml.Unmarshal(buf.Bytes(), &j)).To(Succeed())
		Expect(j.Skipped).To(Equal(3))
		s := junitOf(sample.DUTReport())
		Expect(s.Tests).To(Equal(16))
		Expect(s.Failures).To(Equal(0))
		skipped := map[string]string{}
		for _, suite := range j.Suites {
			for _, c := range suite.Cases {
				if c.Skipped != nil {
					Expect(c.Failure).To(BeNil())
					Expect(suite.Skipped).To(Equal(1))
					skipped[suite.Name] = c.Skipped.Message
					Expect(c.Name).To(Equal("BRK-0001 / DUT / conformant"))
				}
			}
		}
		Expect(skipped).To(HaveLen(3))
		for _, name := range notApplicable {
			Expect(skipped[name]).To(HavePrefix("not applicable: "))
			Expect(skipped[name]).To(ContainSubstring("by the Primary"))
		}
		// the count a CI summary makes: testcases - skipped - failures
		Expect(s.Tests - j.Skipped - s.Failures).To(Equal(13))
	})

	It("fails the DUT's case naming the check it lacks, and names DUT and twin cases", func() {
		s := junitOf(sample.DUTReport(check.TimestampExpiry))
		Expect(s.Failures).To(Equal(1))
		c := s.Suites[0].Cases
		Expect(c[0].Name).To(Equal("BRK-0001 / DUT / conformant"))
		Expect(c[0].Failure).NotTo(BeNil())
		Expect(c[0].Failure.Message).To(Equal("expected defended, observed compromised; the device under test lacks check_timestamp.expiry"))
		Expect(c[0].Out).To(ContainSubstring("device before the scenario: ECU BRK-0001, hardware brk-v2, VIN UPTHIL00000000001, full verification"))
		Expect(c[0].Out).To(ContainSubstring("installed brk-v2-r1.bin (release 1)"))
		Expect(c[0].Out).To(ContainSubstring("[[ATTACHMENT|runs/freeze-director-timestamp/dut/powertrain.pcap]]"))
		Expect(c[1].Name).To(Equal("BRK-0001 / twin / without:check_timestamp.expiry"))
		Expect(c[1].Failure).To(BeNil())
	})
})

var _ = Describe("a report on a device under test: HTML", func() {
	dutSection := func(root *html.Node) *html.Node {
		GinkgoHelper()
		s := all(root, func(n *html.Node) bool { return n.Data == "section" && attr(n, "id") == "dut" })
		Expect(s).To(HaveLen(1))
		return s[0]
	}

	It("stays one well-formed, self-contained file", func() {
		doc := htmlOf(sample.DUTReport(check.TimestampExpiry), reports.WithStandard(reports.StandardSections(standardMD())))
		wellFormed(doc)
		selfContained(parse(doc))
	})

	It("shows the identity read from the bus at the start and the end of the run", func() {
		root := parse(htmlOf(sample.DUTReport(check.TimestampExpiry)))
		d := dutSection(root)
		rows := all(d, func(n *html.Node) bool {
			return n.Data == "tr" && n.Parent.Data == "tbody" && hasClass(n.Parent.Parent, "identity")
		})
		Expect(rows).To(HaveLen(8))
		cells := func(i int) []string {
			var out []string
			for c := rows[i].FirstChild; c != nil; c = c.NextSibling {
				if c.Type == html.ElementNode {
					out = append(out, strings.TrimSpace(text(c)))
				}
			}
			return out
		}
		Expect(cells(0)).To(Equal([]string{"ECU serial (DID 0xF18C)", "BRK-0001", "BRK-0001"}))
		Expect(cells(1)).To(Equal([]string{"Hardware number (DID 0xF191)", "brk-v2", "brk-v2"}))
		Expect(cells(2)).To(Equal([]string{"VIN (DID 0xF190)", "UPTHIL00000000001", "UPTHIL00000000001"}))
		Expect(cells(3)).To(Equal([]string{"Verification (DID 0xF1A5)", "full", "full"}))
		Expect(cells(4)[1]).To(MatchRegexp(`^[0-9a-f]{64}$`))
		Expect(cells(5)).To(Equal([]string{"Installed image", "brk-v2-r1.bin", "brk-v2-r2.bin"}))
		Expect(cells(6)).To(Equal([]string{"Release counter", "1", "2"}))
	})

	It("gives each scenario its DUT verdict, the reason or missing check, the twin's control beside it and the capture", func() {
		root := parse(htmlOf(sample.DUTReport(check.TimestampExpiry)))
		d := dutSection(root)
		rows := all(d, func(n *html.Node) bool {
			return n.Data == "tr" && hasClass(n.Parent.Parent, "dut-verdicts") && n.Parent.Data == "tbody"
		})
		Expect(rows).To(HaveLen(8))
		na, bad, ok := 0, 0, 0
		for _, row := range rows {
			t := text(row)
			switch {
			case hasClass(row, "row-na"):
				na++
				Expect(t).To(ContainSubstring("N/A"))
				Expect(t).To(ContainSubstring("not applicable"))
				Expect(t).To(ContainSubstring("its defence is performed by others"))
			case hasClass(row, "row-bad"):
				bad++
				Expect(t).To(ContainSubstring("freeze-director-timestamp"))
				Expect(t).To(ContainSubstring("the device under test lacks check_timestamp.expiry"))
			case hasClass(row, "row-ok"):
				ok++
				Expect(t).To(ContainSubstring("defended"))
			}
			Expect(t).To(MatchRegexp(`PASS\s+compromised\s+without:`), "the twin's control beside it")
		}
		Expect([]int{na, bad, ok}).To(Equal([]int{3, 1, 4}))
		links := all(rows[0], func(n *html.Node) bool { return n.Data == "a" && strings.HasSuffix(attr(n, "href"), ".pcap") })
		Expect(links).To(HaveLen(2), "the DUT run's capture and the twin's")
		Expect(attr(links[0], "href")).To(Equal("runs/freeze-director-timestamp/twin-without-check_timestamp.expiry/powertrain.pcap"))
		Expect(attr(links[1], "href")).To(Equal("runs/freeze-director-timestamp/dut/powertrain.pcap"))
	})

	It("counts not applicable apart in the verdict, the cards and the result tables", func() {
		root := parse(htmlOf(sample.DUTReport()))
		v := all(root, func(n *html.Node) bool { return n.Data == "section" && attr(n, "id") == "verdict" })
		Expect(hasClass(v[0], "ok")).To(BeTrue())
		Expect(text(v[0])).To(ContainSubstring("All 13 applicable runs passed; 3 not applicable."))
		cards := all(v[0], func(n *html.Node) bool { return hasClass(n, "card") && hasClass(n, "na") })
		Expect(cards).To(HaveLen(1))
		Expect(text(cards[0])).To(ContainSubstring("3"))
		naRows := all(root, func(n *html.Node) bool { return n.Data == "tr" && hasClass(n, "row-na") })
		Expect(naRows).To(HaveLen(3*3), "the DUT table, the overview and the scenario tables")
		badges := all(root, func(n *html.Node) bool { return hasClass(n, "badge") && hasClass(n, "na") })
		Expect(badges).To(HaveLen(3 * 3))

		root = parse(htmlOf(sample.DUTReport(check.VerifyImageHashes)))
		v = all(root, func(n *html.Node) bool { return n.Data == "section" && attr(n, "id") == "verdict" })
		Expect(hasClass(v[0], "bad")).To(BeTrue())
		Expect(text(v[0])).To(ContainSubstring("1 of 16 runs failed (3 not applicable)"))
	})
})

var _ = Describe("a report on a device under test: the text summary", func() {
	It("counts not applicable apart and names the missing check", func() {
		var buf bytes.Buffer
		Expect(reports.WriteSummary(&buf, sample.DUTReport(check.TimestampExpiry))).To(Succeed())
		out := buf.String()
		Expect(out).To(MatchRegexp(`(?m)^slow-retrieval-image\s+BRK-0001 \(DUT\)\s+conformant\s+not applicable\s+not applicable\s+-\s+N/A$`))
		Expect(out).To(MatchRegexp(`(?m)^slow-retrieval-image\s+BRK-0001 \(twin\)\s+without:in_vehicle.download_speed\s+compromised\s+compromised\s+-\s+PASS$`))
		Expect(out).To(ContainSubstring("16 runs: 12 passed, 1 failed, 3 not applicable\n"))
		Expect(out).To(ContainSubstring("device under test BRK-0001: 4 defended, 1 compromised, 3 not applicable\n"))
		Expect(out).To(ContainSubstring("  freeze-director-timestamp: the device under test lacks check_timestamp.expiry\n"))

		buf.Reset()
		Expect(reports.WriteSummary(&buf, sample.DUTReport())).To(Succeed())
		Expect(buf.String()).To(ContainSubstring("16 runs: 13 passed, 0 failed, 3 not applicable — every applicable attack defended by the device under test BRK-0001"))
	})
})

// dutShards is the sample DUT report split into n shards by plan
// position, each with the DUT's identity as read at its start and end.
func dutShards(whole *reports.Report, n int) []reports.ShardReport {
	var names []reports.PlanScenario
	seen := map[string]bool{}
	for _, x := range whole.Results {
		if !seen[x.Scenario] {
			seen[x.Scenario] = true
			names = append(names, reports.PlanScenario{Name: x.Scenario, File: "scenarios/" + x.Scenario + ".yaml", Digest: "00"})
		}
	}
	whole.Plan = reports.NewPlan(names, []uint64{1}, len(whole.Results))
	var out []reports.ShardReport
	for k := 1; k <= n; k++ {
		c := *whole
		d := *whole.DUT
		c.DUT = &d
		c.Results, c.Unstable = nil, nil
		c.Shard = &reports.Shard{Index: k, Count: n, Balance: "count"}
		for i, x := range whole.Results {
			// a play is one scenario under one profile: the DUT and the
			// twin results are plays of their own
			if i%n == k-1 {
				c.Results = append(c.Results, x)
				c.Shard.Units = append(c.Shard.Units, i)
			}
		}
		c.Started = whole.Started.Add(time.Duration(k) * time.Second)
		c.Finished = c.Started.Add(time.Second)
		d.Start = &reports.Identity{ECU: "BRK-0001", Installed: "start-of-shard-" + string(rune('0'+k))}
		d.End = &reports.Identity{ECU: "BRK-0001", Installed: "end-of-shard-" + string(rune('0'+k))}
		c.Summarize()
		out = append(out, reports.ShardReport{Dir: "shard-" + string(rune('0'+k)), Report: &c})
	}
	return out
}

var _ = Describe("merging the shards of a suite played against a device under test", func() {
	It("gives the whole report: the rows and counts of all shards, the identity at the first start and the last end", func() {
		whole := sample.DUTReport(check.TimestampExpiry)
		shards := dutShards(whole, 3)
		m, err := reports.Merge([]reports.ShardReport{shards[2], shards[0], shards[1]})
		Expect(err).NotTo(HaveOccurred())
		m.Finish(m.Finished)
		Expect(m.Results).To(Equal(whole.Results))
		Expect(m.Summary).To(Equal(reports.Summary{Runs: 16, Passed: 12, Failed: 1, NotApplicable: 3}))
		Expect(m.DUT.Scenarios).To(Equal(whole.DUT.Scenarios))
		Expect(m.DUT.Start.Installed).To(Equal("start-of-shard-1"))
		Expect(m.DUT.End.Installed).To(Equal("end-of-shard-3"))
		Expect(m.Schema).To(Equal(reports.SchemaDUT))
		Expect(m.Validate()).To(Succeed())
		got, err := reports.ReadJSON(bytes.NewReader(jsonOf(m)))
		Expect(err).NotTo(HaveOccurred())
		Expect(got.DUT.NotApplicable).To(Equal(3))
	})

	It("refuses shards played against different devices", func() {
		shards := dutShards(sample.DUTReport(), 2)
		shards[1].Report.DUT.ECU = "ECM-0001"
		_, err := reports.Merge(shards)
		Expect(err).To(MatchError(reports.ErrMismatch))
		Expect(err).To(MatchError(ContainSubstring("devices under test differ: shard-1 has device under test BRK-0001, shard-2 has device under test ECM-0001")))
	})
})

var _ = Describe("private key material in the DUT section", func() {
	for _, w := range writers {
		It("is redacted from the "+w.name+" output", func() {
			r := sample.DUTReport(check.TimestampExpiry)
			r.DUT.Start.KeyID = pemKey
			r.DUT.End.Installed = `{"keyval":{"private":"` + keyBody + `"}}`
			r.DUT.Link = "adapter " + pemKey
			r.Results[0].Identity.VIN = pemKey
			r.Results[0].Applicability = pemKey
			r.Results[0].Checks = []string{pemKey}
			r.Results[10].Detail = "not applicable: " + pemKey // a reason
			r.Summarize()
			before, err := json.Marshal(r)
			Expect(err).NotTo(HaveOccurred())
			var buf bytes.Buffer
			Expect(w.write(&buf, r)).To(Succeed())
			out := buf.String()
			Expect(out).NotTo(ContainSubstring("PRIVATE KEY-----"))
			Expect(out).NotTo(ContainSubstring(keyBody))
			Expect(out).To(ContainSubstring("[redacted private key]"))
			after, err := json.Marshal(r)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(after)).To(Equal(string(before)), "the caller's report is not changed")
		})
	}
})
