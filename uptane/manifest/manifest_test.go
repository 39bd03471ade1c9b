package manifest_test

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func build(keyType string) (manifest.SignedManifest, *keys.Private, *keys.Private) {
	GinkgoHelper()
	pri, err := keys.Generate(keyType, seed.Seed(7).Reader("primary"))
	Expect(err).NotTo(HaveOccurred())
	sec, err := keys.Generate(keyType, seed.Seed(7).Reader("secondary"))
	Expect(err).NotTo(HaveOccurred())
	img := manifest.Image{Filename: "fw.bin", Length: 3, Hashes: meta.HashesOf([]byte("abc"))}
	r1, err := manifest.SignReport(manifest.NewReport("PRI-1", img, nil, t0, []byte{1, 2, 3}, 1), pri)
	Expect(err).NotTo(HaveOccurred())
	att := manifest.AttackFrom(check.Fail(check.TimestampExpiry, "director", "timestamp", "expired"))
	r2, err := manifest.SignReport(manifest.NewReport("SEC-1", img, []manifest.DetectedAttack{*att}, t0, []byte{4, 5, 6}, 9), sec)
	Expect(err).NotTo(HaveOccurred())
	sm, err := manifest.SignManifest(manifest.VehicleManifest{VIN: "VIN1", PrimaryID: "PRI-1", Reports: []manifest.SignedReport{r1, r2}}, pri)
	Expect(err).NotTo(HaveOccurred())
	return sm, pri, sec
}

