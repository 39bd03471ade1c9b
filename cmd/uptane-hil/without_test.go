package main

import (
	"os"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

var _ = Describe("uptane-hil ecu --without", func() {
	BeforeEach(func() {
		wd, _ := os.Getwd()
		Expect(os.Chdir("../..")).To(Succeed())
		DeferCleanup(os.Chdir, wd)
	})

	It("turns the list into the conformant profile minus those checks", func() {
		r, err := rigs.Load("rigs/vcan.yaml")
		Expect(err).NotTo(HaveOccurred())
		p, err := withoutProfile("check_targets.version, verify_image.release_counter", r.ECU("BRK-0001"))
		Expect(err).NotTo(HaveOccurred())
		Expect(p).To(Equal(check.Without(check.TargetsVersion, check.VerifyImageReleaseCounter)))
		p, err = withoutProfile("check_timestamp.expiry", r.ECU("ECM-0001"))
		Expect(err).NotTo(HaveOccurred())
		Expect(p.On(check.TimestampExpiry)).To(BeFalse())
	})

	DescribeTable("refuses a list that is not checks this Secondary performs, before it touches a bus",
		func(ecu, list, want string) {
			code, msg := captureStderr(func() int {
				return runECU([]string{"--rig", "rigs/vcan.yaml", "--ecu", ecu, "--without", list, "--out", GinkgoT().TempDir()})
			})
			Expect(code).To(Equal(2))
			Expect(msg).To(Equal("uptane-hil ecu: " + want + "\n"))
		},
		Entry("an unknown check", "ECM-0001", "verify_image.release_countr",
			`--without: unknown check "verify_image.release_countr" (the checks are listed in uptane/check.All)`),
		Entry("an empty item", "ECM-0001", "verify_image.hashes,,check_targets.version",
			`--without "verify_image.hashes,,check_targets.version": item 2 is empty (give CHECK[,CHECK...], e.g. verify_image.release_counter)`),
		Entry("a check twice", "ECM-0001", "verify_image.hashes,verify_image.hashes", "--without: verify_image.hashes is listed twice"),
		Entry("a check a partial Secondary does not run", "BRK-0001", "check_timestamp.expiry",
			"--without: check_timestamp.expiry is performed by the Primary and full-verification Secondaries, not by BRK-0001 (a partial-verification Secondary): switching it off would change nothing"),
		Entry("a Director's check", "ECM-0001", "director_repository.nonce_fresh",
			"--without: director_repository.nonce_fresh is performed by the Director, not by ECM-0001 (a full-verification Secondary): switching it off would change nothing"),
		Entry("the Primary", "TCU-0001", "verify_image.hashes", "--without: TCU-0001 is the Primary; only a Secondary can be run without checks"),
	)
})
