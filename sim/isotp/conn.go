package isotp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
)

// Conn is one ISO-TP channel on a CAN node. It is full duplex: a receive
// actor reassembles incoming messages (and answers flow control) while
// Send transmits on the caller's actor. Under the simulated clock Send,
// Recv and Close must be called from actors (clock.Go or Sim.Run).
type Conn struct {
	opt    Options
	clk    clock.Clock
	node   can.Node
	ae     int
	tmpl   can.Frame // identifier, flags and address byte of our frames
	pad    byte
	sfMax  int
	stmin  byte // STmin we advertise
	rxq    *clock.Queue[rxItem]
	rx     receiver
	rxDone bool // receive actor ended (guarded by mu)
	rxErr  error
	rxf    can.Frame // the frame being handled (receive actor only)
	// synchronous reception (a can.Deliverer node): the receiver runs in
	// the bus's delivery step, no receive actor; N_Cr is an alarm, set
	// lazily (ncrSet: pending) and checked against the deadline when it
	// fires
	sync   bool
	dl     can.Deliverer
	ncr    clock.Alarm
	ncrSet bool
	// When the node's transmit queue is full as a frame arrives, a flow
	// control frame could not be sent without waiting: the frame, and the
	// ones after it, are handled on an actor (rxWait) that waits as the
	// receive actor would have; backlog holds them meanwhile.
	waiting bool
	onActor bool // the receiver runs on rxWait
	backlog []can.Frame
	send    func(can.Frame) error // the node's Send

	mu     sync.Mutex
	closed bool
	txBusy bool
	txIdle clock.Cond
	// fcWait: a sender expects flow control (armFC sets it; the receive
	// actor clears it at any FC but WAIT, the sender when it ends). fcq
	// holds the FCs received meanwhile that the sender has not taken yet:
	// a peer may answer WAIT and then CTS before the sender runs again.
	fcWait bool
	fcq    []fcFrame
	fcCond clock.Cond

	// transmit confirmation from a bus tap (timed buses only)
	confirm   bool
	removeTap func()
	txSent    uint64 // frames handed to the node
	txDone    uint64 // of those, frames seen on the wire
	txDoneAt  time.Time
	txCond    clock.Cond
}

// fcFrame is a received flow control frame: FS, BS, STmin, or why it is
// malformed.
type fcFrame struct {
	fc  [3]byte
	bad *Error
}

type rxItem struct {
	msg []byte
	err *Error
}

// New attaches a node named opt.Name to bus, with a filter for opt.RxID,
// and starts the channel's receive actor on clk.
func New(bus can.Bus, clk clock.Clock, opt Options) (*Conn, error) {
	if err := opt.normalize(bus.FD()); err != nil {
		return nil, err
	}
	node, err := bus.Attach(opt.Name, can.Exact(opt.RxID, opt.Extended))
	if err != nil {
		return nil, &Error{Kind: KindBus, Msg: fmt.Sprintf("attach %s to bus %s", opt.Name, bus.Name()), Err: err}
	}
	c := newConn(node, clk, opt)
	if t, ok := bus.(interface{ Timed() bool }); ok && t.Timed() {
		// On a bus that models frame durations, Send returns when a frame
		// is queued, not when it has been sent: watch our own frames on
		// the wire so STmin is measured from the end of the previous CF.
		c.confirm = true
		if st, ok := bus.(interface {
			TapSender(string, func(can.Event)) func()
		}); ok {
			c.removeTap = st.TapSender(opt.Name, c.tap)
		} else {
			c.removeTap = bus.Tap(c.tap)
		}
	}
	c.start()
	return c, nil
}

// start runs the receiver: in the node's delivery step when it offers one
// (can.Deliverer: no goroutine wakes per frame), else on a receive actor.
func (c *Conn) start() {
	if d, ok := c.node.(can.Deliverer); ok {
		c.ncr = clock.NewAlarm(c.clk, c.ncrFired)
		c.sync, c.dl = true, d
		if d.Deliver(c.onFrame) {
			return
		}
		c.sync, c.dl = false, nil
	}
	c.clk.Go(c.opt.Name+"/rx", c.rxLoop)
}

