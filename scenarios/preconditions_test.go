package scenarios_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/scenarios"
)

// Programming preconditions in scenarios: the car drives off mid-transfer
// (refuse, wait, resume, install), and a spoofed "speed 0" (a finding).
var _ = Describe("programming preconditions in scenarios", Label("restbus"), func() {
	play := func(file string) []scenarios.Result {
		GinkgoHelper()
		r, err := rigs.Load("../rigs/virtual.yaml")
		Expect(err).NotTo(HaveOccurred())
		s, err := scenarios.Load(file)
		Expect(err).NotTo(HaveOccurred())
		res, err := s.Run(scenarios.RunOptions{Rig: r, Dir: GinkgoT().TempDir()})
		Expect(err).NotTo(HaveOccurred())
		return res
	}

	It("drive-off-mid-transfer: the conformant ECU stops the transfer, the Primary resumes it when parked and it installs; the control takes its image while the car drives; the same on every replay", func() {
		res := play("drive-off-mid-transfer.yaml")
		Expect(res).To(HaveLen(2))
		conf, ctrl := res[0], res[1]
		Expect(conf.Control).To(BeFalse())
		Expect(conf.Pass).To(BeTrue(), conf.Detail)
		Expect(conf.Observed).To(Equal(scenarios.Defended))
		Expect(conf.Detected).To(Equal("pouf.programming_preconditions"))
		Expect(conf.Detail).To(MatchRegexp(`refused send image with NRC 0x22 \(conditions not met: VehicleSpeed is 50 km/h .*\); the Primary waited 2\ds, resumed`))
		Expect(ctrl.Control).To(BeTrue())
		Expect(ctrl.Pass).To(BeTrue(), ctrl.Detail)
		Expect(ctrl.Observed).To(Equal(scenarios.Compromised))
		Expect(ctrl.Detail).To(ContainSubstring("took image bytes up to"))
		Expect(ctrl.Detail).To(ContainSubstring("installed (its install routine ran) at"))
		Expect(ctrl.Detail).To(ContainSubstring("while conditions not met: VehicleSpeed is 50 km/h"))
		again := play("drive-off-mid-transfer.yaml")
		Expect(again[0].Detail).To(Equal(conf.Detail), "deterministic on the simulated clock")
		Expect(again[1].Detail).To(Equal(ctrl.Detail))
	})

	It("spoofed-vehicle-speed: an out-of-model finding (no control, no defence): the ECU takes its update while the car drives, and the finding says what the ECU could and could not tell", func() {
		res := play("spoofed-vehicle-speed.yaml")
		Expect(res).To(HaveLen(1))
		x := res[0]
		Expect(x.Control).To(BeFalse())
		Expect(x.Expected).To(Equal(scenarios.OutOfModel))
		Expect(x.Observed).To(Equal(scenarios.Compromised))
		Expect(x.Pass).To(BeTrue(), "the finding reproduces: %s", x.Detail)
		Expect(x.Detected).To(BeEmpty(), "no check stopped it")
		Expect(x.Detail).To(ContainSubstring("installed (its install routine ran) at"))
		Expect(x.Finding).To(ContainSubstring("What it cannot tell: which of the two frames is genuine"))
		Expect(x.Finding).To(MatchRegexp(`each alive counter value twice \((\d+) genuine frames, (\d+) spoofed\)`))
	})
})
