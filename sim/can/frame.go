// Package can defines the CAN and CAN FD frame used everywhere in uptane-hil,
// and the Bus/Node interface every bus implementation (virtual, SocketCAN)
// satisfies. It converts losslessly to and from go.einride.tech/can frames
// for classic traffic.
package can

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Limits of the CAN and CAN FD data fields and identifiers.
const (
	MaxClassicLen = 8
	MaxFDLen      = 64
	MaxStdID      = 0x7ff
	MaxExtID      = 0x1fffffff
)

// Frame is a classic CAN or CAN FD frame. It is a value type (80 bytes) and
// is copied freely.
type Frame struct {
	ID       uint32 // 11-bit or (Extended) 29-bit identifier
	Extended bool   // 29-bit identifier
	Remote   bool   // remote transmission request (classic CAN only)
	FD       bool   // CAN FD frame
	BRS      bool   // CAN FD bit-rate switch for the data phase
	ESI      bool   // CAN FD error state indicator
	Len      uint8  // number of data bytes (FD: one of the valid FD lengths)
	Data     [MaxFDLen]byte
}

// New returns a frame with the given identifier and data; it is an FD frame
// when the data is longer than 8 bytes. Use Validate for untrusted input.
func New(id uint32, data []byte) Frame {
	f := Frame{ID: id, Extended: id > MaxStdID, Len: uint8(len(data))}
	if len(data) > MaxClassicLen {
		f.FD = true
	}
	copy(f.Data[:], data)
	return f
}

// Payload returns the data bytes of the frame (a slice into the frame).
func (f *Frame) Payload() []byte { return f.Data[:f.Len] }

// fdLens are the data lengths a CAN FD frame can carry (ISO 11898-1).
var fdLens = [...]uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64}

// ValidFDLen reports whether n is a length a CAN FD frame can carry.
func ValidFDLen(n int) bool {
	for _, l := range fdLens {
		if int(l) == n {
			return true
		}
	}
	return false
}

// FDPadLen returns the smallest valid CAN FD length that holds n bytes
// (n must be at most 64).
func FDPadLen(n int) int {
	for _, l := range fdLens {
		if int(l) >= n {
			return int(l)
		}
	}
	return MaxFDLen
}

// LenToDLC returns the 4-bit data length code for a data length.
func LenToDLC(n int) uint8 {
	for i, l := range fdLens {
		if int(l) >= n {
			return uint8(i)
		}
	}
	return 15
}

// Validate reports what is wrong with a frame: identifier range, data length,
// and flag combinations that cannot exist on the wire.
func (f *Frame) Validate() error {
	switch {
	case f.Extended && f.ID > MaxExtID:
		return fmt.Errorf("can: extended identifier %#x does not fit in 29 bits", f.ID)
	case !f.Extended && f.ID > MaxStdID:
		return fmt.Errorf("can: standard identifier %#x does not fit in 11 bits", f.ID)
	case f.FD && f.Remote:
		return fmt.Errorf("can: CAN FD has no remote frames (id %#x)", f.ID)
	case !f.FD && (f.BRS || f.ESI):
		return fmt.Errorf("can: BRS/ESI set on a classic frame (id %#x)", f.ID)
	case f.FD && !ValidFDLen(int(f.Len)):
		return fmt.Errorf("can: %d is not a valid CAN FD data length (id %#x)", f.Len, f.ID)
	case !f.FD && f.Len > MaxClassicLen:
		return fmt.Errorf("can: classic frame with %d data bytes (id %#x)", f.Len, f.ID)
	}
	return nil
}

// String formats the frame as candump -L does: ID#DATA for classic frames,
// ID##<flags>DATA for FD frames, ID#R for remote frames.
func (f Frame) String() string {
	var id string
	if f.Extended {
		id = fmt.Sprintf("%08X", f.ID)
	} else {
		id = fmt.Sprintf("%03X", f.ID)
	}
	data := strings.ToUpper(hex.EncodeToString(f.Data[:f.Len]))
	switch {
	case f.FD:
		var flags uint8
		if f.BRS {
			flags |= 1
		}
		if f.ESI {
			flags |= 2
		}
		return id + "##" + strconv.FormatUint(uint64(flags), 16) + data
	case f.Remote && f.Len == 0:
		return id + "#R"
	case f.Remote:
		return id + "#R" + strconv.Itoa(int(f.Len))
	}
	return id + "#" + data
}
