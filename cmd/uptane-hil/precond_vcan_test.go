package main

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// A DUT with programming preconditions on real SocketCAN: ECM-0001 of
// rigs/vcan-restbus.yaml as its own `uptane-hil ecu` process on vcan0,
// started by the spec. The runner's rest-bus sends the powertrain's
// cyclic traffic on vcan0; the ECU process decodes VehicleSpeed and
// IgnitionState from it with the rig's DBC file. drive-off-mid-transfer
// (the drive shortened to 3 s): at 40 % of the image the car drives, the
// ECU refuses the next block (NRC 0x22), the signal step parks the car
// again, and the transfer resumes and installs. (spoofed-vehicle-speed is
// played on the host, scenarios/dut_preconditions_test.go: in the emulated
// VM the attacker's copies came too late to fool the ECU process, see
// docs/restbus.md.)
var _ = Describe("run --dut against an ECU process with programming preconditions on vcan", Label("vcan", "dut"), func() {
	BeforeEach(func() {
		wd, _ := os.Getwd()
		Expect(os.Chdir("../..")).To(Succeed())
		DeferCleanup(os.Chdir, wd)
	})

	It("refuses while the runner's rest-bus says the car drives, and installs once the signal step parks it", func() {
		tmp := GinkgoT().TempDir()
		state, out := filepath.Join(tmp, "state"), filepath.Join(tmp, "out")
		src, err := os.ReadFile("scenarios/drive-off-mid-transfer.yaml")
		Expect(err).NotTo(HaveOccurred())
		short := strings.Replace(string(src), "for: 20s", "for: 3s", 1)
		Expect(short).NotTo(Equal(string(src)))
		scen := filepath.Join(tmp, "drive-off-mid-transfer.yaml")
		Expect(os.WriteFile(scen, []byte(short), 0o644)).To(Succeed())

		ecu := startCLI("ECM-0001", nil, "ecu", "--rig", "rigs/vcan-restbus.yaml", "--ecu", "ECM-0001", "--out", filepath.Join(tmp, "dut"))
		started := time.Now()
		code, stdout := captureStdout(func() int {
			return runSuite([]string{"--rig", "rigs/vcan-restbus.yaml", "--dut", "ECM-0001", "--state", state, "--out", out, scen})
		})
		GinkgoWriter.Printf("run (%s):\n%s\nDUT:\n%s\n", time.Since(started).Round(time.Millisecond), stdout, ecu.Output())
		Expect(code).To(Equal(0), "%s\nDUT:\n%s", stdout, ecu.Output())
		Expect(stdout).To(MatchRegexp(`PASS drive-off-mid-transfer\s+ECM-0001\s+dut\s+defended\s+pouf.programming_preconditions`))
		Expect(stdout).To(MatchRegexp(`PASS drive-off-mid-transfer\s+ECM-0001\s+twin\s+compromised`))
		b, err := os.ReadFile(filepath.Join(out, "report.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(b)).To(ContainSubstring("VehicleSpeed is 50 km/h (want VehicleSpeed <= 0)"), "the refusal in the DUT's words (DID 0xF1A9)")
		Expect(string(b)).To(ContainSubstring("resumed"), "the transfer resumed where the DUT stopped")
		// what the ECU process printed: what it reads, the refusal, and the parked car
		log := ecu.Output()
		Expect(log).To(ContainSubstring("ECM-0001: programming preconditions VehicleSpeed <= 0 (ESC_WheelSpeeds 0xa0, stale after 2s)"))
		Expect(log).To(ContainSubstring("ECM-0001: ESC_WheelSpeeds.VehicleSpeed first seen on the bus: 0 km/h"))
		Expect(log).To(ContainSubstring("ECM-0001: programming refused: conditions not met: VehicleSpeed is 50 km/h"))
		i := strings.LastIndex(log, "VehicleSpeed is 50 km/h")
		Expect(log[i:]).To(ContainSubstring("ECM-0001: programming preconditions hold"), "parked again after the refusal")
		Expect(ecu.term(30 * time.Second)).To(Equal(0))
	})
})
