package main

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
)

var _ = Describe("uptane-hil provision", func() {
	BeforeEach(func() {
		wd, _ := os.Getwd()
		Expect(os.Chdir("../..")).To(Succeed())
		DeferCleanup(os.Chdir, wd)
	})

	It("writes the same kit on every invocation against the rig's backend state, keys 0600", func() {
		tmp := GinkgoT().TempDir()
		state := filepath.Join(tmp, "vehicle")
		var kits [2]string
		for i := range kits {
			kits[i] = filepath.Join(tmp, "kit"+string(rune('a'+i)))
			code, out := captureStdout(func() int {
				return runProvision([]string{"--rig", "rigs/vcan.yaml", "--ecu", "IVI-0001", "--out", kits[i], "--state", state})
			})
			Expect(code).To(Equal(0), out)
			Expect(out).To(ContainSubstring(filepath.Join(kits[i], vehicle.KitKey)))
			Expect(out).To(ContainSubstring("IVI-0001: keys derived from seed 1 (mode 0600)"))
		}
		for _, f := range []string{vehicle.KitDirectorRoot, vehicle.KitImageRoot, vehicle.KitIdentityFile, vehicle.KitKey, vehicle.KitEncKey} {
			a, err := os.ReadFile(filepath.Join(kits[0], f))
			Expect(err).NotTo(HaveOccurred())
			b, err := os.ReadFile(filepath.Join(kits[1], f))
			Expect(err).NotTo(HaveOccurred())
			Expect(b).To(Equal(a), f)
		}
		st, err := os.Stat(filepath.Join(kits[0], vehicle.KitKey))
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Mode().Perm()).To(Equal(os.FileMode(0o600)))
	})

	DescribeTable("refuses bad arguments with a clear error",
		func(args []string, want string) {
			code, msg := captureStderr(func() int { return runProvision(args) })
			Expect(code).To(Equal(2))
			Expect(msg).To(ContainSubstring(want))
		},
		Entry("no --out", []string{"--rig", "rigs/vcan.yaml", "--ecu", "IVI-0001"}, "--ecu and --out are required"),
		Entry("an unknown ECU", []string{"--rig", "rigs/vcan.yaml", "--ecu", "NOPE", "--out", "x"}, `rig rigs/vcan.yaml has no ECU "NOPE"`),
		Entry("the Primary", []string{"--rig", "rigs/vcan.yaml", "--ecu", "TCU-0001", "--out", "x"}, "TCU-0001 is the Primary of rig rigs/vcan.yaml"),
	)
})
