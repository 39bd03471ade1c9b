package akdialect_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/secure-systems-lab/go-securesystemslib/cjson"

	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/uptane/akdialect"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
)

// tufFile signs a TUF-form file (hex signatures over TUF's canonical JSON
// of the signed object, as the repositories sign) with signers; bad lists
// key IDs whose signature is garbage.
func tufFile(signed map[string]any, signers []keys.Signer, bad ...string) []byte {
	GinkgoHelper()
	payload, err := cjson.EncodeCanonical(signed)
	Expect(err).NotTo(HaveOccurred())
	sigs := []any{}
	for _, s := range signers {
		sig, err := s.Sign(payload)
		Expect(err).NotTo(HaveOccurred())
		sigs = append(sigs, map[string]any{"keyid": s.KeyID(), "sig": hex.EncodeToString(sig)})
	}
	for _, id := range bad {
		sigs = append(sigs, map[string]any{"keyid": id, "sig": hex.EncodeToString(make([]byte, 64))})
	}
	b, err := json.Marshal(map[string]any{"signed": signed, "signatures": sigs})
	Expect(err).NotTo(HaveOccurred())
	return b
}

// dialectSigs returns, per key ID, whether the dialect file's signature
// verifies with that key.
func dialectSigs(b []byte, ks map[string]keys.Signer) map[string]bool {
	GinkgoHelper()
	var d struct {
		Signed     json.RawMessage `json:"signed"`
		Signatures []struct{ KeyID, Method, Sig string }
	}
	Expect(json.Unmarshal(b, &d)).To(Succeed())
	payload, err := akdialect.CanonicalJSON(d.Signed)
	Expect(err).NotTo(HaveOccurred())
	out := map[string]bool{}
	for _, s := range d.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		Expect(err).NotTo(HaveOccurred())
		k := ks[s.KeyID]
		out[s.KeyID] = k != nil && keys.Verify(k.Public(), payload, sig) == nil
	}
	return out
}

