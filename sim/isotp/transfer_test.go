package isotp_test

import (
	"encoding/binary"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/isotp"
	"github.com/uptane-hil/uptane-hil/sim/vbus"
)

// channel describes both ends of a channel for the transfer table.
type channel struct {
	fd   bool
	a, b isotp.Options
}

func classicNormal() channel { return channel{a: optsA(), b: optsB()} }

func classicExtAddr29() channel {
	a := isotp.Options{Name: "A", TxID: 0x18da10f1, RxID: 0x18daf110, Extended: true,
		Addressing: isotp.ExtendedAddressing, TxAddr: 0x10, RxAddr: 0xf1, Pad: true, PadByte: 0xaa}
	b := isotp.Options{Name: "B", TxID: 0x18daf110, RxID: 0x18da10f1, Extended: true,
		Addressing: isotp.ExtendedAddressing, TxAddr: 0xf1, RxAddr: 0x10, Pad: true, PadByte: 0xaa}
	return channel{a: a, b: b}
}

func fdNormalBRS() channel {
	a, b := optsA(), optsB()
	a.FD, a.BRS, b.FD, b.BRS = true, true, true, true
	return channel{fd: true, a: a, b: b}
}

func fdExtAddr29DL16() channel {
	c := classicExtAddr29()
	c.fd = true
	c.a.FD, c.a.TxDL, c.a.Pad = true, 16, false
	c.b.FD, c.b.TxDL, c.b.Pad = true, 16, false
	return c
}

func fd29Padded() channel {
	a := isotp.Options{Name: "A", TxID: 0x1234567, RxID: 0x1234568, Extended: true, FD: true, Pad: true, PadByte: 0x55}
	b := isotp.Options{Name: "B", TxID: 0x1234568, RxID: 0x1234567, Extended: true, FD: true, Pad: true, PadByte: 0x55}
	return channel{fd: true, a: a, b: b}
}

// checkWire checks, from first principles, the frames A put on the wire for
// an n-byte message: frame kinds, lengths, FF_DL, sequence numbers,
// identifiers, address bytes and padding.
func checkWire(evs []can.Event, o isotp.Options, n int) {
	GinkgoHelper()
	ae := 0
	if o.Addressing == isotp.ExtendedAddressing {
		ae = 1
	}
	dl := 8
	if o.FD {
		dl = o.TxDL
		if dl == 0 {
			dl = 64
		}
	}
	sfMax := 7 - ae
	if dl > 8 {
		sfMax = dl - 2 - ae
	}
	Expect(evs).NotTo(BeEmpty())
	for _, ev := range evs {
		f := ev.Frame
		Expect(f.ID).To(Equal(o.TxID))
		Expect(f.Extended).To(Equal(o.Extended))
		Expect(f.FD).To(Equal(o.FD))
		Expect(f.BRS).To(Equal(o.BRS))
		if ae == 1 {
			Expect(f.Data[0]).To(Equal(o.TxAddr))
		}
		switch {
		case o.FD:
			Expect(can.ValidFDLen(int(f.Len))).To(BeTrue())
		case o.Pad:
			Expect(f.Len).To(BeEquivalentTo(8))
		}
	}
	f := evs[0].Frame
	if n <= sfMax {
		Expect(evs).To(HaveLen(1))
		Expect(f.Data[ae] >> 4).To(BeEquivalentTo(0))
		if n <= 7-ae {
			Expect(int(f.Data[ae])).To(Equal(n))
		} else {
			Expect(f.Data[ae]).To(BeEquivalentTo(0))
			Expect(int(f.Data[ae+1])).To(Equal(n))
		}
		return
	}
	Expect(f.Data[ae] >> 4).To(BeEquivalentTo(1))
	Expect(int(f.Len)).To(Equal(dl))
	first := dl - ae - 2
	if n > 4095 {
		Expect(f.Data[ae : ae+2]).To(Equal([]byte{0x10, 0}))
		Expect(binary.BigEndian.Uint32(f.Data[ae+2:])).To(BeEquivalentTo(n))
		first -= 4
	} else {
		Expect(int(f.Data[ae]&0xf)<<8 | int(f.Data[ae+1])).To(Equal(n))
	}
	per := dl - ae - 1
	cfs := (n - first + per - 1) / per
	Expect(evs).To(HaveLen(1 + cfs))
	for i, ev := range evs[1:] {
		Expect(ev.Frame.Data[ae]).To(Equal(byte(0x20 | (i+1)&0xf)))
		if i < cfs-1 {
			Expect(int(ev.Frame.Len)).To(Equal(dl))
		}
	}
	last := evs[len(evs)-1].Frame
	content := ae + 1 + (n - first - (cfs-1)*per)
	pad := byte(0xcc)
	if o.Pad {
		pad = o.PadByte
	}
	for i := content; i < int(last.Len); i++ {
		Expect(last.Data[i]).To(Equal(pad), "padding byte %d of the last CF", i)
	}
	if !o.FD && !o.Pad {
		Expect(int(last.Len)).To(Equal(content))
	}
}

