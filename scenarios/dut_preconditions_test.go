package scenarios_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/scenarios"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// restbusDUTRig is dutRig with the powertrain rest-bus of rigs/virtual.yaml
// (ESC: speed, GW: ignition) and ECM-0001's programming preconditions, as
// rigs/vcan-restbus.yaml has them on vcan0.
func restbusDUTRig(port int, preconditions ...string) *rigs.Rig {
	GinkgoHelper()
	return restbusDUTRigWait(port, "2m", preconditions...)
}

// restbusDUTRigWait is restbusDUTRig with the Primary's preconditions_wait.
func restbusDUTRigWait(port int, wait string, preconditions ...string) *rigs.Rig {
	GinkgoHelper()
	// a stale timeout a loaded host does not reach between two frames
	pre := `[{signal: VehicleSpeed, max: 0, timeout: 2s}, {signal: IgnitionState, equals: "ON", timeout: 2s}]`
	if len(preconditions) > 0 {
		pre = preconditions[0]
	}
	r, err := rigs.Parse("dut-restbus-spec.yaml", []byte(fmt.Sprintf(`
name: dut-restbus-spec
seed: 7
clock: wall
buses:
  - name: powertrain
    kind: virtual
    bitrate: 500000
    restbus:
      dbc: dbc/powertrain.dbc
      nodes: [ESC, GW, PDM, TCM]
      counters: [{message: ESC_WheelSpeeds, signal: ESC_WheelSpeeds_Alive}]
      checksums: [{message: ESC_WheelSpeeds, signal: ESC_WheelSpeeds_CRC, algorithm: crc8-j1850}]
backend: {mode: embedded, listen: "127.0.0.1:%d"}
vehicle: {vin: UPTHIL00000000001}
ecus:
  - {id: TCU-0001, hardware_id: tcu-v1, role: primary, buses: [powertrain], preconditions_wait: %s}
  - id: ECM-0001
    hardware_id: ecm-v3
    role: secondary
    profile: full
    bus: powertrain
    process: external
    preconditions: %s
  - {id: BRK-0001, hardware_id: brk-v2, role: secondary, profile: partial, bus: powertrain, process: external}
`, port, wait, pre)))
	Expect(err).NotTo(HaveOccurred())
	return r
}

// shortDriveOff is drive-off-mid-transfer with a drive of 3 s instead of
// 20 (a DUT runs on the wall clock).
func shortDriveOff() string {
	GinkgoHelper()
	src, err := os.ReadFile("drive-off-mid-transfer.yaml")
	Expect(err).NotTo(HaveOccurred())
	s := strings.Replace(string(src), "for: 20s", "for: 3s", 1)
	Expect(s).NotTo(Equal(string(src)))
	f := filepath.Join(GinkgoT().TempDir(), "drive-off-mid-transfer.yaml")
	Expect(os.WriteFile(f, []byte(s), 0o644)).To(Succeed())
	return f
}

