package vbus

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/can"
)

// FaultKind names a fault the bus can inject. It is the Event.Fault label
// of the frames it touches.
type FaultKind = can.Fault

// The faults the bus injects.
const (
	// Drop: the frame never reaches a receiver and takes no bus time. Taps
	// see it once, with Fault "drop".
	Drop = can.FaultDrop
	// Corrupt flips Flips random bits of the payload. Detected (the
	// default): the receivers see a bad CRC, the frame is followed by an
	// error frame and is not delivered; the bus and the sender count an
	// error. Undetected: the receivers get the altered payload as if its
	// CRC matched (an attacker's bit flip, for attack testing); a frame
	// without payload is then left alone. Taps see the altered frame with
	// Fault "corrupt" (detected, not delivered) or CorruptUndetected.
	Corrupt = can.FaultCorrupt
	// Delay holds the frame back for Delay, then sends it (it takes part in
	// arbitration again); taps see it when it is sent, with Fault "delay".
	Delay = can.FaultDelay
	// Duplicate sends the frame, then a copy right after it; taps see the
	// copy with Fault "duplicate".
	Duplicate = can.FaultDuplicate
	// Reorder holds the frame back until the next frame has been sent, then
	// sends it (or after Delay, default 10 ms, when no other frame comes);
	// taps see it with Fault "reorder".
	Reorder = can.FaultReorder
	// BusOff sends the sending node bus-off: the frame and everything in the
	// node's transmit queue are lost (taps see them with Fault "bus-off"),
	// and the node's Send fails with can.ErrBusOff until it recovers: after
	// Recovery, or when Recovery is zero, when Bus.Recover is called or the
	// rule is switched off or removed. (A bus-off node still receives.)
	BusOff = can.FaultBusOff
)

// CorruptUndetected is the Event.Fault label of a frame altered by an
// undetected Corrupt fault: the receivers got it.
const CorruptUndetected = can.FaultCorruptUndetected

// FaultRule says which frames a fault hits. Every condition that is set
// must hold: the frame matches one of IDs (none: any), the sender is one of
// Nodes (none: any), the bus time since the bus was created is in
// [From, Until) (Until zero: no end), and the rule has injected fewer than
// Count faults (zero: no limit). A matching frame is hit with Probability
// (0 or 1: every matching frame), drawn from a stream of the bus's Seed
// named after the bus and the rule, so a run replays exactly.
//
// Each frame goes through fault injection once: the copies and held-back
// frames the bus re-sends are not hit again. When several rules hit the same
// frame, the first one installed wins (every matching rule still draws its
// random number, so rules do not shift each other's streams).
type FaultRule struct {
	// Name identifies the rule for SetFault and RemoveFault (default:
	// kind and position, e.g. "drop#1").
	Name        string
	Kind        FaultKind
	Probability float64
	IDs         []can.Filter
	Nodes       []string
	From, Until time.Duration
	Count       int
	// Delay is how long Delay holds a frame, and the longest Reorder holds
	// one (default 10 ms).
	Delay time.Duration
	// Flips is the number of payload bits Corrupt flips (default 1).
	Flips int
	// Undetected makes Corrupt deliver the altered frame.
	Undetected bool
	// Recovery is how long a node stays bus-off (see BusOff).
	Recovery time.Duration
	// Off installs the rule switched off.
	Off bool
}

type rule struct {
	FaultRule
	on       bool
	rng      *rand.Rand
	injected int
}

type offState struct {
	rule  *rule // the rule that sent it bus-off, if any
	timer interface{ Stop() bool }
}

type decision struct {
	kind FaultKind
	r    *rule
}

func (b *Bus) errorf(format string, args ...any) error {
	return fmt.Errorf("vbus %s: "+format, append([]any{b.cfg.Name}, args...)...)
}

