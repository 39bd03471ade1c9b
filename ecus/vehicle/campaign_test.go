package vehicle_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/events"
	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/clock"
)

// within runs f as the root actor of a fresh simulated clock.
func within(f func(sim *clock.Sim)) {
	sim := clock.NewSim(time.Time{})
	sim.SetHorizon(365 * 24 * time.Hour)
	Expect(sim.Run("spec", func() { f(sim) })).To(Succeed())
}

func build(sim *clock.Sim, o vehicle.Options) *vehicle.Vehicle {
	r, err := rigs.Load("../../rigs/virtual.yaml")
	Expect(err).NotTo(HaveOccurred())
	o.Rig, o.Clock = r, sim
	if o.Dir == "" {
		o.Dir = GinkgoT().TempDir()
	}
	v, err := vehicle.Build(o)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(v.Close)
	return v
}

var _ = Describe("update campaign on the virtual rig (direct links)", func() {
	It("installs release 2 on all four Secondaries and the Director records it from the manifest", func() {
		within(func(sim *clock.Sim) {
			var log events.Log
			v := build(sim, vehicle.Options{Events: log.Sink()})
			for _, s := range v.Secondaries {
				rc, _, err := v.InstalledRelease(s.Rig.ID)
				Expect(err).NotTo(HaveOccurred())
				Expect(rc).To(Equal(uint64(1)))
			}
			rep, err := v.Campaign(2)
			Expect(err).NotTo(HaveOccurred())
			Expect(rep.Err).NotTo(HaveOccurred())
			Expect(rep.ManifestErr).NotTo(HaveOccurred())
			for _, s := range v.Secondaries {
				o := rep.ECUs[s.Rig.ID]
				Expect(o.Status).To(Equal(primary.Installed), "%s: %v", s.Rig.ID, o.Err)
				rc, name, err := v.InstalledRelease(s.Rig.ID)
				Expect(err).NotTo(HaveOccurred())
				Expect(rc).To(Equal(uint64(2)))
				Expect(name).To(Equal(vehicle.ImageName(s.Rig.HardwareID, 2)))
			}
			inst, err := v.Director.Installed(v.Rig.Vehicle.VIN)
			Expect(err).NotTo(HaveOccurred())
			for _, s := range v.Secondaries {
				Expect(inst).To(HaveKey(s.Rig.ID))
				Expect(inst[s.Rig.ID].Filename).To(Equal(vehicle.ImageName(s.Rig.HardwareID, 2)))
			}
			Expect(log.Events()).NotTo(BeEmpty())

			// a second cycle finds nothing new
			rep = v.Cycle()
			Expect(rep.Err).NotTo(HaveOccurred())
			for _, s := range v.Secondaries {
				Expect(rep.ECUs[s.Rig.ID].Status).To(Equal(primary.UpToDate))
			}
		})
	})
})
