package isotp_test

import (
	"encoding/hex"
	"strings"
	"time"

	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/isotp"
	"github.com/uptane-hil/uptane-hil/sim/vbus"
)

// rig is a simulated bus with a tap recording every frame.
type rig struct {
	clk    *clock.Sim
	bus    *vbus.Bus
	events []can.Event
}

// simRun runs body as the root actor of a simulated clock with a bus built
// from cfg.
func simRun(cfg vbus.Config, body func(r *rig)) {
	clk := clock.NewSim(time.Time{})
	clk.SetHorizon(24 * time.Hour)
	cfg.Clock = clk
	if cfg.Name == "" {
		cfg.Name = "test"
	}
	r := &rig{clk: clk, bus: vbus.New(cfg)}
	r.bus.Tap(func(ev can.Event) { r.events = append(r.events, ev) })
	Expect(clk.Run("root", func() { body(r) })).To(Succeed())
}

// from returns the frames node name sent, in wire order.
func (r *rig) from(name string) []can.Event {
	var out []can.Event
	for _, ev := range r.events {
		if ev.Sender == name {
			out = append(out, ev)
		}
	}
	return out
}

// types returns the ISO-TP frame types on the wire ("FF FC CF ...") with
// ae address bytes.
func (r *rig) types(ae int) string {
	var s []string
	for _, ev := range r.events {
		s = append(s, pciName(ev.Frame.Data[ae]))
	}
	return strings.Join(s, " ")
}

func pciName(b byte) string {
	return [...]string{"SF", "FF", "CF", "FC", "4", "5", "6", "7", "8", "9", "A", "B", "C", "D", "E", "F"}[b>>4]
}

// optsA and optsB are the two ends of a normal-addressing channel.
func optsA() isotp.Options { return isotp.Options{Name: "A", TxID: 0x7e0, RxID: 0x7e8} }
func optsB() isotp.Options { return isotp.Options{Name: "B", TxID: 0x7e8, RxID: 0x7e0} }

func (r *rig) conn(o isotp.Options) *isotp.Conn {
	c, err := isotp.New(r.bus, r.clk, o)
	Expect(err).NotTo(HaveOccurred())
	return c
}

// sendAsync runs c.Send(msg) on its own actor; the result arrives on the
// returned queue.
func (r *rig) sendAsync(c *isotp.Conn, msg []byte) *clock.Queue[error] {
	q := clock.NewQueue[error](r.clk, 1)
	r.clk.Go("send", func() { q.TryPush(c.Send(msg)) })
	return q
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

// frm builds a classic frame from hex data ("30 00 00").
func frm(id uint32, h string) can.Frame {
	d, err := hex.DecodeString(strings.ReplaceAll(h, " ", ""))
	Expect(err).NotTo(HaveOccurred())
	f := can.New(id, d)
	f.FD = len(d) > 8
	return f
}

// peer is a raw node speaking ISO-TP frames by hand.
type peer struct {
	r    *rig
	node can.Node
	tx   uint32
}

func (r *rig) peer(name string, tx, rx uint32) *peer {
	n, err := r.bus.Attach(name, can.Exact(rx, false))
	Expect(err).NotTo(HaveOccurred())
	return &peer{r: r, node: n, tx: tx}
}

func (p *peer) send(h string) {
	Expect(p.node.Send(frm(p.tx, h))).To(Succeed())
}

func (p *peer) recv() can.Frame {
	f, err := p.node.Recv(10 * time.Second)
	Expect(err).NotTo(HaveOccurred())
	return f
}

func (p *peer) expectNothing() {
	_, err := p.node.Recv(0)
	Expect(err).To(MatchError(can.ErrTimeout))
}

func mustPop(q *clock.Queue[error]) error {
	err, perr := q.Pop(-1)
	Expect(perr).NotTo(HaveOccurred())
	return err
}

func hexOf(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

func clockWall() clock.Clock { return clock.NewWall() }