// tap counts our own frames as they leave the wire (confirmation).
func (c *Conn) tap(ev can.Event) {
	if ev.Sender != c.opt.Name || ev.Frame.ID != c.opt.TxID || ev.Frame.Extended != c.opt.Extended {
		return
	}
	c.mu.Lock()
	c.txDone++
	c.txDoneAt = ev.Time
	c.txCond.Broadcast()
	c.mu.Unlock()
}

// OnNode runs a channel on an already attached node (for example a
// SocketCAN node); the node should only receive opt.RxID (frames with other
// identifiers are ignored, at a cost). fd says whether the node's bus
// carries CAN FD. The Conn owns the node: Close closes it.
func OnNode(node can.Node, fd bool, clk clock.Clock, opt Options) (*Conn, error) {
	if err := opt.normalize(fd); err != nil {
		return nil, err
	}
	c := newConn(node, clk, opt)
	c.start()
	return c, nil
}

func newConn(node can.Node, clk clock.Clock, opt Options) *Conn {
	c := &Conn{opt: opt, clk: clk, node: node, ae: opt.addrLen()}
	c.send = node.Send
	c.tmpl = can.Frame{ID: opt.TxID, Extended: opt.Extended, FD: opt.FD, BRS: opt.BRS}
	if c.ae == 1 {
		c.tmpl.Data[0] = opt.TxAddr
	}
	c.pad = opt.PadByte
	if opt.FD && !opt.Pad {
		c.pad = DefaultFDPad
	}
	c.sfMax = sfMax(opt.TxDL, c.ae)
	c.stmin = EncodeSTmin(opt.STmin)
	c.txIdle = clk.NewCond(&c.mu)
	c.fcCond = clk.NewCond(&c.mu)
	c.txCond = clk.NewCond(&c.mu)
	c.rxq = clock.NewQueue[rxItem](clk, opt.RxQueue)
	c.rx = receiver{
		ae: c.ae, addr: opt.RxAddr, fd: opt.FD, maxRx: opt.MaxRx, bs: opt.BlockSize,
		nCr: opt.NCr, rxID: opt.RxID, rxExt: opt.Extended,
		sendFC:  c.sendFC,
		deliver: c.deliver,
		full:    func() bool { return c.rxq.Len() >= opt.RxQueue },
		onFC:    c.onFC,
	}
	if opt.Observer != nil {
		c.rx.observe = func(ev Event) {
			ev.Time = c.clk.Now()
			ev.Dir = RX
			opt.Observer(ev)
		}
	}
	return c
}

// Options returns the channel's options with the defaults filled in.
func (c *Conn) Options() Options { return c.opt }

func (c *Conn) deliver(msg []byte, err *Error) bool {
	return c.rxq.TryPush(rxItem{msg, err})
}

// rxLoop is the receive actor: it reads the node, runs the reassembly and
// the N_Cr timer, and hands flow control frames to the sender.
func (c *Conn) rxLoop() {
	for {
		timeout := clock.Forever
		if dl, ok := c.rx.deadlineAt(); ok {
			timeout = max(dl.Sub(c.clk.Now()), 0)
		}
		f, err := c.node.Recv(timeout)
		if err != nil {
			if errors.Is(err, can.ErrTimeout) {
				c.rx.expire(c.clk.Now())
				continue
			}
			c.mu.Lock()
			c.rxDone = true
			if !c.closed {
				c.rxErr = err
			}
			c.fcCond.Broadcast()
			c.mu.Unlock()
			c.rxq.Close()
			return
		}
		c.rxf = f // handled through a pointer: keep it off the heap per frame
		c.rx.handle(&c.rxf, c.clk.Now())
	}
}

