package manifest_test

import (
	"testing"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// FuzzParseManifest: hostile bytes never panic the parser, and whatever
// parses re-encodes to something that parses again.
func FuzzParseManifest(f *testing.F) {
	k, _ := keys.Generate(keys.Ed25519, seed.Seed(1).Reader("fuzz"))
	img := manifest.Image{Filename: "fw.bin", Length: 3, Hashes: meta.HashesOf([]byte("abc"))}
	r, _ := manifest.SignReport(manifest.NewReport("E1", img, nil, time.Unix(1e9, 0), []byte{1}, 1), k)
	sm, _ := manifest.SignManifest(manifest.VehicleManifest{VIN: "V", PrimaryID: "E1", Reports: []manifest.SignedReport{r}}, k)
	data, _ := sm.Encode()
	f.Add(data)
	f.Add([]byte(`{"signatures":[],"signed":{}}`))
	f.Add([]byte(`{"signed":{"ecu_version_reports":[{"signed":{"nonce":"zz"}}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := manifest.ParseManifest(b, 64<<10)
		if err != nil {
			return
		}
		_ = m.Verify(k.Public())
		out, err := m.Encode()
		if err != nil {
			t.Fatalf("encode a parsed manifest: %v", err)
		}
		if _, err := manifest.ParseManifest(out, 0); err != nil {
			t.Fatalf("re-parse: %v", err)
		}
	})
}
