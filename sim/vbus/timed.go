package vbus

import (
	"time"

	"github.com/uptane-hil/uptane-hil/sim/can"
)

// The timed model runs entirely from clock callbacks (AfterFunc), so it
// needs no actor of its own:
//
//  1. Send appends the frame to the node's transmit queue and, when the bus
//     is idle, schedules arbitration after zero time. Under the Sim clock a
//     zero-time callback fires only once every actor is blocked, so every
//     frame queued at the same simulated instant takes part.
//  2. arbitrate takes the head of every transmit queue (a node's queue is
//     FIFO) and of the bus's own queue of re-sent frames (delay, duplicate,
//     reorder), and picks the winner by the arbitration field as it goes
//     over the wire: 11-bit base ID, then RTR/SRR, IDE, the 18-bit
//     extension and RTR, then FDF (a classic frame beats an FD frame with
//     the same identifier). Equal arbitration fields (two nodes sending the
//     same ID, which on a real bus ends in bit errors) are settled by attach
//     order. Fault rules are applied to the winner.
//  3. the frame reaches the receivers and taps at the end of its EOF, and
//     the bus is free again after the intermission (3 bit times later);
//     frames queued until then join the next arbitration.
//
// A frame corrupted by a detected fault is followed by an error frame
// (6-bit error flag, 8-bit delimiter) instead of the EOF, and is not
// delivered; the sender does not retransmit it (one-shot), so upper layers
// see a lost frame.

// arbKey returns the arbitration field of f as a number: the lower wins.
func arbKey(f *can.Frame) uint64 {
	var fdf uint64
	if f.FD {
		fdf = 1
	}
	var rtr uint64
	if f.Remote && !f.FD {
		rtr = 1
	}
	if f.Extended {
		prefix := uint64(f.ID>>18)<<2 | 1<<1 | 1 // base ID, SRR, IDE
		return prefix<<21 | uint64(f.ID&0x3ffff)<<3 | rtr<<2 | fdf<<1
	}
	prefix := uint64(f.ID&can.MaxStdID)<<2 | rtr<<1 // ID, RTR/RRS, IDE=0
	return prefix<<21 | fdf<<20
}

// kickLocked schedules an arbitration when the bus is idle.
func (b *Bus) kickLocked() {
	if b.wireBusy || b.arbScheduled || b.closed {
		return
	}
	b.arbScheduled = true
	b.clk.AfterFunc(0, b.arbitrateFn)
}

// pickLocked removes and returns the frame that wins arbitration.
func (b *Bus) pickLocked() (pending, bool) {
	var (
		best    *pending
		bestKey uint64
		bestN   *node
		inj     bool
	)
	consider := func(p *pending, n *node) {
		k := arbKey(&p.f)
		if best == nil || k < bestKey || (k == bestKey && p.order < best.order) {
			best, bestKey, bestN, inj = p, k, n, n == nil
		}
	}
	if len(b.injected) > 0 {
		consider(&b.injected[0], nil)
	}
	for _, n := range b.nodes {
		if len(n.txq) > 0 {
			consider(&n.txq[0], n)
		}
	}
	if best == nil {
		return pending{}, false
	}
	p := *best
	if inj {
		b.injected[0] = pending{}
		b.injected = b.injected[1:]
	} else {
		bestN.txq[0] = pending{}
		if len(bestN.txq) == 1 {
			bestN.txq = bestN.txq[:0] // keep the backing array: no allocation for the next frame
		} else {
			bestN.txq = bestN.txq[1:]
		}
		p.queued = bestN
	}
	return p, true
}

