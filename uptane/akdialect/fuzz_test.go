package akdialect_test

import (
	"encoding/json"
	"testing"

	"github.com/uptane-hil/uptane-hil/uptane/akdialect"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
)

// FuzzParseReport: hostile manifests never panic the parser, and whatever
// parses has a serial and a canonical payload.
func FuzzParseReport(f *testing.F) {
	f.Add([]byte(`{"signed":{"ecu_serial":"E","installed_image":{"filepath":"f","fileinfo":{"length":1,"hashes":{"sha256":"00"}}},"attacks_detected":""},"signatures":[{"keyid":"k","method":"ed25519","sig":"AA=="}]}`))
	f.Add([]byte(`{"signed":{"ecu_serial":"\u00e9","x":[1,2,{"y":null}]},"signatures":[{}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := akdialect.ParseReport(b, 1<<16)
		if err != nil {
			return
		}
		if r.ECUSerial == "" {
			t.Fatalf("%q parses with an empty serial", b)
		}
	})
}

// FuzzForward: whatever a compromised backend link hands the Primary, the
// rewriting into the dialect never panics; what it rewrites is JSON again.
func FuzzForward(f *testing.F) {
	f.Add([]byte(`{"signed":{"_type":"timestamp","version":1,"expires":"2030-01-01T00:00:00Z","meta":{"snapshot.json":{"version":1,"length":2,"hashes":{"sha256":"00"}}}},"signatures":[{"keyid":"k","sig":"00"}]}`),
		[]byte(`{"signed":{"_type":"snapshot","version":1,"meta":{"targets.json":{"version":1}}},"signatures":[]}`))
	f.Add([]byte(`{"signed":{"_type":"timestamp"}}`), []byte(`[]`))
	f.Fuzz(func(t *testing.T, ts, sn []byte) {
		set, err := akdialect.Forward(map[string][]byte{"timestamp.json": ts, "1.snapshot.json": sn}, func(string) keys.Signer { return nil })
		if err != nil {
			return
		}
		for _, b := range [][]byte{set.Timestamp, set.Snapshot} {
			if b != nil && !json.Valid(b) {
				t.Fatalf("not JSON: %q", b)
			}
		}
	})
}
