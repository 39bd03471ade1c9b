package forge_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/attacks/forge"
	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/repo"
	"github.com/uptane-hil/uptane-hil/uptane/verify"
)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

var now = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// imageRepo is an Image repository with a 2-of-2 top-level Targets role
// that delegates "brk-v2/*" for hardware brk-v2 to a supplier.
func imageRepo() *repo.Image {
	GinkgoHelper()
	im, err := repo.OpenImage(repo.ImageOptions{Clock: fixedClock{now}, Keys: repo.KeyConfig{Rand: seed.Seed(7).Reader("image"),
		Thresholds: map[string]int{meta.Targets: 2}}})
	Expect(err).NotTo(HaveOccurred())
	sup, err := keys.Generate(keys.Ed25519, seed.Seed(7).Reader("supplier"))
	Expect(err).NotTo(HaveOccurred())
	Expect(im.Delegate(meta.Targets, repo.Delegation{Name: "brakes-supplier", Paths: []string{"brk-v2/*"},
		HardwareIDs: []string{"brk-v2"}, Signers: []keys.Signer{sup}})).To(Succeed())
	Expect(im.AddImage("ecm-v3/firmware-r1.bin", []byte("engine r1"), []string{"ecm-v3"}, 1)).To(Succeed())
	Expect(im.AddImageTo("brakes-supplier", "brk-v2/firmware-r1.bin", []byte("brakes r1"), []string{"brk-v2"}, 1)).To(Succeed())
	Expect(im.Publish()).To(Succeed())
	return im
}

func file(im *repo.Image, name string) []byte {
	GinkgoHelper()
	b, ok := im.File(name)
	Expect(ok).To(BeTrue(), name)
	return b
}

// attacker is the attacker's view of the Image repository, holding the
// given keys.
func attacker(im *repo.Image, held map[string][]keys.Signer) *forge.Repo {
	return &forge.Repo{Signers: held, Timestamp: file(im, "timestamp.json"),
		Snapshot: file(im, meta.VersionedName(im.Version(meta.Snapshot), meta.Snapshot)),
		Targets:  file(im, meta.VersionedName(im.Version(meta.Targets), meta.Targets))}
}

// served is the Image repository's files with the forged ones on top.
func served(im *repo.Image, forged forge.Files) verify.MapFetcher {
	f := verify.MapFetcher{}
	for _, n := range []string{"1.root.json", "timestamp.json",
		meta.VersionedName(im.Version(meta.Snapshot), meta.Snapshot),
		meta.VersionedName(im.Version(meta.Targets), meta.Targets),
		meta.VersionedName(im.Version("brakes-supplier"), "brakes-supplier")} {
		f[n] = file(im, n)
	}
	for n, b := range forged {
		f[n] = b
	}
	return f
}

// resolve runs the Image repository's part of full verification for one
// image with profile p.
func resolve(im *repo.Image, f verify.MapFetcher, p check.Profile, name, hwid string) (*verify.Found, error) {
	GinkgoHelper()
	trusted, err := verify.NewRepo(meta.Image, im.Root())
	Expect(err).NotTo(HaveOccurred())
	u := verify.Begin(verify.Options{Profile: p, Time: now}, trusted, f)
	for _, step := range []func() error{u.CheckRoot, u.CheckTimestamp, u.CheckSnapshot, u.CheckTargets} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return u.ResolveDelegations(name, hwid)
}

