package scenarios_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/scenarios"
	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

const powerLoss = `name: power-loss
description: The engine controller loses its power while its image is programmed.
attack: denial-of-service
standard: [install_image]
transport: power
ecus: [ECM-0001]
defence: [install_image.atomic]
steps:
  - power_cut: {ecu: ECM-0001, at: install}
  - campaign: {release: 2}
  - cycle: {}
goal:
  bricked: true
`

// cutPoint returns the crash point at which a result's run cut the power,
// from the run's events.
func cutPoint(x scenarios.Result) string {
	for _, e := range x.Events {
		if rest, ok := strings.CutPrefix(e.Label, "power cut: ECM-0001 lost its power at "); ok {
			return strings.TrimSuffix(rest, "; power back on")
		}
	}
	return ""
}

var _ = Describe("power-loss scenarios", func() {
	It("parses a power_cut step and the bricked goal", func() {
		s, err := scenarios.Parse("scenarios/power.yaml", []byte(powerLoss))
		Expect(err).NotTo(HaveOccurred())
		Expect(s.PowerLoss()).To(Equal([]scenarios.PowerCut{{ECU: "ECM-0001", At: rigs.CutInstall}}))
		Expect(s.Goal.Bricked).To(BeTrue())
		Expect(s.Profile().On(check.InstallImageAtomic)).To(BeFalse())
	})

	DescribeTable("names file, line and field of a broken power_cut",
		func(edit func(string) string, want string) {
			_, err := scenarios.Parse("scenarios/broken.yaml", []byte(edit(powerLoss)))
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(MatchRegexp(want))
		},
		Entry("an unknown phase", func(s string) string { return strings.Replace(s, "at: install", "at: flash", 1) },
			`^scenarios/broken\.yaml:9:\d+: steps\[0\]\.power_cut\.at: "flash" is not one of transfer, install, reset`),
		Entry("no phase", func(s string) string { return strings.Replace(s, ", at: install", "", 1) },
			`^scenarios/broken\.yaml:9:\d+: steps\[0\]\.power_cut\.at: missing: when to cut`),
		Entry("no ECU", func(s string) string { return strings.Replace(s, "ecu: ECM-0001, ", "", 1) },
			`^scenarios/broken\.yaml:9:\d+: steps\[0\]\.power_cut\.ecu: missing: the Secondary`),
		Entry("no cycle after the cut", func(s string) string {
			return strings.Replace(strings.Replace(s, "  - campaign: {release: 2}\n", "", 1), "  - cycle: {}\n", "  - campaign: {release: 2, assign_only: true}\n", 1)
		}, `^scenarios/broken\.yaml:9:\d+: steps\[0\]\.power_cut: no update cycle follows`),
		Entry("a cut and another step in one", func(s string) string {
			return strings.Replace(s, "  - power_cut: {ecu: ECM-0001, at: install}\n", "  - power_cut: {ecu: ECM-0001, at: install}\n    cycle: {}\n", 1)
		}, `steps\[0\]: a step is exactly one of .*power_cut \(found 2\)`),
		Entry("bricked without a cut", func(s string) string {
			return strings.Replace(s, "  - power_cut: {ecu: ECM-0001, at: install}\n", "", 1)
		}, `:\d+:\d+: goal\.bricked: only a scenario with a power_cut step`),
		Entry("an unknown transport", func(s string) string { return strings.Replace(s, "transport: power", "transport: mains", 1) },
			`:5:\d+: transport: "mains" is not one of backend-link, bus, keys, power`),
	)

	It("refuses to cut the Primary's power when it plays", func() {
		s, err := scenarios.Parse("scenarios/power.yaml", []byte(strings.Replace(powerLoss, "power_cut: {ecu: ECM-0001", "power_cut: {ecu: TCU-0001", 1)))
		Expect(err).NotTo(HaveOccurred())
		r, err := rigs.Load("../rigs/virtual.yaml")
		Expect(err).NotTo(HaveOccurred())
		_, err = s.Play(scenarios.RunOptions{Rig: r, Dir: GinkgoT().TempDir()}, false)
		Expect(err).To(MatchError(MatchRegexp(`scenarios/power\.yaml:9:\d+: steps\[0\]\.power_cut\.ecu: rig virtual has no Secondary "TCU-0001"`)))
	})

	It("cuts at a point the seed picks, the same in the conformant and the control run: a whole image after each cut, a torn one without the A/B slots", func() {
		r, err := rigs.Load("../rigs/virtual.yaml")
		Expect(err).NotTo(HaveOccurred())
		for _, f := range []string{"power-loss-transfer.yaml", "power-loss-install.yaml"} {
			s, err := scenarios.Load(f)
			Expect(err).NotTo(HaveOccurred())
			points := map[string]bool{}
			for _, sd := range []seed.Seed{1, 7} {
				res, err := s.Run(scenarios.RunOptions{Rig: r, Dir: GinkgoT().TempDir(), Seed: sd})
				Expect(err).NotTo(HaveOccurred())
				Expect(res).To(HaveLen(2))
				conf, ctrl := res[0], res[1]
				Expect(conf.Pass).To(BeTrue(), "%s seed %d conformant: %s", f, sd, conf.Detail)
				Expect(conf.Detected).To(Equal(check.InstallImageAtomic.String()))
				Expect(ctrl.Pass).To(BeTrue(), "%s seed %d control: %s", f, sd, ctrl.Detail)
				Expect(ctrl.Detail).To(ContainSubstring("it boots a torn image"))
				Expect(cutPoint(conf)).NotTo(BeEmpty())
				// the same point of the image; the slot is the other one
				strip := func(p string) string { return strings.NewReplacer("slot-a", "slot", "slot-b", "slot").Replace(p) }
				Expect(strip(cutPoint(ctrl))).To(Equal(strip(cutPoint(conf))))
				points[cutPoint(conf)] = true
			}
			Expect(points).To(HaveLen(2), "%s: two seeds, two points", f)
		}
	})
})
