package vehicle_test

import (
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

var _ = Describe("a Secondary process without checks (uptane-hil ecu --without)", func() {
	It("runs with the profile it is given, and conformant without one", func() {
		r := wallRig()
		wall := clock.NewWall()
		out := GinkgoT().TempDir()
		_, url, buses := servedBackend(r, wall, out)

		weak := check.Without(check.VerifyImageReleaseCounter, check.PoufRateLimit)
		p, err := vehicle.StartSecondary(vehicle.ProcessOptions{Rig: r, ECU: "BRK-0001", Dir: filepath.Join(out, "ecu", "BRK-0001"),
			Backend: url, Clock: wall, Buses: buses, Profile: weak})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(p.Close)
		got := p.Handler.ECU().Profile()
		Expect(got.Name).To(Equal("without:pouf.rate_limit+verify_image.release_counter"))
		Expect(got.On(check.VerifyImageReleaseCounter)).To(BeFalse())
		Expect(got.On(check.PoufRateLimit)).To(BeFalse())
		Expect(got.On(check.VerifyImageHashes)).To(BeTrue())

		q, err := vehicle.StartSecondary(vehicle.ProcessOptions{Rig: r, ECU: "ECM-0001", Dir: filepath.Join(out, "ecu", "ECM-0001"),
			Backend: url, Clock: wall, Buses: buses})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(q.Close)
		for _, ch := range check.All {
			Expect(q.Handler.ECU().Profile().On(ch.ID)).To(BeTrue(), "%s", ch.ID)
		}
	})
})