// describeTransfers: complete messages between two channels, on transport t.
func describeTransfers(t transport) {
	Describe("transfers", func() {
		DescribeTable("messages of every size class arrive intact, framed per ISO 15765-2",
			func(mk func() channel) {
				ch := mk()
				for _, n := range []int{1, 7, 8, 62, 63, 4095, 4096} {
					t.run(ch.fd, func(e *env) {
						a, b := e.conn(ch.a), e.conn(ch.b)
						msg := pattern(n)
						done := e.sendAsync(a, msg)
						got, err := b.Recv(e.within)
						Expect(err).NotTo(HaveOccurred())
						Expect(got).To(Equal(msg), "%d-byte message", n)
						Expect(e.pop(done)).To(Succeed())
						checkWire(sentBy(e.wire(), a.Options()), a.Options(), n)
						e.noMessage(b)
					})
				}
			},
			Entry("classic CAN, normal addressing, 11-bit ids", classicNormal),
			Entry("classic CAN, extended addressing, 29-bit ids, padding", classicExtAddr29),
			Entry("CAN FD TX_DL 64, normal addressing, BRS", fdNormalBRS),
			Entry("CAN FD TX_DL 16, extended addressing, 29-bit ids", fdExtAddr29DL16),
			Entry("CAN FD, 29-bit ids, padding", fd29Padded),
		)

		DescribeTable(fmt.Sprintf("a large message (%d bytes) arrives intact", t.large),
			func(mk func() channel) {
				ch := mk()
				t.run(ch.fd, func(e *env) {
					a, b := e.conn(ch.a), e.conn(ch.b)
					msg := pattern(t.large)
					done := e.sendAsync(a, msg)
					got, err := b.Recv(e.within)
					Expect(err).NotTo(HaveOccurred())
					Expect(got).To(Equal(msg))
					Expect(e.pop(done)).To(Succeed())
					checkWire(sentBy(e.wire(), a.Options()), a.Options(), len(msg))
				})
			},
			Entry("classic CAN", classicNormal),
			Entry("CAN FD", fdNormalBRS),
		)

		It("encodes frames byte for byte", func() {
			t.run(true, func(e *env) {
				pa := optsA()
				pa.Pad, pa.PadByte = true, 0xaa
				a := e.conn(pa)
				p := e.peer("peer", 0x7e8, 0x7e0)
				Expect(a.Send([]byte("abc"))).To(Succeed())
				Expect(p.recv().String()).To(Equal("7E0#03616263AAAAAAAA"))
				Expect(a.Close()).To(Succeed())

				plain := optsA()
				plain.Name = "A2"
				a2 := e.conn(plain)
				Expect(a2.Send([]byte("abc"))).To(Succeed())
				Expect(p.recv().String()).To(Equal("7E0#03616263"))

				// a 4096-byte message needs the FF_DL escape
				q := e.sendAsync(a2, pattern(4096))
				Expect(p.recv().String()).To(Equal("7E0#1000000010000007"))
				p.send("30 01 00") // one CF, then a2 waits for FC until its Close
				Expect(p.recv().String()).To(Equal("7E0#210E151C232A3138"))
				Expect(a2.Close()).To(Succeed())
				Expect(isotp.KindOf(e.pop(q))).To(Equal(isotp.KindClosed))

				fd := optsA()
				fd.Name, fd.FD, fd.BRS = "A3", true, true
				a3 := e.conn(fd)
				Expect(a3.Send(pattern(20))).To(Succeed())
				f := p.recv()
				Expect(f.FD).To(BeTrue())
				Expect(f.Len).To(BeEquivalentTo(24), "22 bytes padded to the next FD length")
				Expect(f.String()).To(Equal("7E0##10014" + hexOf(pattern(20)) + "CCCC"))
				Expect(a3.Send(pattern(5))).To(Succeed())
				Expect(p.recv().String()).To(Equal("7E0##105" + hexOf(pattern(5))))
			})
		})

		It("rejects an empty message without touching the bus", func() {
			t.run(false, func(e *env) {
				a := e.conn(optsA())
				err := a.Send(nil)
				Expect(err).To(MatchError(ContainSubstring("isotp: empty message")))
				Expect(err).To(MatchError(isotp.ErrInvalid))
				Expect(e.wire()).To(BeEmpty())
			})
		})

		It("lets concurrent Sends take turns", func() {
			t.run(false, func(e *env) {
				var rec recorder
				oa := optsA()
				oa.Observer = rec.observe
				a, b := e.conn(oa), e.conn(optsB())
				m1, m2 := pattern(300), []byte("second")
				q1 := e.sendAsync(a, m1)
				// the second Send starts while the first one is under way
				e.await("the first message's FF", func() bool { return len(rec.all()) > 0 })
				q2 := e.sendAsync(a, m2)
				Expect(b.Recv(e.within)).To(Equal(m1))
				Expect(b.Recv(e.within)).To(Equal(m2))
				Expect(e.pop(q1)).To(Succeed())
				Expect(e.pop(q2)).To(Succeed())
			})
		})

		It("is full duplex: answers flow control while its own Send is in progress", func() {
			t.run(false, func(e *env) { fullDuplex(e, true) })
		})

		It("keeps channels with extended addressing apart on shared identifiers", func() {
			t.run(false, func(e *env) {
				ext := func(name string, tx, rx uint32, ta, ra byte) isotp.Options {
					return isotp.Options{Name: name, TxID: tx, RxID: rx, Addressing: isotp.ExtendedAddressing, TxAddr: ta, RxAddr: ra}
				}
				t1 := e.conn(ext("T1", 0x600, 0x601, 0x01, 0xf1))
				e1 := e.conn(ext("E1", 0x601, 0x600, 0xf1, 0x01))
				t2 := e.conn(ext("T2", 0x600, 0x601, 0x02, 0xf2))
				e2 := e.conn(ext("E2", 0x601, 0x600, 0xf2, 0x02))
				m1, m2 := pattern(100), pattern(50)[3:]
				q1 := e.sendAsync(t1, m1)
				q2 := e.sendAsync(t2, m2)
				Expect(e1.Recv(e.within)).To(Equal(m1))
				Expect(e2.Recv(e.within)).To(Equal(m2))
				Expect(e.pop(q1)).To(Succeed())
				Expect(e.pop(q2)).To(Succeed())
				for _, c := range []*isotp.Conn{e1, e2, t1, t2} {
					e.noMessage(c)
				}
			})
		})
	})
}