// arbitrate starts the next transmission, if any frame is pending.
func (b *Bus) arbitrate() {
	b.mu.Lock()
	b.arbScheduled = false
	var evs []can.Event
	for !b.closed && !b.wireBusy {
		p, ok := b.pickLocked()
		if !ok {
			break
		}
		now := b.clk.Now()
		d := b.decideLocked(&p, now)
		if q := p.queued; q != nil && d.kind != "" && d.kind != Corrupt && d.kind != Duplicate {
			// the frame leaves the transmit queue without being sent
			p.queued = nil
			q.notFull.Signal()
		}
		switch d.kind {
		case Drop:
			evs = append(evs, can.Event{Time: now, Frame: p.f, Sender: p.name, Fault: Drop})
			continue
		case BusOff:
			evs = append(evs, b.busOffLocked(p, d.r, now)...)
			continue
		case Delay:
			b.delayLocked(p, d.r.Delay)
			continue
		case Reorder:
			b.holdLocked(p, d.r)
			continue
		}
		b.transmitLocked(p, d, now)
	}
	taps := b.taps
	b.mu.Unlock()
	for _, ev := range evs {
		b.emit(taps, nil, ev, nil, false)
	}
}

// transmitLocked puts p on the wire at now.
func (b *Bus) transmitLocked(p pending, d decision, now time.Time) {
	detected := d.kind == Corrupt && !d.r.Undetected
	bits := FrameTiming(p.f) // bit count of the frame as sent, before corruption
	nominal := b.cfg.Bitrate
	dur := bits.Duration(nominal, b.cfg.DataBitrate)
	tail := bitTime(bits.Tail, nominal)
	rx := dur - tail
	if detected {
		// CRC error: the error flag starts after the ACK delimiter, in
		// place of the EOF; then the error delimiter and intermission.
		rx = rx - bitTime(7, nominal) + bitTime(14, nominal)
		dur = rx + tail
	}
	if d.kind == Corrupt {
		b.corruptLocked(&p, d.r)
	}
	if p.queued != nil {
		p.queued.inflight++
	}
	b.wireBusy = true
	b.wire = onWire{p: p, d: d, start: now, dur: dur, rest: dur - rx, bits: bits, detected: detected}
	b.clk.AfterFunc(rx, b.completeFn)
}

// onWire is the frame on the wire (one at a time) until complete.
type onWire struct {
	p         pending
	d         decision
	start     time.Time
	dur, rest time.Duration
	bits      Bits
	detected  bool
}

// timedFuncs makes the bus's clock callbacks once (not a closure per frame).
func (b *Bus) timedFuncs() {
	b.arbitrateFn, b.busFreeFn = b.arbitrate, b.busFree
	b.completeFn = func() {
		w := b.wire
		b.wire = onWire{}
		b.complete(w.p, w.d, w.start, w.dur, w.rest, w.bits, w.detected)
	}
}

// complete runs at the end of a frame's EOF (or error frame): the receivers
// get the frame, and the bus is free after the intermission.
func (b *Bus) complete(p pending, d decision, start time.Time, dur, rest time.Duration, bits Bits, detected bool) {
	b.mu.Lock()
	now := b.clk.Now()
	total := bits.Total()
	if detected {
		total += 7
	}
	b.st.account(p.name, start, dur, total, bits.Stuff+bits.FixedStuff)
	fault := p.fault
	switch {
	case d.kind == Corrupt && !detected:
		fault = CorruptUndetected
	case d.kind != "" && d.kind != Duplicate:
		fault = d.kind
	}
	if detected {
		b.st.errors++
		b.st.node(p.name).Errors++
	}
	ev := can.Event{Time: now, Frame: p.f, Sender: p.name, Fault: fault}
	if d.kind == Duplicate {
		cp := p
		cp.fault, cp.clean, cp.queued = Duplicate, true, nil
		b.injected = append([]pending{cp}, b.injected...)
	}
	b.releaseHeldLocked()
	if q := p.queued; q != nil {
		q.inflight--
		q.notFull.Signal()
	}
	taps, nodes := b.taps, b.nodes
	b.clk.AfterFunc(rest, b.busFreeFn)
	b.mu.Unlock()
	b.emit(taps, nodes, ev, p.from, !detected)
}

// busFree ends the intermission.
func (b *Bus) busFree() {
	b.mu.Lock()
	b.wireBusy = false
	b.kickLocked()
	b.mu.Unlock()
}
