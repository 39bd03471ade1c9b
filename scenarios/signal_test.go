package scenarios_test

import (
	"os"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/scenarios"
)

var _ = Describe("signal steps", Label("restbus"), func() {
	// withSteps returns bus-forged-image.yaml with extra steps first.
	withSteps := func(steps string) []byte {
		GinkgoHelper()
		src, err := os.ReadFile("bus-forged-image.yaml")
		Expect(err).NotTo(HaveOccurred())
		return []byte(strings.Replace(string(src), "steps:\n", "steps:\n"+steps, 1))
	}
	run := func(steps string) ([]scenarios.Result, error) {
		GinkgoHelper()
		r, err := rigs.Load("../rigs/virtual.yaml")
		Expect(err).NotTo(HaveOccurred())
		s, err := scenarios.Parse("signals.yaml", withSteps(steps))
		Expect(err).NotTo(HaveOccurred())
		return s.Run(scenarios.RunOptions{Rig: r, Dir: GinkgoT().TempDir(), ConformantOnly: true})
	}

	It("change what the rest-bus sends, and read it back on the bus", func() {
		res, err := run(`  - expect_signal: {bus: powertrain, message: GW_IgnitionStatus, signal: IgnitionState, value: "ON"}
  - expect_signal: {bus: powertrain, message: ESC_WheelSpeeds, signal: VehicleSpeed, value: 0}
  - signal: {bus: powertrain, message: ESC_WheelSpeeds, signal: VehicleSpeed, value: 50}
  - expect_signal: {bus: powertrain, message: ESC_WheelSpeeds, signal: VehicleSpeed, value: 50, within: 20ms}
  - signal: {bus: powertrain, message: ESC_WheelSpeeds, signal: VehicleSpeed, value: 0, for: 1s}
  - expect_signal: {bus: powertrain, message: ESC_WheelSpeeds, signal: VehicleSpeed, value: 0, within: 20ms}
  - expect_signal: {bus: powertrain, message: ESC_WheelSpeeds, signal: VehicleSpeed, value: 50, within: 2s}
  - signal: {bus: powertrain, message: ESC_WheelSpeeds, signal: VehicleSpeed, value: 0}
  - signal: {bus: body, message: GW_VehicleStatus_B, signal: GearSelected_B, value: D}
  - expect_signal: {bus: body, message: GW_VehicleStatus_B, signal: GearSelected_B, value: D}
`)
		Expect(err).NotTo(HaveOccurred())
		Expect(res).NotTo(BeEmpty())
		Expect(res[0].Pass).To(BeTrue(), res[0].Detail)
	})

	It("fail the run with the step's field when the bus carries another value", func() {
		_, err := run(`  - expect_signal: {bus: powertrain, message: TCM_Gear, signal: GearSelected, value: D, within: 100ms}
`)
		Expect(err).To(MatchError(MatchRegexp(`signals\.yaml:\d+:\d+: steps\[0\]\.expect_signal: TCM_Gear\.GearSelected is 0 \(P\) on powertrain, not 3 \(D\) \(5 frames within 100ms\)`)))
	})

	It("fail with the field for a signal or value the DBC does not have", func() {
		_, err := run(`  - signal: {bus: powertrain, message: ESC_WheelSpeeds, signal: Speed, value: 50}
`)
		Expect(err).To(MatchError(MatchRegexp(`steps\[0\]\.signal\.signal: message ESC_WheelSpeeds has no signal "Speed"`)))
		_, err = run(`  - signal: {bus: powertrain, message: GW_IgnitionStatus, signal: IgnitionState, value: LOCK}
`)
		Expect(err).To(MatchError(ContainSubstring(`steps[0].signal.value: signal IgnitionState: "LOCK" is neither a number nor one of its values (ACC, OFF, ON, START)`)))
	})

	It("are checked when the scenario is parsed", func() {
		_, err := scenarios.Parse("signals.yaml", withSteps("  - signal: {bus: powertrain, message: M, value: 1}\n"))
		Expect(err).To(MatchError(ContainSubstring("steps[0].signal.signal: missing")))
		_, err = scenarios.Parse("signals.yaml", withSteps("  - signal: {bus: powertrain, message: M, signal: S, value: 1, within: 1s}\n"))
		Expect(err).To(MatchError(ContainSubstring("steps[0].signal.within: only expect_signal waits")))
		_, err = scenarios.Parse("signals.yaml", withSteps("  - expect_signal: {bus: powertrain, message: M, signal: S, value: 1, for: 1s}\n"))
		Expect(err).To(MatchError(ContainSubstring("steps[0].expect_signal: only a signal step has at_transfer and for")))
		_, err = scenarios.Parse("signals.yaml", withSteps("  - signal: {bus: powertrain, message: M, signal: S, value: 1, at_transfer: {ecu: ECM-0001, percent: 100}}\n"))
		Expect(err).To(MatchError(ContainSubstring("steps[0].signal.at_transfer.percent: 100: a share of the image, 1..99")))
		_, err = scenarios.Parse("signals.yaml", withSteps("  - signal: {bus: powertrain, message: M, signal: S, value: 1, at_transfer: {percent: 40}}\n"))
		Expect(err).To(MatchError(ContainSubstring("steps[0].signal.at_transfer.ecu: missing")))
		_, err = scenarios.Parse("signals.yaml", withSteps("  - attack: {name: xx, bus: {bus: powertrain, action: spoof-signal, target: ECM-0001, message: M}}\n"))
		Expect(err).To(MatchError(ContainSubstring("spoof-signal needs the message, signal and value")))
		_, err = scenarios.Parse("signals.yaml", withSteps("  - attack: {name: xx, bus: {bus: powertrain, action: flood, target: ECM-0001, rate: 10, signal: S}}\n"))
		Expect(err).To(MatchError(ContainSubstring("only spoof-signal has a message, signal and value")))
	})
})