var _ = Describe("vehicle version manifests", func() {
	for _, kt := range []string{keys.Ed25519, keys.ECDSAP256, keys.ECDSAP384, keys.RSA, keys.RSA4096} {
		It("round-trips build, sign, encode, parse and verify with "+kt, Label("std:construct_manifest_primary#1", "std:vehicle_version_manifest#1", "std:vehicle_version_manifest#2", "std:version_report#1", "std:version_report#2"), func() {
			sm, pri, sec := build(kt)
			Expect(sm.Signatures[0].Method).To(Equal(map[string]string{keys.Ed25519: "ed25519", keys.ECDSAP256: "ecdsa-sha2-nistp256",
				keys.ECDSAP384: "ecdsa-sha2-nistp384", keys.RSA: "rsassa-pss-sha256", keys.RSA4096: "rsassa-pss-sha256"}[kt]))
			Expect(sm.Signatures[0].HashFunction).To(Equal("sha256"))
			Expect(sm.Signatures[0].KeyID).To(Equal(pri.KeyID()))
			data, err := sm.Encode()
			Expect(err).NotTo(HaveOccurred())
			got, err := manifest.ParseManifest(data, 0)
			Expect(err).NotTo(HaveOccurred())
			Expect(got.Verify(pri.Public())).To(Succeed())
			r, ok := got.Signed.Report("SEC-1")
			Expect(ok).To(BeTrue())
			Expect(r.Verify(sec.Public())).To(Succeed())
			Expect(r.Signed.Attacks).To(HaveLen(1))
			Expect(r.Signed.Attacks[0].Check).To(Equal(check.TimestampExpiry))
			Expect(r.Signed.Attacks[0].Attack).To(Equal(check.Freeze))
			Expect(r.Signed.Counter).To(BeEquivalentTo(9))
			Expect(r.Signed.LatestTime.Equal(t0)).To(BeTrue())
		})
	}

	It("produces byte-identical manifests for ed25519 keys from the same seed", func() {
		a, _, _ := build(keys.Ed25519)
		b, _, _ := build(keys.Ed25519)
		da, _ := a.Encode()
		db, _ := b.Encode()
		Expect(da).To(Equal(db))
	})

	It("detects tampering with the manifest, a report, and signatures by the wrong key", Label("std:vehicle_version_manifest#1", "std:version_report#1"), func() {
		sm, pri, sec := build(keys.Ed25519)
		data, _ := sm.Encode()

		tampered := strings.Replace(string(data), `"VIN1"`, `"VIN2"`, 1)
		got, err := manifest.ParseManifest([]byte(tampered), 0)
		Expect(err).NotTo(HaveOccurred())
		err = got.Verify(pri.Public())
		Expect(errors.Is(err, manifest.ErrNoSignature)).To(BeTrue())
		Expect(err).To(MatchError(ContainSubstring("tampered")))

		got, _ = manifest.ParseManifest(data, 0)
		got.Signed.Reports[1].Signed.Counter = 10
		Expect(got.Signed.Reports[1].Verify(sec.Public())).To(MatchError(ContainSubstring("tampered")))
		Expect(got.Verify(pri.Public())).NotTo(Succeed(), "the Primary's signature covers the reports")

		got, _ = manifest.ParseManifest(data, 0)
		Expect(got.Verify(sec.Public())).To(MatchError(ContainSubstring("no signature by key")))

		// a forged signature with the right key ID, method and hash
		got, _ = manifest.ParseManifest(data, 0)
		got.Signatures[0].Sig[0] ^= 1
		Expect(got.Verify(pri.Public())).To(MatchError(ContainSubstring("does not verify")))
	})

	It("re-signing replaces the signature by the same key", func() {
		sm, pri, _ := build(keys.Ed25519)
		sm.Signed.VIN = "VIN9"
		Expect(sm.Sign(pri)).To(Succeed())
		Expect(sm.Signatures).To(HaveLen(1))
		Expect(sm.Verify(pri.Public())).To(Succeed())
	})

	It("parses strictly with clear errors", Label("std:vehicle_version_manifest#2"), func() {
		sm, _, _ := build(keys.Ed25519)
		data, _ := sm.Encode()
		_, err := manifest.ParseManifest(data, 100)
		Expect(err).To(MatchError(ContainSubstring("more than the limit of 100")))
		_, err = manifest.ParseManifest(append(append([]byte{}, data...), []byte(" {}")...), 0)
		Expect(err).To(MatchError(ContainSubstring("trailing data")))
		_, err = manifest.ParseManifest([]byte(strings.Replace(string(data), `"vin"`, `"vim"`, 1)), 0)
		Expect(err).To(MatchError(ContainSubstring("unknown field")))
		_, err = manifest.ParseManifest([]byte(strings.Replace(string(data), `"attacks_detected":[]`, `"attacks_detected":null`, 1)), 0)
		Expect(err).To(MatchError(ContainSubstring("attacks_detected is missing")))

		var raw map[string]any
		Expect(json.Unmarshal(data, &raw)).To(Succeed())
		reps := raw["signed"].(map[string]any)["ecu_version_reports"].([]any)
		raw["signed"].(map[string]any)["ecu_version_reports"] = append(reps, reps[0])
		dup, _ := json.Marshal(raw)
		_, err = manifest.ParseManifest(dup, 0)
		Expect(err).To(MatchError(ContainSubstring(`ECU "PRI-1" reports twice`)))

		r := sm.Signed.Reports[0]
		r.Signed.Nonce = nil
		rd, _ := r.Encode()
		_, err = manifest.ParseReport(rd, 0)
		Expect(err).To(MatchError(ContainSubstring("nonce has 0 bytes")))
	})

	It("refuses a manifest or report whose strings are not UTF-8 in NFC ({#meta_structures})", Label("std:meta_structures#1"), func() {
		sm, _, _ := build(keys.Ed25519)
		data, _ := sm.Encode()
		_, err := manifest.ParseManifest(data, 0)
		Expect(err).NotTo(HaveOccurred())
		// a VIN written with a decomposed character: the Director compares it byte for byte
		nfd := strings.Replace(string(data), `"vin":"`, `"vin":"E\u0301`, 1)
		Expect(nfd).NotTo(Equal(string(data)))
		_, err = manifest.ParseManifest([]byte(nfd), 0)
		Expect(err).To(MatchError(ContainSubstring("is not in Unicode Normalization Form C")))
		rd, _ := sm.Signed.Reports[0].Encode()
		bad := strings.Replace(string(rd), `"ecu_serial":"`, "\"ecu_serial\":\"\xff", 1)
		Expect(bad).NotTo(Equal(string(rd)))
		_, err = manifest.ParseReport([]byte(bad), 0)
		Expect(err).To(MatchError(ContainSubstring("not UTF-8")))
	})

	It("keeps an attack detail that quotes what an attacker sent UTF-8 in NFC, so the Director still takes the manifest", Label("std:meta_structures#1"), func() {
		r := manifest.NewReport("ECM-1", manifest.Image{}, []manifest.DetectedAttack{{Detail: "bad name \"cafe\u0301\xff\""}}, time.Unix(0, 0), []byte{1}, 1)
		Expect(r.Attacks[0].Detail).To(Equal("bad name \"caf\u00e9\ufffd\""))
	})
})
