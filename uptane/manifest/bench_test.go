package manifest_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// BenchmarkParseVerifyManifest: parse a vehicle manifest of 8 ECU reports
// and verify every signature, as the Director does for each upload.
func BenchmarkParseVerifyManifest(b *testing.B) {
	img := manifest.Image{Filename: "fw.bin", Length: 3, Hashes: meta.HashesOf([]byte("abc"))}
	var ks []*keys.Private
	var reps []manifest.SignedReport
	for i := 0; i < 8; i++ {
		k, _ := keys.Generate(keys.Ed25519, seed.Seed(1).Reader(fmt.Sprint("k", i)))
		r, err := manifest.SignReport(manifest.NewReport(fmt.Sprint("ECU", i), img, nil, time.Unix(1e9, 0), []byte{byte(i)}, 1), k)
		if err != nil {
			b.Fatal(err)
		}
		ks = append(ks, k)
		reps = append(reps, r)
	}
	sm, _ := manifest.SignManifest(manifest.VehicleManifest{VIN: "V", PrimaryID: "ECU0", Reports: reps}, ks[0])
	data, _ := sm.Encode()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m, err := manifest.ParseManifest(data, 0)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Verify(ks[0].Public()); err != nil {
			b.Fatal(err)
		}
		for j := range m.Signed.Reports {
			if err := m.Signed.Reports[j].Verify(ks[j].Public()); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "manifests/s")
}
