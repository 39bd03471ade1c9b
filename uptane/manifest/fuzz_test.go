package manifest_test

import (
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

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
	f.Add([]byte(`{"signatures":[],"signed":{"vin":"V","primary_ecu_serial":"P","ecu_version_reports":[],"programming_refusals":[{"ecu_serial":"S","step":"send image","nrc":34,"conditions":"","waited_ms":-1,"outcome":"resumed"}]}}`))
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

// FuzzParseTimeAttestation: hostile bytes on DID 0xF1A4 never panic the
// parser, and whatever parses re-encodes to something that parses again.
func FuzzParseTimeAttestation(f *testing.F) {
	k, _ := keys.Generate(keys.Ed25519, seed.Seed(1).Reader("fuzz-time"))
	st, _ := manifest.SignTime(manifest.TimeAttestation{Time: time.Unix(1e9, 0), Nonces: []metadata.HexBytes{{1, 2}}}, k)
	data, _ := st.Encode()
	f.Add(data)
	f.Add([]byte{0, 0, 0, 0, 0x70, 0, 0, 0})
	f.Add([]byte(`{"signatures":[],"signed":{"time":"2030-01-01T00:00:00Z","nonces":[]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := manifest.ParseTimeAttestation(b)
		if err != nil {
			return
		}
		_ = a.Verify(k.Public())
		out, err := a.Encode()
		if err != nil {
			t.Fatalf("encode a parsed attestation: %v", err)
		}
		if _, err := manifest.ParseTimeAttestation(out); err != nil {
			t.Fatalf("re-parse: %v", err)
		}
	})
}