var _ = Describe("a DUT with programming preconditions", Label("dut"), func() {
	It("applies drive-off-mid-transfer and spoofed-vehicle-speed to a DUT whose rig preconditions read the signal they change, and says why not otherwise", func() {
		r := restbusDUTRig(1)
		drive, err := scenarios.Load("drive-off-mid-transfer.yaml")
		Expect(err).NotTo(HaveOccurred())
		spoof, err := scenarios.Load("spoofed-vehicle-speed.yaml")
		Expect(err).NotTo(HaveOccurred())
		_, a, err := drive.OnRig(r, r.ECU("ECM-0001"))
		Expect(err).NotTo(HaveOccurred())
		Expect(a.Applicable).To(BeTrue(), a.Reason)
		Expect(a.Checks).To(Equal([]check.ID{check.PoufProgrammingPreconditions}))
		_, a, err = spoof.OnRig(r, r.ECU("ECM-0001"))
		Expect(err).NotTo(HaveOccurred())
		Expect(a.Applicable).To(BeTrue(), a.Reason)
		Expect(a.Finding).To(BeTrue())
		Expect(a.String()).To(Equal("applicable to a full-verification Secondary as a finding: out of the model, no check of any ECU can stop it (reported apart, never as a defence)"))

		// a DUT that declares no preconditions: the harness cannot know what it requires
		none := restbusDUTRig(1, "[]")
		_, a, err = drive.OnRig(none, none.ECU("ECM-0001"))
		Expect(err).NotTo(HaveOccurred())
		Expect(a.Applicable).To(BeFalse())
		Expect(a.Reason).To(ContainSubstring("declares none for it (preconditions:)"))
		// preconditions on the ignition only: the speed is not what it reads
		r = restbusDUTRig(1, `[{signal: IgnitionState, equals: "ON"}]`)
		_, a, err = drive.OnRig(r, r.ECU("ECM-0001"))
		Expect(err).NotTo(HaveOccurred())
		Expect(a.Applicable).To(BeFalse())
		Expect(a.Reason).To(ContainSubstring("the scenario changes ESC_WheelSpeeds.VehicleSpeed, and none of ECM-0001's programming preconditions in rig dut-restbus-spec reads it"))
	})

	It("plays them against the DUT in its own process reading the harness's rest-bus: it refuses while the car drives and installs once parked (defended); the spoofed speed fools it (a finding)", func() {
		b := &bench{rig: restbusDUTRig(freePort()), state: GinkgoT().TempDir(), runs: GinkgoT().TempDir(), dut: "ECM-0001"}
		b.start(check.Conformant)
		dut, tw := dutResults(b.play(shortDriveOff(), "spoofed-vehicle-speed.yaml"))
		Expect(dut).To(HaveLen(2))
		d := dut[0]
		Expect(d.Scenario).To(Equal("drive-off-mid-transfer"))
		Expect(d.Observed).To(Equal(scenarios.Defended), d.Detail)
		Expect(d.Pass).To(BeTrue(), d.Detail)
		Expect(d.Detected).To(Equal(check.PoufProgrammingPreconditions.String()))
		Expect(d.Detail).To(ContainSubstring("VehicleSpeed is 50 km/h (want VehicleSpeed <= 0)"), "the DUT's own words, read at DID 0xF1A9")
		Expect(d.Detail).To(ContainSubstring("resumed"))
		Expect(d.Identity.Release).To(BeNumerically("<", d.After.Release), "it installed the campaign's release")
		// its twin without the check takes the image while the car drives
		Expect(tw).To(HaveLen(1), "a scenario out of the model has no control")
		Expect(tw[0].Scenario).To(Equal("drive-off-mid-transfer"))
		Expect(tw[0].Observed).To(Equal(scenarios.Compromised), tw[0].Detail)
		Expect(tw[0].Pass).To(BeTrue())

		f := dut[1]
		Expect(f.Scenario).To(Equal("spoofed-vehicle-speed"))
		Expect(f.Expected).To(Equal(scenarios.OutOfModel))
		Expect(f.Observed).To(Equal(scenarios.Compromised), f.Detail)
		Expect(f.Pass).To(BeTrue(), "the finding reproduces on the DUT: %s", f.Detail)
		Expect(f.Finding).To(ContainSubstring("twice its cycle rate"))
		Expect(f.Detail).NotTo(ContainSubstring("did not perform"), "a finding names no missing defence")
	})

	It("reports a DUT with an end-to-end check on the speed as resisting spoofed-vehicle-speed: passing, observed resisted, no Uptane check credited, what it did in the detail", func() {
		// ECM-0001 checks ESC_WheelSpeeds' alive counter and CRC (e2e: true):
		// the spoofer's copies repeat each counter value, so the speed is
		// invalid while it runs and the ECU refuses programming; the
		// Primary gives up after 3 s
		e2e := `[{signal: VehicleSpeed, max: 0, timeout: 2s, e2e: true}, {signal: IgnitionState, equals: "ON", timeout: 2s}]`
		b := &bench{rig: restbusDUTRigWait(freePort(), "3s", e2e), state: GinkgoT().TempDir(), runs: GinkgoT().TempDir(), dut: "ECM-0001"}
		Expect(b.rig.ECU("ECM-0001").Conditions()[0].E2E).NotTo(BeNil())
		b.start(check.Conformant)
		dut, tw := dutResults(b.play("spoofed-vehicle-speed.yaml"))
		Expect(tw).To(BeEmpty(), "a scenario out of the model has no control")
		Expect(dut).To(HaveLen(1))
		f := dut[0]
		Expect(f.Expected).To(Equal(scenarios.OutOfModel))
		Expect(f.Observed).To(Equal(scenarios.Resisted), f.Detail)
		Expect(f.Pass).To(BeTrue(), f.Detail)
		Expect(f.Detected).To(BeEmpty(), "resisting an attack out of the model is no defence of an Uptane check")
		Expect(f.Finding).To(ContainSubstring("twice its cycle rate"), "the finding's text stays, with what the wire carried")
		Expect(f.Detail).To(HavePrefix("the device under test resisted: the attack did not reach its goal on it"))
		Expect(f.Detail).To(ContainSubstring("refused"), "what it did: the refusal, in its own words (DID 0xF1A9)")
		Expect(f.Detail).To(ContainSubstring("ESC_WheelSpeeds_Alive"), "the end-to-end check says why")
		Expect(f.Detail).To(ContainSubstring("repeated"))
		Expect(f.Identity.Release).To(Equal(f.After.Release), "it took nothing while the car drove")
	})
})