// onFrame is the receiver in the node's delivery step (c.sync): it handles
// f at the instant it left the wire, as the receive actor would have at
// that instant, and keeps the N_Cr alarm set. f nil: the node was closed.
func (c *Conn) onFrame(f *can.Frame) {
	if f == nil {
		c.ncr.Stop()
		c.mu.Lock()
		c.rxDone = true
		if !c.closed {
			c.rxErr = fmt.Errorf("node %s: %w", c.opt.Name, can.ErrClosed)
		}
		c.fcCond.Broadcast()
		c.mu.Unlock()
		c.rxq.Close()
		return
	}
	if c.waiting {
		c.backlog = append(c.backlog, *f)
		return
	}
	if c.dl.Full() {
		// an answer would have to wait for room: on an actor
		c.waiting = true
		c.backlog = append(c.backlog, *f)
		c.clk.Go(c.opt.Name+"/rx", c.rxWait)
		return
	}
	now := c.clk.Now()
	c.rx.handle(f, now)
	c.armNCr(now)
}

// rxWait handles the backlog on an actor, where sending flow control may
// wait for room in the node's transmit queue, as the receive actor of an
// unsynchronised node does; then the receiver is back in the delivery
// step.
func (c *Conn) rxWait() {
	c.onActor = true
	for len(c.backlog) > 0 {
		c.rxf = c.backlog[0]
		n := copy(c.backlog, c.backlog[1:])
		c.backlog = c.backlog[:n]
		c.rx.handle(&c.rxf, c.clk.Now())
	}
	c.onActor, c.waiting = false, false
	now := c.clk.Now()
	c.rx.expire(now) // N_Cr passed while it waited
	c.armNCr(now)
}

// armNCr sets the N_Cr alarm for a reception in progress. The deadline
// only moves later, so an alarm already set stays: when it fires before
// the deadline it is set again for it.
func (c *Conn) armNCr(now time.Time) {
	if dl, ok := c.rx.deadlineAt(); ok && !c.ncrSet {
		c.ncrSet = true
		c.ncr.Set(max(dl.Sub(now), 0))
	}
}

// ncrFired is the N_Cr alarm.
func (c *Conn) ncrFired() {
	c.ncrSet = false
	if c.waiting {
		return // rxWait checks it when it is done
	}
	now := c.clk.Now()
	c.rx.expire(now)
	c.armNCr(now)
}

// Recv returns the next received message. timeout < 0 waits forever. A
// reception that failed (wrong sequence number, N_Cr timeout, aborted by a
// new first frame, announced more than MaxRx) is reported as an *Error in
// the order it happened, as the kernel reports socket errors; the Conn
// stays usable.
func (c *Conn) Recv(timeout time.Duration) ([]byte, error) {
	it, err := c.rxq.Pop(timeout)
	if err != nil {
		if errors.Is(err, clock.ErrTimeout) {
			return nil, &Error{Kind: KindTimeout, Msg: fmt.Sprintf("no message within %s (rx id %#x)", timeout, c.opt.RxID)}
		}
		c.mu.Lock()
		nodeErr := c.rxErr
		c.mu.Unlock()
		if nodeErr != nil && !errors.Is(nodeErr, can.ErrClosed) {
			return nil, &Error{Kind: KindBus, Msg: fmt.Sprintf("receive (rx id %#x)", c.opt.RxID), Err: nodeErr}
		}
		return nil, &Error{Kind: KindClosed, Msg: fmt.Sprintf("receive on a closed channel (rx id %#x)", c.opt.RxID)}
	}
	if it.err != nil {
		return nil, it.err
	}
	return it.msg, nil
}

// Close stops the channel and closes its node; blocked Send and Recv calls
// return errors of KindClosed.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.fcCond.Broadcast()
	c.txIdle.Broadcast()
	c.txCond.Broadcast()
	c.mu.Unlock()
	if c.removeTap != nil {
		c.removeTap()
	}
	err := c.node.Close()
	c.rxq.Close()
	if err != nil {
		return &Error{Kind: KindBus, Msg: "close node " + c.opt.Name, Err: err}
	}
	return nil
}

