// Package vbus is the in-process CAN bus: the embedded default, no kernel
// support needed. Every frame a node sends is delivered to every other
// attached node whose filters accept it.
//
// The bus has two models:
//   - untimed (the default, Bitrate 0): a frame reaches the receivers the
//     moment it is sent; fast, for logic tests.
//   - timed (Bitrate > 0): frames take the time their real bitstream takes
//     at the configured bit rates (see Bits), nodes arbitrate by identifier
//     when several have frames pending, each node has a bounded transmit
//     queue, and the bus keeps load statistics on the run's clock.
//
// Both models inject seeded, deterministic faults (see FaultRule) and report
// every frame and every injected fault to taps.
package vbus

import (
	"fmt"
	"sync"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/seed"
)

// Config configures a virtual bus.
type Config struct {
	Name  string
	FD    bool        // carries CAN FD frames
	Clock clock.Clock // the run's clock (wall clock when nil)
	// RxQueue is each node's receive queue length; a frame that finds it
	// full is lost, as in a controller overrun (default 65536).
	RxQueue int

	// Bitrate is the nominal (arbitration) bit rate in bit/s. Zero keeps
	// the untimed model.
	Bitrate int
	// DataBitrate is the CAN FD data-phase bit rate used by frames with BRS
	// (default: Bitrate).
	DataBitrate int
	// TxQueue is each node's transmit queue length in the timed model; Send
	// blocks on the clock while it is full (default 64).
	TxQueue int
	// LoadResolution is the bucket width of the bus-load time series in the
	// timed model (default 1 ms).
	LoadResolution time.Duration

	// Seed drives fault injection: each rule draws from its own stream
	// named after the bus and the rule.
	Seed seed.Seed
	// Faults are fault rules installed from the start (see AddFault).
	Faults []FaultRule
}

// Bus is a virtual CAN bus.
type Bus struct {
	cfg   Config
	clk   clock.Clock
	timed bool
	start time.Time

	mu     sync.Mutex
	nodes  []*node    // attach order; replaced, never modified in place
	taps   []tapEntry // registration order; replaced, never modified in place
	nextID int
	order  int
	closed bool

	// timed model
	wireBusy     bool
	arbScheduled bool
	injected     []pending // frames the bus itself re-sends (delay, duplicate, reorder)
	wire         onWire    // the frame on the wire
	ev           can.Event // the event of the frame that ends (complete)
	// the clock callbacks of the timed model (timedFuncs), each on an
	// alarm of its own: at most one of each is pending at a time
	arbitrateFn, busFreeFn, completeFn func()
	arbAlarm, freeAlarm, doneAlarm     clock.Alarm
	quiet                              quieter // the clock, when it can say nothing else happens before an instant
	// lead is how far ahead of the clock the arbitration running now is
	// (a frame put on the wire at the end of the previous one's
	// intermission, from the callback that ended it): timers it sets are
	// set that much later
	lead time.Duration

	// faults
	rules   []*rule
	held    *pending // frame held back by a reorder rule
	heldGen int
	offline map[string]*offState // bus-off nodes by name

	st stats
}

type tapEntry struct {
	id     int
	fn     func(can.Event)
	sender string // only the frames of this sender (TapSender); "" all
}

// pending is a frame waiting for the wire.
type pending struct {
	f     can.Frame
	from  *node
	name  string    // sender name
	order int       // attach order of the sender, for arbitration ties
	fault can.Fault // fault label for the event (can.NoFault: clean)
	clean bool      // already went through fault injection
	// queued is the node whose transmit queue slot the frame holds until
	// it has been sent (timed model)
	queued *node
}

var _ can.Bus = (*Bus)(nil)

// New returns a virtual bus. Invalid fault rules in cfg.Faults panic: they
// are programming errors; build buses from input (rig and scenario files)
// with Open.
func New(cfg Config) *Bus {
	b, err := Open(cfg)
	if err != nil {
		panic(err)
	}
	return b
}

