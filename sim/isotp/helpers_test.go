package isotp_test

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/isotp"
	"github.com/uptane-hil/uptane-hil/sim/socketcan"
	"github.com/uptane-hil/uptane-hil/sim/vbus"
)

// A transport is a bus and a clock the shared ISO-TP specs run on (see
// transports_test.go): each spec body takes an env and says only what must
// hold on every transport.
type transport struct {
	name string
	// large is the size of the "large message" spec: 1 MiB in process; on
	// vcan in the VM, where an emulated CPU moves every frame through user
	// space at 30-60 kB/s, 100,000 bytes (still a 32-bit FF_DL beyond 16
	// bits).
	large int
	// run calls body with a fresh env on a classic (fd false) or CAN FD bus.
	run func(fd bool, body func(e *env))
}

var (
	// simulated: the in-process bus under the simulated clock. Deterministic:
	// times and orders are exact.
	simulated = transport{name: "the virtual bus under the simulated clock", large: 1 << 20,
		run: func(fd bool, body func(e *env)) { simEnv(vbus.Config{FD: fd}, body) }}
	// virtualWall: the in-process bus under the wall clock: real goroutines
	// and real time, on any host (what vcan adds is the kernel's sockets).
	virtualWall = transport{name: "the virtual bus under the wall clock", large: 1 << 20, run: wallVbusEnv}
	// vcan: Linux SocketCAN, vcan0 (classic, MTU 16) and vcan1 (CAN FD, MTU
	// 72), under the wall clock; only in the VM of `make test-vcan`.
	vcan = transport{name: "SocketCAN vcan0 and vcan1 under the wall clock", large: 100_000, run: vcanEnv}
)

// Wall-clock margins: generous, for a software-emulated single vCPU on a
// loaded host. They bound how long a spec waits, never what it asserts.
const (
	wallWithin = 30 * time.Second       // for anything that must arrive
	wallQuiet  = 100 * time.Millisecond // watched for something that must not
)

// env is one bus and clock for one spec body.
type env struct {
	clk clock.Clock
	bus can.Bus
	// exact: simulated clock; times are exact and orders deterministic.
	// Otherwise a timer is checked to fire no earlier than its timeout.
	exact bool
	// within bounds waits for what must happen; quiet is how long a wait
	// for what must not happen lasts (0 on the simulated clock: every actor
	// has run by then).
	within, quiet time.Duration
	// flush, when set, returns once the tap has seen every frame sent
	// before the call (SocketCAN's tap reads its own socket).
	flush func()

	mu     sync.Mutex
	events []can.Event // every frame on the bus, in order
}

func (e *env) record(ev can.Event) {
	e.mu.Lock()
	e.events = append(e.events, ev)
	e.mu.Unlock()
}

// simEnv runs body as the root actor of a simulated clock with a virtual
// bus built from cfg (virtual-only specs use it directly for timed buses).
func simEnv(cfg vbus.Config, body func(e *env)) {
	GinkgoHelper()
	clk := clock.NewSim(time.Time{})
	clk.SetHorizon(24 * time.Hour)
	cfg.Clock = clk
	if cfg.Name == "" {
		cfg.Name = "test"
	}
	bus := vbus.New(cfg)
	e := &env{clk: clk, bus: bus, exact: true, within: wallWithin}
	bus.Tap(e.record)
	Expect(clk.Run("root", func() { body(e) })).To(Succeed())
}

// wallVbusEnv runs body on a virtual bus under the wall clock. Its tap
// runs in the sender's goroutine before the frame is delivered: the record
// is complete and in causal order when the sender returns.
func wallVbusEnv(fd bool, body func(e *env)) {
	clk := clock.NewWall()
	bus := vbus.New(vbus.Config{Name: "wall", FD: fd, Clock: clk})
	defer bus.Close()
	e := &env{clk: clk, bus: bus, within: wallWithin, quiet: wallQuiet}
	bus.Tap(e.record)
	body(e)
}

// markerID carries the frames with which vcanEnv finds the end of the
// record; no channel of the specs uses it.
const markerID = can.MaxExtID

