package vehicle_test

import (
	"net/http"
	"regexp"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/attacks/mitm"
	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

const pri = "TCU-0001"

// primaryRelease is the release counter of the Primary's active image.
func primaryRelease(v *vehicle.Vehicle) uint64 {
	GinkgoHelper()
	st := v.Primary.State()
	img := st.Installed()
	Expect(img).NotTo(BeNil())
	return img.ReleaseCounter
}

var _ = Describe("download_images_primary and install_image on the Primary: its own image", Label("std:download_images_primary#2", "std:install_steps#2"), func() {
	It("downloads, verifies and installs the image the Director assigns it (A/B), reports it, and the Director records it", func() {
		within(func(sim *clock.Sim) {
			v := build(sim, vehicle.Options{})
			st := v.Primary.State()
			slot := st.Active
			rep, err := v.Campaign(2, pri)
			Expect(err).NotTo(HaveOccurred())
			Expect(rep.Err).NotTo(HaveOccurred())
			Expect(rep.Primary.Status).To(Equal(primary.Installed), "%v", rep.Primary.Err)
			Expect(rep.ManifestErr).NotTo(HaveOccurred())
			st = v.Primary.State()
			Expect(st.Active).NotTo(Equal(slot), "the image went to the other slot")
			Expect(st.Installed().Name).To(Equal(vehicle.ImageName("tcu-v1", 2)))
			Expect(primaryRelease(v)).To(Equal(uint64(2)))
			Expect(st.Slots[slot].ReleaseCounter).To(Equal(uint64(1)), "the previous image is kept in the other slot")
			inst, err := v.Director.Installed(v.Rig.Vehicle.VIN)
			Expect(err).NotTo(HaveOccurred())
			Expect(inst[pri].Filename).To(Equal(vehicle.ImageName("tcu-v1", 2)))
			rep = v.Cycle()
			Expect(rep.Primary.Status).To(Equal(primary.UpToDate))
		})
	})

	for _, p := range []check.Profile{check.Conformant, check.Without(check.VerifyImageHashes)} {
		It("under "+p.Name+": refuses an image for it that is not the one the metadata lists (arbitrary software)", func() {
			within(func(sim *clock.Sim) {
				var px *mitm.Proxy
				v := build(sim, vehicle.Options{Profiles: map[string]check.Profile{pri: p}, Transport: func(b http.RoundTripper) http.RoundTripper { px = mitm.New(b, sim); return px }})
				evil := v.ImageBytes("tcu-v1", 2, v.Rig.ECU(pri).ImageSize)
				evil = append([]byte(nil), evil...)
				evil[len(evil)/2] ^= 0xff
				px.Add(&mitm.Rule{Name: "evil tcu image", Path: regexp.MustCompile(`^/image/targets/tcu-v1/`), Action: mitm.Substitute{Body: evil}})
				rep, err := v.Campaign(2, pri)
				Expect(err).NotTo(HaveOccurred())
				if p.On(check.VerifyImageHashes) {
					Expect(rep.Primary.Status).To(Equal(primary.Failed))
					Expect(rep.Primary.Err).To(MatchError(ContainSubstring(check.VerifyImageHashes.String())))
					Expect(primaryRelease(v)).To(Equal(uint64(1)))
				} else {
					Expect(rep.Primary.Status).To(Equal(primary.Installed), "%v", rep.Primary.Err)
					_, data, err := v.Primary.ActiveImage()
					Expect(err).NotTo(HaveOccurred())
					Expect(data).To(Equal(evil), "the control runs the attacker's image")
				}
			})
		})
	}

	It("refuses a lower release counter than the installed image's (rollback), and a control without the release-counter checks installs it", func() {
		for _, p := range []check.Profile{check.Conformant, check.Without(check.FullVerificationReleaseCounter, check.VerifyImageReleaseCounter)} {
			within(func(sim *clock.Sim) {
				var px *mitm.Proxy
				v := build(sim, vehicle.Options{Profiles: map[string]check.Profile{pri: p}, Transport: func(b http.RoundTripper) http.RoundTripper { px = mitm.New(b, sim); return px }})
				rep, err := v.Campaign(3, pri)
				Expect(err).NotTo(HaveOccurred())
				Expect(rep.Primary.Status).To(Equal(primary.Installed), "%v", rep.Primary.Err)
				rep, err = v.Campaign(2, pri)
				Expect(err).NotTo(HaveOccurred())
				if p.On(check.FullVerificationReleaseCounter) {
					Expect(rep.Err).To(HaveOccurred())
					Expect(check.Is(rep.Err, check.FullVerificationReleaseCounter)).To(BeTrue(), "%v", rep.Err)
					Expect(primaryRelease(v)).To(Equal(uint64(3)))
				} else {
					Expect(rep.Primary.Status).To(Equal(primary.Installed), "%v", rep.Primary.Err)
					Expect(primaryRelease(v)).To(Equal(uint64(2)), "the control rolls back")
				}
			})
		}
	})
})