// Open returns a virtual bus, or an error naming what is wrong with cfg.
func Open(cfg Config) (*Bus, error) {
	switch {
	case cfg.Bitrate < 0 || cfg.DataBitrate < 0:
		return nil, fmt.Errorf("vbus %s: negative bit rate (%d, data %d)", cfg.Name, cfg.Bitrate, cfg.DataBitrate)
	case cfg.Bitrate > 0 && cfg.DataBitrate > 0 && cfg.DataBitrate < cfg.Bitrate:
		return nil, fmt.Errorf("vbus %s: data bit rate %d is below the nominal %d", cfg.Name, cfg.DataBitrate, cfg.Bitrate)
	case cfg.Bitrate > 0 && cfg.DataBitrate > 0 && !cfg.FD && cfg.DataBitrate != cfg.Bitrate:
		return nil, fmt.Errorf("vbus %s: a data bit rate needs a CAN FD bus", cfg.Name)
	case cfg.Bitrate == 0 && cfg.DataBitrate > 0:
		return nil, fmt.Errorf("vbus %s: a data bit rate needs a nominal bit rate", cfg.Name)
	case cfg.TxQueue < 0 || cfg.RxQueue < 0 || cfg.LoadResolution < 0:
		return nil, fmt.Errorf("vbus %s: negative queue length or load resolution", cfg.Name)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.NewWall()
	}
	if cfg.RxQueue <= 0 {
		cfg.RxQueue = 1 << 16
	}
	if cfg.Name == "" {
		cfg.Name = "vbus"
	}
	if cfg.TxQueue <= 0 {
		cfg.TxQueue = 64
	}
	if cfg.DataBitrate <= 0 {
		cfg.DataBitrate = cfg.Bitrate
	}
	if cfg.LoadResolution <= 0 {
		cfg.LoadResolution = time.Millisecond
	}
	b := &Bus{cfg: cfg, clk: cfg.Clock, timed: cfg.Bitrate > 0, offline: map[string]*offState{}}
	b.start = b.clk.Now()
	b.timedFuncs()
	b.st.init(b.start, cfg.LoadResolution)
	for _, r := range cfg.Faults {
		if err := b.AddFault(r); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// Name returns the bus name.
func (b *Bus) Name() string { return b.cfg.Name }

// FD reports whether the bus carries CAN FD frames.
func (b *Bus) FD() bool { return b.cfg.FD }

// Timed reports whether the bus runs the timed model.
func (b *Bus) Timed() bool { return b.timed }

// Attach adds a node.
func (b *Bus) Attach(name string, filters ...can.Filter) (can.Node, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, fmt.Errorf("vbus %s: attach %s: %w", b.cfg.Name, name, can.ErrClosed)
	}
	n := &node{bus: b, name: name, filters: filters, order: b.order,
		rx: clock.NewQueue[can.Frame](b.clk, b.cfg.RxQueue)}
	b.order++
	n.notFull = b.clk.NewCond(&b.mu)
	nodes := make([]*node, len(b.nodes), len(b.nodes)+1)
	copy(nodes, b.nodes)
	b.nodes = append(nodes, n)
	n.st = b.st.node(name)
	if b.timed && b.clk.Simulated() {
		// runs of frames and delivery in the bus's own step: under the
		// simulated clock, where the bus's callbacks run one at a time
		// between actors
		return timedNode{n}, nil
	}
	return n, nil
}

// Tap observes every frame on the wire and every injected fault, in wire
// order. fn runs on the sender's actor (untimed) or from a clock callback
// (timed) and must not block.
func (b *Bus) Tap(fn func(can.Event)) func() { return b.tap(fn, "") }

// TapSender is Tap for the events of the frames one sender (a node name)
// sent: an ISO-TP channel's transmit confirmation, which would otherwise be
// called for every frame of the bus. It runs in the same order among the
// taps as a Tap registered at the same moment.
func (b *Bus) TapSender(sender string, fn func(can.Event)) func() {
	return b.tap(fn, sender)
}

func (b *Bus) tap(fn func(can.Event), sender string) func() {
	b.mu.Lock()
	defer b.mu.Unlock()
	id := b.nextID
	b.nextID++
	taps := make([]tapEntry, len(b.taps), len(b.taps)+1)
	copy(taps, b.taps)
	b.taps = append(taps, tapEntry{id, fn, sender})
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		taps := make([]tapEntry, 0, len(b.taps))
		for _, t := range b.taps {
			if t.id != id {
				taps = append(taps, t)
			}
		}
		b.taps = taps
	}
}

// Close detaches every node.
func (b *Bus) Close() error {
	b.mu.Lock()
	nodes := b.nodes
	b.nodes = nil
	b.closed = true
	for _, n := range nodes {
		n.closed = true
		n.txq.drain()
		n.notFull.Broadcast()
	}
	b.mu.Unlock()
	for _, n := range nodes {
		n.rx.Close()
		n.closedDelivery()
	}
	return nil
}

