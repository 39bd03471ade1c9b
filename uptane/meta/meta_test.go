package meta_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

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