var _ = Describe("forged Image repository metadata", func() {
	var im *repo.Image
	BeforeEach(func() { im = imageRepo() })
	online := func(held map[string][]keys.Signer) map[string][]keys.Signer {
		held[meta.Snapshot] = im.Signers(meta.Snapshot)
		held[meta.Timestamp] = im.Signers(meta.Timestamp)
		return held
	}

	It("signs top-level Targets with one of two keys: stopped by check_targets.threshold, accepted without it", func() {
		evil := []byte("malicious engine firmware")
		rp := attacker(im, online(map[string][]keys.Signer{meta.Targets: im.Signers(meta.Targets)[:1]}))
		files, tf, err := forge.ImageTarget(rp, meta.Targets, rp.Targets, "ecm-v3/firmware-r3.bin", evil, "ecm-v3", 3)
		Expect(err).NotTo(HaveOccurred())
		Expect(files).To(HaveKey(meta.VersionedName(im.Version(meta.Targets)+1, meta.Targets)))
		Expect(files).To(HaveKey(meta.VersionedName(im.Version(meta.Snapshot)+1, meta.Snapshot)))
		Expect(files).To(HaveKey("timestamp.json"))
		for _, n := range meta.ImageNames("ecm-v3/firmware-r3.bin", meta.HashesOf(evil)) {
			Expect(files).To(HaveKeyWithValue("targets/"+n, evil))
		}
		Expect(tf.Hashes).To(Equal(meta.HashesOf(evil)))
		c, err := meta.GetCustom(tf)
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Uptane).To(Equal(meta.ShallMatch{HardwareIDs: []string{"ecm-v3"}, ReleaseCounter: 3}))

		_, err = resolve(im, served(im, files), check.Conformant, "ecm-v3/firmware-r3.bin", "ecm-v3")
		Expect(check.Is(err, check.TargetsThreshold)).To(BeTrue(), "%v", err)
		found, err := resolve(im, served(im, files), check.Without(check.TargetsThreshold), "ecm-v3/firmware-r3.bin", "ecm-v3")
		Expect(err).NotTo(HaveOccurred())
		Expect(found.Role).To(Equal(meta.Targets))
		Expect(found.Target.Hashes).To(Equal(meta.HashesOf(evil)))
	})

	It("signs, with a supplier's key, an image for another supplier's hardware: stopped by resolve_delegations.scope", func() {
		rp := attacker(im, online(map[string][]keys.Signer{"brakes-supplier": im.Signers("brakes-supplier")}))
		current := file(im, meta.VersionedName(im.Version("brakes-supplier"), "brakes-supplier"))
		files, _, err := forge.ImageTarget(rp, "brakes-supplier", current, "ecm-v3/firmware-r3.bin", []byte("evil"), "ecm-v3", 3)
		Expect(err).NotTo(HaveOccurred())
		Expect(files).To(HaveKey(meta.VersionedName(im.Version("brakes-supplier")+1, "brakes-supplier")))
		_, err = resolve(im, served(im, files), check.Conformant, "ecm-v3/firmware-r3.bin", "ecm-v3")
		Expect(check.Is(err, check.ResolveDelegationsScope)).To(BeTrue(), "%v", err)
		found, err := resolve(im, served(im, files), check.Without(check.ResolveDelegationsScope), "ecm-v3/firmware-r3.bin", "ecm-v3")
		Expect(err).NotTo(HaveOccurred())
		Expect(found.Role).To(Equal("brakes-supplier"))
		// the supplier's genuine image is still listed
		found, err = resolve(im, served(im, files), check.Conformant, "brk-v2/firmware-r1.bin", "brk-v2")
		Expect(err).NotTo(HaveOccurred())
		Expect(found.Role).To(Equal("brakes-supplier"))
	})

	It("needs the keys: no snapshot key, no forgery", func() {
		rp := attacker(im, map[string][]keys.Signer{meta.Targets: im.Signers(meta.Targets)})
		_, _, err := forge.ImageTarget(rp, meta.Targets, rp.Targets, "ecm-v3/x.bin", []byte("x"), "ecm-v3", 3)
		Expect(err).To(MatchError(ContainSubstring("holds no snapshot key")))
		_, _, err = forge.ImageTarget(rp, meta.Targets, rp.Targets, "../x.bin", []byte("x"), "ecm-v3", 3)
		Expect(err).To(HaveOccurred())
	})

	It("rolls Targets back with the snapshot key: a newer Snapshot listing older Targets, stopped by check_snapshot.targets_versions", func() {
		trusted, err := verify.NewRepo(meta.Image, im.Root())
		Expect(err).NotTo(HaveOccurred())
		old := file(im, meta.VersionedName(im.Version(meta.Targets), meta.Targets))
		Expect(im.AddImage("ecm-v3/firmware-r2.bin", []byte("engine r2"), []string{"ecm-v3"}, 2)).To(Succeed())
		Expect(im.Publish()).To(Succeed())
		cycle := func(p check.Profile, f verify.MapFetcher) error {
			u := verify.Begin(verify.Options{Profile: p, Time: now}, trusted, f)
			for _, step := range []func() error{u.CheckRoot, u.CheckTimestamp, u.CheckSnapshot, u.CheckTargets} {
				if err := step(); err != nil {
					return err
				}
			}
			u.Commit()
			return nil
		}
		Expect(cycle(check.Conformant, served(im, nil))).To(Succeed())
		rp := attacker(im, online(map[string][]keys.Signer{}))
		files, err := forge.TargetsRollback(rp, old)
		Expect(err).NotTo(HaveOccurred())
		Expect(files).To(HaveKeyWithValue("2.targets.json", old))
		Expect(files).To(HaveKey(meta.VersionedName(im.Version(meta.Snapshot)+1, meta.Snapshot)))
		saved, err := trusted.Marshal()
		Expect(err).NotTo(HaveOccurred())
		err = cycle(check.Conformant, served(im, files))
		Expect(check.Is(err, check.SnapshotTargetsVersions)).To(BeTrue(), "%v", err)
		trusted, err = verify.LoadRepo(saved)
		Expect(err).NotTo(HaveOccurred())
		Expect(cycle(check.Without(check.SnapshotTargetsVersions, check.TargetsVersion), served(im, files))).To(Succeed())
		Expect(trusted.Targets().Signed.Version).To(BeEquivalentTo(2))
	})
})
