package repo_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/repo"
)

// depsFixture adds images with declared dependencies and conflicts: the
// Primary's pri-r2.bin needs release 3 or later on the brake hardware;
// brk-x.bin cannot run with pri.bin.
func depsFixture(p check.Profile) *fixture {
	f := newFixture()
	if p.Name != "" {
		Expect(f.d.Close()).To(Succeed())
		f.profile = p
		f.open()
	}
	Expect(f.im.AddImage("pri-r2.bin", []byte("primary firmware r2"), []string{"pri-hw"}, 2)).To(Succeed())
	Expect(f.im.SetCompatibility(meta.Targets, "pri-r2.bin", &meta.Compatibility{Requires: []meta.Requirement{{HardwareID: "brk-hw", MinRelease: 3}}})).To(Succeed())
	Expect(f.im.AddImage("brk3.bin", []byte("brake firmware v3"), []string{"brk-hw"}, 3)).To(Succeed())
	Expect(f.im.AddImage("brk-x.bin", []byte("brake firmware x"), []string{"brk-hw"}, 4)).To(Succeed())
	Expect(f.im.SetCompatibility(meta.Targets, "brk-x.bin", &meta.Compatibility{Conflicts: []string{"pri.bin"}})).To(Succeed())
	Expect(f.im.Publish()).To(Succeed())
	return f
}

func assigned(f *fixture, vin string) map[string]string {
	GinkgoHelper()
	as, err := f.d.Assignments(vin)
	Expect(err).NotTo(HaveOccurred())
	out := map[string]string{}
	for _, a := range as {
		out[a.ECU] = a.Target
	}
	return out
}

var _ = Describe("director_repository step 5: the Director takes dependencies and conflicts between images into account", Label("std:director_repository#12"), func() {
	It("refuses an image whose dependency the vehicle would not meet, and assigns the bundle that meets it as a whole", func() {
		f := depsFixture(check.Profile{})
		err := f.d.Assign("VIN1", "PRI-1", "pri-r2.bin")
		Expect(check.Is(err, check.DirectorRepositoryDependencies)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("requires release 3 or later on SEC-1"))
		Expect(assigned(f, "VIN1")).To(BeEmpty(), "nothing of a refused bundle is assigned")

		Expect(f.d.Assign("VIN1", "SEC-1", "brk.bin")).To(Succeed())
		err = f.d.Assign("VIN1", "PRI-1", "pri-r2.bin")
		Expect(check.Is(err, check.DirectorRepositoryDependencies)).To(BeTrue(), "brk.bin is release 2: %v", err)

		Expect(f.d.AssignBundle("VIN1", []repo.BundleItem{{ECU: "PRI-1", Target: "pri-r2.bin"}, {ECU: "SEC-1", Target: "brk3.bin"}})).To(Succeed())
		Expect(assigned(f, "VIN1")).To(Equal(map[string]string{"PRI-1": "pri-r2.bin", "SEC-1": "brk3.bin"}))
	})

	It("refuses to take away what another ECU's image depends on (a later single assignment)", func() {
		f := depsFixture(check.Profile{})
		Expect(f.d.AssignBundle("VIN1", []repo.BundleItem{{ECU: "PRI-1", Target: "pri-r2.bin"}, {ECU: "SEC-1", Target: "brk3.bin"}})).To(Succeed())
		err := f.d.Assign("VIN1", "SEC-1", "brk.bin")
		Expect(check.Is(err, check.DirectorRepositoryDependencies)).To(BeTrue(), "%v", err)
		Expect(assigned(f, "VIN1")["SEC-1"]).To(Equal("brk3.bin"))
	})

	It("refuses an image that conflicts with one the vehicle runs, in either order", func() {
		f := depsFixture(check.Profile{})
		Expect(f.d.Assign("VIN1", "PRI-1", "pri.bin")).To(Succeed())
		err := f.d.Assign("VIN1", "SEC-1", "brk-x.bin")
		Expect(check.Is(err, check.DirectorRepositoryDependencies)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("conflicts with pri.bin on PRI-1"))

		g := depsFixture(check.Profile{})
		Expect(g.d.Assign("VIN1", "SEC-1", "brk-x.bin")).To(Succeed())
		Expect(check.Is(g.d.Assign("VIN1", "PRI-1", "pri.bin"), check.DirectorRepositoryDependencies)).To(BeTrue())
	})

	It("rejects a bundle that names an ECU twice, and other vehicles are not affected", func() {
		f := depsFixture(check.Profile{})
		Expect(f.d.AssignBundle("VIN1", []repo.BundleItem{{ECU: "SEC-1", Target: "brk.bin"}, {ECU: "SEC-1", Target: "brk3.bin"}})).To(MatchError(ContainSubstring("twice")))
		Expect(f.d.Assign("VIN1", "PRI-1", "pri.bin")).To(Succeed())
		Expect(f.d.Assign("VIN2", "SEC-2", "brk-x.bin")).To(Succeed(), "VIN2 runs no pri.bin assignment")
	})

	It("assigns it anyway without director_repository.dependencies (control profile)", func() {
		f := depsFixture(check.Without(check.DirectorRepositoryDependencies))
		Expect(f.d.Assign("VIN1", "PRI-1", "pri-r2.bin")).To(Succeed())
		Expect(assigned(f, "VIN1")).To(Equal(map[string]string{"PRI-1": "pri-r2.bin"}))
	})
})
