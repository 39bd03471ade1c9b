package main

import (
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The smallest end-to-end DUT run on real SocketCAN: ECM-0001 of
// rigs/vcan.yaml as its own `uptane-hil ecu` process on vcan0, started by
// the spec, never by the runner; `uptane-hil run --dut ECM-0001` plays two
// scenarios against it twice in a row on the same state. (The whole suite,
// full and partial, CAN FD and vulnerable DUTs are h-dut-report's VM specs.)
var _ = Describe("run --dut against an ECU process on vcan", Label("vcan", "dut"), func() {
	BeforeEach(func() {
		wd, _ := os.Getwd()
		Expect(os.Chdir("../..")).To(Succeed())
		DeferCleanup(os.Chdir, wd)
	})

	It("defends two scenarios on the DUT, twice in a row, with the twins' controls compromised", func() {
		tmp := GinkgoT().TempDir()
		state, out := filepath.Join(tmp, "state"), filepath.Join(tmp, "out")
		ecu := startCLI("ECM-0001", nil, "ecu", "--rig", "rigs/vcan.yaml", "--ecu", "ECM-0001", "--out", filepath.Join(tmp, "dut"))
		for run := 1; run <= 2; run++ {
			started := time.Now()
			code, stdout := captureStdout(func() int {
				return runSuite([]string{"--rig", "rigs/vcan.yaml", "--dut", "ECM-0001", "--state", state, "--out", out,
					"scenarios/arbitrary-software-image.yaml", "scenarios/freeze-director-timestamp.yaml"})
			})
			GinkgoWriter.Printf("run %d (%s):\n%s\n", run, time.Since(started).Round(time.Millisecond), stdout)
			Expect(code).To(Equal(0), "run %d:\n%s\nDUT:\n%s", run, stdout, ecu.Output())
			Expect(stdout).To(MatchRegexp(`PASS arbitrary-software-image\s+ECM-0001\s+dut\s+defended\s+verify_image.hashes`))
			Expect(stdout).To(MatchRegexp(`PASS arbitrary-software-image\s+ECM-0001\s+twin\s+compromised`))
			Expect(stdout).To(MatchRegexp(`PASS freeze-director-timestamp\s+ECM-0001\s+dut\s+defended\s+check_timestamp.expiry`))
			Expect(stdout).To(MatchRegexp(`PASS freeze-director-timestamp\s+ECM-0001\s+twin\s+compromised`))
		}
		Expect(ecu.Output()).To(ContainSubstring("ECM-0001: provisioned in "))
		Expect(ecu.term(30 * time.Second)).To(Equal(0))
	})
})
