package main

import (
	"os"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/scenarios"
)

var _ = Describe("uptane-hil run with a device under test", func() {
	BeforeEach(func() {
		wd, _ := os.Getwd()
		Expect(os.Chdir("../..")).To(Succeed())
		DeferCleanup(os.Chdir, wd)
	})

	refused := func(want string, args ...string) {
		GinkgoHelper()
		code, msg := captureStderr(func() int { return runSuite(append([]string{"--out", GinkgoT().TempDir()}, args...)) })
		Expect(code).To(Equal(2))
		Expect(msg).To(ContainSubstring(want))
	}

	It("refuses a DUT that is not a Secondary outside the runner on a SocketCAN bus, naming why", func() {
		refused(`--dut NOPE-0001: rig rigs/vcan.yaml has no ECU "NOPE-0001"`, "--rig", "rigs/vcan.yaml", "--dut", "NOPE-0001")
		refused("is the rig's Primary (the harness plays the Primary)", "--rig", "rigs/vcan.yaml", "--dut", "TCU-0001")
		refused("runs BRK-0001 in this process (process: in-process); a device under test runs outside it", "--rig", "rigs/virtual.yaml", "--dut", "BRK-0001")
		refused("--dut-only plays the device under test's runs alone: give --dut ECU-ID", "--rig", "rigs/vcan.yaml", "--dut-only")
		rig := rigWith("hardware_id: brk-v2", "hardware_id: brk-v2\n    dut: true")
		refused("--dut ECM-0001, but rig "+rig+" marks BRK-0001 as the device under test (dut: true)", "--rig", rig, "--dut", "ECM-0001")
	})

	It("parses --dut and --state", func() {
		f, err := parseRunFlags("run", []string{"--dut", "ECM-0001", "--state", "/tmp/x"})
		Expect(err).NotTo(HaveOccurred())
		Expect(f.dut).To(Equal("ECM-0001"))
		Expect(f.state).To(Equal("/tmp/x"))
		Expect(f.dutOnly).To(BeFalse())
		f, err = parseRunFlags("run", nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(f.state).To(Equal("out/vehicle"))
		f, err = parseRunFlags("run", []string{"--dut", "ECM-0001", "--dut-only", "scenarios/freeze-director-timestamp.yaml"})
		Expect(err).NotTo(HaveOccurred())
		Expect(f.dutOnly).To(BeTrue())
		Expect(f.paths).To(Equal([]string{"scenarios/freeze-director-timestamp.yaml"}))
	})

	It("plans the device's runs alone with --dut-only, and says so in the plan", func() {
		list, err := scenarios.LoadAll("scenarios/freeze-director-timestamp.yaml", "scenarios/rollback-image-release-counter.yaml")
		Expect(err).NotTo(HaveOccurred())
		both, err := buildPlan(list, []uint64{1, 2}, true)
		Expect(err).NotTo(HaveOccurred())
		Expect(both.units).To(HaveLen(8))
		Expect(both.dutOnly).To(BeFalse())
		alone, err := buildPlan(list, []uint64{1, 2}, false)
		Expect(err).NotTo(HaveOccurred())
		Expect(alone.dutOnly).To(BeTrue())
		Expect(alone.units).To(HaveLen(4))
		for i, u := range alone.units {
			Expect(u.control).To(BeFalse(), u.name())
			Expect(u.index).To(Equal(i))
		}
		Expect(alone.info.Units).To(Equal(4))
		Expect(alone.info.Digest).NotTo(Equal(both.info.Digest), "another plan: a --dut-only report never merges with a shard of a run with controls")
	})
})