// finish pads a frame whose content is l bytes long and sets its length.
func (c *Conn) finish(f *can.Frame, l int) {
	n := l
	switch {
	case c.opt.FD:
		n = can.FDPadLen(l)
		if c.opt.Pad && n < can.MaxClassicLen {
			n = can.MaxClassicLen
		}
	case c.opt.Pad:
		n = can.MaxClassicLen
	}
	for i := l; i < n; i++ {
		f.Data[i] = c.pad
	}
	f.Len = uint8(n)
}

// put hands one frame to the node, checking the N_As/N_Ar budget.
func (c *Conn) put(f *can.Frame, limit time.Duration, timer, what string) error {
	start := c.clk.Now()
	if c.confirm {
		c.mu.Lock()
		c.txSent++
		c.mu.Unlock()
	}
	send := c.send
	if timer == "N_Ar" && c.sync && !c.onActor {
		send = c.dl.SendNow // from the delivery step: it may not wait
	}
	if err := send(*f); err != nil {
		if c.confirm {
			c.mu.Lock()
			c.txSent--
			c.mu.Unlock()
		}
		k := KindBus
		if errors.Is(err, can.ErrClosed) {
			k = KindClosed
		}
		return &Error{Kind: k, Msg: fmt.Sprintf("send %s (tx id %#x)", what, c.opt.TxID), Err: err}
	}
	now := c.clk.Now()
	if d := now.Sub(start); d > limit {
		return &Error{Kind: KindTimeout, Timer: timer,
			Msg: fmt.Sprintf("%s timeout: handing %s to the CAN node took %s (tx id %#x)", timer, what, d, c.opt.TxID)}
	}
	if c.opt.Observer != nil {
		c.opt.Observer(Event{Time: now, Dir: TX, Type: typeOf(f.Data[c.ae]), Frame: *f, Info: what})
	}
	return nil
}

// cfBatch is how many consecutive frames Send hands to a BatchSender at
// once.
const cfBatch = 64

// putBatch hands a run of consecutive frames to a node that takes them at
// once; N_As bounds the whole run.
func (c *Conn) putBatch(b can.BatchSender, frames []can.Frame) error {
	start := c.clk.Now()
	if c.confirm {
		c.mu.Lock()
		c.txSent += uint64(len(frames))
		c.mu.Unlock()
	}
	if n, err := b.SendBatch(frames); err != nil {
		if c.confirm {
			c.mu.Lock()
			c.txSent -= uint64(len(frames) - n)
			c.mu.Unlock()
		}
		k := KindBus
		if errors.Is(err, can.ErrClosed) {
			k = KindClosed
		}
		return &Error{Kind: k, Msg: fmt.Sprintf("send CF (tx id %#x)", c.opt.TxID), Err: err}
	}
	now := c.clk.Now()
	if d := now.Sub(start); d > c.opt.NAs {
		return &Error{Kind: KindTimeout, Timer: "N_As",
			Msg: fmt.Sprintf("N_As timeout: handing a run of %d CFs to the CAN node took %s (tx id %#x)", len(frames), d, c.opt.TxID)}
	}
	if c.opt.Observer != nil {
		for i := range frames {
			c.opt.Observer(Event{Time: now, Dir: TX, Type: ConsecutiveFrame, Frame: frames[i], Info: "CF"})
		}
	}
	return nil
}

// sendFC sends a flow control frame (from the receive actor).
func (c *Conn) sendFC(fs byte) error {
	f := c.tmpl
	f.Data[c.ae] = pciFC<<4 | fs
	f.Data[c.ae+1] = c.opt.BlockSize
	f.Data[c.ae+2] = c.stmin
	c.finish(&f, c.ae+3)
	return c.put(&f, c.opt.NAr, "N_Ar", "FC "+fsName(fs))
}

