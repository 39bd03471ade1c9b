package vehicle_test

import (
	"net/http"
	"regexp"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/uptane-hil/uptane-hil/attacks/mitm"

	"github.com/uptane-hil/uptane-hil/ecus/link"
	"github.com/uptane-hil/uptane-hil/ecus/pouf"
	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/secondary"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// spoilImage is a link to a Secondary that flips a byte of every image
// while On is set (a damaged transfer, or a Primary that sends junk).
type spoilImage struct {
	*secondary.Direct
	On bool
}

func (l *spoilImage) PutImage(name string, data []byte, p pouf.Progress) error {
	if l.On {
		data = append([]byte(nil), data...)
		data[len(data)/2] ^= 0x01
	}
	return l.Direct.PutImage(name, data, p)
}

// trustedTargets is the version of the Director Targets the Secondary id
// trusts, read after a reboot from its state directory (what is on disk).
func trustedTargets(d *secondary.Direct) int64 {
	GinkgoHelper()
	Expect(d.Reset()).To(Succeed())
	t := d.ECU.Director().Targets()
	if t == nil {
		return 0 // no Targets trusted yet
	}
	return t.Signed.Version
}

// release is the release counter of the image in the ECU's active slot.
func release(d *secondary.Direct) uint64 {
	GinkgoHelper()
	img := d.ECU.Installed()
	Expect(img).NotTo(BeNil())
	return img.ReleaseCounter
}

var _ = Describe("download_image step 4: a failed update keeps the previous Targets metadata", Label("std:download_image#6"), func() {
	for _, ecu := range []string{"ECM-0001", "BRK-0001"} { // full and partial verification
		for _, p := range []check.Profile{check.Conformant, check.Without(check.DownloadImagePreviousTargets)} {
			It(ecu+" under "+p.Name+": new Director metadata becomes trusted only with the image it names", func() {
				within(func(sim *clock.Sim) {
					links := map[string]*spoilImage{}
					v := build(sim, vehicle.Options{Profiles: map[string]check.Profile{ecu: p},
						Reach: vehicle.Everywhere(vehicle.Custom{Link: func(v *vehicle.Vehicle, s *vehicle.Secondary) (link.Secondary, error) {
							l := &spoilImage{Direct: &secondary.Direct{ECU: s.ECU, Cfg: s.Config, VIN: v.Rig.Vehicle.VIN}}
							links[s.Rig.ID] = l
							return l, nil
						}})})
					victim := links[ecu]
					before := trustedTargets(victim.Direct)
					victim.On = true
					rep, err := v.Campaign(2)
					Expect(err).NotTo(HaveOccurred())
					Expect(rep.ECUs[ecu].Status).To(Equal(primary.Failed))
					Expect(rep.ECUs[ecu].Err).To(MatchError(ContainSubstring(check.VerifyImageHashes.String())))
					newest := v.Primary.Director().Targets().Signed.Version
					Expect(newest).To(BeNumerically(">", before))
					after := trustedTargets(victim.Direct)
					if p.On(check.DownloadImagePreviousTargets) {
						Expect(after).To(Equal(before), "the ECU keeps the Targets it had before the failed update")
					} else {
						Expect(after).To(Equal(newest), "the control trusts the new Targets without their image")
					}
					Expect(release(victim.Direct)).To(Equal(uint64(1)))

					// The image arrives whole: the next cycle installs it and
					// the metadata naming it becomes trusted with it.
					victim.On = false
					rep = v.Cycle()
					Expect(rep.Err).NotTo(HaveOccurred())
					Expect(rep.ECUs[ecu].Status).To(Equal(primary.Installed), "%v", rep.ECUs[ecu].Err)
					Expect(trustedTargets(victim.Direct)).To(Equal(newest))
					Expect(release(victim.Direct)).To(Equal(uint64(2)))
				})
			})
		}
	}
})

var _ = Describe("download_image step 4 on the Primary: an image it cannot download keeps its previous Targets metadata", Label("std:download_image#6"), func() {
	for _, p := range []check.Profile{check.Conformant, check.Without(check.DownloadImagePreviousTargets)} {
		It("under "+p.Name+": the Director metadata of a bundle becomes trusted only once the Primary holds every image it names", func() {
			within(func(sim *clock.Sim) {
				var px *mitm.Proxy
				v := build(sim, vehicle.Options{Profiles: map[string]check.Profile{"*": p}, Transport: func(b http.RoundTripper) http.RoundTripper { px = mitm.New(b, sim); return px }})
				version := func() int64 {
					if t := v.Primary.Director().Targets(); t != nil {
						return t.Signed.Version
					}
					return 0
				}
				before := version()
				off := px.Add(&mitm.Rule{Name: "image 404", Path: regexp.MustCompile(`^/image/.*ecm-v3`), Action: mitm.Status{Code: 404}})
				rep, err := v.Campaign(2)
				Expect(err).NotTo(HaveOccurred())
				Expect(rep.Err).NotTo(HaveOccurred())
				Expect(rep.ECUs["ECM-0001"].Status).To(Equal(primary.Failed))
				Expect(rep.ECUs["ECM-0001"].Err).To(MatchError(ContainSubstring(check.SendImagesPrimaryCompleteBundle.String())))
				if p.On(check.DownloadImagePreviousTargets) {
					Expect(version()).To(Equal(before), "the Primary keeps the Targets it had before")
				} else {
					Expect(version()).To(BeNumerically(">", before), "the control trusts the new Targets without their images")
				}
				off()
				rep = v.Cycle()
				Expect(rep.Err).NotTo(HaveOccurred())
				for _, s := range v.Secondaries {
					Expect(rep.ECUs[s.Rig.ID].Status).To(Equal(primary.Installed), "%s: %v", s.Rig.ID, rep.ECUs[s.Rig.ID].Err)
				}
				Expect(version()).To(BeNumerically(">", before))
			})
		})
	}
})
