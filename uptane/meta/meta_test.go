package meta_test

import (
	"bytes"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

func key(seed byte) *keys.Private {
	GinkgoHelper()
	k, err := keys.Generate(keys.Ed25519, bytes.NewReader(bytes.Repeat([]byte{seed}, 64)))
	Expect(err).NotTo(HaveOccurred())
	return k
}

var _ = Describe("Uptane custom target metadata", func() {
	It("round-trips the SHALL-match section and the Director's ECU identifiers", func() {
		tf := metadata.TargetFile()
		tf.Path = "ecm-v3/firmware-r2.bin"
		c := &meta.Custom{Uptane: meta.ShallMatch{HardwareIDs: []string{"ecm-v3"}, ReleaseCounter: 2},
			ECUIdentifiers: map[string]meta.ECUTarget{"ECM-0001": {HardwareID: "ecm-v3"}}}
		Expect(meta.SetCustom(tf, c)).To(Succeed())
		got, err := meta.GetCustom(tf)
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Uptane.Equal(c.Uptane)).To(BeTrue())
		Expect(got.Uptane.HasHardware("ecm-v3")).To(BeTrue())
		Expect(got.Uptane.HasHardware("brk-v2")).To(BeFalse())
		Expect(got.ECUIdentifiers).To(Equal(c.ECUIdentifiers))
		_, err = meta.GetCustom(metadata.TargetFile())
		Expect(err).To(MatchError(meta.ErrNoCustom))
	})
})

var _ = Describe("file names ({#metadata_filename_rules})", func() {
	It("rule 1: VERSION.ROLE.json, role names escaped once", func() {
		Expect(meta.VersionedName(7, meta.Snapshot)).To(Equal("7.snapshot.json"))
		Expect(meta.UnversionedName(meta.Timestamp)).To(Equal("timestamp.json"))
		Expect(meta.EscapeRole("brakes-supplier")).To(Equal("brakes-supplier"))
		Expect(meta.EscapeRole("/x?")).To(Equal("%2Fx%3F"))
	})

	It("rule 2: an image is stored as HASH.FILENAME before its last path element, one name per hash, sha256 first", func() {
		data := []byte("image")
		h := meta.HashesOf(data)
		names := meta.ImageNames("ecm-v3/firmware-r2.bin", h)
		Expect(names).To(HaveLen(2))
		Expect(names[0]).To(MatchRegexp(`^ecm-v3/[0-9a-f]{64}\.firmware-r2\.bin$`))
		Expect(names[1]).To(MatchRegexp(`^ecm-v3/[0-9a-f]{128}\.firmware-r2\.bin$`))
	})

	DescribeTable("rule 3: target names that could leave the image folder are refused",
		func(name string, ok bool) {
			if ok {
				Expect(meta.ValidTargetName(name)).To(Succeed())
			} else {
				Expect(meta.ValidTargetName(name)).To(HaveOccurred())
			}
		},
		Entry("a plain path", "ecm-v3/firmware-r2.bin", true),
		Entry("a parent directory", "ecm-v3/../../etc/passwd", false),
		Entry("an absolute path", "/etc/passwd", false),
		Entry("an empty name", "", false),
		Entry("a backslash", `ecm-v3\firmware.bin`, false),
	)
})