// onFC takes a flow control frame from the receive actor. Whether an FC is
// expected is decided here, frame by frame in arrival order, as the
// kernel's can-isotp does: after WAIT another FC is awaited, after any
// other none until the sender asks again (so a second CTS in a row is
// ignored), however late the sender takes them.
func (c *Conn) onFC(f *can.Frame, ae int) {
	c.mu.Lock()
	if !c.fcWait {
		c.mu.Unlock()
		c.rx.ignore(f, FlowControl, "FC while no transmission waits for one")
		return
	}
	if len(c.fcq) > c.opt.MaxWait {
		// N_WFTmax+1 WAITs are queued: the sender will give up on them
		c.mu.Unlock()
		c.rx.ignore(f, FlowControl, fmt.Sprintf("FC after %d FC WAIT not yet taken", len(c.fcq)))
		return
	}
	var it fcFrame
	if int(f.Len) < ae+3 {
		it.bad = errorf(KindProtocol, "malformed FC of %d bytes; transmission aborted (tx id %#x)", f.Len, c.opt.TxID)
	} else {
		copy(it.fc[:], f.Data[ae:ae+3])
		it.fc[0] &= 0x0f
	}
	if it.bad != nil || it.fc[0] != fsWait {
		c.fcWait = false
	}
	c.fcq = append(c.fcq, it)
	c.fcCond.Signal()
	c.mu.Unlock()
	if c.rx.observe != nil {
		c.rx.observe(Event{Type: FlowControl, Frame: *f, Info: "FC " + fsName(f.Data[ae]&0x0f)})
	}
}

// armFC prepares for a flow control frame: set before sending the frame
// that asks for it, so a quick answer is not missed.
func (c *Conn) armFC() {
	c.mu.Lock()
	c.fcWait, c.fcq = true, c.fcq[:0]
	c.mu.Unlock()
}

// endFCLocked stops expecting flow control (c.mu held).
func (c *Conn) endFCLocked() {
	c.fcWait, c.fcq = false, c.fcq[:0]
}

// waitFCLocked waits on fcCond with c.mu held. When the simulation stops
// meanwhile, the clock ends the actor by unwinding it with c.mu held again;
// waitFC unlocks by hand, not by defer, so c.mu is released here on the
// way out, or Send's deferred unlockTX would wait for it forever (and the
// clock's Run with it).
func (c *Conn) waitFCLocked(d time.Duration) {
	woke := false
	defer func() {
		if !woke {
			c.mu.Unlock()
		}
	}()
	c.fcCond.Wait(d)
	woke = true
}

// waitFC waits up to N_Bs for the flow control frame armFC asked for.
func (c *Conn) waitFC(after string) ([3]byte, error) {
	c.mu.Lock()
	deadline := c.clk.Now().Add(c.opt.NBs)
	for len(c.fcq) == 0 {
		if c.closed || c.rxDone {
			c.endFCLocked()
			c.mu.Unlock()
			return [3]byte{}, errorf(KindClosed, "channel closed while waiting for FC after %s (tx id %#x)", after, c.opt.TxID)
		}
		left := deadline.Sub(c.clk.Now())
		if left <= 0 {
			c.endFCLocked()
			c.mu.Unlock()
			err := &Error{Kind: KindTimeout, Timer: "N_Bs",
				Msg: fmt.Sprintf("N_Bs timeout: no flow control within %s after %s (tx id %#x)", c.opt.NBs, after, c.opt.TxID)}
			c.observeTX(err)
			return [3]byte{}, err
		}
		c.waitFCLocked(left)
	}
	it := c.fcq[0]
	c.fcq = c.fcq[1:]
	c.mu.Unlock()
	if it.bad != nil {
		return it.fc, it.bad
	}
	return it.fc, nil
}

