package capture

import (
	"fmt"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
)

// ReplayOptions tune Replay.
type ReplayOptions struct {
	// Iface keeps only the records of this interface ("" keeps all).
	Iface string
	// Speed scales time: 2 replays twice as fast (default 1).
	Speed float64
}

// Replay sends the frames of recs on node, keeping their relative
// timestamps on clk: the first frame goes at once, each next one as long
// after the start as it came after the first record (divided by Speed).
// A record that goes back in time is sent at once. Error frames are not
// sent (a node cannot send them). It returns the number of frames sent and
// the first send error, naming the record.
func Replay(clk clock.Clock, node can.Node, recs []Record, opt ReplayOptions) (int, error) {
	speed := opt.Speed
	if speed <= 0 {
		speed = 1
	}
	start := clk.Now()
	sent := 0
	first := -1
	for i, r := range recs {
		if r.Error || (opt.Iface != "" && r.Iface != opt.Iface) {
			continue
		}
		if first < 0 {
			first = i
		}
		offset := r.Time.Sub(recs[first].Time)
		if speed != 1 {
			offset = scale(offset, speed)
		}
		if wait := start.Add(offset).Sub(clk.Now()); wait > 0 {
			clk.Sleep(wait)
		}
		if err := node.Send(r.Frame); err != nil {
			return sent, fmt.Errorf("capture: replay record %d (%s): %w", i+1, FormatCandump(r), err)
		}
		sent++
	}
	return sent, nil
}

func scale(d time.Duration, speed float64) time.Duration {
	return time.Duration(float64(d) / speed)
}
