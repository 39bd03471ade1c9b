// Package restbus is the rest-bus simulation: the cyclic traffic of the
// vehicle's other ECUs, sent from a DBC file (sim/dbc) as Vector CANoe's
// rest-bus simulation or python-can's cyclic tasks with cantools do.
//
// Each simulated DBC node is one can.Node on the bus and one actor on the
// run's clock. Each of its cyclic messages is sent at StartDelay + k·Cycle
// after Start (exactly, on the simulated clock), with every signal at its
// GenSigStartValue until Set changes it, rolling counters moving by one per
// frame and checksums computed last. It runs on any can.Bus: the virtual
// bus (deterministic), vcan or a real interface.
package restbus

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/dbc"
)

// Reserved is an identifier the rig uses for something else (an ISO-TP
// request or response of an ECU), which no rest-bus message may use.
type Reserved struct {
	ID       uint32
	Extended bool
	What     string // e.g. "ISO-TP request of ECM-0001"
}

// Config is what a rest-bus sends.
type Config struct {
	DB *dbc.Database
	// Nodes are the DBC nodes the rest-bus simulates; each must be a node of
	// the file.
	Nodes     []string
	Counters  []CounterRule
	Checksums []ChecksumRule
	// Reserved identifiers may not be sent by a simulated message.
	Reserved []Reserved
	// FD reports whether the bus carries CAN FD (a CAN FD message on a
	// classic bus is an error).
	FD bool
	// SleepAfter, when positive, lets the network sleep as AUTOSAR network
	// management does: once no frame but the rest-bus's own has been on the
	// bus for SleepAfter, the simulated nodes stop sending; the next frame
	// of any other node (a diagnostic request, an update) wakes them, and
	// each message starts again after its StartDelay. Zero keeps the
	// network awake for good (CANoe's default).
	SleepAfter time.Duration
}

// NodePrefix prefixes the name of every bus node the rest-bus attaches
// ("restbus:ABS"), so statistics and reports tell its traffic apart.
const NodePrefix = "restbus:"

// Restbus sends the cyclic messages of the simulated nodes.
type Restbus struct {
	db    *dbc.Database
	nodes []*simNode
	msgs  map[string]*message

	sleepAfter time.Duration

	mu       sync.Mutex
	stopped  bool
	awake    bool
	epoch    int       // incremented at every wake-up
	lastSeen time.Time // last frame of another node
	wake     clock.Cond
	untap    func()
	wakeups  int
	clk      clock.Clock
	onSent   map[int]func(can.Frame, time.Time)
	nextHook int
	hooks    atomic.Int32 // len(onSent)
}

type simNode struct {
	name string
	msgs []*message // cyclic, file order
	node can.Node
}

type message struct {
	m         *dbc.Message
	raw       []int64 // current raw value of every signal (guarded by Restbus.mu)
	counters  []counter
	checksums []checksum
	sent      uint64
}

// New checks cfg and prepares the rest-bus; nothing is sent until Start.
func New(cfg Config) (*Restbus, error) {
	if cfg.DB == nil {
		return nil, errors.New("restbus: no DBC database")
	}
	if cfg.SleepAfter < 0 {
		return nil, fmt.Errorf("restbus: negative sleep_after %s", cfg.SleepAfter)
	}
	r := &Restbus{db: cfg.DB, msgs: map[string]*message{}, sleepAfter: cfg.SleepAfter, awake: true}
	seen := map[string]bool{}
	for _, n := range cfg.Nodes {
		if !cfg.DB.HasNode(n) {
			return nil, fmt.Errorf("restbus: %s declares no node %q (its nodes: %v)", cfg.DB.File, n, cfg.DB.Nodes)
		}
		if seen[n] {
			return nil, fmt.Errorf("restbus: node %s listed twice", n)
		}
		seen[n] = true
		sn := &simNode{name: n}
		for _, m := range cfg.DB.SentBy([]string{n}) {
			if m.FD && !cfg.FD {
				return nil, fmt.Errorf("restbus: %s: message %s is CAN FD but the bus is classic CAN", m.Pos, m.Name)
			}
			for _, res := range cfg.Reserved {
				if res.ID == m.ID && res.Extended == m.Extended {
					return nil, fmt.Errorf("restbus: %s: message %s (sent by %s) has identifier %#x, the %s", m.Pos, m.Name, n, m.ID, res.What)
				}
			}
			msg := &message{m: m, raw: m.StartValues()}
			r.msgs[m.Name] = msg
			if m.SendType == dbc.SendCyclic {
				sn.msgs = append(sn.msgs, msg)
			}
		}
		r.nodes = append(r.nodes, sn)
	}
	for _, c := range cfg.Counters {
		msg, err := r.simulated(c.Message, "counter")
		if err != nil {
			return nil, err
		}
		cc, err := compileCounter(msg.m, c)
		if err != nil {
			return nil, err
		}
		msg.counters = append(msg.counters, cc)
	}
	for _, c := range cfg.Checksums {
		msg, err := r.simulated(c.Message, "checksum")
		if err != nil {
			return nil, err
		}
		cc, err := compileChecksum(msg.m, c)
		if err != nil {
			return nil, err
		}
		msg.checksums = append(msg.checksums, cc)
	}
	return r, nil
}

