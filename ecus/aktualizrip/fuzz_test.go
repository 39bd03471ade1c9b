package aktualizrip_test

import (
	"bytes"
	"reflect"
	"testing"

	ip "github.com/uptane-hil/uptane-hil/ecus/aktualizrip"
)

// FuzzDecode: hostile bytes never panic the decoder; whatever decodes
// encodes to bytes that decode to the same message, and the stream reader
// agrees with Decode on where a message ends.
func FuzzDecode(f *testing.F) {
	for _, m := range []ip.Message{&ip.GetInfoRequest{}, &ip.VersionRequest{Version: 2},
		&ip.GetInfoResponse{ECUSerial: "s", HardwareID: "h", Key: []byte("k")},
		&ip.PutMetaRequest2{Image: []ip.MetaJSON{{Role: "root", JSON: []byte("{}")}}, Director: nil},
		&ip.PutMetaRequest{}, &ip.UploadDataResponse{Result: ip.ResultUnknown, Description: "d"},
		&ip.PutRootRequest{Repo: ip.RepoImage, JSON: []byte("{}")}} {
		f.Add(ip.Encode(m))
	}
	f.Add([]byte{0xb1, 0x84, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		const max = 1 << 16
		m, err := ip.Decode(b, max)
		raw, rerr := ip.ReadRaw(bytes.NewReader(b), max)
		if err != nil {
			if rerr == nil && len(raw) == len(b) {
				if _, derr := ip.Decode(raw, max); derr == nil {
					t.Fatalf("% X: Decode fails (%v) but ReadRaw+Decode succeeds", b, err)
				}
			}
			return
		}
		if rerr != nil || !bytes.Equal(raw, b) {
			t.Fatalf("% X decodes but the stream reader reads % X (%v)", b, raw, rerr)
		}
		enc := ip.Encode(m)
		m2, err := ip.Decode(enc, 0)
		if err != nil {
			t.Fatalf("% X decodes to %#v which encodes to % X, which does not decode: %v", b, m, enc, err)
		}
		if !reflect.DeepEqual(normal(m), normal(m2)) {
			t.Fatalf("% X: %#v re-decodes as %#v", b, m, m2)
		}
	})
}

// normal makes nil and empty byte strings equal.
func normal(m ip.Message) ip.Message {
	enc := ip.Encode(m)
	n, _ := ip.Decode(enc, 0)
	return n
}
