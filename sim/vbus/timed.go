package vbus

import (
	"time"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
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
// One clock event per frame: when the callback that ends a frame finds
// that nothing else can happen in the run before the intermission is over
// (clock.Sim.QuietUntil: no actor to run, no timer due by then), it
// arbitrates the next frame right away, as of the end of the intermission,
// instead of setting a timer for that instant and then one more for the
// arbitration: nothing could have been queued in between, so the same
// frame wins at the same time. Otherwise (a receiver's actor will run
// first) it sets the timer, which arbitrates in turn when nothing else is
// due at that instant, or after everything that is (a zero-time timer).
// The timers are Alarms (no allocation per frame).
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

// quieter is a clock that can tell that nothing else happens in the run
// before an instant (clock.Sim).
type quieter interface{ QuietUntil(t time.Time) bool }

// kickLocked schedules an arbitration when the bus is idle.
func (b *Bus) kickLocked() {
	if b.wireBusy || b.arbScheduled || b.closed {
		return
	}
	b.arbScheduled = true
	b.arbAlarm.Set(b.lead)
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
		if n.txq.len() > 0 {
			consider(n.txq.front(), n)
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
		bestN.txq.pop()
		p.queued = bestN
	}
	return p, true
}

// arbitrate starts the next transmission, if any frame is pending.
func (b *Bus) arbitrate() {
	b.mu.Lock()
	b.arbScheduled = false
	b.arbitrateLocked(b.clk.Now()) // unlocks b.mu
}

// arbitrateLocked runs the arbitration as of now (b.lead ahead of the
// clock) and unlocks b.mu.
func (b *Bus) arbitrateLocked(now time.Time) {
	var evs []can.Event
	for !b.closed && !b.wireBusy {
		p, ok := b.pickLocked()
		if !ok {
			break
		}
		d := b.decideLocked(&p, now)
		if q := p.queued; q != nil && d.kind != "" && d.kind != Corrupt && d.kind != Duplicate {
			// the frame leaves the transmit queue without being sent
			p.queued = nil
			q.freedLocked()
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
	b.lead = 0
	b.mu.Unlock()
	for i := range evs {
		b.emit(taps, nil, &evs[i], nil, false)
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
	b.doneAlarm.Set(b.lead + rx)
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

// timedFuncs makes the bus's clock callbacks and their alarms once (not a
// closure or a timer per frame).
func (b *Bus) timedFuncs() {
	b.arbitrateFn, b.busFreeFn = b.arbitrate, b.busFree
	b.completeFn = b.complete
	b.arbAlarm = clock.NewAlarm(b.clk, b.arbitrateFn)
	b.freeAlarm = clock.NewAlarm(b.clk, b.busFreeFn)
	b.doneAlarm = clock.NewAlarm(b.clk, b.completeFn)
	b.quiet, _ = b.clk.(quieter)
}

// complete runs at the end of a frame's EOF (or error frame): the receivers
// get the frame, and the bus is free after the intermission.
func (b *Bus) complete() {
	b.mu.Lock()
	w := &b.wire
	p, d, start, dur, rest, bits, detected := w.p, w.d, w.start, w.dur, w.rest, w.bits, w.detected
	b.wire = onWire{}
	now := b.clk.Now()
	total := bits.Total()
	if detected {
		total += 7
	}
	var st *NodeStats
	if p.from != nil {
		st = p.from.st
	} else {
		st = b.st.node(p.name)
	}
	b.st.account(st, start, dur, total, bits.Stuff+bits.FixedStuff)
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
	var ev *can.Event
	if b.quiet != nil {
		ev = &b.ev // one frame ends at a time: no allocation per frame
	} else {
		// the wall clock: the next frame may end while the taps of this
		// one still run
		ev = new(can.Event)
	}
	*ev = can.Event{Time: now, Frame: p.f, Sender: p.name, Fault: fault}
	if d.kind == Duplicate {
		cp := p
		cp.fault, cp.clean, cp.queued = Duplicate, true, nil
		b.injected = append([]pending{cp}, b.injected...)
	}
	b.releaseHeldLocked()
	if q := p.queued; q != nil {
		q.inflight--
		q.freedLocked()
	}
	taps, nodes := b.taps, b.nodes
	if b.quiet == nil {
		// the wall clock runs on while the taps run: the intermission
		// starts now
		b.freeAlarm.Set(rest)
		b.mu.Unlock()
		b.emit(taps, nodes, ev, p.from, !detected)
		return
	}
	b.mu.Unlock()
	b.emit(taps, nodes, ev, p.from, !detected)
	free := now.Add(rest)
	if b.quiet.QuietUntil(free) {
		// nothing happens before the bus is free: arbitrate now, as of then
		b.mu.Lock()
		b.lead = rest
		b.freeLocked(free)
		return
	}
	b.freeAlarm.Set(rest)
}

// busFree ends the intermission.
func (b *Bus) busFree() {
	b.mu.Lock()
	b.freeLocked(b.clk.Now())
}

// freeLocked ends the intermission at now (b.lead ahead of the clock) and
// arbitrates: right away when nothing else is due at this instant (the
// zero-time timer would fire next), else after what is. It unlocks b.mu.
func (b *Bus) freeLocked(now time.Time) {
	b.wireBusy = false
	if b.closed || b.arbScheduled {
		b.lead = 0
		b.mu.Unlock()
		return
	}
	if b.lead > 0 || (b.quiet != nil && b.quiet.QuietUntil(now)) {
		b.arbitrateLocked(now) // unlocks b.mu
		return
	}
	b.kickLocked()
	b.mu.Unlock()
}
