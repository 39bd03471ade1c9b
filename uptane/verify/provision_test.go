package verify_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/verify"
)

// {#build_time}: metadata provisioned at the factory is the first cycle's
// version baseline.
var _ = Describe("verify.Provision (build_time)", func() {
	var (
		v        *vehicle
		old, cur verify.MapFetcher
	)
	copyFiles := func(f verify.MapFetcher) verify.MapFetcher {
		out := verify.MapFetcher{}
		for k, b := range f {
			out[k] = b
		}
		return out
	}
	fromRoot := func(r *testRepo) *verify.Repo {
		return must(verify.NewRepo(r.name, r.files[meta.VersionedName(1, meta.Root)]))
	}
	BeforeEach(func() {
		v = newVehicle(1)
		old = copyFiles(v.dir.files) // what the attacker recorded before the factory
		v.newImage("BRK1", "brakes/brk1-v6.bin", "supplier", 6)
		cur = copyFiles(v.dir.files) // the latest, at the factory
	})

	It("gives a full-verification ECU a baseline: the superseded metadata replayed at the first cycle is a rollback", Label("std:build_time#1", "std:build_time#3"), func() {
		d, im := fromRoot(v.dir), fromRoot(v.img)
		Expect(verify.Provision(v.o, d, cur, false)).To(Succeed())
		Expect(verify.Provision(v.o, im, v.img.files, false)).To(Succeed())
		Expect(d.Timestamp()).NotTo(BeNil())
		Expect(d.Targets().Signed.Version).To(Equal(v.dir.targets.Signed.Version))
		_, err := verify.FullVerification(v.o, v.primary(), d, im, old, v.img.files)
		Expect(check.Is(err, check.TimestampVersion)).To(BeTrue(), "got %v", err)
	})

	It("gives a partial-verification ECU the Director's Targets: an older one is a rollback", Label("std:build_time#1", "std:build_time#2"), func() {
		d := fromRoot(v.dir)
		Expect(verify.Provision(v.o, d, verify.MapFetcher{"targets.json": cur[meta.VersionedName(v.dir.targets.Signed.Version, meta.Targets)]}, true)).To(Succeed())
		Expect(d.Timestamp()).To(BeNil(), "a partial ECU keeps no Timestamp")
		replay := verify.MapFetcher{"targets.json": old[meta.VersionedName(v.dir.targets.Signed.Version-1, meta.Targets)]}
		_, err := verify.PartialVerification(v.o, d, replay, "BRK1", false)
		Expect(check.Is(err, check.TargetsVersion)).To(BeTrue(), "got %v", err)
	})

	It("with Roots only (no factory metadata) the same replay passes: the gap it closes", func() {
		_, err := verify.FullVerification(v.o, v.primary(), fromRoot(v.dir), fromRoot(v.img), old, v.img.files)
		Expect(err).NotTo(HaveOccurred())
	})

	It("verifies what it is given and leaves the repository untouched on failure", func() {
		d := fromRoot(v.dir)
		before := must(d.Marshal())
		bad := copyFiles(cur)
		bad["timestamp.json"] = []byte(`{"signed":{}}`)
		Expect(verify.Provision(v.o, d, bad, false)).NotTo(Succeed())
		o := v.o
		o.VIN = "OTHER"
		Expect(check.Is(verify.Provision(o, d, cur, false), check.TargetsImagesMetaVehicleID)).To(BeTrue(), "another vehicle's metadata is refused at the factory too")
		Expect(must(d.Marshal())).To(Equal(before))
	})
})