func (c *Conn) observeTX(err error) {
	if c.opt.Observer != nil {
		c.opt.Observer(Event{Time: c.clk.Now(), Dir: TX, Type: NoFrame, Err: err})
	}
}

// sentAt returns when our last frame left the wire (waiting up to N_As for
// it), or, without transmit confirmation, handed is returned.
func (c *Conn) sentAt(handed time.Time) (time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.confirm {
		return handed, nil
	}
	deadline := c.clk.Now().Add(c.opt.NAs)
	for c.txDone < c.txSent {
		if c.closed {
			return handed, errorf(KindClosed, "channel closed while sending (tx id %#x)", c.opt.TxID)
		}
		left := deadline.Sub(c.clk.Now())
		if left <= 0 {
			return handed, &Error{Kind: KindTimeout, Timer: "N_As",
				Msg: fmt.Sprintf("N_As timeout: CF not on the wire within %s (tx id %#x)", c.opt.NAs, c.opt.TxID)}
		}
		c.txCond.Wait(left)
	}
	return c.txDoneAt, nil
}

// lockTX makes Send calls take turns.
func (c *Conn) lockTX() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.txBusy && !c.closed {
		c.txIdle.Wait(clock.Forever)
	}
	if c.closed {
		return errorf(KindClosed, "send on a closed channel (tx id %#x)", c.opt.TxID)
	}
	c.txBusy = true
	return nil
}

func (c *Conn) unlockTX() {
	c.mu.Lock()
	c.endFCLocked() // a transmission that ended expects no more FC
	c.txBusy = false
	c.txIdle.Signal()
	c.mu.Unlock()
}

