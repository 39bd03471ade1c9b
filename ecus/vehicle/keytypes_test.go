package vehicle_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// Every key type signs everything end to end: the repositories' metadata
// (top-level roles and a supplier), the ECUs' version reports and the
// Primary's vehicle manifest. A campaign installs on every Secondary (the
// ECUs verified the metadata) and the Director records release 2 for every
// ECU (it verified the manifest and each report).
var _ = Describe("key types end to end", func() {
	for _, c := range []struct {
		typ, keytype, scheme string
		overBus              bool
	}{
		{keys.RSA, "rsa", keys.SchemeRSAPSS, true},
		{keys.ECDSAP384, "ecdsa", keys.SchemeECDSAP384, false},
		{keys.ECDSAP256Compat, "ecdsa", keys.SchemeECDSAP256, false},
	} {
		It(c.typ+": repositories, a supplier and every ECU sign with it; a campaign installs and the Director takes the manifest", func() {
			within(func(sim *clock.Sim) {
				r, err := rigs.Load("../../rigs/virtual.yaml")
				Expect(err).NotTo(HaveOccurred())
				r.Backend.KeyTypes = rigs.RepoKeyTypes{Director: c.typ, Image: c.typ}
				for i := range r.ECUs {
					r.ECUs[i].KeyType = c.typ
				}
				reach := vehicle.DirectByRig
				if c.overBus {
					reach = vehicle.ByRig
				}
				v, err := vehicle.Build(vehicle.Options{Rig: r, Clock: sim, Dir: GinkgoT().TempDir(), Reach: reach,
					Delegations: []vehicle.Delegation{{Name: "brakes-supplier", Paths: []string{"brk-v2/*"}, HardwareIDs: []string{"brk-v2"}}}})
				Expect(err).NotTo(HaveOccurred())
				DeferCleanup(v.Close)

				for _, root := range [][]byte{v.Director.Root(), v.Image.Root()} {
					md, err := (&metadata.Metadata[metadata.RootType]{}).FromBytes(root)
					Expect(err).NotTo(HaveOccurred())
					Expect(md.Signed.Keys).To(HaveLen(4))
					for _, k := range md.Signed.Keys {
						Expect([]string{k.Type, k.Scheme}).To(Equal([]string{c.keytype, c.scheme}))
					}
					Expect(md.VerifyDelegate(meta.Root, md)).To(Succeed(), "go-tuf verifies the Root too")
				}
				Expect(v.Image.Signers("brakes-supplier")[0].Public().Scheme).To(Equal(c.scheme))
				inv, err := v.Director.Vehicle(r.Vehicle.VIN)
				Expect(err).NotTo(HaveOccurred())
				for _, e := range inv.ECUs {
					Expect(e.Key.Scheme).To(Equal(c.scheme), e.ID)
				}

				rep, err := v.Campaign(2)
				Expect(err).NotTo(HaveOccurred())
				Expect(rep.Err).NotTo(HaveOccurred())
				Expect(rep.ManifestErr).NotTo(HaveOccurred())
				for _, s := range v.Secondaries {
					Expect(rep.ECUs[s.Rig.ID].Status).To(Equal(primary.Installed), "%s: %v", s.Rig.ID, rep.ECUs[s.Rig.ID].Err)
				}
				inst, err := v.Director.Installed(r.Vehicle.VIN)
				Expect(err).NotTo(HaveOccurred())
				for _, s := range v.Secondaries {
					Expect(inst).To(HaveKey(s.Rig.ID))
					Expect(inst[s.Rig.ID].Filename).To(Equal(vehicle.ImageName(s.Rig.HardwareID, 2)))
				}
			})
		})
	}
})
