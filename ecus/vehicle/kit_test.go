package vehicle_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
)

// kitBackend opens the rig's backend in dir (reopening what is there).
func kitBackend(r *rigs.Rig, dir string) *vehicle.Vehicle {
	GinkgoHelper()
	v, err := vehicle.NewBackend(vehicle.Options{Rig: r, Dir: dir, Clock: clock.NewWall()})
	Expect(err).NotTo(HaveOccurred())
	return v
}

// readKit returns every file of a kit by its path in the kit.
func readKit(dir string) map[string][]byte {
	GinkgoHelper()
	files := map[string][]byte{}
	Expect(filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[rel] = b
		return err
	})).To(Succeed())
	return files
}

// verifiedRoot parses a Root and checks it is signed by a threshold of its
// own root keys.
func verifiedRoot(b []byte) *metadata.Metadata[metadata.RootType] {
	GinkgoHelper()
	root, err := metadata.Root().FromBytes(b)
	Expect(err).NotTo(HaveOccurred())
	Expect(root.VerifyDelegate(metadata.ROOT, root)).To(Succeed())
	return root
}

var _ = Describe("the provisioning kit", func() {
	var r *rigs.Rig
	BeforeEach(func() {
		var err error
		r, err = rigs.Load("../../rigs/virtual.yaml")
		Expect(err).NotTo(HaveOccurred())
	})

	It("writes both Roots, the identity and the seed's keys (0600), the same on every invocation against the same backend", func() {
		state := filepath.Join(GinkgoT().TempDir(), "vehicle")
		e := r.ECU("IVI-0001") // partial verification, encrypted images
		v := kitBackend(r, state)
		a := filepath.Join(GinkgoT().TempDir(), "kit")
		files, err := vehicle.WriteKit(v, e, a)
		Expect(err).NotTo(HaveOccurred())
		Expect(files).To(ConsistOf(vehicle.KitDirectorRoot, vehicle.KitImageRoot, vehicle.KitTimeKey, vehicle.KitDirectorMetadata+"/targets.json",
			vehicle.KitKey, vehicle.KitEncKey, vehicle.KitIdentityFile), "a partial-verification ECU leaves the factory with the Director's Targets only")
		inventory := v.InventoryKey(e)
		timeKey := v.Time.PublicKey()
		Expect(v.Close()).To(Succeed())

		// a second invocation reopens the backend: byte for byte the same kit
		v = kitBackend(r, state)
		b := filepath.Join(GinkgoT().TempDir(), "kit")
		_, err = vehicle.WriteKit(v, e, b)
		Expect(err).NotTo(HaveOccurred())
		Expect(v.Close()).To(Succeed())
		kitA, kitB := readKit(a), readKit(b)
		Expect(kitA).To(HaveLen(7))
		var tk metadata.Key
		Expect(json.Unmarshal(kitA[vehicle.KitTimeKey], &tk)).To(Succeed())
		Expect(keys.ID(&tk)).To(Equal(must(keys.ID(timeKey))))
		Expect(kitB).To(Equal(kitA))

		for _, k := range []string{vehicle.KitKey, vehicle.KitEncKey} {
			st, err := os.Stat(filepath.Join(a, k))
			Expect(err).NotTo(HaveOccurred())
			Expect(st.Mode().Perm()).To(Equal(os.FileMode(0o600)), k)
		}
		st, err := os.Stat(filepath.Join(a, "keys"))
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Mode().Perm()).To(Equal(os.FileMode(0o700)))

		// the key is the one the Director's inventory holds for the ECU
		k, err := keys.Load(filepath.Join(a, vehicle.KitKey))
		Expect(err).NotTo(HaveOccurred())
		Expect(k.Public()).To(Equal(inventory))
		Expect(kitA[vehicle.KitEncKey]).To(HaveLen(32))

		var id vehicle.KitIdentity
		Expect(json.Unmarshal(kitA[vehicle.KitIdentityFile], &id)).To(Succeed())
		Expect(id.DIDs).To(Equal(map[string]string{"0xF18C": "IVI-0001", "0xF191": "ivi-v5", "0xF190": "UPTHIL00000000001", "0xF1A5": "02"}))
		Expect(id.KeyID).To(Equal(k.KeyID()))
		Expect(id.Keys).To(Equal("seed 1"))
		Expect(id.Encrypted).To(BeTrue())
		Expect(string(kitA[vehicle.KitIdentityFile])).NotTo(ContainSubstring("PRIVATE"))

		// both Roots verify, and are the repositories' own
		dr, ir := verifiedRoot(kitA[vehicle.KitDirectorRoot]), verifiedRoot(kitA[vehicle.KitImageRoot])
		// the factory's Director Targets are signed by the Director's Targets key
		tg, err := metadata.Targets().FromBytes(kitA[vehicle.KitDirectorMetadata+"/targets.json"])
		Expect(err).NotTo(HaveOccurred())
		Expect(dr.VerifyDelegate(metadata.TARGETS, tg)).To(Succeed())
		Expect(ir.VerifyDelegate(metadata.TARGETS, tg)).NotTo(Succeed())
		Expect(dr.Signed.Roles[metadata.TARGETS].KeyIDs).NotTo(Equal(ir.Signed.Roles[metadata.TARGETS].KeyIDs))
		tampered := strings.Replace(string(kitA[vehicle.KitDirectorRoot]), `"version":1}`, `"version":2}`, 1)
		Expect(tampered).NotTo(Equal(string(kitA[vehicle.KitDirectorRoot])))
		bad, err := metadata.Root().FromBytes([]byte(tampered))
		Expect(err).NotTo(HaveOccurred())
		Expect(bad.VerifyDelegate(metadata.ROOT, bad)).NotTo(Succeed())
	})

	It("derives the keys from the seed alone: a backend made afresh gives the ECU the same keys and the repositories the same root keys", func() {
		e := r.ECU("ECM-0001")
		kits := [2]map[string][]byte{}
		for i := range kits {
			v := kitBackend(r, filepath.Join(GinkgoT().TempDir(), "vehicle"))
			dir := filepath.Join(GinkgoT().TempDir(), "kit")
			files, err := vehicle.WriteKit(v, e, dir)
			Expect(err).NotTo(HaveOccurred())
			Expect(files).NotTo(ContainElement(vehicle.KitEncKey), "ECM-0001's images are not encrypted")
			// full verification: the latest metadata of both repositories
			Expect(files).To(ContainElements(vehicle.KitDirectorMetadata+"/timestamp.json", vehicle.KitImageMetadata+"/timestamp.json"))
			Expect(v.Close()).To(Succeed())
			kits[i] = readKit(dir)
		}
		Expect(kits[1][vehicle.KitKey]).To(Equal(kits[0][vehicle.KitKey]))
		Expect(kits[1][vehicle.KitIdentityFile]).To(Equal(kits[0][vehicle.KitIdentityFile]))
		for _, f := range []string{vehicle.KitDirectorRoot, vehicle.KitImageRoot} {
			Expect(verifiedRoot(kits[1][f]).Signed.Keys).To(Equal(verifiedRoot(kits[0][f]).Signed.Keys), f)
		}
	})

	It("holds no secret for an ECU that brings its own key (the rig's public_key)", func() {
		own, err := keys.Generate(keys.Ed25519, seed.Seed(99).Reader("a supplier's ECU"))
		Expect(err).NotTo(HaveOccurred())
		pub := own.Public()
		src, err := os.ReadFile("../../rigs/bench-example.yaml")
		Expect(err).NotTo(HaveOccurred())
		s := strings.Replace(string(src), "process: physical          # a real ECU: uptane-hil only talks to it",
			"process: physical\n    public_key: {keytype: "+pub.Type+", scheme: "+pub.Scheme+", public: "+pub.Value.PublicKey+"}", 1)
		br, err := rigs.Parse("bench.yaml", []byte(s))
		Expect(err).NotTo(HaveOccurred())
		v := kitBackend(br, filepath.Join(GinkgoT().TempDir(), "vehicle"))
		DeferCleanup(v.Close)
		dir := filepath.Join(GinkgoT().TempDir(), "kit")
		files, err := vehicle.WriteKit(v, br.ECU("SUPPLIER-ECU-01"), dir)
		Expect(err).NotTo(HaveOccurred())
		Expect(files).To(ConsistOf(vehicle.KitDirectorRoot, vehicle.KitImageRoot, vehicle.KitTimeKey, vehicle.KitDirectorMetadata+"/targets.json", vehicle.KitIdentityFile))
		Expect(filepath.Join(dir, "keys")).NotTo(BeAnExistingFile())
		var id vehicle.KitIdentity
		b, err := os.ReadFile(filepath.Join(dir, vehicle.KitIdentityFile))
		Expect(err).NotTo(HaveOccurred())
		Expect(json.Unmarshal(b, &id)).To(Succeed())
		Expect(id.KeyID).To(Equal(own.KeyID()))
		Expect(id.Keys).To(Equal("rig public_key"))

		_, err = vehicle.WriteKit(v, br.ECU("TCU-BENCH"), dir)
		Expect(err).To(MatchError(ContainSubstring("TCU-BENCH is the Primary")))
	})
})