// vcanEnv runs body on vcan0 or vcan1. Each channel and peer is a socket
// of its own, as separate processes would have.
func vcanEnv(fd bool, body func(e *env)) {
	GinkgoHelper()
	ifname := "vcan0"
	if fd {
		ifname = "vcan1"
	}
	bus, err := socketcan.Open(ifname)
	Expect(err).NotTo(HaveOccurred())
	defer bus.Close()
	e := &env{clk: clock.NewWall(), bus: bus, within: wallWithin, quiet: wallQuiet}
	bus.Tap(e.record)
	marker, err := bus.Attach("marker", can.Exact(markerID-1, true)) // sends only
	Expect(err).NotTo(HaveOccurred())
	var seq uint32
	e.flush = func() {
		// the kernel puts a frame in the tap's socket during the sender's
		// write: a marker sent now comes after every earlier frame
		seq++
		f := can.Frame{ID: markerID, Extended: true, Len: 4}
		binary.BigEndian.PutUint32(f.Data[:], seq)
		Expect(marker.Send(f)).To(Succeed())
		Eventually(func() bool {
			e.mu.Lock()
			defer e.mu.Unlock()
			for i := len(e.events) - 1; i >= 0; i-- {
				if g := e.events[i].Frame; g.ID == markerID && g.Extended && binary.BigEndian.Uint32(g.Data[:]) == seq {
					return true
				}
			}
			return false
		}, e.within, time.Millisecond).Should(BeTrue(), "the tap on %s never saw marker %d", ifname, seq)
	}
	e.flush() // the tap listens
	body(e)
}

// wire returns every frame on the bus so far, in order.
func (e *env) wire() []can.Event {
	if e.flush != nil {
		e.flush()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []can.Event
	for _, ev := range e.events {
		if !(ev.Frame.ID == markerID && ev.Frame.Extended) {
			out = append(out, ev)
		}
	}
	return out
}

// sentBy returns the frames of evs on o's transmit identifier.
func sentBy(evs []can.Event, o isotp.Options) []can.Event {
	var out []can.Event
	for _, ev := range evs {
		if ev.Frame.ID == o.TxID && ev.Frame.Extended == o.Extended {
			out = append(out, ev)
		}
	}
	return out
}

// types returns the ISO-TP frame types in evs ("FF FC CF ...") with ae
// address bytes.
func types(evs []can.Event, ae int) string {
	var s []string
	for _, ev := range evs {
		s = append(s, pciName(ev.Frame.Data[ae]))
	}
	return strings.Join(s, " ")
}

func pciName(b byte) string {
	return [...]string{"SF", "FF", "CF", "FC", "4", "5", "6", "7", "8", "9", "A", "B", "C", "D", "E", "F"}[b>>4]
}

// cfGaps returns the times between successive consecutive frames on id
// that are not separated by a flow control frame (normal addressing).
func cfGaps(evs []can.Event, id uint32) []time.Duration {
	var gaps []time.Duration
	var prev time.Time
	for _, ev := range evs {
		switch {
		case ev.Frame.Data[0]>>4 == 3:
			prev = time.Time{}
		case ev.Frame.ID == id && ev.Frame.Data[0]>>4 == 2:
			if !prev.IsZero() {
				gaps = append(gaps, ev.Time.Sub(prev))
			}
			prev = ev.Time
		}
	}
	return gaps
}

// atLeast checks a duration a timer or STmin imposes: exactly want on the
// simulated clock, no less than want on the wall clock (what happened
// later is scheduling, not the protocol).
func (e *env) atLeast(got, want time.Duration, what string, args ...any) {
	if e.exact {
		ExpectWithOffset(1, got).To(Equal(want), fmt.Sprintf(what, args...))
	} else {
		ExpectWithOffset(1, got).To(BeNumerically(">=", want), fmt.Sprintf(what, args...))
	}
}

// await waits until cond holds: on the simulated clock it lets the other
// actors run (then lets time pass in 1 ms steps); on the wall clock it
// polls.
func (e *env) await(what string, cond func() bool) {
	GinkgoHelper()
	start := e.clk.Now()
	for i := 0; !cond(); i++ {
		if e.clk.Since(start) > e.within {
			Fail(fmt.Sprintf("waited %s for %s", e.within, what), 1)
		}
		switch {
		case e.exact && i < 100:
			e.clk.Sleep(0)
		default:
			e.clk.Sleep(time.Millisecond)
		}
	}
}

// optsA and optsB are the two ends of a normal-addressing channel.
func optsA() isotp.Options { return isotp.Options{Name: "A", TxID: 0x7e0, RxID: 0x7e8} }
func optsB() isotp.Options { return isotp.Options{Name: "B", TxID: 0x7e8, RxID: 0x7e0} }

func (e *env) conn(o isotp.Options) *isotp.Conn {
	c, err := isotp.New(e.bus, e.clk, o)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return c
}

// hookedNode lets a spec act on a channel's frames at the node: hold a
// frame before it goes out (a CAN controller that cannot get it onto the
// bus: arbitration lost to busier nodes, no acknowledgement), or notice a
// frame that came in. vcan never holds a frame, so the N_As and N_Ar specs
// hold it here, on every transport alike.
type hookedNode struct {
	can.Node
	beforeSend func(f can.Frame) // may block on the clock (nil: none)
	afterRecv  func(f can.Frame) // must not block (nil: none)
}

func (h *hookedNode) Send(f can.Frame) error {
	if h.beforeSend != nil {
		h.beforeSend(f)
	}
	return h.Node.Send(f)
}

func (h *hookedNode) Recv(timeout time.Duration) (can.Frame, error) {
	f, err := h.Node.Recv(timeout)
	if err == nil && h.afterRecv != nil {
		h.afterRecv(f)
	}
	return f, err
}

// hookedConn is a channel on a hookedNode.
func (e *env) hookedConn(o isotp.Options, beforeSend, afterRecv func(f can.Frame)) *isotp.Conn {
	node, err := e.bus.Attach(o.Name, can.Exact(o.RxID, o.Extended))
	ExpectWithOffset(2, err).NotTo(HaveOccurred())
	c, err := isotp.OnNode(&hookedNode{Node: node, beforeSend: beforeSend, afterRecv: afterRecv}, e.bus.FD(), e.clk, o)
	ExpectWithOffset(2, err).NotTo(HaveOccurred())
	return c
}

// heldConn is a channel whose node holds each frame for hold(frame).
func (e *env) heldConn(o isotp.Options, hold func(f can.Frame) time.Duration) *isotp.Conn {
	return e.hookedConn(o, func(f can.Frame) {
		if d := hold(f); d > 0 {
			e.clk.Sleep(d)
		}
	}, nil)
}

// sendAsync runs c.Send(msg) on its own actor; the result arrives on the
// returned queue (take it with pop).
func (e *env) sendAsync(c *isotp.Conn, msg []byte) *clock.Queue[error] {
	q := clock.NewQueue[error](e.clk, 1)
	e.clk.Go("send", func() { q.TryPush(c.Send(msg)) })
	return q
}

// pop returns the result of a sendAsync.
func (e *env) pop(q *clock.Queue[error]) error {
	err, perr := q.Pop(e.within)
	ExpectWithOffset(1, perr).NotTo(HaveOccurred(), "the Send did not return")
	return err
}

// noMessage checks that c has no message (and no error) to deliver.
func (e *env) noMessage(c *isotp.Conn) {
	_, err := c.Recv(e.quiet)
	ExpectWithOffset(1, err).To(MatchError(isotp.ErrTimeout))
}

// pattern returns n bytes that differ from their neighbours and from a
// shifted copy, so a lost, duplicated or reordered chunk shows.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8 + i>>16)
	}
	return b
}

