package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/internal/aktualizr"
)

var _ = Describe("uptane-hil vehicle --rig rigs/aktualizr.yaml", Label("aktualizr"), func() {
	It("starts aktualizr-secondary, runs a campaign, and exits 0 with every ECU on its assigned image", func() {
		rig := aktualizrRig()
		code, out := captureStdout(func() int {
			return dispatch([]string{"vehicle", "--rig", rig, "--out", GinkgoT().TempDir()}, io.Discard, io.Discard)
		})
		Expect(code).To(Equal(0), out)
		Expect(out).To(MatchRegexp(`AKT-0001\s+full\s+installed\s+akt-hw/firmware-r2\.bin`))
		Expect(out).To(MatchRegexp(`ECM-0001\s+full\s+installed\s+ecm-v3/firmware-r2\.bin`))
		Expect(out).To(ContainSubstring("OK: every ECU ended on its assigned image"))
	})
})

var _ = Describe("uptane-hil run --rig rigs/aktualizr.yaml --dut AKT-0001", Label("aktualizr"), func() {
	It("plays scenarios against the real aktualizr-secondary: its verdict, the twin's control beside it, not applicable with the reason; a compromise (finding 4) fails the run", func() {
		rig := aktualizrRig()
		out := GinkgoT().TempDir()
		code, stdout := captureStdout(func() int {
			return dispatch([]string{"run", "--rig", rig, "--dut", "AKT-0001", "--out", out, "--state", filepath.Join(out, "state"), "-p", "1",
				"../../scenarios/arbitrary-software-image.yaml", "../../scenarios/mix-and-match-director-targets.yaml", "../../scenarios/bus-forged-image.yaml"}, io.Discard, io.Discard)
		})
		Expect(code).NotTo(Equal(0), "a compromised DUT fails the run: %s", stdout)
		Expect(stdout).To(MatchRegexp(`PASS\s+arbitrary-software-image\s+AKT-0001\s+dut\s+defended\s+verify_image\.hashes`))
		Expect(stdout).To(MatchRegexp(`PASS\s+arbitrary-software-image\s+AKT-0001\s+twin\s+compromised`))
		Expect(stdout).To(MatchRegexp(`FAIL\s+mix-and-match-director-targets\s+AKT-0001\s+dut\s+compromised\s+.*the DUT did not perform check_targets\.snapshot_match`))
		Expect(stdout).To(MatchRegexp(`N/A\s+bus-forged-image\s+AKT-0001\s+dut\s+not applicable: .*TCP only`))
		Expect(filepath.Join(out, "report.json")).To(BeAnExistingFile())
	})
})

// aktualizrRig is a copy of rigs/aktualizr.yaml whose aktualizr-secondary
// listens on a free port; it fails (UPTANE_HIL_REQUIRE_AKTUALIZR=1) or
// skips, saying so, when the aktualizr-secondary binary is missing.
func aktualizrRig() string {
	GinkgoHelper()
	if _, err := aktualizr.Binary(); err != nil {
		if aktualizr.Required() {
			Fail(err.Error() + " and " + aktualizr.EnvRequire + "=1")
		}
		Skip("SKIPPED, not passed: " + err.Error())
	}
	src, err := os.ReadFile("../../rigs/aktualizr.yaml")
	Expect(err).NotTo(HaveOccurred())
	port, err := aktualizr.FreePort()
	Expect(err).NotTo(HaveOccurred())
	rig := filepath.Join(GinkgoT().TempDir(), "aktualizr.yaml")
	Expect(os.WriteFile(rig, []byte(strings.Replace(string(src), "127.0.0.1:9061", fmt.Sprintf("127.0.0.1:%d", port), 1)), 0o644)).To(Succeed())
	return rig
}