// AddFault installs a fault rule. It can be called at any time, from any
// actor; the rule applies to frames that reach the wire from then on.
func (b *Bus) AddFault(r FaultRule) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if r.Name == "" {
		r.Name = fmt.Sprintf("%s#%d", r.Kind, len(b.rules)+1)
	}
	switch r.Kind {
	case Drop, Corrupt, Delay, Duplicate, Reorder, BusOff:
	default:
		return b.errorf("fault %s: unknown kind %q (want drop, corrupt, delay, duplicate, reorder or bus-off)", r.Name, r.Kind)
	}
	switch {
	case r.Probability < 0 || r.Probability > 1 || r.Probability != r.Probability:
		return b.errorf("fault %s: probability %v is not in [0, 1]", r.Name, r.Probability)
	case r.From < 0 || r.Until < 0 || (r.Until > 0 && r.Until <= r.From):
		return b.errorf("fault %s: empty or negative time window [%s, %s)", r.Name, r.From, r.Until)
	case r.Count < 0:
		return b.errorf("fault %s: negative count %d", r.Name, r.Count)
	case r.Delay < 0:
		return b.errorf("fault %s: negative delay %s", r.Name, r.Delay)
	case r.Kind == Delay && r.Delay == 0:
		return b.errorf("fault %s: a delay rule needs Delay > 0", r.Name)
	case r.Flips < 0 || r.Flips > can.MaxFDLen*8:
		return b.errorf("fault %s: %d bit flips is out of range", r.Name, r.Flips)
	case r.Recovery < 0:
		return b.errorf("fault %s: negative recovery %s", r.Name, r.Recovery)
	}
	for _, x := range b.rules {
		if x.Name == r.Name {
			return b.errorf("fault %s: a rule with that name is already installed", r.Name)
		}
	}
	for i, f := range r.IDs {
		max := uint32(can.MaxStdID)
		if f.Extended {
			max = can.MaxExtID
		}
		if f.ID > max {
			return b.errorf("fault %s: filter %d: identifier %#x out of range", r.Name, i, f.ID)
		}
	}
	if r.Probability == 0 {
		r.Probability = 1
	}
	if r.Flips == 0 {
		r.Flips = 1
	}
	if r.Kind == Reorder && r.Delay == 0 {
		r.Delay = 10 * time.Millisecond
	}
	r.IDs = slices.Clone(r.IDs)
	r.Nodes = slices.Clone(r.Nodes)
	b.rules = append(b.rules, &rule{FaultRule: r, on: !r.Off, rng: b.cfg.Seed.Rand("vbus/" + b.cfg.Name + "/fault/" + r.Name)})
	return nil
}

func (b *Bus) findRuleLocked(name string) (int, error) {
	for i, r := range b.rules {
		if r.Name == name {
			return i, nil
		}
	}
	return -1, b.errorf("fault %s: no such rule", name)
}

// SetFault switches the named rule on or off. Switching a bus-off rule off
// recovers the nodes it sent bus-off without a recovery time.
func (b *Bus) SetFault(name string, on bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	i, err := b.findRuleLocked(name)
	if err != nil {
		return err
	}
	r := b.rules[i]
	r.on = on
	if !on {
		b.recoverRuleLocked(r)
	}
	return nil
}

// RemoveFault uninstalls the named rule.
func (b *Bus) RemoveFault(name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	i, err := b.findRuleLocked(name)
	if err != nil {
		return err
	}
	r := b.rules[i]
	b.rules = slices.Delete(slices.Clone(b.rules), i, i+1)
	b.recoverRuleLocked(r)
	return nil
}

// Injected returns how many faults the named rule has injected.
func (b *Bus) Injected(name string) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	i, err := b.findRuleLocked(name)
	if err != nil {
		return 0, err
	}
	return b.rules[i].injected, nil
}

func (b *Bus) recoverRuleLocked(r *rule) {
	for name, st := range b.offline {
		if st.rule == r && st.timer == nil {
			b.recoverLocked(name)
		}
	}
}