// frm builds a frame from hex data ("30 00 00"); more than 8 bytes make it
// a CAN FD frame.
func frm(id uint32, h string) can.Frame {
	GinkgoHelper()
	d, err := hex.DecodeString(strings.ReplaceAll(h, " ", ""))
	Expect(err).NotTo(HaveOccurred())
	f := can.New(id, d)
	f.FD = len(d) > 8
	return f
}

// peer is a raw node speaking ISO-TP frames by hand: a scripted or hostile
// peer on the same bus (on vcan, a socket of its own).
type peer struct {
	e    *env
	node can.Node
	tx   uint32
}

func (e *env) peer(name string, tx, rx uint32) *peer {
	GinkgoHelper()
	n, err := e.bus.Attach(name, can.Exact(rx, false))
	Expect(err).NotTo(HaveOccurred())
	return &peer{e: e, node: n, tx: tx}
}

func (p *peer) send(h string) {
	ExpectWithOffset(1, p.node.Send(frm(p.tx, h))).To(Succeed())
}

func (p *peer) recv() can.Frame {
	f, err := p.node.Recv(p.e.within)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return f
}

func (p *peer) expectNothing() {
	f, err := p.node.Recv(p.e.quiet)
	ExpectWithOffset(1, err).To(MatchError(can.ErrTimeout), "got %s", f)
}

// recorder collects a channel's Observer events; the observer runs on the
// channel's goroutines.
type recorder struct {
	mu  sync.Mutex
	evs []isotp.Event
}

func (r *recorder) observe(ev isotp.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
}

func (r *recorder) all() []isotp.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]isotp.Event(nil), r.evs...)
}

// ignored returns why each ignored frame was ignored.
func (r *recorder) ignored() []string {
	var out []string
	for _, ev := range r.all() {
		if ev.Ignored {
			out = append(out, ev.Info)
		}
	}
	return out
}

// errs returns the errors of the events.
func (r *recorder) errs() []error {
	var out []error
	for _, ev := range r.all() {
		if ev.Err != nil {
			out = append(out, ev.Err)
		}
	}
	return out
}

func hexOf(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

func clockWall() clock.Clock { return clock.NewWall() }
