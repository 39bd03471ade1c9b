// Package vbus is the in-process CAN bus: the embedded default, no kernel
// support needed. Every frame a node sends is delivered to every other
// attached node whose filters accept it.
package vbus

import (
	"fmt"
	"sync"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
)

// Config configures a virtual bus.
type Config struct {
	Name  string
	FD    bool        // carries CAN FD frames
	Clock clock.Clock // the run's clock (wall clock when nil)
	// RxQueue is each node's receive queue length; a frame that finds it
	// full is lost, as in a controller overrun (default 65536).
	RxQueue int
}

// Bus is a virtual CAN bus.
type Bus struct {
	cfg    Config
	clk    clock.Clock
	mu     sync.Mutex
	nodes  []*node
	taps   map[int]func(can.Event)
	nextID int
	closed bool
}

var _ can.Bus = (*Bus)(nil)

// New returns a virtual bus.
func New(cfg Config) *Bus {
	if cfg.Clock == nil {
		cfg.Clock = clock.NewWall()
	}
	if cfg.RxQueue <= 0 {
		cfg.RxQueue = 1 << 16
	}
	if cfg.Name == "" {
		cfg.Name = "vbus"
	}
	return &Bus{cfg: cfg, clk: cfg.Clock, taps: map[int]func(can.Event){}}
}

func (b *Bus) Name() string { return b.cfg.Name }
func (b *Bus) FD() bool     { return b.cfg.FD }

// Attach adds a node.
func (b *Bus) Attach(name string, filters ...can.Filter) (can.Node, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, fmt.Errorf("vbus %s: attach %s: %w", b.cfg.Name, name, can.ErrClosed)
	}
	n := &node{bus: b, name: name, filters: filters, rx: clock.NewQueue[can.Frame](b.clk, b.cfg.RxQueue)}
	b.nodes = append(b.nodes, n)
	return n, nil
}

// Tap observes every frame on the wire.
func (b *Bus) Tap(fn func(can.Event)) func() {
	b.mu.Lock()
	defer b.mu.Unlock()
	id := b.nextID
	b.nextID++
	b.taps[id] = fn
	return func() { b.mu.Lock(); delete(b.taps, id); b.mu.Unlock() }
}

// Close detaches every node.
func (b *Bus) Close() error {
	b.mu.Lock()
	nodes := b.nodes
	b.nodes = nil
	b.closed = true
	b.mu.Unlock()
	for _, n := range nodes {
		n.rx.Close()
	}
	return nil
}

// deliver puts f on the wire: taps first (in registration order), then every
// other node's receive queue.
func (b *Bus) deliver(from *node, f can.Frame) {
	b.mu.Lock()
	ev := can.Event{Time: b.clk.Now(), Frame: f, Sender: from.name}
	ids := make([]int, 0, len(b.taps))
	for id := range b.taps {
		ids = append(ids, id)
	}
	sortInts(ids)
	taps := make([]func(can.Event), len(ids))
	for i, id := range ids {
		taps[i] = b.taps[id]
	}
	nodes := append([]*node(nil), b.nodes...)
	b.mu.Unlock()
	for _, t := range taps {
		t(ev)
	}
	for _, n := range nodes {
		if n == from || !n.accepts(&f) {
			continue
		}
		n.rx.TryPush(f)
	}
}

func sortInts(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

type node struct {
	bus     *Bus
	name    string
	filters []can.Filter
	rx      *clock.Queue[can.Frame]
	mu      sync.Mutex
	closed  bool
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

func (n *node) Send(f can.Frame) error {
	n.mu.Lock()
	closed := n.closed
	n.mu.Unlock()
	if closed {
		return fmt.Errorf("vbus %s: node %s: send: %w", n.bus.cfg.Name, n.name, can.ErrClosed)
	}
	if err := f.Validate(); err != nil {
		return fmt.Errorf("vbus %s: node %s: %w", n.bus.cfg.Name, n.name, err)
	}
	if f.FD && !n.bus.cfg.FD {
		return fmt.Errorf("vbus %s: node %s: send %s: %w", n.bus.cfg.Name, n.name, f, can.ErrNoFD)
	}
	n.bus.deliver(n, f)
	if n.bus.clk.Simulated() {
		// let the receivers run before the next frame, as they would on a wire
		n.bus.clk.Sleep(0)
	}
	return nil
}

func (n *node) Recv(timeout time.Duration) (can.Frame, error) {
	f, err := n.rx.Pop(timeout)
	if err != nil {
		if err == clock.ErrTimeout {
			return f, fmt.Errorf("vbus %s: node %s: %w", n.bus.cfg.Name, n.name, can.ErrTimeout)
		}
		return f, fmt.Errorf("vbus %s: node %s: %w", n.bus.cfg.Name, n.name, can.ErrClosed)
	}
	return f, nil
}

func (n *node) Close() error {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	n.rx.Close()
	b := n.bus
	b.mu.Lock()
	for i, x := range b.nodes {
		if x == n {
			b.nodes = append(b.nodes[:i], b.nodes[i+1:]...)
			break
		}
	}
	b.mu.Unlock()
	return nil
}
