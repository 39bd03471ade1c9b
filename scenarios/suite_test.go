package scenarios_test

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/scenarios"
)

// Every scenario file becomes specs: the conformant profile must defend the
// attack, the control profile (conformant minus the scenario's defence)
// must be compromised. The suite runs on the virtual rig (in-process buses)
// and, labelled vcan, on the vcan rig: the same vehicle with every frame
// going through the kernel's SocketCAN (vcan0 classic, vcan1 CAN FD), every
// ECU in this process, on the simulated clock (time stands still while a
// frame is in the kernel), so time travel and timeouts stay exact.
var _ = Describe("attack suite", Label("attack"), func() {
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		panic(fmt.Sprintf("the suite is built from scenarios/*.yaml, which matched no file (%v)", err))
	}
	for _, rig := range []struct {
		name, file string
		label      Labels
	}{
		{"virtual", "../rigs/virtual.yaml", Label("virtual")},
		{"vcan", "../rigs/vcan.yaml", Label("vcan")},
	} {
		Describe("on the "+rig.name+" rig", rig.label, func() {
			for _, f := range files {
				s, err := scenarios.Load(f)
				if err != nil {
					panic(err)
				}
				It(s.Name+" ("+s.Attack+")", Label(s.Transport), func() {
					r, err := rigs.Load(rig.file)
					Expect(err).NotTo(HaveOccurred())
					res, err := s.Run(scenarios.RunOptions{Rig: r, Dir: GinkgoT().TempDir()})
					if rig.name == "vcan" && err != nil && strings.Contains(err.Error(), "has no DBC file (restbus: in the rig)") {
						// rigs/vcan.yaml brings no DBC file: a scenario that
						// changes rest-bus signals (drive-off, spoofed speed)
						// is played on the virtual rig; here it must be the
						// clear error naming file, line and field, nothing run
						Expect(err.Error()).To(MatchRegexp(`^%s:\d+:\d+: steps\[\d+\]\.(signal|expect_signal|attack\.bus)`, regexp.QuoteMeta(s.File)))
						Expect(res).To(BeEmpty())
						return
					}
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
					if s.OutOfModel != "" {
						Expect(controls).To(BeZero(), "a scenario out of the model has no control")
						for _, x := range res {
							Expect(x.Expected).To(Equal(scenarios.OutOfModel))
							Expect(x.Finding).NotTo(BeEmpty())
						}
						return
					}
					Expect(controls).To(BeNumerically(">", 0), "every scenario runs against a control profile")
				})
			}
		})
	}
})
