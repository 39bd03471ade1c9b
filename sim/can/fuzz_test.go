package can_test

import (
	"encoding/binary"
	"testing"

	"github.com/uptane-hil/uptane-hil/sim/can"
)

// FuzzDecodeSocketCAN: any bytes decode to a frame that Validate accepts
// (or an error), and a frame re-encodes to bytes that decode to it again.
func FuzzDecodeSocketCAN(f *testing.F) {
	f.Add(can.EncodeSocketCAN(can.New(0x7E0, []byte{1, 2, 3}), false, binary.BigEndian))
	f.Add(can.EncodeSocketCAN(can.Frame{ID: 0x7E8, FD: true, BRS: true, Len: 64}, false, binary.BigEndian))
	f.Add([]byte{0x20, 0, 0, 8, 8, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, errFrame, err := can.DecodeSocketCAN(b, binary.BigEndian)
		if err != nil {
			return
		}
		if !errFrame {
			if verr := fr.Validate(); verr != nil {
				t.Fatalf("decoded %x to an invalid frame %v: %v", b, fr, verr)
			}
		}
		again, errAgain, err := can.DecodeSocketCAN(can.EncodeSocketCAN(fr, errFrame, binary.BigEndian), binary.BigEndian)
		if err != nil || errAgain != errFrame || again != fr {
			t.Fatalf("%v (error frame %v) does not survive a round trip: %v %v %v", fr, errFrame, again, errAgain, err)
		}
	})
}
