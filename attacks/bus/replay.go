package bus

import (
	"bytes"
	"fmt"
	"sync"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/capture"
	"github.com/uptane-hil/uptane-hil/sim/clock"
)

// Recorder is the attacker's logger on a bus (a candump on the diagnostic
// port): every frame the bus carries, as candump -L lines, in memory.
type Recorder struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	stop func()
}

type recorderWriter struct{ r *Recorder }

func (w recorderWriter) Write(p []byte) (int, error) {
	w.r.mu.Lock()
	defer w.r.mu.Unlock()
	return w.r.buf.Write(p)
}

// Record starts logging b, naming the interface after the bus.
func Record(b can.Bus) *Recorder {
	r := &Recorder{}
	lw := capture.NewLogWriter(recorderWriter{r}, b.Name())
	r.stop = b.Tap(func(ev can.Event) { _ = lw.WriteEvent(ev) })
	return r
}

// Log returns the log so far.
func (r *Recorder) Log() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.buf.Bytes())
}

// Stop ends the logging.
func (r *Recorder) Stop() { r.stop() }

// The requests that delimit an update session (docs/pouf.md).
var (
	nonceWrite = []byte{0x2E, 0xF1, 0xA3} // WriteDataByIdentifier nonce: a cycle starts
	install    = []byte{0x31, 0x01, 0xFF, 0x12}
	ecuReset   = []byte{0x11}
)

// UpdateSession picks from a candump log the first update session the
// Primary held with the ECU of ch: the frames on its request identifier from
// the nonce write that opened the cycle in which the ECU was told to
// install, to the ECUReset that booted the new image — requests, the data
// of every transfer, and the Primary's flow control frames, as they were.
func UpdateSession(log []byte, ch Channel) ([]capture.Record, error) {
	recs, err := capture.ParseCandumpLog(bytes.NewReader(log))
	if err != nil {
		return nil, fmt.Errorf("bus: the recorded log: %w", err)
	}
	var own []capture.Record
	for _, r := range recs {
		if !r.Error && r.Frame.ID == ch.Request && r.Frame.Extended == ch.Extended {
			own = append(own, r)
		}
	}
	start, installed := -1, false
	for i := range own {
		msg := firstBytes(&own[i].Frame)
		switch {
		case !installed && bytes.HasPrefix(msg, nonceWrite):
			start = i
		case start >= 0 && bytes.HasPrefix(msg, install):
			installed = true
		case installed && bytes.HasPrefix(msg, ecuReset):
			return own[start : i+1], nil
		}
	}
	return nil, fmt.Errorf("bus: the log holds no update session that installed an image on the ECU at %#x (%d frames on that identifier)", ch.Request, len(own))
}

// firstBytes returns the start of the message a single or first frame
// carries (nil for consecutive and flow control frames).
func firstBytes(f *can.Frame) []byte {
	d := f.Payload()
	if len(d) < 2 {
		return nil
	}
	switch d[0] >> 4 {
	case 0: // single frame
		n, off := int(d[0]&0x0f), 1
		if n == 0 { // CAN FD escape: the length is in the next byte
			n, off = int(d[1]), 2
		}
		return d[off:min(off+n, len(d))]
	case 1: // first frame
		if d[0]&0x0f == 0 && d[1] == 0 && len(d) >= 6 { // 32-bit FF_DL escape
			return d[6:]
		}
		return d[2:]
	}
	return nil
}

// Replay attaches a node named name to b and sends recs on it with their
// recorded spacing (canplayer), and takes it off once its last frame has
// left the wire (on a bus that models frame durations Send only queues a
// frame; elsewhere it has handed it over). It returns how many frames went
// out. It must run on an actor of clk.
func Replay(b can.Bus, clk clock.Clock, name string, recs []capture.Record) (int, error) {
	if len(recs) == 0 {
		return 0, fmt.Errorf("bus: nothing to replay")
	}
	// the node listens to nothing it cares for: the first frame's own
	// identifier, which only it sends
	node, err := b.Attach(name, can.Exact(recs[0].Frame.ID, recs[0].Frame.Extended))
	if err != nil {
		return 0, fmt.Errorf("bus: attacker node on %s: %w", b.Name(), err)
	}
	defer node.Close()
	timed, _ := b.(interface{ Timed() bool })
	if timed == nil || !timed.Timed() {
		return capture.Replay(clk, node, recs, capture.ReplayOptions{})
	}
	onWire := clock.NewQueue[struct{}](clk, 0)
	defer b.Tap(func(ev can.Event) {
		if ev.Sender == name {
			onWire.TryPush(struct{}{})
		}
	})()
	n, err := capture.Replay(clk, node, recs, capture.ReplayOptions{})
	for i := 0; i < n; i++ {
		if _, perr := onWire.Pop(time.Second); perr != nil {
			return n, fmt.Errorf("bus: replay: %d of %d frames did not reach the wire within 1 s", n-i, n)
		}
	}
	return n, err
}
