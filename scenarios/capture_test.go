package scenarios_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/scenarios"
	"github.com/uptane-hil/uptane-hil/sim/capture"
)

var _ = Describe("captures of a scenario run", Label("capture"), func() {
	It("writes a pcap and a candump log per profile that tshark decodes frame by frame", func() {
		tshark, err := exec.LookPath("tshark")
		Expect(err).NotTo(HaveOccurred(), "tshark is needed: apt-get install tshark (.ci/run installs it)")
		r, err := rigs.Load("../rigs/virtual.yaml")
		Expect(err).NotTo(HaveOccurred())
		s, err := scenarios.Load("partial-bundle.yaml")
		Expect(err).NotTo(HaveOccurred())
		dir := GinkgoT().TempDir()
		res, err := s.Run(scenarios.RunOptions{Rig: r, Dir: dir, Captures: filepath.Join(dir, "captures")})
		Expect(err).NotTo(HaveOccurred())
		for _, x := range res {
			Expect(x.Capture).To(MatchRegexp(`^captures/partial-bundle-.*\.pcap$`))
			f, err := os.Open(filepath.Join(dir, x.Capture))
			Expect(err).NotTo(HaveOccurred())
			recs, err := capture.ReadPcap(f)
			f.Close()
			Expect(err).NotTo(HaveOccurred())
			Expect(len(recs)).To(BeNumerically(">", 100))
			out, err := exec.Command(tshark, "-r", filepath.Join(dir, x.Capture), "-T", "fields", "-e", "can.id").Output()
			Expect(err).NotTo(HaveOccurred())
			ids := strings.Fields(string(out))
			Expect(ids).To(HaveLen(len(recs)), "tshark decodes every frame")
			logf, err := os.Open(filepath.Join(dir, x.CandumpLog))
			Expect(err).NotTo(HaveOccurred())
			logged, err := capture.ParseCandumpLog(logf)
			logf.Close()
			Expect(err).NotTo(HaveOccurred())
			Expect(logged).To(HaveLen(len(recs)))
		}
	})
})
