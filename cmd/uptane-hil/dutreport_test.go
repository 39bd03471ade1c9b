package main

import (
	"bytes"
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/reports"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/scenarios"
)

var _ = Describe("the report of a suite played against a device under test (conversion)", func() {
	var rig *rigs.Rig
	var scen *scenarios.Scenario
	BeforeEach(func() {
		wd, _ := os.Getwd()
		Expect(os.Chdir("../..")).To(Succeed())
		DeferCleanup(os.Chdir, wd)
		var err error
		rig, err = rigs.Load("rigs/vcan.yaml")
		Expect(err).NotTo(HaveOccurred())
		scen, err = scenarios.Load("scenarios/rollback-image-release-counter.yaml")
		Expect(err).NotTo(HaveOccurred())
	})

	It("carries the target, the applicability, the identity and the checks of the defence the device performs", func() {
		id := &scenarios.Identity{ECU: "BRK-0001", HardwareID: "brk-v2", VIN: "UPTHIL00000000001", Profile: "partial", KeyID: "ab12",
			Installed: "brk-v2/firmware-r2.bin", Release: 2, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
		x := scenarios.Result{Scenario: scen.Name, Attack: scen.Attack, Standard: scen.Standard, ECU: "BRK-0001", Profile: "conformant",
			Expected: scenarios.Defended, Observed: scenarios.Compromised, Target: scenarios.OnDUT, Identity: id,
			Applicability: "applicable to a Secondary with partial verification: its verify_image.release_counter"}
		got := reportResult(rig, unit{scen: scen, seed: 3}, x, nil)
		Expect(got.Target).To(Equal(reports.TargetDUT))
		Expect(got.Applicability).To(Equal(x.Applicability))
		Expect(got.Identity).To(Equal(&reports.Identity{ECU: "BRK-0001", HardwareID: "brk-v2", VIN: "UPTHIL00000000001", Profile: "partial",
			KeyID: "ab12", Installed: "brk-v2/firmware-r2.bin", Release: 2, Time: id.Time}))
		Expect(got.Checks).To(Equal([]string{"verify_image.release_counter"}), "full_verification.release_counter is not a partial Secondary's")
		Expect(got.Seed).To(Equal(uint64(3)))

		x.Identity.Profile = "full"
		Expect(reportResult(rig, unit{scen: scen}, x, nil).Checks).To(Equal([]string{"full_verification.release_counter", "verify_image.release_counter"}))

		x.Identity = nil // not read: the rig's profile of the ECU
		Expect(reportResult(rig, unit{scen: scen}, x, nil).Checks).NotTo(BeEmpty())
	})

	It("gives a twin result and a not-applicable one no checks, and a simulated one no DUT fields", func() {
		twin := scenarios.Result{Scenario: scen.Name, ECU: "BRK-0001", Profile: "without:x", Control: true, Target: scenarios.Twin,
			Expected: scenarios.Compromised, Observed: scenarios.Compromised, Pass: true, Applicability: "applicable …"}
		got := reportResult(rig, unit{scen: scen}, twin, nil)
		Expect(got.Target).To(Equal(reports.TargetTwin))
		Expect(got.Checks).To(BeEmpty())
		na := scenarios.Result{Scenario: scen.Name, ECU: "BRK-0001", Profile: "conformant", Target: scenarios.OnDUT,
			Expected: scenarios.NotApplicable, Observed: scenarios.NotApplicable, Detail: "the rig gives ECU BRK-0001 no power: supply"}
		got = reportResult(rig, unit{scen: scen}, na, []string{"verify_image#3"})
		Expect(got.IsNotApplicable()).To(BeTrue())
		Expect(got.Checks).To(BeEmpty())
		Expect(got.Statements).To(BeEmpty(), "it proves nothing on the device")
		sim := reportResult(rig, unit{scen: scen}, scenarios.Result{Scenario: scen.Name, ECU: "ECM-0001", Expected: scenarios.Defended}, nil)
		Expect(sim.Target).To(BeEmpty())
		Expect(sim.Identity).To(BeNil())
	})

	It("describes where the device sits and how it is reached, and takes its identity at the start from the first scenario", func() {
		d := dutSection(rig, "BRK-0001")
		Expect(d.ECU).To(Equal("BRK-0001"))
		Expect(d.Bus).To(Equal(rig.ECU("BRK-0001").Bus))
		Expect(d.Interface).To(Equal(rig.Bus(d.Bus).Interface))
		Expect(d.Link).To(Equal("UDS on ISO-TP on " + d.Interface))
		rep := reports.New(reports.Tool{Name: "uptane-hil"}, reports.Rig{Name: "vcan", Transport: "vcan"}, 1, time.Now())
		rep.DUT = d
		first := &reports.Identity{ECU: "BRK-0001", Installed: "r1"}
		rep.Add(reports.Result{Scenario: "a", Target: reports.TargetTwin, Control: true},
			reports.Result{Scenario: "a", Target: reports.TargetDUT, Identity: first},
			reports.Result{Scenario: "b", Target: reports.TargetDUT, Identity: &reports.Identity{Installed: "r2"}})
		finishDUT(rep, &scenarios.Identity{ECU: "BRK-0001", Installed: "r3", Release: 3})
		Expect(rep.DUT.Start).To(Equal(first))
		Expect(rep.DUT.End.Installed).To(Equal("r3"))
		Expect(rep.DUT.End.Release).To(Equal(uint64(3)))
	})

	It("prints not applicable apart in the closing count and never as passed", func() {
		var buf bytes.Buffer
		failed := writeSummary(&buf, []reports.Result{
			{Attack: "rollback", Target: reports.TargetDUT, Expected: reports.Defended, Observed: reports.Defended, Pass: true},
			{Attack: "rollback", Target: reports.TargetTwin, Expected: reports.Compromised, Observed: reports.Compromised, Pass: true},
			{Attack: "slow-retrieval", Target: reports.TargetDUT, Expected: reports.NotApplicable, Observed: reports.NotApplicable, Detail: "why"},
			{Attack: "slow-retrieval", Target: reports.TargetTwin, Expected: reports.Compromised, Observed: reports.Defended},
		})
		Expect(failed).To(Equal(1))
		Expect(buf.String()).To(MatchRegexp(`(?m)^slow-retrieval\s+2\s+0\s+1$`))
		Expect(buf.String()).To(ContainSubstring("2 passed, 1 failed, 1 not applicable (neither passed nor failed"))

		buf.Reset()
		Expect(writeSummary(&buf, []reports.Result{{Attack: "freeze", Pass: true}})).To(Equal(0))
		Expect(buf.String()).To(HaveSuffix("1 passed, 0 failed\n"), "a run without a DUT prints as before")
		Expect(runsText(reports.Summary{Runs: 36, Passed: 20, NotApplicable: 16})).To(Equal("36 runs (16 not applicable)"))
		Expect(runsText(reports.Summary{Runs: 4, Passed: 4})).To(Equal("4 runs"))
	})

	It("carries a spoof the device resisted as resisted: no check credited, counted apart in the closing line, RSST in the run's lines", func() {
		spoof, err := scenarios.Load("scenarios/spoofed-vehicle-speed.yaml")
		Expect(err).NotTo(HaveOccurred())
		x := scenarios.Result{Scenario: spoof.Name, Attack: spoof.Attack, Standard: spoof.Standard, ECU: "BRK-0001", Profile: "conformant",
			Expected: scenarios.OutOfModel, Observed: scenarios.Resisted, Pass: true, Target: scenarios.OnDUT, Finding: "Outside the model …",
			Detail: "the device under test resisted: …", Identity: &scenarios.Identity{ECU: "BRK-0001", Profile: "full"}}
		got := reportResult(rig, unit{scen: spoof}, x, nil)
		Expect(got.Observed).To(Equal(reports.Resisted))
		Expect(got.IsResisted()).To(BeTrue())
		Expect(got.Checks).To(BeEmpty(), "no check of the defence: it has none")
		Expect(resultWord(got)).To(Equal("RSST"))
		var buf bytes.Buffer
		defended := reports.Result{Attack: "freeze", Target: reports.TargetDUT, Pass: true}
		na := reports.Result{Attack: "freeze", Target: reports.TargetDUT, Expected: reports.NotApplicable, Observed: reports.NotApplicable}
		Expect(writeSummary(&buf, []reports.Result{defended, got, na})).To(Equal(0))
		Expect(buf.String()).To(HaveSuffix("1 passed, 0 failed, 1 not applicable (neither passed nor failed: they cannot judge the device under test; the report says why), " +
			"1 out-of-model attack(s) resisted by the device (RSST: a good outcome, no Uptane check credited; the report says what it did)\n"))
		buf.Reset()
		Expect(writeSummary(&buf, []reports.Result{defended, got})).To(Equal(0))
		Expect(buf.String()).To(ContainSubstring("unsafe-state               1       0  + 1 resisted (out of the model)"))
		Expect(buf.String()).To(HaveSuffix("1 passed, 0 failed, 1 out-of-model attack(s) resisted by the device (RSST: a good outcome, no Uptane check credited; the report says what it did)\n"))
	})
})
