// Package bus is the attacker on the in-vehicle network (seam 3 of
// docs/architecture.md): a node on a CAN bus that speaks the in-vehicle
// protocol (docs/pouf.md) as the Primary would (AsPrimary), answers for a
// Secondary it has silenced (Spoof, Silence), records the bus and replays
// an earlier update session onto it (Recorder, UpdateSession, Replay), and
// floods a Secondary's diagnostic channel (Flood). Everything runs on the
// run's clock, so the same seed replays the same frames.
package bus

import (
	"github.com/uptane-hil/uptane-hil/sim/isotp"
)

// Channel is the diagnostic channel of one Secondary on its bus: the CAN
// identifiers of its requests (Primary → ECU) and of its responses, as the
// rig gives them (docs/pouf.md, "CAN identifiers").
type Channel struct {
	Request, Response uint32
	Extended          bool // 29-bit identifiers
	FD                bool // CAN FD frames, bit-rate switch on
}

// options returns ISO-TP options for a channel end that sends on tx and
// receives rx, like the vehicle's own ends (docs/pouf.md, "ISO-TP
// parameters").
func (ch Channel) options(name string, tx, rx uint32) isotp.Options {
	o := isotp.Options{Name: name, TxID: tx, RxID: rx, Extended: ch.Extended, FD: ch.FD, BRS: ch.FD, MaxRx: 1 << 26}
	if ch.FD {
		o.TxDL = 64
	}
	return o
}
