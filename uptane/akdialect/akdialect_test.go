package akdialect_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/uptane/akdialect"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
)

// signedManifest builds an aktualizr-style ECU manifest signed by k.
func signedManifest(k ed25519.PrivateKey, serial string) []byte {
	GinkgoHelper()
	signed := map[string]any{"attacks_detected": "", "ecu_serial": serial,
		"installed_image": map[string]any{"filepath": "fw.bin", "fileinfo": map[string]any{"length": 3,
			"hashes": map[string]any{"sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}}},
		"previous_timeserver_time": "1970-01-01T00:00:00Z", "timeserver_time": "1970-01-01T00:00:00Z"}
	payload, err := akdialect.Canonical(signed)
	Expect(err).NotTo(HaveOccurred())
	pub := k.Public().(ed25519.PublicKey)
	key := &metadata.Key{Type: metadata.KeyTypeEd25519, Value: metadata.KeyVal{PublicKey: hex.EncodeToString(pub)}}
	b, err := json.MarshalIndent(map[string]any{"signed": signed, "signatures": []any{map[string]any{
		"keyid": akdialect.KeyID(key), "method": "ed25519", "sig": base64.StdEncoding.EncodeToString(ed25519.Sign(k, payload))}}}, "", "\t")
	Expect(err).NotTo(HaveOccurred())
	return b
}

var _ = Describe("aktualizr's dialect", func() {
	It("canonicalises as jsoncpp writes compactly: sorted keys, no whitespace, non-ASCII and control characters escaped", func() {
		var v any
		dec := json.NewDecoder(strings.NewReader(`{"b":[1,{"y":null,"x":true}],"a":"é\n\u0001\"\\","big":18446744073709551615}`))
		dec.UseNumber()
		Expect(dec.Decode(&v)).To(Succeed())
		Expect(akdialect.Canonical(v)).To(Equal([]byte(`{"a":"\u00e9\n\u0001\"\\","b":[1,{"x":true,"y":null}],"big":18446744073709551615}`)))
		_, err := akdialect.CanonicalJSON([]byte(`{"f":1.5}`))
		Expect(err).To(MatchError(ContainSubstring("not an integer")))
	})

	It("re-signs a Root with the same keys: capitalised _type, exact expiry, method and base64 signature over the canonical signed object", func() {
		k, err := keys.Generate(keys.Ed25519, seed.Seed(1).Reader("root"))
		Expect(err).NotTo(HaveOccurred())
		tuf := []byte(`{"signed":{"_type":"root","expires":"2030-01-02T03:04:05.123Z","version":1,"keys":{},"roles":{}},"signatures":[]}`)
		out, err := akdialect.Root(tuf, []keys.Signer{k})
		Expect(err).NotTo(HaveOccurred())
		var d struct {
			Signed     map[string]any `json:"signed"`
			Signatures []struct{ KeyID, Method, Sig string }
		}
		Expect(json.Unmarshal(out, &d)).To(Succeed())
		Expect(d.Signed["_type"]).To(Equal("Root"))
		Expect(d.Signed["expires"]).To(Equal("2030-01-02T03:04:05Z"))
		Expect(d.Signatures).To(HaveLen(1))
		Expect(d.Signatures[0].Method).To(Equal("ed25519"))
		Expect(d.Signatures[0].KeyID).To(Equal(k.KeyID()))
		sig, err := base64.StdEncoding.DecodeString(d.Signatures[0].Sig)
		Expect(err).NotTo(HaveOccurred())
		var top map[string]json.RawMessage
		Expect(json.Unmarshal(out, &top)).To(Succeed())
		payload, err := akdialect.CanonicalJSON(top["signed"])
		Expect(err).NotTo(HaveOccurred())
		Expect(keys.Verify(k.Public(), payload, sig)).To(Succeed())
		_, err = akdialect.Root([]byte(`{"signed":{"_type":"targets"}}`), []keys.Signer{k})
		Expect(err).To(MatchError(ContainSubstring(`_type is "targets"`)))
	})

	It("computes aktualizr's key ID (PublicKey::KeyId): SHA-256 of the JSON string of the key value, trailing newlines cut, ED25519 hex upper case; for RSA the PEM as the ECU reported it", func() {
		rk, err := keys.Generate(keys.RSA, seed.Seed(3).Reader("ecu-rsa"))
		Expect(err).NotTo(HaveOccurred())
		pemText := rk.Public().Value.PublicKey
		Expect(pemText).To(HaveSuffix("\n"))
		info, err := akdialect.KeyFromInfo(akdialect.KeyRSA2048, []byte(pemText))
		Expect(err).NotTo(HaveOccurred())
		body := strings.ReplaceAll(strings.TrimRight(pemText, "\n"), "\n", `\n`)
		want := sha256.Sum256([]byte(`"` + body + `"`))
		Expect(akdialect.KeyID(info)).To(Equal(hex.EncodeToString(want[:])))
		noNL, err := akdialect.KeyFromInfo(akdialect.KeyRSA2048, []byte(strings.TrimRight(pemText, "\n")))
		Expect(err).NotTo(HaveOccurred())
		Expect(akdialect.KeyID(noNL)).To(Equal(akdialect.KeyID(info)), "trailing newlines do not count")
		Expect(akdialect.KeyID(info)).NotTo(Equal(rk.KeyID()), "not TUF's key ID")

		ek, err := keys.Generate(keys.Ed25519, seed.Seed(3).Reader("ecu-ed"))
		Expect(err).NotTo(HaveOccurred())
		lower := ek.Public().Value.PublicKey
		up := sha256.Sum256([]byte(`"` + strings.ToUpper(lower) + `"`))
		Expect(akdialect.KeyID(ek.Public())).To(Equal(hex.EncodeToString(up[:])))
	})

	It("refuses to sign with a key type aktualizr cannot verify", func() {
		k, err := keys.Generate(keys.ECDSAP256, seed.Seed(1).Reader("ecdsa"))
		Expect(err).NotTo(HaveOccurred())
		_, err = akdialect.Root([]byte(`{"signed":{"_type":"root","version":1}}`), []keys.Signer{k})
		Expect(err).To(MatchError(ContainSubstring("ED25519 and RSA signatures only")))
	})

	It("verifies aktualizr's signed ECU manifest with the ECU's key, and nothing else", func() {
		_, k, _ := ed25519.GenerateKey(seed.Seed(2).Reader("ecu"))
		_, other, _ := ed25519.GenerateKey(seed.Seed(2).Reader("other"))
		info := []byte(strings.ToUpper(hex.EncodeToString(k.Public().(ed25519.PublicKey))))
		key, err := akdialect.KeyFromInfo(akdialect.KeyED25519, info)
		Expect(err).NotTo(HaveOccurred())
		raw := signedManifest(k, "ECU-1")
		r, err := akdialect.ParseReport(raw, 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(r.ECUSerial).To(Equal("ECU-1"))
		Expect(r.Installed.Filename).To(Equal("fw.bin"))
		Expect(r.Installed.Length).To(Equal(int64(3)))
		Expect(r.Verify(key)).To(Succeed())

		tampered := []byte(strings.Replace(string(raw), `"length" : 3`, `"length" : 4`, 1))
		if string(tampered) == string(raw) {
			tampered = []byte(strings.Replace(string(raw), `"length": 3`, `"length": 4`, 1))
		}
		Expect(tampered).NotTo(Equal(raw))
		rt, err := akdialect.ParseReport(tampered, 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(errors.Is(rt.Verify(key), manifest.ErrNoSignature)).To(BeTrue())
		ro, err := akdialect.ParseReport(signedManifest(other, "ECU-1"), 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(ro.Verify(key)).To(MatchError(ContainSubstring("no signature by key")))
	})

	DescribeTable("refuses malformed manifests and keys with a clear error",
		func(f func() error, want string) { Expect(f()).To(MatchError(ContainSubstring(want))) },
		Entry("too long", func() error { _, err := akdialect.ParseReport(make([]byte, 100), 10); return err }, "more than the limit of 10"),
		Entry("no signatures", func() error {
			_, err := akdialect.ParseReport([]byte(`{"signed":{"ecu_serial":"E"},"signatures":[]}`), 0)
			return err
		}, "0 signatures"),
		Entry("no serial", func() error {
			_, err := akdialect.ParseReport([]byte(`{"signed":{},"signatures":[{"sig":"AA=="}]}`), 0)
			return err
		}, "ecu_serial empty"),
		Entry("ED25519 key not hex", func() error { _, err := akdialect.KeyFromInfo(akdialect.KeyED25519, []byte("zz")); return err }, "is not 32 hex bytes"),
		Entry("RSA key not PEM", func() error { _, err := akdialect.KeyFromInfo(akdialect.KeyRSA2048, []byte("zz")); return err }, "not PEM"),
		Entry("unknown key type", func() error { _, err := akdialect.KeyFromInfo(9, nil); return err }, "key type 9"),
	)
})