func (r *Restbus) simulated(name, what string) (*message, error) {
	msg, ok := r.msgs[name]
	if ok {
		return msg, nil
	}
	if _, inFile := r.db.Message(name); inFile {
		return nil, fmt.Errorf("restbus: %s rule for message %s, which no simulated node sends", what, name)
	}
	return nil, fmt.Errorf("restbus: %s rule for message %q, which %s does not define", what, name, r.db.File)
}

// Nodes returns the names of the simulated DBC nodes.
func (r *Restbus) Nodes() []string {
	out := make([]string, len(r.nodes))
	for i, n := range r.nodes {
		out[i] = n.name
	}
	return out
}

// Messages returns the cyclic messages the rest-bus sends, node by node in
// file order.
func (r *Restbus) Messages() []*dbc.Message {
	var out []*dbc.Message
	for _, n := range r.nodes {
		for _, m := range n.msgs {
			out = append(out, m.m)
		}
	}
	return out
}

// Start attaches one node per simulated DBC node to bus and starts sending,
// on clk, from now.
func (r *Restbus) Start(clk clock.Clock, bus can.Bus) error {
	for _, n := range r.nodes {
		if len(n.msgs) == 0 {
			continue
		}
		// receive nothing: the rest-bus only sends
		node, err := bus.Attach(NodePrefix+n.name, can.Filter{ID: 0xffffffff, Mask: 0xffffffff, Extended: true})
		if err != nil {
			return fmt.Errorf("restbus: attach %s to %s: %w", n.name, bus.Name(), err)
		}
		n.node = node
	}
	r.mu.Lock()
	r.clk = clk
	r.wake = clk.NewCond(&r.mu)
	r.mu.Unlock()
	r.lastSeen = clk.Now()
	if r.sleepAfter > 0 {
		r.untap = bus.Tap(func(ev can.Event) {
			if len(ev.Sender) >= len(NodePrefix) && ev.Sender[:len(NodePrefix)] == NodePrefix {
				return
			}
			r.mu.Lock()
			r.lastSeen = ev.Time
			if !r.awake && !r.stopped {
				r.awake = true
				r.epoch++
				r.wakeups++
				r.wake.Broadcast()
			}
			r.mu.Unlock()
		})
	}
	for _, n := range r.nodes {
		if n.node != nil {
			clk.Go(NodePrefix+n.name, func() { r.run(clk, n) })
		}
	}
	return nil
}

// Awake reports whether the network is awake, and how many times a frame
// of another node woke it.
func (r *Restbus) Awake() (awake bool, wakeups int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.awake, r.wakeups
}

// Stop stops sending and closes the rest-bus's nodes.
func (r *Restbus) Stop() {
	r.mu.Lock()
	r.stopped = true
	if r.wake != nil {
		r.wake.Broadcast()
	}
	untap := r.untap
	r.untap = nil
	r.mu.Unlock()
	if untap != nil {
		untap()
	}
	for _, n := range r.nodes {
		if n.node != nil {
			n.node.Close()
		}
	}
}

// run sends n's messages: message i at delay_i + k·cycle_i after the start
// (or the last wake-up), by logical time (sleeps are relative, so a clock
// Jump does not produce a burst of missed frames).
func (r *Restbus) run(clk clock.Clock, n *simNode) {
	due := make([]time.Duration, len(n.msgs))
	for {
		epoch, ok := r.waitAwake()
		if !ok {
			return
		}
		for i, m := range n.msgs {
			due[i] = m.m.StartDelay
		}
		var now time.Duration
		ref := clk.Now() // wall clock: when now was 0
		for {
			next := slices.Min(due)
			d := next - now
			if !clk.Simulated() {
				// a wall-clock sleep returns late: sleep until the slot's
				// time, so the cycle does not drift (10 ms stay 10 ms on
				// vcan and real buses); a lateness of a second or more (a
				// Jump, a stalled host) moves the reference instead
				el := clk.Since(ref)
				if el-now >= time.Second {
					ref, el = ref.Add(el-now), now
				}
				d = next - el
			}
			if d > 0 {
				clk.Sleep(d)
			}
			now = next
			if !r.stillAwake(clk, epoch) {
				break
			}
			for i, m := range n.msgs {
				if due[i] != now {
					continue
				}
				due[i] += m.m.Cycle
				if !clk.Simulated() {
					// woken a whole cycle late or more: the slots already
					// past are skipped (sent late once, not in a burst)
					for el := clk.Since(ref); due[i] <= el; {
						due[i] += m.m.Cycle
					}
				}
				f, ok := r.nextFrame(m)
				if !ok {
					return
				}
				if err := n.node.Send(f); err != nil {
					return // closed, or bus-off: the node stops as a real ECU would
				}
				if r.hooks.Load() > 0 {
					r.sent(f, clk.Now())
				}
			}
		}
	}
}

