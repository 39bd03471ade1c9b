package restbus

import (
	"time"

	"github.com/uptane-hil/uptane-hil/sim/vbus"
)

// Load returns the bus load the rest-bus puts on a bus with these bit rates
// (bit/s; dataRate 0 means the nominal rate), computed from the DBC: for
// every cyclic message, the wire time of its frames (stuff bits and
// intermission included, sim/vbus.FrameBits) over its cycle time. Frames
// change with their counters and checksums, and so does their stuffing: the
// wire time is averaged over one period of the message's counters (at most
// 256 frames), from the current signal values.
func (r *Restbus) Load(nominalRate, dataRate int) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var load float64
	for _, n := range r.nodes {
		for _, m := range n.msgs {
			period := int64(1)
			for _, c := range m.counters {
				period = lcm(period, c.modulo)
			}
			period = min(period, 256)
			cp := &message{m: m.m, raw: append([]int64(nil), m.raw...), counters: m.counters, checksums: m.checksums, sent: m.sent}
			var total time.Duration
			for range period {
				f := cp.next()
				total += vbus.FrameTiming(f).Duration(nominalRate, dataRate)
			}
			load += float64(total) / float64(period) / float64(m.m.Cycle)
		}
	}
	return load
}

func lcm(a, b int64) int64 {
	x, y := a, b
	for y != 0 {
		x, y = y, x%y
	}
	return a / x * b
}