var _ = Describe("hashes and signatures", func() {
	It("CheckHashes wants the length and every listed hash to match", func() {
		data := []byte("firmware")
		h := meta.HashesOf(data)
		Expect(meta.CheckHashes(data, int64(len(data)), h)).To(Succeed())
		Expect(meta.CheckHashes(data, int64(len(data))+1, h)).To(MatchError(ContainSubstring("length")))
		Expect(meta.CheckHashes([]byte("firmwarf"), int64(len(data)), h)).To(MatchError(ContainSubstring("sha256 hash mismatch")))
		Expect(meta.CheckHashes(data, int64(len(data)), metadata.Hashes{})).To(MatchError(ContainSubstring("no hashes")))
	})

	It("Sign replaces a key's earlier signature; CountSignatures counts each distinct valid key once", func() {
		a, b := key(1), key(2)
		m := metadata.Targets(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		Expect(meta.Sign(m, a, b)).To(Succeed())
		Expect(meta.Sign(m, a)).To(Succeed())
		Expect(m.Signatures).To(HaveLen(2))
		payload, err := meta.Canonical(m.Signed)
		Expect(err).NotTo(HaveOccurred())
		all := map[string]*metadata.Key{a.KeyID(): a.Public(), b.KeyID(): b.Public()}
		Expect(meta.CountSignatures(payload, m.Signatures, all, []string{a.KeyID(), b.KeyID()})).To(Equal(2))
		Expect(meta.CountSignatures(payload, m.Signatures, all, []string{a.KeyID(), a.KeyID()})).To(Equal(1), "a key listed twice counts once")
		Expect(meta.CountSignatures(payload, m.Signatures, all, []string{b.KeyID()})).To(Equal(1), "only the keys asked for")
		m.Signed.Version++
		changed, _ := meta.Canonical(m.Signed)
		Expect(meta.CountSignatures(changed, m.Signatures, all, []string{a.KeyID(), b.KeyID()})).To(BeZero(), "signatures over other bytes")
	})
})

// {#root_meta}: a role's threshold counts signatures of *distinct* keys.
// go-tuf refuses metadata that carries two signatures under one key ID when
// it parses it; CountSignatures must not rely on that (it also counts the
// signatures of metadata built in memory).
var _ = Describe("root_meta: a threshold counts distinct keys (CountSignatures)", Label("std:root_meta#2"), func() {
	var (
		k1, k2  *keys.Private
		payload = []byte(`{"_type":"targets","version":2}`)
		sig     = func(k *keys.Private, id string) metadata.Signature {
			s, err := k.Sign(payload)
			Expect(err).NotTo(HaveOccurred())
			return metadata.Signature{KeyID: id, Signature: s}
		}
	)
	BeforeEach(func() {
		var err error
		k1, err = keys.Generate(keys.Ed25519, seed.Seed(1).Reader("k1"))
		Expect(err).NotTo(HaveOccurred())
		k2, err = keys.Generate(keys.ECDSAP256, seed.Seed(1).Reader("k2"))
		Expect(err).NotTo(HaveOccurred())
	})
	all := func() map[string]*metadata.Key {
		return map[string]*metadata.Key{k1.KeyID(): k1.Public(), k2.KeyID(): k2.Public(), "alias": k1.Public()}
	}

	It("counts two valid signatures of two keys as two", func() {
		n := meta.CountSignatures(payload, []metadata.Signature{sig(k1, k1.KeyID()), sig(k2, k2.KeyID())}, all(), []string{k1.KeyID(), k2.KeyID()})
		Expect(n).To(Equal(2))
	})
	It("counts one key's signature listed twice once", func() {
		s := sig(k1, k1.KeyID())
		n := meta.CountSignatures(payload, []metadata.Signature{s, s, sig(k1, k1.KeyID())}, all(), []string{k1.KeyID(), k2.KeyID()})
		Expect(n).To(Equal(1))
	})
	It("counts one key under two key IDs once", func() {
		n := meta.CountSignatures(payload, []metadata.Signature{sig(k1, k1.KeyID()), sig(k1, "alias")}, all(), []string{k1.KeyID(), "alias"})
		Expect(n).To(Equal(1))
	})
	It("counts a key ID the role lists twice once", func() {
		n := meta.CountSignatures(payload, []metadata.Signature{sig(k1, k1.KeyID())}, all(), []string{k1.KeyID(), k1.KeyID()})
		Expect(n).To(Equal(1))
	})
	It("does not count a valid signature by a key the role does not list, nor an invalid one", func() {
		bad := sig(k2, k2.KeyID())
		bad.Signature = append([]byte{}, bad.Signature...)
		bad.Signature[len(bad.Signature)/2] ^= 1
		n := meta.CountSignatures(payload, []metadata.Signature{sig(k1, k1.KeyID()), bad}, all(), []string{k2.KeyID()})
		Expect(n).To(Equal(0))
	})
})

// {#verify_image} step 7 and {#download_images_primary} step 4: the length
// and every listed hash, each on its own.
var _ = Describe("verify_image step 7: CheckHashes checks the length and every hash", func() {
	data := []byte("the image bytes of release 6")
	It("accepts the image its metadata describes", func() {
		Expect(meta.CheckHashes(data, int64(len(data)), meta.HashesOf(data))).To(Succeed())
	})
	It("rejects a wrong second hash when the first is right", Label("std:download_images_primary#4", "std:verify_image#8"), func() {
		h := meta.HashesOf(data)
		h["sha512"] = meta.HashesOf([]byte("other"))["sha512"]
		Expect(meta.CheckHashes(data, int64(len(data)), h)).To(MatchError(ContainSubstring("sha512")))
	})
	It("rejects a truncated image whose listed hashes are those of the truncated bytes", Label("std:verify_image#10"), func() {
		short := data[:10]
		Expect(meta.CheckHashes(short, int64(len(data)), meta.HashesOf(short))).To(MatchError(ContainSubstring("length")))
	})
	It("rejects an unknown hash function and metadata without hashes", func() {
		h := meta.HashesOf(data)
		h["md5"] = []byte{1}
		Expect(meta.CheckHashes(data, int64(len(data)), h)).To(MatchError(ContainSubstring("md5")))
		Expect(meta.CheckHashes(data, int64(len(data)), metadata.Hashes{})).To(HaveOccurred())
	})
})
