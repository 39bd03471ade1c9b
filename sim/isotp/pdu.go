package isotp

import (
	"fmt"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/can"
)

// N_PCI types (high nibble of the PCI byte).
const (
	pciSF = 0x0
	pciFF = 0x1
	pciCF = 0x2
	pciFC = 0x3
)

// Flow status values of a flow control frame.
const (
	fsCTS      = 0
	fsWait     = 1
	fsOverflow = 2
)

var fsNames = [...]string{"CTS", "WAIT", "OVFLW"}

func fsName(fs byte) string {
	if int(fs) < len(fsNames) {
		return fsNames[fs]
	}
	return fmt.Sprintf("reserved FS %d", fs)
}

// maxFF12 is the largest FF_DL of the 12-bit first frame; longer messages
// use the escape (FF_DL 0 then 32 bits).
const maxFF12 = 0xfff

// sfMax returns the largest single-frame payload for a frame of data
// length dl with ae address bytes.
func sfMax(dl, ae int) int {
	if dl <= can.MaxClassicLen {
		return 7 - ae
	}
	return dl - 2 - ae
}

// DecodeSTmin converts an STmin byte from a flow control frame to a
// duration: 0x00..0x7F milliseconds, 0xF1..0xF9 100..900 µs; the reserved
// values count as 127 ms, as ISO 15765-2 requires.
func DecodeSTmin(b byte) time.Duration {
	switch {
	case b <= 0x7f:
		return time.Duration(b) * time.Millisecond
	case b >= 0xf1 && b <= 0xf9:
		return time.Duration(b-0xf0) * 100 * time.Microsecond
	}
	return 127 * time.Millisecond
}

// EncodeSTmin returns the STmin byte for the smallest expressible gap of
// at least d (d is clamped to 0..127 ms).
func EncodeSTmin(d time.Duration) byte {
	switch {
	case d <= 0:
		return 0
	case d <= 900*time.Microsecond:
		return 0xf0 + byte((d+100*time.Microsecond-1)/(100*time.Microsecond))
	case d >= 127*time.Millisecond:
		return 0x7f
	}
	return byte((d + time.Millisecond - 1) / time.Millisecond)
}
