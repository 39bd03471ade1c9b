package imagecrypt_test

import (
	"bytes"
	"errors"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/uptane/imagecrypt"
)

var _ = Describe("image encryption for one ECU", func() {
	plain := bytes.Repeat([]byte("firmware "), 1000)

	It("round-trips with the ECU's key and records the algorithms", Label("std:targets_custom_meta#6", "std:verify_image#6"), func() {
		ecu, err := imagecrypt.GenerateKey(seed.Seed(1).Reader("ecu"))
		Expect(err).NotTo(HaveOccurred())
		enc, ct, err := imagecrypt.Encrypt(seed.Seed(1).Reader("enc"), ecu.PublicKey(), "fw.bin.ECU1.enc", plain)
		Expect(err).NotTo(HaveOccurred())
		Expect(enc.Algorithm).To(Equal(imagecrypt.Algorithm))
		Expect(enc.KeyWrap).To(Equal(imagecrypt.KeyWrap))
		Expect(enc.Length).To(BeEquivalentTo(len(ct)))
		Expect(bytes.Contains(ct, []byte("firmware"))).To(BeFalse())
		got, err := imagecrypt.Decrypt(ecu, enc, ct)
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal(plain))
	})

	It("is deterministic for a seeded reader", func() {
		ecu, _ := imagecrypt.GenerateKey(seed.Seed(1).Reader("ecu"))
		e1, c1, _ := imagecrypt.Encrypt(seed.Seed(2).Reader("enc"), ecu.PublicKey(), "a.enc", plain)
		e2, c2, _ := imagecrypt.Encrypt(seed.Seed(2).Reader("enc"), ecu.PublicKey(), "a.enc", plain)
		Expect(c1).To(Equal(c2))
		Expect(e1.WrappedKey).To(Equal(e2.WrappedKey))
	})

	It("fails with another ECU's key", Label("std:build_time#6", "std:verify_image#6"), func() {
		ecu, _ := imagecrypt.GenerateKey(nil)
		other, _ := imagecrypt.GenerateKey(nil)
		enc, ct, err := imagecrypt.Encrypt(nil, ecu.PublicKey(), "a.enc", plain)
		Expect(err).NotTo(HaveOccurred())
		_, err = imagecrypt.Decrypt(other, enc, ct)
		Expect(errors.Is(err, imagecrypt.ErrDecrypt)).To(BeTrue(), "%v", err)
	})

	It("detects a tampered ciphertext, wrapped key or file name", Label("std:verify_image#6"), func() {
		ecu, _ := imagecrypt.GenerateKey(nil)
		enc, ct, _ := imagecrypt.Encrypt(nil, ecu.PublicKey(), "a.enc", plain)
		bad := append([]byte{}, ct...)
		bad[10] ^= 1
		_, err := imagecrypt.Decrypt(ecu, enc, bad)
		Expect(err).To(MatchError(ContainSubstring("hash mismatch")))

		e2 := *enc
		e2.WrappedKey = append([]byte{}, enc.WrappedKey...)
		e2.WrappedKey[40] ^= 1
		_, err = imagecrypt.Decrypt(ecu, &e2, ct)
		Expect(errors.Is(err, imagecrypt.ErrDecrypt)).To(BeTrue())

		e3 := *enc
		e3.Filename = "b.enc"
		_, err = imagecrypt.Decrypt(ecu, &e3, ct)
		Expect(errors.Is(err, imagecrypt.ErrDecrypt)).To(BeTrue())

		e4 := *enc
		e4.WrappedKey = enc.WrappedKey[:10]
		_, err = imagecrypt.Decrypt(ecu, &e4, ct)
		Expect(err).To(MatchError(ContainSubstring("wrapped key is 10 bytes")))
	})
})
