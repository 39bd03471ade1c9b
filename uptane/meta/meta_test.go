package meta_test

import (
	"bytes"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/theupdateframework/go-tuf/v2/metadata"

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