func (r *rule) matches(p *pending, since time.Duration) bool {
	if !r.on || (r.Count > 0 && r.injected >= r.Count) {
		return false
	}
	if since < r.From || (r.Until > 0 && since >= r.Until) {
		return false
	}
	if len(r.Nodes) > 0 && !slices.Contains(r.Nodes, p.name) {
		return false
	}
	if len(r.IDs) > 0 {
		for _, f := range r.IDs {
			if f.Match(&p.f) {
				return true
			}
		}
		return false
	}
	return true
}

// decideLocked picks the fault, if any, for a frame that reaches the wire.
func (b *Bus) decideLocked(p *pending, now time.Time) decision {
	if p.clean || len(b.rules) == 0 {
		return decision{}
	}
	p.clean = true
	since := now.Sub(b.start)
	var hit *rule
	for _, r := range b.rules {
		if !r.matches(p, since) {
			continue
		}
		fire := r.Probability >= 1 || r.rng.Float64() < r.Probability
		if fire && hit == nil {
			if r.Kind == Corrupt && r.Undetected && (p.f.Len == 0 || p.f.Remote) {
				continue // nothing to alter
			}
			hit = r
		}
	}
	if hit == nil {
		return decision{}
	}
	hit.injected++
	b.st.fault(hit.Kind)
	return decision{hit.Kind, hit}
}

// corruptLocked flips r.Flips distinct payload bits of p.
func (b *Bus) corruptLocked(p *pending, r *rule) {
	n := int(p.f.Len) * 8
	if p.f.Remote || n == 0 {
		return
	}
	flips := min(r.Flips, n)
	seen := make(map[int]bool, flips)
	for len(seen) < flips {
		i := r.rng.IntN(n)
		if seen[i] {
			continue
		}
		seen[i] = true
		p.f.Data[i/8] ^= 0x80 >> uint(i%8)
	}
}

// delayLocked re-sends p after d.
func (b *Bus) delayLocked(p pending, d time.Duration) {
	p.fault, p.clean = Delay, true
	b.clk.AfterFunc(b.lead+d, func() { b.resend(p) })
}

// holdLocked holds p back until the next frame has been sent.
func (b *Bus) holdLocked(p pending, r *rule) {
	if b.held != nil {
		// one frame is held at a time: the older one goes first
		b.releaseHeldLocked()
	}
	p.fault, p.clean = Reorder, true
	b.held = &p
	b.heldGen++
	gen := b.heldGen
	b.clk.AfterFunc(b.lead+r.Delay, func() {
		b.mu.Lock()
		if b.held == nil || b.heldGen != gen {
			b.mu.Unlock()
			return
		}
		h := *b.held
		b.held = nil
		b.mu.Unlock()
		b.resend(h)
	})
}

// releaseHeldLocked queues the held frame (timed) for sending next.
func (b *Bus) releaseHeldLocked() {
	if b.held == nil {
		return
	}
	h := *b.held
	b.held = nil
	if b.timed {
		b.injected = append(b.injected, h)
		b.kickLocked()
		return
	}
	b.clk.AfterFunc(0, func() { b.resend(h) })
}

// resend puts a frame the bus held back on the wire.
func (b *Bus) resend(p pending) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	if b.timed {
		b.injected = append(b.injected, p)
		b.kickLocked()
		b.mu.Unlock()
		return
	}
	b.st.countUntimed(p.name)
	ev := can.Event{Time: b.clk.Now(), Frame: p.f, Sender: p.name, Fault: p.fault}
	taps, nodes := b.taps, b.nodes
	b.mu.Unlock()
	b.emit(taps, nodes, &ev, p.from, true)
}

// busOffLocked sends p's node bus-off; it returns the events of the lost
// frames.
func (b *Bus) busOffLocked(p pending, r *rule, now time.Time) []can.Event {
	evs := []can.Event{{Time: now, Frame: p.f, Sender: p.name, Fault: BusOff}}
	return append(evs, b.offlineLocked(p.name, r, r.Recovery, now)...)
}

