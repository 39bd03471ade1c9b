package akdialect_test

import (
	"testing"

	"github.com/uptane-hil/uptane-hil/uptane/akdialect"
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
