package main

import (
	"os"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("uptane-hil run with a device under test in the rig", func() {
	BeforeEach(func() {
		wd, _ := os.Getwd()
		Expect(os.Chdir("../..")).To(Succeed())
		DeferCleanup(os.Chdir, wd)
	})

	It("refuses the rig rather than play the suite against a copy of the DUT", func() {
		rig := rigWith("hardware_id: brk-v2", "hardware_id: brk-v2\n    dut: true")
		code, msg := captureStderr(func() int { return runSuite([]string{"--rig", rig, "--out", GinkgoT().TempDir()}) })
		Expect(code).To(Equal(2))
		Expect(msg).To(ContainSubstring("marks BRK-0001 as the device under test (dut: true): playing the suite against a device under test is not built yet (issue 10)"))
	})
})
