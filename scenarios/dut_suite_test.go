package scenarios_test

import (
	"path/filepath"
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/scenarios"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// The whole suite, twice, against one DUT that keeps its state: issue 10's
// "a second run of the whole suite on the same DUT passes too". The DUT is
// reached only over a wall-clock virtual bus, as another process would be
// (newBench); the VM specs of cmd/uptane-hil play a selection on vcan.
// flood is the scenario the whole-suite spec leaves out (see there).
const flood = "bus-uds-flood.yaml"

var _ = Describe("the whole suite against one DUT", Label("dut"), func() {
	for _, c := range []struct{ ecu, profile string }{{"ECM-0001", "full"}, {"BRK-0001", "partial"}} {
		It("a conformant "+c.profile+"-verification DUT ("+c.ecu+"): every applicable scenario defended twice in a row without a reset, every other one not applicable with its reason, every twin control compromised", func() {
			files, err := filepath.Glob("*.yaml")
			Expect(err).NotTo(HaveOccurred())
			// bus-uds-flood against an in-process DUT on a wall-clock bus
			// measures this machine's CPU as much as the DUT: under load the
			// harness's own Primary lost requests to the flood (609 of 20,657
			// in one run) and the scenario read as compromised. It is judged on
			// the simulated clock (the attack suite) and left out here.
			Expect(files).To(ContainElement(flood))
			files = slices.DeleteFunc(files, func(f string) bool { return f == flood })
			b := newBench(check.Conformant, c.ecu)
			applicable := 0
			for run := 1; run <= 2; run++ {
				dut, tw := dutResults(b.play(files...))
				Expect(dut).To(HaveLen(len(files)), "run %d: one DUT result per scenario, none dropped", run)
				for _, r := range dut {
					switch r.Observed {
					case scenarios.NotApplicable:
						Expect(r.Pass).To(BeFalse(), "run %d: %s", run, r.Scenario)
						Expect(r.Detail).NotTo(BeEmpty(), "run %d: %s: the reason", run, r.Scenario)
					default:
						Expect(r.Pass).To(BeTrue(), "run %d: %s on the DUT: %s (detected %q): %s", run, r.Scenario, r.Observed, r.Detected, r.Detail)
						Expect(r.Observed).To(Equal(scenarios.Defended), "run %d: %s", run, r.Scenario)
						if run == 1 {
							applicable++
						}
					}
				}
				for _, r := range tw {
					Expect(r.Pass).To(BeTrue(), "run %d: %s: the twin's control: %s: %s", run, r.Scenario, r.Observed, r.Detail)
				}
			}
			Expect(applicable).To(BeNumerically(">=", 10), "the suite judges the DUT")
		})
	}
})