func (b *Bus) offlineLocked(name string, r *rule, recovery time.Duration, now time.Time) []can.Event {
	var evs []can.Event
	if old, ok := b.offline[name]; ok && old.timer != nil {
		old.timer.Stop()
	}
	st := &offState{rule: r}
	if recovery > 0 {
		st.timer = b.clk.AfterFunc(b.lead+recovery, func() {
			b.mu.Lock()
			if b.offline[name] == st {
				b.recoverLocked(name)
			}
			b.mu.Unlock()
		})
	}
	b.offline[name] = st
	b.st.node(name).BusOffs++
	for _, n := range b.nodes {
		if n.name != name {
			continue
		}
		for _, q := range n.txq.drain() {
			evs = append(evs, can.Event{Time: now, Frame: q.f, Sender: name, Fault: BusOff})
		}
		n.notFull.Broadcast()
	}
	return evs
}

func (b *Bus) recoverLocked(name string) {
	if st, ok := b.offline[name]; ok {
		if st.timer != nil {
			st.timer.Stop()
		}
		delete(b.offline, name)
	}
}

// SetBusOff sends the named node(s) bus-off now, as a BusOff fault would:
// frames queued for sending are lost, and Send fails with can.ErrBusOff
// until recovery (after recovery; zero: until Recover).
func (b *Bus) SetBusOff(node string, recovery time.Duration) error {
	if recovery < 0 {
		return b.errorf("bus-off %s: negative recovery %s", node, recovery)
	}
	b.mu.Lock()
	found := false
	for _, n := range b.nodes {
		found = found || n.name == node
	}
	if !found {
		b.mu.Unlock()
		return b.errorf("bus-off %s: no such node", node)
	}
	b.st.fault(BusOff)
	evs := b.offlineLocked(node, nil, recovery, b.clk.Now())
	taps := b.taps
	b.mu.Unlock()
	for i := range evs {
		b.emit(taps, nil, &evs[i], nil, false)
	}
	return nil
}

// Recover ends the named node's bus-off state.
func (b *Bus) Recover(node string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.offline[node]; !ok {
		return b.errorf("recover %s: node is not bus-off", node)
	}
	b.recoverLocked(node)
	return nil
}

// IsBusOff reports whether the named node is bus-off.
func (b *Bus) IsBusOff(node string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.offline[node]
	return ok
}

// untimedFaulty sends p in the untimed model with fault injection. It is
// called with b.mu held and unlocks it.
func (b *Bus) untimedFaulty(p pending) {
	now := b.clk.Now()
	d := b.decideLocked(&p, now)
	type out struct {
		ev      can.Event
		from    *node
		deliver bool
	}
	var outs []out
	send := func(q pending, fault can.Fault, deliver bool) {
		outs = append(outs, out{can.Event{Time: now, Frame: q.f, Sender: q.name, Fault: fault}, q.from, deliver})
	}
	delivered := false
	switch d.kind {
	case Drop:
		send(p, Drop, false)
	case BusOff:
		for _, ev := range b.busOffLocked(p, d.r, now) {
			outs = append(outs, out{ev, nil, false})
		}
	case Delay:
		b.delayLocked(p, d.r.Delay)
	case Reorder:
		b.holdLocked(p, d.r)
	case Corrupt:
		b.corruptLocked(&p, d.r)
		if d.r.Undetected {
			b.st.countUntimed(p.name)
			send(p, CorruptUndetected, true)
			delivered = true
		} else {
			b.st.errors++
			b.st.node(p.name).Errors++
			send(p, Corrupt, false)
		}
	case Duplicate:
		b.st.countUntimed(p.name)
		b.st.countUntimed(p.name)
		send(p, "", true)
		send(p, Duplicate, true)
		delivered = true
	default:
		b.st.countUntimed(p.name)
		send(p, p.fault, true)
		delivered = true
	}
	if delivered && b.held != nil {
		h := *b.held
		b.held = nil
		b.st.countUntimed(h.name)
		send(h, h.fault, true)
	}
	taps, nodes := b.taps, b.nodes
	b.mu.Unlock()
	for i := range outs {
		b.emit(taps, nodes, &outs[i].ev, outs[i].from, outs[i].deliver)
	}
}
