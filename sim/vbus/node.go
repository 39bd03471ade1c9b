package vbus

import (
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
)

// timedNode is a node of a timed bus: besides Send and Recv it takes runs
// of frames at once (can.BatchSender) and, under the simulated clock, hands
// received frames to a function in the bus's delivery step
// (can.Deliverer).
type timedNode struct{ *node }

var (
	_ can.BatchSender = timedNode{}
	_ can.Deliverer   = timedNode{}
)

// room is how many more frames the transmit queue takes (b.mu held).
func (n *node) room() int { return n.bus.cfg.TxQueue - n.txq.len() - n.inflight }

// waitRoomLocked waits on the clock, with b.mu held, until the transmit
// queue has room for want frames; it fails when the node is closed or
// bus-off meanwhile.
func (n *node) waitRoomLocked(want int, f *can.Frame) error {
	b := n.bus
	for n.room() < want {
		if n.waiting == 0 || want < n.need {
			n.need = want
		}
		n.waiting++
		if want > 1 {
			n.runs++
		}
		n.notFull.Wait(clock.Forever)
		n.waiting--
		if want > 1 {
			n.runs--
		}
		if n.closed {
			return n.errorf("send: %w", can.ErrClosed)
		}
		if _, off := b.offline[n.name]; off {
			return n.errorf("send %s: %w", *f, can.ErrBusOff)
		}
	}
	return nil
}

// freedLocked wakes the Sends waiting for room once one of them has it
// (b.mu held): a run of frames waits for room for the whole run, or half
// the queue, not for each frame. Single Sends are woken one per freed
// slot, in the order they began to wait.
func (n *node) freedLocked() {
	switch {
	case n.waiting == 0:
	case n.runs == 0:
		n.notFull.Signal()
	case n.room() >= n.need:
		n.notFull.Broadcast()
	}
}

// SendBatch queues frames in order, as that many Sends would, and returns
// how many it queued (fewer only with an error). While the transmit queue
// is full it waits until there is room for the rest of the run, or for
// half the queue, so the caller wakes once per half queue, not once per
// frame; the queue never runs dry meanwhile (half of it is still waiting),
// and the last frame of a run is queued at the same instant as by single
// Sends.
func (n timedNode) SendBatch(frames []can.Frame) (int, error) {
	b := n.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	half := max(1, b.cfg.TxQueue/2)
	sent := 0
	for sent < len(frames) {
		if err := n.sendableLocked(&frames[sent]); err != nil {
			return sent, err
		}
		if err := n.waitRoomLocked(min(len(frames)-sent, half), &frames[sent]); err != nil {
			return sent, err
		}
		for k := min(n.room(), len(frames)-sent); k > 0; k-- {
			f := &frames[sent]
			if err := n.sendableLocked(f); err != nil {
				b.kickLocked()
				return sent, err
			}
			n.txq.push(pending{f: *f, from: n.node, name: n.name, order: n.order})
			sent++
		}
		b.kickLocked()
	}
	return sent, nil
}

// sendableLocked checks what Send checks before it queues f.
func (n *node) sendableLocked(f *can.Frame) error {
	if err := f.Validate(); err != nil {
		return n.errorf("%w", err)
	}
	if f.FD && !n.bus.cfg.FD {
		return n.errorf("send %s: %w", *f, can.ErrNoFD)
	}
	if n.closed {
		return n.errorf("send: %w", can.ErrClosed)
	}
	if _, off := n.bus.offline[n.name]; off {
		return n.errorf("send %s: %w", *f, can.ErrBusOff)
	}
	return nil
}

// Full reports whether a Send now would wait for room in the transmit
// queue.
func (n timedNode) Full() bool {
	n.bus.mu.Lock()
	defer n.bus.mu.Unlock()
	return n.room() < 1
}

// SendNow queues f without waiting for room in the transmit queue (a
// frame sent from a delivery function).
func (n timedNode) SendNow(f can.Frame) error {
	b := n.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := n.sendableLocked(&f); err != nil {
		return err
	}
	n.txq.push(pending{f: f, from: n.node, name: n.name, order: n.order})
	b.kickLocked()
	return nil
}

// Deliver hands the node's frames to fn in the callback that ends each
// frame on the wire, under the simulated clock (where callbacks run one at
// a time, between actors); on another clock it reports false.
func (n timedNode) Deliver(fn func(*can.Frame)) bool {
	b := n.bus
	if !b.clk.Simulated() {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if n.closed {
		return false
	}
	n.deliver = fn
	return true
}

// closedDelivery tells a delivery function that the node is closed.
func (n *node) closedDelivery() {
	n.bus.mu.Lock()
	fn := n.deliver
	n.deliver = nil
	n.bus.mu.Unlock()
	if fn != nil {
		fn(nil)
	}
}

// fifo is a node's transmit queue: a ring buffer, so that a queue kept
// busy by a long transfer neither shifts nor reallocates per frame.
type fifo struct {
	buf        []pending // len is a power of two (or 0)
	head, size int
}

func (q *fifo) len() int { return q.size }

// front returns the oldest frame (size > 0).
func (q *fifo) front() *pending { return &q.buf[q.head] }

func (q *fifo) push(p pending) {
	if q.size == len(q.buf) {
		nb := make([]pending, max(8, 2*len(q.buf)))
		for i := range q.size {
			nb[i] = q.buf[(q.head+i)&(len(q.buf)-1)]
		}
		q.buf, q.head = nb, 0
	}
	q.buf[(q.head+q.size)&(len(q.buf)-1)] = p
	q.size++
}

// pop removes the oldest frame.
func (q *fifo) pop() {
	q.buf[q.head] = pending{}
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.size--
}

// drain removes every frame and returns them, oldest first.
func (q *fifo) drain() []pending {
	out := make([]pending, q.size)
	for i := range out {
		out[i] = q.buf[(q.head+i)&(len(q.buf)-1)]
	}
	clear(q.buf)
	q.head, q.size = 0, 0
	return out
}