// fullDuplex: both ends send at once, each answering the other's flow
// control while its own Send is under way. With gate, each end's node holds
// its own third CF until the other end's first CF has come in, so the
// transfers overlap by construction (on the wall clock one Send could
// otherwise finish before the other's goroutine first runs), and an end
// that could not answer FC during its own Send would stall both.
func fullDuplex(e *env, gate bool) {
	GinkgoHelper()
	oa, ob := optsA(), optsB()
	oa.BlockSize, ob.BlockSize = 2, 3
	var a, b *isotp.Conn
	if gate {
		gated := func(o isotp.Options, peerTx uint32) *isotp.Conn {
			seen := clock.NewQueue[struct{}](e.clk, 1)
			held := false
			return e.hookedConn(o, func(f can.Frame) {
				if f.Data[0] == 0x23 && !held { // our CF 3
					defer GinkgoRecover() // on the sender's goroutine
					held = true
					_, err := seen.Pop(e.within)
					Expect(err).NotTo(HaveOccurred(), "%s: the other end's CF 1 never came", o.Name)
				}
			}, func(f can.Frame) {
				if f.ID == peerTx && f.Data[0] == 0x21 {
					seen.TryPush(struct{}{})
				}
			})
		}
		a, b = gated(oa, ob.TxID), gated(ob, oa.TxID)
	} else {
		a, b = e.conn(oa), e.conn(ob)
	}
	ma, mb := pattern(5000), pattern(4000)[100:]
	qa := e.sendAsync(a, ma)
	qb := e.sendAsync(b, mb)
	Expect(b.Recv(e.within)).To(Equal(ma))
	Expect(a.Recv(e.within)).To(Equal(mb))
	Expect(e.pop(qa)).To(Succeed())
	Expect(e.pop(qb)).To(Succeed())
	// both directions interleave on the wire
	var fa, fb []int
	for i, ev := range e.wire() {
		if ev.Frame.ID == oa.TxID && ev.Frame.Data[0]>>4 == 2 {
			fa = append(fa, i)
		}
		if ev.Frame.ID == ob.TxID && ev.Frame.Data[0]>>4 == 2 {
			fb = append(fb, i)
		}
	}
	Expect(fb[0]).To(BeNumerically("<", fa[len(fa)-1]))
	Expect(fa[0]).To(BeNumerically("<", fb[len(fb)-1]))
}

var _ = Describe("transfers (virtual bus only)", func() {
	It("is full duplex on the timed bus too", func() {
		simEnv(vbus.Config{Bitrate: 500_000}, func(e *env) { fullDuplex(e, false) })
	})

	It("runs on the wall clock too", func() {
		bus := vbus.New(vbus.Config{Name: "wall"})
		clk := clockWall()
		a, err := isotp.New(bus, clk, optsA())
		Expect(err).NotTo(HaveOccurred())
		b, err := isotp.New(bus, clk, optsB())
		Expect(err).NotTo(HaveOccurred())
		msg := pattern(500)
		errc := make(chan error, 1)
		go func() { errc <- a.Send(msg) }()
		Expect(b.Recv(5 * time.Second)).To(Equal(msg))
		Expect(<-errc).To(Succeed())
		Expect(a.Close()).To(Succeed())
		Expect(b.Close()).To(Succeed())
		_, err = b.Recv(time.Second)
		Expect(err).To(MatchError(isotp.ErrClosed))
	})
})
