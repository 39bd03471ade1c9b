package verify_test

import (
	"testing"

	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// BenchmarkSignatureVerification: one signature over the canonical bytes of
// a Director Targets file (a vehicle of 1 Primary + 8 Secondaries), with
// each key type the repositories and ECUs can use, verified as every
// metadata file, version report and manifest signature is (keys.Verify):
//
//	go test -run '^$' -bench SignatureVerification ./uptane/verify/
//
// Reports µs per signature. Verification is what ECUs do on every update
// cycle; signing happens once per file on the repository side.
func BenchmarkSignatureVerification(b *testing.B) {
	v := newVehicle(8)
	payload, err := meta.Canonical(v.dir.targets.Signed)
	if err != nil {
		b.Fatal(err)
	}
	for _, typ := range []string{keys.Ed25519, keys.ECDSAP256, keys.ECDSAP384, keys.RSA, keys.RSA3072, keys.RSA4096} {
		b.Run(typ, func(b *testing.B) {
			k := key(typ, "bench/"+typ)
			sig, err := k.Sign(payload)
			if err != nil {
				b.Fatal(err)
			}
			pub := k.Public()
			for b.Loop() {
				if err := keys.Verify(pub, payload, sig); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N), "µs/sig")
			b.ReportMetric(float64(len(payload)), "payload-bytes")
		})
	}
}