// Send transmits msg and blocks until the whole message is sent (its last
// frame handed to the CAN node) or the transmission failed. Concurrent
// Sends take turns. The receiver's flow control is honoured: its block
// size, its STmin between consecutive frames, FC WAIT up to N_WFTmax
// times, FC OVFLW.
//
// STmin is paced on the clock from the end of the previous consecutive
// frame. On a bus that models frame durations (a timed vbus, seen through
// its Tap) that is when the frame left the wire; otherwise (OnNode, e.g.
// SocketCAN) it is when the node accepted the frame. When the receiver asks
// for no gap (STmin 0) and the node takes several frames at once
// (can.BatchSender, e.g. SocketCAN), the consecutive frames go in runs of
// up to 64 (never past the end of a block); N_As then bounds each run.
func (c *Conn) Send(msg []byte) error {
	switch {
	case len(msg) == 0:
		return errorf(KindInvalid, "empty message (tx id %#x)", c.opt.TxID)
	case int64(len(msg)) > MaxMessage:
		return errorf(KindInvalid, "message of %d bytes exceeds the ISO-TP maximum %d (tx id %#x)",
			len(msg), int64(MaxMessage), c.opt.TxID)
	}
	if err := c.lockTX(); err != nil {
		return err
	}
	defer c.unlockTX()
	ae, n := c.ae, len(msg)
	if n <= c.sfMax {
		f := c.tmpl
		if n <= 7-ae {
			f.Data[ae] = byte(n)
			copy(f.Data[ae+1:], msg)
			c.finish(&f, ae+1+n)
		} else {
			f.Data[ae] = 0
			f.Data[ae+1] = byte(n)
			copy(f.Data[ae+2:], msg)
			c.finish(&f, ae+2+n)
		}
		return c.put(&f, c.opt.NAs, "N_As", "SF")
	}

	dl := c.opt.TxDL
	f := c.tmpl
	off := ae + 2
	if n <= maxFF12 {
		f.Data[ae] = pciFF<<4 | byte(n>>8)
		f.Data[ae+1] = byte(n)
	} else {
		f.Data[ae] = pciFF << 4
		f.Data[ae+1] = 0
		binary.BigEndian.PutUint32(f.Data[ae+2:], uint32(n))
		off = ae + 6
	}
	pos := copy(f.Data[off:dl], msg)
	c.finish(&f, dl)
	per := dl - ae - 1
	total := (n - pos + per - 1) / per
	c.armFC()
	if err := c.put(&f, c.opt.NAs, "N_As", "FF"); err != nil {
		return err
	}

	// A node that takes several frames at once (SocketCAN: one sendmmsg;
	// the timed virtual bus: one wake-up of this actor per half transmit
	// queue instead of one per frame) gets the CFs that need no STmin gap
	// in runs.
	var (
		batcher can.BatchSender
		batch   []can.Frame
	)
	if b, ok := c.node.(can.BatchSender); ok {
		batcher, batch = b, make([]can.Frame, min(cfBatch, total))
	}
	var (
		bs, waits int
		stmin     time.Duration
		gotCTS    bool
		sn        byte = 1
		sent      int
		after     = "FF"
		handed    time.Time // when the last CF was handed to the node
	)
	for {
		fc, err := c.waitFC(after)
		if err != nil {
			return err
		}
		switch fc[0] {
		case fsCTS:
			if !gotCTS {
				// the parameters of the first CTS hold for the whole message
				bs, stmin, gotCTS = int(fc[1]), DecodeSTmin(fc[2]), true
			}
			waits = 0
		case fsWait:
			waits++
			if waits > c.opt.MaxWait {
				err := errorf(KindProtocol, "FC WAIT %d times in a row after %s, more than N_WFTmax %d; transmission aborted (tx id %#x)",
					waits, after, c.opt.MaxWait, c.opt.TxID)
				c.observeTX(err)
				return err
			}
			continue
		case fsOverflow:
			err := errorf(KindOverflow, "receiver answered FC OVFLW to a %d-byte message (tx id %#x)", n, c.opt.TxID)
			c.observeTX(err)
			return err
		default:
			err := errorf(KindProtocol, "FC with invalid flow status %d after %s; transmission aborted (tx id %#x)",
				fc[0], after, c.opt.TxID)
			c.observeTX(err)
			return err
		}
		for i := 0; bs == 0 || i < bs; {
			if stmin == 0 && batcher != nil {
				// no gap to keep: hand a run of CFs to the node at once
				k := min(len(batch), total-sent)
				if bs > 0 {
					k = min(k, bs-i)
				}
				for j := range k {
					f := &batch[j]
					*f = c.tmpl
					f.Data[ae] = pciCF<<4 | sn
					m := copy(f.Data[ae+1:dl], msg[pos:])
					c.finish(f, ae+1+m)
					pos += m
					sn = (sn + 1) & 0x0f
				}
				sent += k
				i += k
				last := pos == n
				blockEnd := bs > 0 && i == bs && !last
				if blockEnd {
					c.armFC()
				}
				if err := c.putBatch(batcher, batch[:k]); err != nil {
					return err
				}
				handed = c.clk.Now()
				if last {
					return nil
				}
				if blockEnd {
					break
				}
				continue
			}
			if i > 0 && stmin > 0 {
				// STmin runs from the end of the previous CF
				ref, err := c.sentAt(handed)
				if err != nil {
					return err
				}
				if d := stmin - c.clk.Since(ref); d > 0 {
					c.clk.Sleep(d)
				}
			}
			f := c.tmpl
			f.Data[ae] = pciCF<<4 | sn
			k := copy(f.Data[ae+1:dl], msg[pos:])
			c.finish(&f, ae+1+k)
			pos += k
			sn = (sn + 1) & 0x0f
			sent++
			last := pos == n
			blockEnd := bs > 0 && i == bs-1 && !last
			if blockEnd {
				c.armFC()
			}
			if err := c.put(&f, c.opt.NAs, "N_As", "CF"); err != nil {
				return err
			}
			handed = c.clk.Now()
			if last {
				return nil
			}
			if blockEnd {
				break
			}
			i++
		}
		after = fmt.Sprintf("CF %d of %d", sent, total)
	}
}
