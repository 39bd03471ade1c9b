package scenarios

import (
	"fmt"
	"io"
	"sync"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/isotp"
	"github.com/uptane-hil/uptane-hil/sim/kisotp"
	"github.com/uptane-hil/uptane-hil/sim/socketcan"
)

// sessionBus is a bus handed over to DUT runs (RunOptions.DUT.Buses) as
// one run sees it: every node the run attaches (the Primary's channels,
// the other Secondaries, the attacker's nodes) and every tap it adds is
// removed when the run ends, while the bus stays open for the next run,
// like the bench's wire. (Buses the run opens itself close with it.)
type sessionBus struct {
	can.Bus
	mu    sync.Mutex
	nodes []can.Node
	taps  []func()
	// kernel can-isotp channels the run opened (isotp.stack: kernel)
	channels []io.Closer
}

// OpenKernelISOTP opens the kernel's can-isotp on the underlying SocketCAN
// interface for this run (vehicle.KernelISOTPBus); Close closes it.
func (b *sessionBus) OpenKernelISOTP(o isotp.Options) (*kisotp.Conn, error) {
	sb, ok := b.Bus.(*socketcan.Bus)
	if !ok {
		return nil, fmt.Errorf("the kernel's can-isotp needs a SocketCAN bus; bus %s is %T", b.Name(), b.Bus)
	}
	c, err := kisotp.Open(sb.Name(), o)
	if err == nil {
		b.mu.Lock()
		b.channels = append(b.channels, c)
		b.mu.Unlock()
	}
	return c, err
}

func (b *sessionBus) Attach(name string, filters ...can.Filter) (can.Node, error) {
	n, err := b.Bus.Attach(name, filters...)
	if err == nil {
		b.mu.Lock()
		b.nodes = append(b.nodes, n)
		b.mu.Unlock()
	}
	return n, err
}

func (b *sessionBus) Tap(fn func(can.Event)) func() {
	remove := sync.OnceFunc(b.Bus.Tap(fn))
	b.mu.Lock()
	b.taps = append(b.taps, remove)
	b.mu.Unlock()
	return remove
}

// Timed is the underlying bus's (ISO-TP and replays ask).
func (b *sessionBus) Timed() bool {
	t, ok := b.Bus.(interface{ Timed() bool })
	return ok && t.Timed()
}

// Close detaches what the run attached; the bus itself stays open.
func (b *sessionBus) Close() error {
	b.mu.Lock()
	nodes, taps, channels := b.nodes, b.taps, b.channels
	b.nodes, b.taps, b.channels = nil, nil, nil
	b.mu.Unlock()
	for _, n := range nodes {
		n.Close()
	}
	for _, c := range channels {
		c.Close()
	}
	for _, rm := range taps {
		rm()
	}
	return nil
}

// sessionBuses wraps handed-over buses for one run (nil stays nil: the
// run opens the rig's buses and closes them).
func sessionBuses(buses map[string]can.Bus) (map[string]can.Bus, func()) {
	if buses == nil {
		return nil, func() {}
	}
	out := map[string]can.Bus{}
	for name, b := range buses {
		out[name] = &sessionBus{Bus: b}
	}
	return out, func() {
		for _, b := range out {
			b.Close()
		}
	}
}