// emit hands an event to the taps and, when deliver is set, the frame to
// every node but the sender: to its delivery function (Deliver), or into
// its receive queue. Called without b.mu.
func (b *Bus) emit(taps []tapEntry, nodes []*node, ev *can.Event, from *node, deliver bool) {
	for i := range taps {
		if t := &taps[i]; t.sender == "" || t.sender == ev.Sender {
			t.fn(*ev)
		}
	}
	if !deliver {
		return
	}
	for _, n := range nodes {
		if n == from || !n.accepts(&ev.Frame) {
			continue
		}
		if n.deliver != nil {
			n.deliver(&ev.Frame)
			continue
		}
		if !n.rx.TryPush(ev.Frame) {
			b.mu.Lock()
			b.st.overruns++
			b.mu.Unlock()
		}
	}
}

type node struct {
	bus     *Bus
	name    string
	filters []can.Filter
	order   int
	rx      *clock.Queue[can.Frame]
	st      *NodeStats // the sender's statistics (shared by nodes of one name)
	// deliver, when set (Deliver, before any frame), gets the frames
	// instead of rx
	deliver func(*can.Frame)
	// guarded by bus.mu
	closed   bool
	txq      fifo
	inflight int // frames of this node on the wire (0 or 1)
	notFull  clock.Cond
	waiting  int // Sends waiting for room in the transmit queue
	runs     int // of those, runs of frames (SendBatch)
	need     int // the least room one of them waits for
}

func (n *node) Name() string { return n.name }

func (n *node) accepts(f *can.Frame) bool {
	if len(n.filters) == 0 {
		return true
	}
	for _, flt := range n.filters {
		if flt.Match(f) {
			return true
		}
	}
	return false
}

func (n *node) errorf(format string, args ...any) error {
	return fmt.Errorf("vbus %s: node %s: "+format, append([]any{n.bus.cfg.Name, n.name}, args...)...)
}

// Send puts f on the bus. Untimed, the frame reaches the receivers before
// Send returns. Timed, Send queues it (blocking on the clock while the
// transmit queue is full) and the bus transmits it when it wins
// arbitration. A bus-off node's Send fails with an error wrapping
// can.ErrBusOff.
func (n *node) Send(f can.Frame) error {
	if err := f.Validate(); err != nil {
		return n.errorf("%w", err)
	}
	b := n.bus
	if f.FD && !b.cfg.FD {
		return n.errorf("send %s: %w", f, can.ErrNoFD)
	}
	b.mu.Lock()
	if n.closed {
		b.mu.Unlock()
		return n.errorf("send: %w", can.ErrClosed)
	}
	if _, off := b.offline[n.name]; off {
		b.mu.Unlock()
		return n.errorf("send %s: %w", f, can.ErrBusOff)
	}
	p := pending{f: f, from: n, name: n.name, order: n.order}
	if b.timed {
		if err := n.waitRoomLocked(1, &f); err != nil {
			b.mu.Unlock()
			return err
		}
		n.txq.push(p)
		b.kickLocked()
		b.mu.Unlock()
		return nil
	}
	if len(b.rules) == 0 && b.held == nil {
		// fast path: no fault injection
		b.st.countUntimed(n.name)
		ev := can.Event{Time: b.clk.Now(), Frame: f, Sender: n.name}
		taps, nodes := b.taps, b.nodes
		b.mu.Unlock()
		b.emit(taps, nodes, &ev, n, true)
	} else {
		b.untimedFaulty(p) // unlocks b.mu
	}
	if b.clk.Simulated() {
		// let the receivers run before the next frame, as they would on a wire
		b.clk.Sleep(0)
	}
	return nil
}

func (n *node) Recv(timeout time.Duration) (can.Frame, error) {
	f, err := n.rx.Pop(timeout)
	if err != nil {
		if err == clock.ErrTimeout {
			return f, n.errorf("%w", can.ErrTimeout)
		}
		return f, n.errorf("%w", can.ErrClosed)
	}
	return f, nil
}

// Close detaches the node; frames still in its transmit queue are dropped.
func (n *node) Close() error {
	b := n.bus
	b.mu.Lock()
	n.closed = true
	n.txq.drain()
	n.notFull.Broadcast()
	nodes := make([]*node, 0, len(b.nodes))
	for _, x := range b.nodes {
		if x != n {
			nodes = append(nodes, x)
		}
	}
	b.nodes = nodes
	b.mu.Unlock()
	n.rx.Close()
	n.closedDelivery()
	return nil
}
