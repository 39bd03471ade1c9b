package scenarios_test

import (
	"fmt"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/scenarios"
)

// Every scenario file becomes specs: the conformant profile must defend the
// attack, the control profile (conformant minus the scenario's defence)
// must be compromised.
var _ = Describe("attack suite on the virtual rig", Label("attack"), func() {
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		panic(fmt.Sprintf("no scenario files: %v", err))
	}
	for _, f := range files {
		s, err := scenarios.Load(f)
		if err != nil {
			panic(err)
		}
		It(s.Name+" ("+s.Attack+")", Label(s.Transport, "virtual"), func() {
			r, err := rigs.Load("../rigs/virtual.yaml")
			Expect(err).NotTo(HaveOccurred())
			res, err := s.Run(scenarios.RunOptions{Rig: r, Dir: GinkgoT().TempDir()})
			Expect(err).NotTo(HaveOccurred())
			Expect(res).NotTo(BeEmpty())
			controls := 0
			for _, x := range res {
				Expect(x.Pass).To(BeTrue(), "%s on %s with %s: expected %s, observed %s (detected %q): %s",
					x.Scenario, x.ECU, x.Profile, x.Expected, x.Observed, x.Detected, x.Detail)
				if x.Control {
					controls++
				}
			}
			Expect(controls).To(BeNumerically(">", 0), "every scenario runs against a control profile")
		})
	}
})
