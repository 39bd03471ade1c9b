package primary_test

import (
	"net/http"
	"regexp"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/attacks/mitm"
	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// The Primary's update cycle (UpdateCycle), step by step of the Standard
// ({#primary}), over direct links to in-process Secondaries
// (secondary.Direct): no bus, so what these specs see is the Primary's own
// logic. The backend is the rig's, behind a man in the middle the specs
// use to fail one step at a time.

// cycleBench is a vehicle of rigs/virtual.yaml on direct links, under a
// simulated clock, with a man in the middle on the Primary's repository
// link.
type cycleBench struct {
	sim   *clock.Sim
	v     *vehicle.Vehicle
	proxy *mitm.Proxy
}

// onVehicle runs body as the root actor of a fresh simulated clock, on a
// freshly built vehicle.
func onVehicle(body func(b *cycleBench)) {
	GinkgoHelper()
	b := &cycleBench{sim: clock.NewSim(time.Time{})}
	b.sim.SetHorizon(365 * 24 * time.Hour)
	r, err := rigs.Load("../../rigs/virtual.yaml")
	Expect(err).NotTo(HaveOccurred())
	Expect(b.sim.Run("spec", func() {
		b.v, err = vehicle.Build(vehicle.Options{Rig: r, Clock: b.sim, Dir: GinkgoT().TempDir(), Reach: vehicle.DirectByRig,
			Transport: func(backend http.RoundTripper) http.RoundTripper {
				b.proxy = mitm.New(backend, b.sim)
				return b.proxy
			}})
		Expect(err).NotTo(HaveOccurred())
		defer b.v.Close()
		body(b)
	})).To(Succeed())
}

// releases returns the release each Secondary runs; it expects genuine
// images.
func (b *cycleBench) releases() map[string]uint64 {
	GinkgoHelper()
	out := map[string]uint64{}
	for _, s := range b.v.Secondaries {
		inst, err := b.v.Installed(s.Rig.ID)
		Expect(err).NotTo(HaveOccurred())
		Expect(inst.Genuine).To(BeTrue(), "%s runs the genuine image of release %d", s.Rig.ID, inst.Release)
		out[s.Rig.ID] = inst.Release
	}
	return out
}

func allOn(b *cycleBench, rc uint64) map[string]uint64 {
	out := map[string]uint64{}
	for _, s := range b.v.Secondaries {
		out[s.Rig.ID] = rc
	}
	return out
}

var _ = Describe("UpdateCycle over direct links", func() {
	It("construct_manifest_primary and send_time/metadata/images_primary: every Secondary gets release 2, installs it, and the Director takes the manifest that says so", func() {
		onVehicle(func(b *cycleBench) {
			Expect(b.releases()).To(Equal(allOn(b, 1)))
			rep, err := b.v.Campaign(2)
			Expect(err).NotTo(HaveOccurred())
			Expect(rep.Err).NotTo(HaveOccurred())
			Expect(rep.ManifestErr).NotTo(HaveOccurred())
			for id, o := range rep.ECUs {
				Expect(o.Status).To(Equal(primary.Installed), "%s: %v", id, o.Err)
				Expect(o.ReleaseCounter).To(Equal(uint64(2)))
				Expect(o.Report).NotTo(BeEmpty(), "%s: the final manifest carries its fresh version report", id)
				Expect(o.Reports).To(HaveLen(2), "%s: the opening manifest's report and the final one's", id)
				Expect(o.Reports[1]).To(Equal(o.Report))
				Expect(o.Reports[0]).NotTo(Equal(o.Report), "%s: another nonce, another counter", id)
			}
			Expect(b.releases()).To(Equal(allOn(b, 2)))
			recs, err := b.v.Director.Records(b.v.Rig.Vehicle.VIN)
			Expect(err).NotTo(HaveOccurred())
			Expect(recs).NotTo(BeEmpty())
			last := recs[len(recs)-1]
			Expect(last.Accepted).To(BeTrue(), last.Error)
			Expect(last.Reports).To(Equal(len(b.v.Secondaries)+1), "a report from every Secondary and the Primary")
			inst, err := b.v.Director.Installed(b.v.Rig.Vehicle.VIN)
			Expect(err).NotTo(HaveOccurred())
			for _, s := range b.v.Secondaries {
				Expect(inst[s.Rig.ID].Filename).To(Equal(vehicle.ImageName(s.Rig.HardwareID, 2)))
			}
		})
	})

	It("download_meta_primary: a Timestamp replayed past its expiry stops the cycle at step 3 (check_timestamp.expiry); no Secondary is updated", func() {
		onVehicle(func(b *cycleBench) {
			_, err := b.v.Campaign(2)
			Expect(err).NotTo(HaveOccurred())
			b.proxy.Add(&mitm.Rule{Name: "freeze", Path: regexp.MustCompile(`/director/.*timestamp\.json$`), Action: mitm.Replay{Index: 0}})
			b.sim.Jump(b.v.Rig.Backend.Expiry.Timestamp + time.Hour)
			rep, err := b.v.Campaign(3)
			Expect(err).NotTo(HaveOccurred())
			Expect(check.Is(rep.Err, check.TimestampExpiry)).To(BeTrue(), "%v", rep.Err)
			Expect(b.releases()).To(Equal(allOn(b, 2)))
		})
	})

	It("download_images_primary: an image that does not match its metadata is refused (verify_image.hashes), and with it the whole bundle (send_images_primary.complete_bundle): no Secondary installs", func() {
		onVehicle(func(b *cycleBench) {
			b.proxy.Add(&mitm.Rule{Name: "arbitrary software", Path: regexp.MustCompile(`/image/targets/ecm-v3/[0-9a-f]+\.firmware-r2\.bin$`),
				Action: mitm.Substitute{Body: b.v.ImageBytes("malicious", 0, b.v.Rig.ECU("ECM-0001").ImageSize)}})
			rep, err := b.v.Campaign(2)
			Expect(err).NotTo(HaveOccurred())
			Expect(rep.ECUs["ECM-0001"].Err).To(MatchError(ContainSubstring(check.VerifyImageHashes.String())))
			for id, o := range rep.ECUs {
				Expect(check.Is(o.Err, check.SendImagesPrimaryCompleteBundle)).To(BeTrue(), "%s: %v", id, o.Err)
			}
			Expect(b.releases()).To(Equal(allOn(b, 1)))
		})
	})

	It("send_images_primary: when one image of the bundle cannot be had, no image of the bundle is sent (send_images_primary.complete_bundle)", func() {
		onVehicle(func(b *cycleBench) {
			b.proxy.Add(&mitm.Rule{Name: "partial bundle", Path: regexp.MustCompile(`/image/targets/ecm-v3/[0-9a-f]+\.firmware-r2\.bin$`),
				Action: mitm.Status{Code: http.StatusNotFound}})
			rep, err := b.v.Campaign(2)
			Expect(err).NotTo(HaveOccurred())
			for id, o := range rep.ECUs {
				Expect(check.Is(o.Err, check.SendImagesPrimaryCompleteBundle)).To(BeTrue(), "%s: %v", id, o.Err)
				Expect(o.Status).NotTo(Equal(primary.Installed), id)
			}
			Expect(b.releases()).To(Equal(allOn(b, 1)))
		})
	})

	It("check_time_primary and send_time_primary: with nothing new, the cycle stops after step 3 and every Secondary stays up to date", func() {
		onVehicle(func(b *cycleBench) {
			_, err := b.v.Campaign(2)
			Expect(err).NotTo(HaveOccurred())
			b.sim.Sleep(time.Hour)
			sent := b.sim.Now()
			rep := b.v.Cycle()
			Expect(rep.Err).NotTo(HaveOccurred())
			Expect(rep.Stopped).NotTo(BeEmpty())
			for id, o := range rep.ECUs {
				Expect(o.Status).To(Equal(primary.UpToDate), id)
			}
			for _, s := range b.v.Secondaries {
				Expect(s.Current().State().LatestTime).To(BeTemporally(">=", sent), "%s got the Primary's time of this cycle", s.Rig.ID)
			}
		})
	})
})
