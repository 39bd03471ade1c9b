package vehicle_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/events"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// within runs f as the root actor of a fresh simulated clock.
func within(f func(sim *clock.Sim)) {
	GinkgoHelper()
	sim := clock.NewSim(time.Time{})
	sim.SetHorizon(365 * 24 * time.Hour)
	Expect(sim.Run("spec", func() { f(sim) })).To(Succeed())
}

func build(sim *clock.Sim, o vehicle.Options) *vehicle.Vehicle {
	GinkgoHelper()
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
	It("installs release 2 on all four Secondaries and the Director records it from the manifest", Label("std:construct_manifest_primary#1", "std:create_version_report#1", "std:primary_steps#1", "std:repo_mapping_meta#2", "std:send_images_primary#1", "std:send_metadata_primary#1", "std:vehicle_version_manifest#3"), func() {
		within(func(sim *clock.Sim) {
			var log events.Log
			v := build(sim, vehicle.Options{Events: log.Sink()})
			for _, s := range v.Secondaries {
				inst, err := v.Installed(s.Rig.ID)
				rc := inst.Release
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
				inst, err := v.Installed(s.Rig.ID)
				rc, name := inst.Release, inst.Name
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

var _ = Describe("Image repository set-up of a bring-up", func() {
	It("gives the top-level Targets role 2-of-2 keys and has a supplier sign its hardware's images; the campaign still installs", func() {
		within(func(sim *clock.Sim) {
			v := build(sim, vehicle.Options{
				ImageRoles:  map[string]vehicle.RoleKeys{meta.Targets: {Keys: 2, Threshold: 2}},
				Delegations: []vehicle.Delegation{{Name: "brakes-supplier", Paths: []string{"brk-v2/*"}, HardwareIDs: []string{"brk-v2"}}},
			})
			root, err := (&metadata.Metadata[metadata.RootType]{}).FromBytes(v.Image.Root())
			Expect(err).NotTo(HaveOccurred())
			Expect(root.Signed.Roles[meta.Targets].KeyIDs).To(HaveLen(2))
			Expect(root.Signed.Roles[meta.Targets].Threshold).To(Equal(2))
			Expect(v.Image.Signers("brakes-supplier")).To(HaveLen(1))
			Expect(v.ImageRole("brk-v2/firmware-r2.bin", "brk-v2")).To(Equal("brakes-supplier"))
			Expect(v.ImageRole("brk-v2/firmware-r2.bin", "ecm-v3")).To(Equal(meta.Targets), "scoped to its hardware")
			Expect(v.ImageRole("ecm-v3/firmware-r2.bin", "ecm-v3")).To(Equal(meta.Targets))

			rep, err := v.Campaign(2)
			Expect(err).NotTo(HaveOccurred())
			Expect(rep.Err).NotTo(HaveOccurred())
			for _, s := range v.Secondaries {
				Expect(rep.ECUs[s.Rig.ID].Status).To(Equal(primary.Installed), "%s: %v", s.Rig.ID, rep.ECUs[s.Rig.ID].Err)
			}
			sup, ok := v.Image.File(meta.VersionedName(v.Image.Version("brakes-supplier"), "brakes-supplier"))
			Expect(ok).To(BeTrue())
			st, err := (&metadata.Metadata[metadata.TargetsType]{}).FromBytes(sup)
			Expect(err).NotTo(HaveOccurred())
			Expect(st.Signed.Targets).To(HaveKey("brk-v2/firmware-r2.bin"))
			top, _ := v.Image.File(meta.VersionedName(v.Image.Version(meta.Targets), meta.Targets))
			tt, err := (&metadata.Metadata[metadata.TargetsType]{}).FromBytes(top)
			Expect(err).NotTo(HaveOccurred())
			Expect(tt.Signed.Targets).NotTo(HaveKey("brk-v2/firmware-r2.bin"))
			Expect(tt.Signed.Targets).To(HaveKey("ecm-v3/firmware-r2.bin"))
			Expect(tt.Signatures).To(HaveLen(2))
		})
	})

	It("refuses a role with a threshold above its keys", func() {
		within(func(sim *clock.Sim) {
			r, err := rigs.Load("../../rigs/virtual.yaml")
			Expect(err).NotTo(HaveOccurred())
			_, err = vehicle.Build(vehicle.Options{Rig: r, Clock: sim, Dir: GinkgoT().TempDir(),
				ImageRoles: map[string]vehicle.RoleKeys{meta.Targets: {Keys: 1, Threshold: 2}}})
			Expect(err).To(MatchError(ContainSubstring("image targets role: threshold 2 with 1 keys")))
		})
	})
})