// waitAwake blocks while the network sleeps; it returns the wake-up's epoch,
// false once stopped.
func (r *Restbus) waitAwake() (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for !r.awake && !r.stopped {
		r.wake.Wait(clock.Forever)
	}
	return r.epoch, !r.stopped
}

// stillAwake reports whether the wake-up epoch goes on, putting the network
// to sleep when no other node has sent for SleepAfter.
func (r *Restbus) stillAwake(clk clock.Clock, epoch int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.awake && r.sleepAfter > 0 && clk.Since(r.lastSeen) >= r.sleepAfter {
		r.awake = false
	}
	return r.awake && r.epoch == epoch && !r.stopped
}

// nextFrame builds the frame m sends now: counters move, then checksums.
func (r *Restbus) nextFrame(m *message) (can.Frame, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return can.Frame{}, false
	}
	return m.next(), true
}

// next moves m's counters, packs its frame and computes its checksums.
func (m *message) next() can.Frame {
	for _, c := range m.counters {
		if m.sent > 0 {
			m.raw[c.idx] = (m.raw[c.idx] + 1) % c.modulo
		} else {
			m.raw[c.idx] %= c.modulo
		}
	}
	m.sent++
	f := m.m.Frame(m.raw)
	for _, c := range m.checksums {
		data := f.Data[:f.Len]
		cover := make([]byte, 0, len(data))
		cover = append(cover, data[:c.byte]...)
		cover = append(cover, data[c.byte+1:]...)
		data[c.byte] = Checksum(c.alg, cover)
		m.raw[c.idx] = int64(data[c.byte])
	}
	return f
}

// Set changes the raw value a signal has in the frames sent from now on.
func (r *Restbus) Set(msgName, signal string, raw int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	msg, err := r.simulated(msgName, "signal")
	if err != nil {
		return err
	}
	i, ok := msg.m.Index(signal)
	if !ok {
		return fmt.Errorf("restbus: message %s has no signal %q", msgName, signal)
	}
	msg.raw[i] = raw
	// a change of the car's state (the driver turns the key) wakes the
	// network
	if !r.awake && !r.stopped && r.clk != nil {
		r.lastSeen = r.clk.Now()
		r.awake = true
		r.epoch++
		r.wakeups++
		r.wake.Broadcast()
	}
	return nil
}

// Value returns the raw value a signal has in the frames being sent.
func (r *Restbus) Value(msgName, signal string) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	msg, err := r.simulated(msgName, "signal")
	if err != nil {
		return 0, err
	}
	i, ok := msg.m.Index(signal)
	if !ok {
		return 0, fmt.Errorf("restbus: message %s has no signal %q", msgName, signal)
	}
	return msg.raw[i], nil
}

// OnSent calls fn with every frame the rest-bus sends from now on, once its
// node sent it, and the time: what the simulated nodes say, whatever else
// is on the wire (a judge of the vehicle's true state on a bus that does
// not name a frame's sender, as SocketCAN does not). remove stops it.
func (r *Restbus) OnSent(fn func(can.Frame, time.Time)) (remove func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.onSent == nil {
		r.onSent = map[int]func(can.Frame, time.Time){}
	}
	id := r.nextHook
	r.nextHook++
	r.onSent[id] = fn
	r.hooks.Add(1)
	return func() {
		r.mu.Lock()
		if _, ok := r.onSent[id]; ok {
			delete(r.onSent, id)
			r.hooks.Add(-1)
		}
		r.mu.Unlock()
	}
}

// sent hands f to the OnSent hooks.
func (r *Restbus) sent(f can.Frame, at time.Time) {
	r.mu.Lock()
	if len(r.onSent) == 0 {
		r.mu.Unlock()
		return
	}
	fns := make([]func(can.Frame, time.Time), 0, len(r.onSent))
	for _, fn := range r.onSent {
		fns = append(fns, fn)
	}
	r.mu.Unlock()
	for _, fn := range fns {
		fn(f, at)
	}
}

// DB returns the database the rest-bus sends from.
func (r *Restbus) DB() *dbc.Database { return r.db }
