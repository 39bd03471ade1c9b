package socketcan

import (
	"encoding/binary"
	"fmt"

	"github.com/uptane-hil/uptane-hil/sim/can"
)

// Encode returns the struct can_frame or canfd_frame bytes of f, as the
// kernel takes them (host byte order; can.EncodeSocketCAN).
func Encode(f can.Frame) []byte { return can.EncodeSocketCAN(f, false, binary.NativeEndian) }

// Decode parses a struct can_frame (16 bytes) or canfd_frame (72 bytes)
// read from the kernel.
func Decode(b []byte) (can.Frame, error) {
	if len(b) != can.SocketCANMTU && len(b) != can.SocketCANFDMTU {
		return can.Frame{}, fmt.Errorf("socketcan: a frame of %d bytes is neither can_frame nor canfd_frame", len(b))
	}
	f, errFrame, err := can.DecodeSocketCAN(b, binary.NativeEndian)
	if err != nil {
		return can.Frame{}, fmt.Errorf("socketcan: %w", err)
	}
	if errFrame {
		return can.Frame{}, fmt.Errorf("socketcan: error frame %#x", f.ID|can.ERRFlag)
	}
	return f, nil
}
