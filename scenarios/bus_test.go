package scenarios_test

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/scenarios"
	"github.com/uptane-hil/uptane-hil/sim/seed"
)

var _ = Describe("bus attacks", Label("attack", "bus"), func() {
	// capture runs a scenario's conformant profile and returns its candump log.
	capture := func(file string, sd seed.Seed) []byte {
		GinkgoHelper()
		r, err := rigs.Load("../rigs/virtual.yaml")
		Expect(err).NotTo(HaveOccurred())
		s, err := scenarios.Load(file)
		Expect(err).NotTo(HaveOccurred())
		dir := GinkgoT().TempDir()
		res, err := s.Run(scenarios.RunOptions{Rig: r, Dir: dir, Seed: sd, ConformantOnly: true, Captures: filepath.Join(dir, "captures")})
		Expect(err).NotTo(HaveOccurred())
		Expect(res).NotTo(BeEmpty())
		Expect(res[0].Pass).To(BeTrue(), res[0].Detail)
		b, err := os.ReadFile(filepath.Join(dir, res[0].CandumpLog))
		Expect(err).NotTo(HaveOccurred())
		return b
	}

	It("replay frame by frame from the run's seed: the same seed, the same frames; another seed, others", func() {
		for _, f := range []string{"bus-replay-session.yaml", "bus-spoofed-version-report.yaml"} {
			a := capture(f, 7)
			Expect(capture(f, 7)).To(Equal(a), f)
			Expect(capture(f, 8)).NotTo(Equal(a), f)
		}
	})

	It("fail with the step's field when the target is not on the bus", func() {
		r, err := rigs.Load("../rigs/virtual.yaml")
		Expect(err).NotTo(HaveOccurred())
		src, err := os.ReadFile("bus-forged-image.yaml")
		Expect(err).NotTo(HaveOccurred())
		s, err := scenarios.Parse("bus.yaml", src)
		Expect(err).NotTo(HaveOccurred())
		s.Steps[1].Attack.Bus.Bus = "body"
		_, err = s.Run(scenarios.RunOptions{Rig: r, Dir: GinkgoT().TempDir(), ConformantOnly: true})
		Expect(err).To(MatchError(MatchRegexp(`bus\.yaml:\d+:\d+: steps\[1\]\.attack\.bus: ECM-0001 is on bus powertrain, not body`)))
	})
})