var _ = Describe("forwarding metadata in aktualizr's dialect", func() {
	var ts, sn, tg, other keys.Signer
	var ring map[string]keys.Signer
	BeforeEach(func() {
		gen := func(n string) keys.Signer {
			k, err := keys.Generate(keys.Ed25519, seed.Seed(7).Reader(n))
			Expect(err).NotTo(HaveOccurred())
			return k
		}
		ts, sn, tg, other = gen("ts"), gen("sn"), gen("tg"), gen("other")
		ring = map[string]keys.Signer{ts.KeyID(): ts, sn.KeyID(): sn, tg.KeyID(): tg}
	})
	kr := func(id string) keys.Signer { return ring[id] }
	files := func(snapshotNamesTargets bool, tsBad ...string) map[string][]byte {
		targets := tufFile(map[string]any{"_type": "targets", "version": 3, "expires": "2030-01-01T00:00:00Z", "spec_version": "1.0",
			"targets": map[string]any{"a/fw.bin": map[string]any{"length": 3, "hashes": map[string]any{"sha256": "00"},
				"custom": map[string]any{"uptane": map[string]any{"hardwareIds": []any{"a"}, "releaseCounter": 3}}}}}, []keys.Signer{tg})
		h := sha256.Sum256(targets)
		if !snapshotNamesTargets {
			h = sha256.Sum256([]byte("another targets.json"))
		}
		snapshot := tufFile(map[string]any{"_type": "snapshot", "version": 4, "expires": "2030-01-01T00:00:00Z", "spec_version": "1.0",
			"meta": map[string]any{"targets.json": map[string]any{"version": 3, "length": len(targets), "hashes": map[string]any{"sha256": hex.EncodeToString(h[:])}}}}, []keys.Signer{sn})
		hs := sha256.Sum256(snapshot)
		timestamp := tufFile(map[string]any{"_type": "timestamp", "version": 5, "expires": "2030-01-01T00:00:00Z", "spec_version": "1.0",
			"meta": map[string]any{"snapshot.json": map[string]any{"version": 4, "length": len(snapshot), "hashes": map[string]any{"sha256": hex.EncodeToString(hs[:])}}}}, []keys.Signer{ts}, tsBad...)
		return map[string][]byte{"timestamp.json": timestamp, "4.snapshot.json": snapshot, "3.targets.json": targets}
	}

	It("signs each file again with exactly the keys whose signatures verify on the original, and names the dialect files it forwards beside it", func() {
		set, err := akdialect.Forward(files(true, other.KeyID()), kr)
		Expect(err).NotTo(HaveOccurred())
		Expect(set.Root).To(BeNil(), "no Root forwarded")
		Expect(dialectSigs(set.Targets, ring)).To(Equal(map[string]bool{tg.KeyID(): true}))
		Expect(dialectSigs(set.Snapshot, ring)).To(Equal(map[string]bool{sn.KeyID(): true}))
		// the bad signature by a key nobody here holds stays one, under its key ID
		Expect(dialectSigs(set.Timestamp, ring)).To(Equal(map[string]bool{ts.KeyID(): true, other.KeyID(): false}))
		var snap struct {
			Signed struct {
				Version int
				Meta    map[string]struct {
					Version int
					Length  int
					Hashes  map[string]string
				}
			}
		}
		Expect(json.Unmarshal(set.Snapshot, &snap)).To(Succeed())
		h := sha256.Sum256(set.Targets)
		Expect(snap.Signed.Version).To(Equal(4))
		Expect(snap.Signed.Meta["targets.json"].Version).To(Equal(3))
		Expect(snap.Signed.Meta["targets.json"].Length).To(Equal(len(set.Targets)))
		Expect(snap.Signed.Meta["targets.json"].Hashes["sha256"]).To(Equal(hex.EncodeToString(h[:])))
	})

	It("keeps a signature it cannot make as one that does not verify, and a mix-and-match as one", func() {
		delete(ring, sn.KeyID()) // the snapshot key: nobody here holds it
		set, err := akdialect.Forward(files(false), kr)
		Expect(err).NotTo(HaveOccurred())
		ring[sn.KeyID()] = sn
		Expect(dialectSigs(set.Snapshot, ring)).To(Equal(map[string]bool{sn.KeyID(): false}))
		var snap struct {
			Signed struct {
				Meta map[string]struct{ Hashes map[string]string }
			}
		}
		Expect(json.Unmarshal(set.Snapshot, &snap)).To(Succeed())
		h := sha256.Sum256(set.Targets)
		Expect(snap.Signed.Meta["targets.json"].Hashes["sha256"]).NotTo(Equal(hex.EncodeToString(h[:])), "the original named another Targets")
	})

	It("refuses what is not metadata, naming the role", func() {
		_, err := akdialect.Forward(map[string][]byte{"3.targets.json": []byte(`{"signed": 1}`)}, kr)
		Expect(err).To(MatchError(ContainSubstring("targets")))
		_, err = akdialect.Forward(map[string][]byte{"timestamp.json": []byte(fmt.Sprintf(`{"signed":{"_type":"timestamp","meta":{}},"signatures":[]}`))}, kr)
		Expect(err).To(MatchError(ContainSubstring("snapshot.json")))
	})

	It("re-signs a Root whose RSA key PEM has newlines: the TUF signature is checked over TUF's canonical JSON, the dialect's over jsoncpp's (the two differ on those newlines)", func() {
		rk, err := keys.Generate(keys.RSA, seed.Seed(7).Reader("root-rsa"))
		Expect(err).NotTo(HaveOccurred())
		pub := rk.Public()
		Expect(pub.Value.PublicKey).To(ContainSubstring("\n"))
		root := tufFile(map[string]any{"_type": "root", "version": 1, "expires": "2030-01-01T00:00:00Z", "spec_version": "1.0",
			"consistent_snapshot": false,
			"keys":                map[string]any{rk.KeyID(): map[string]any{"keytype": pub.Type, "scheme": pub.Scheme, "keyval": map[string]any{"public": pub.Value.PublicKey}}},
			"roles":               map[string]any{"root": map[string]any{"keyids": []any{rk.KeyID()}, "threshold": 1}}}, []keys.Signer{rk})
		var top struct{ Signed json.RawMessage }
		Expect(json.Unmarshal(root, &top)).To(Succeed())
		tufPayload, err := cjson.EncodeCanonical(top.Signed)
		Expect(err).NotTo(HaveOccurred())
		akPayload, err := akdialect.CanonicalJSON(top.Signed)
		Expect(err).NotTo(HaveOccurred())
		Expect(akPayload).NotTo(Equal(tufPayload), "the PEM's newlines: raw in TUF's form, escaped in jsoncpp's")
		out, err := akdialect.ForwardRoot(root, func(id string) keys.Signer {
			if id == rk.KeyID() {
				return rk
			}
			return nil
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(dialectSigs(out, map[string]keys.Signer{rk.KeyID(): rk})).To(Equal(map[string]bool{rk.KeyID(): true}))
		var d struct{ Signatures []struct{ Method string } }
		Expect(json.Unmarshal(out, &d)).To(Succeed())
		Expect(d.Signatures[0].Method).To(Equal(akdialect.MethodRSASSAPSS))
	})
})
