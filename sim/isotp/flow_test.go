package isotp_test

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/isotp"
	"github.com/uptane-hil/uptane-hil/sim/vbus"
)

// describeFlowControl: block size, STmin, FC WAIT and OVFLW in both
// directions, and the sender's timers, on transport t.
func describeFlowControl(t transport) {
	Describe("flow control", func() {
		It("honours the receiver's block size and STmin", func() {
			t.run(false, func(e *env) {
				ob := optsB()
				ob.BlockSize, ob.STmin = 4, 5*time.Millisecond
				a, b := e.conn(optsA()), e.conn(ob)
				msg := pattern(100) // FF (6 bytes) + 14 CFs
				q := e.sendAsync(a, msg)
				Expect(b.Recv(e.within)).To(Equal(msg))
				Expect(e.pop(q)).To(Succeed())
				wire := e.wire()
				Expect(types(wire, 0)).To(Equal("FF FC CF CF CF CF FC CF CF CF CF FC CF CF CF CF FC CF CF"))
				for _, ev := range sentBy(wire, ob) {
					Expect(ev.Frame.String()).To(Equal("7E8#300405"))
				}
				gaps := cfGaps(wire, 0x7e0)
				Expect(gaps).To(HaveLen(10))
				for i, g := range gaps {
					e.atLeast(g, 5*time.Millisecond, "gap %d", i)
				}
			})
		})

		DescribeTable("decodes the peer's STmin byte",
			func(stmin byte, want time.Duration) {
				t.run(false, func(e *env) {
					a := e.conn(optsA())
					p := e.peer("peer", 0x7e8, 0x7e0)
					q := e.sendAsync(a, pattern(30)) // FF + 4 CFs
					p.recv()
					p.send(fmt.Sprintf("30 00 %02x", stmin))
					for range 4 {
						p.recv()
					}
					Expect(e.pop(q)).To(Succeed())
					gaps := cfGaps(e.wire(), 0x7e0)
					Expect(gaps).To(HaveLen(3))
					for i, g := range gaps {
						e.atLeast(g, want, "gap %d", i)
					}
				})
			},
			Entry("0x00: no gap", byte(0x00), time.Duration(0)),
			Entry("0x14: 20 ms", byte(0x14), 20*time.Millisecond),
			Entry("0x7F: 127 ms", byte(0x7f), 127*time.Millisecond),
			Entry("0xF1: 100 µs", byte(0xf1), 100*time.Microsecond),
			Entry("0xF9: 900 µs", byte(0xf9), 900*time.Microsecond),
			Entry("0x80 (reserved): 127 ms", byte(0x80), 127*time.Millisecond),
			Entry("0xF0 (reserved): 127 ms", byte(0xf0), 127*time.Millisecond),
			Entry("0xFA (reserved): 127 ms", byte(0xfa), 127*time.Millisecond),
		)

		It("takes BS and STmin from the first CTS and sends a block per FC", func() {
			t.run(false, func(e *env) {
				a := e.conn(optsA())
				p := e.peer("peer", 0x7e8, 0x7e0)
				q := e.sendAsync(a, pattern(6+7*7)) // FF + 7 CFs
				p.recv()
				p.send("30 03 00")
				for range 3 {
					Expect(p.recv().Data[0] >> 4).To(BeEquivalentTo(2))
				}
				p.expectNothing()
				p.send("30 01 7f") // later parameters are ignored
				for range 3 {
					p.recv()
				}
				p.expectNothing()
				p.send("30 00 00")
				Expect(p.recv().Data[0]).To(BeEquivalentTo(0x27))
				Expect(e.pop(q)).To(Succeed())
			})
		})

		It("waits again on FC WAIT, restarting N_Bs, then goes on at CTS", func() {
			t.run(false, func(e *env) {
				oa := optsA()
				oa.NBs = time.Second
				a := e.conn(oa)
				p := e.peer("peer", 0x7e8, 0x7e0)
				msg := pattern(20)
				start := e.clk.Now()
				q := e.sendAsync(a, msg)
				p.recv()
				// 1.6 s in all, longer than N_Bs, but never 1 s without an FC
				for range 3 {
					e.clk.Sleep(400 * time.Millisecond)
					p.send("31 00 00")
				}
				e.clk.Sleep(400 * time.Millisecond)
				p.send("30 00 00")
				p.recv()
				p.recv()
				Expect(e.pop(q)).To(Succeed())
				e.atLeast(e.clk.Since(start), 1600*time.Millisecond, "the whole transmission")
			})
		})

		It("goes on at a CTS that follows FC WAIT at once", func() {
			t.run(false, func(e *env) {
				a := e.conn(optsA())
				p := e.peer("peer", 0x7e8, 0x7e0)
				q := e.sendAsync(a, pattern(20))
				p.recv()
				// both FCs may arrive before the sender takes the first
				p.send("31 00 00")
				p.send("30 00 00")
				Expect(p.recv().Data[0]).To(BeEquivalentTo(0x21))
				Expect(p.recv().Data[0]).To(BeEquivalentTo(0x22))
				Expect(e.pop(q)).To(Succeed())
			})
		})

		It("aborts after more FC WAIT than N_WFTmax", func() {
			t.run(false, func(e *env) {
				oa := optsA()
				oa.MaxWait = 2
				a := e.conn(oa)
				p := e.peer("peer", 0x7e8, 0x7e0)
				q := e.sendAsync(a, pattern(20))
				p.recv()
				for range 3 {
					p.send("31 00 00")
				}
				err := e.pop(q)
				Expect(err).To(MatchError(isotp.ErrProtocol))
				Expect(err).To(MatchError("isotp: FC WAIT 3 times in a row after FF, more than N_WFTmax 2; transmission aborted (tx id 0x7e0)"))
				p.expectNothing()

				oa.Name, oa.MaxWait = "A2", -1
				a2 := e.conn(oa)
				q = e.sendAsync(a2, pattern(20))
				p.recv()
				p.send("31 00 00")
				Expect(e.pop(q)).To(MatchError(ContainSubstring("N_WFTmax 0")))
			})
		})

		It("fails with an overflow error when the receiver answers FC OVFLW", func() {
			t.run(false, func(e *env) {
				a := e.conn(optsA())
				p := e.peer("peer", 0x7e8, 0x7e0)
				q := e.sendAsync(a, pattern(5000))
				p.recv()
				p.send("32 00 00")
				err := e.pop(q)
				Expect(err).To(MatchError(isotp.ErrOverflow))
				Expect(isotp.KindOf(err)).To(Equal(isotp.KindOverflow))
				Expect(err).To(MatchError("isotp: receiver answered FC OVFLW to a 5000-byte message (tx id 0x7e0)"))
				p.expectNothing()
			})
		})

		It("aborts on an invalid flow status or a malformed FC", func() {
			t.run(false, func(e *env) {
				a := e.conn(optsA())
				p := e.peer("peer", 0x7e8, 0x7e0)
				q := e.sendAsync(a, pattern(20))
				p.recv()
				p.send("35 00 00")
				Expect(e.pop(q)).To(MatchError(ContainSubstring("invalid flow status 5 after FF")))
				q = e.sendAsync(a, pattern(20))
				p.recv()
				p.send("30 00")
				err := e.pop(q)
				Expect(err).To(MatchError(ContainSubstring("malformed FC of 2 bytes")))
				Expect(err).To(MatchError(isotp.ErrProtocol))
				p.expectNothing()
			})
		})

		It("ignores flow control frames nobody waits for", func() {
			t.run(false, func(e *env) {
				var rec recorder
				oa := optsA()
				oa.Observer = rec.observe
				a := e.conn(oa)
				p := e.peer("peer", 0x7e8, 0x7e0)
				p.send("30 00 00")
				e.await("the stray FC", func() bool { return len(rec.all()) > 0 })
				evs := rec.all()
				Expect(evs).To(HaveLen(1))
				Expect(evs[0].Ignored).To(BeTrue())
				Expect(evs[0].Type).To(Equal(isotp.FlowControl))
				q := e.sendAsync(a, pattern(20))
				p.recv()
				p.send("30 00 00")
				p.recv()
				p.recv()
				Expect(e.pop(q)).To(Succeed())
			})
		})

		It("times out after N_Bs without flow control", func() {
			t.run(false, func(e *env) {
				a := e.conn(optsA())
				start := e.clk.Now()
				err := a.Send(pattern(20))
				e.atLeast(e.clk.Since(start), isotp.DefaultTimeout, "Send until N_Bs")
				Expect(err).To(MatchError(isotp.ErrTimeout))
				Expect(err).To(MatchError("isotp: N_Bs timeout: no flow control within 1s after FF (tx id 0x7e0)"))
				var ie *isotp.Error
				Expect(err).To(BeAssignableToTypeOf(ie))
				Expect(err.(*isotp.Error).Timer).To(Equal("N_Bs"))

				oa := optsA()
				oa.Name, oa.NBs = "A2", 250*time.Millisecond
				a2 := e.conn(oa)
				p := e.peer("peer", 0x7e8, 0x7e0)
				q := e.sendAsync(a2, pattern(6+7*5))
				p.recv()
				p.send("30 02 00")
				p.recv()
				p.recv()
				err = e.pop(q)
				end := e.clk.Now()
				Expect(err).To(MatchError(ContainSubstring("N_Bs timeout: no flow control within 250ms after CF 2 of 5")))
				// N_Bs runs from CF 2: its time on the wire (on vcan the
				// kernel's, taken during the write) is before the timer started
				frames := sentBy(e.wire(), oa) // A's FF, then A2's
				Expect(types(frames, 0)).To(Equal("FF FF CF CF"))
				e.atLeast(end.Sub(frames[3].Time), 250*time.Millisecond, "from CF 2 to the N_Bs error")
			})
		})

		It("fails with N_As when its CAN node holds a frame longer than N_As, and sends no more", func() {
			t.run(false, func(e *env) {
				oa := optsA()
				oa.NAs = 50 * time.Millisecond
				a := e.heldConn(oa, func(f can.Frame) time.Duration {
					if f.Data[0] == 0x22 { // CF 2
						return 200 * time.Millisecond
					}
					return 0
				})
				p := e.peer("peer", 0x7e8, 0x7e0)
				q := e.sendAsync(a, pattern(6+7*4)) // FF + 4 CFs
				p.recv()
				p.send("30 00 00")
				Expect(p.recv().Data[0]).To(BeEquivalentTo(0x21))
				err := e.pop(q)
				Expect(err).To(MatchError(isotp.ErrTimeout))
				Expect(err.(*isotp.Error).Timer).To(Equal("N_As"))
				Expect(err).To(MatchError(ContainSubstring("N_As timeout: handing CF to the CAN node took ")))
				Expect(p.recv().Data[0]).To(BeEquivalentTo(0x22), "the held CF still went out")
				p.expectNothing()
			})
		})

		It("reports N_Ar when its CAN node holds a flow control frame longer than N_Ar, and gives the reception up", func() {
			t.run(false, func(e *env) {
				ob := optsB()
				ob.NAr = 50 * time.Millisecond
				b := e.heldConn(ob, func(f can.Frame) time.Duration {
					if f.Data[0]>>4 == 3 {
						return 200 * time.Millisecond
					}
					return 0
				})
				p := e.peer("peer", 0x7e0, 0x7e8)
				p.send(ff90)
				Expect(p.recv().String()).To(Equal("7E8#300000"), "the held FC still went out")
				_, err := b.Recv(e.within)
				Expect(err).To(MatchError(isotp.ErrTimeout))
				Expect(err.(*isotp.Error).Timer).To(Equal("N_Ar"))
				Expect(err).To(MatchError(ContainSubstring("sending FC after FF (rx id 0x7e0): isotp: N_Ar timeout: handing FC CTS to the CAN node took ")))
				for sn := 1; sn <= 12; sn++ {
					p.send(cfHex(sn))
				}
				p.send("02 68 69")
				Expect(b.Recv(e.within)).To(Equal([]byte("hi")), "the CFs of the abandoned message were not delivered")
			})
		})
	})
}

var _ = Describe("flow control (virtual bus only)", func() {
	DescribeTable("paces consecutive frames by STmin on the timed bus",
		func(fd bool, data int) {
			simEnv(vbus.Config{FD: fd, Bitrate: 500_000, DataBitrate: data}, func(e *env) {
				oa, ob := optsA(), optsB()
				oa.FD, ob.FD, oa.BRS = fd, fd, fd
				ob.STmin = 5 * time.Millisecond
				a, b := e.conn(oa), e.conn(ob)
				msg := pattern(1000)
				q := e.sendAsync(a, msg)
				Expect(b.Recv(-1)).To(Equal(msg))
				Expect(e.pop(q)).To(Succeed())
				gaps := cfGaps(e.wire(), 0x7e0)
				Expect(len(gaps)).To(BeNumerically(">", 10))
				for _, g := range gaps {
					Expect(g).To(BeNumerically(">=", 5*time.Millisecond))
					Expect(g).To(BeNumerically("<", 6*time.Millisecond))
				}
			})
		},
		Entry("classic 500 kbit/s", false, 0),
		Entry("CAN FD 500 kbit/s / 2 Mbit/s", true, 2_000_000),
	)

	It("sends CFs back to back on the timed bus with STmin 0", func() {
		simEnv(vbus.Config{Bitrate: 500_000}, func(e *env) {
			a, b := e.conn(optsA()), e.conn(optsB())
			msg := pattern(700)
			q := e.sendAsync(a, msg)
			Expect(b.Recv(-1)).To(Equal(msg))
			Expect(e.pop(q)).To(Succeed())
			st := e.bus.(*vbus.Bus).Stats()
			var busy time.Duration
			for _, n := range st.Nodes {
				busy += n.Busy
			}
			// the bus was idle only for the FF-to-FC turnaround
			wire := e.wire()
			first, last := wire[0].Time, wire[len(wire)-1].Time
			Expect(float64(busy) / float64(last.Sub(first))).To(BeNumerically(">", 0.97))
		})
	})

	It("advertises STmin in the format's units", func() {
		Expect(isotp.EncodeSTmin(0)).To(BeEquivalentTo(0))
		Expect(isotp.EncodeSTmin(300 * time.Microsecond)).To(BeEquivalentTo(0xf3))
		Expect(isotp.EncodeSTmin(250 * time.Microsecond)).To(BeEquivalentTo(0xf3))
		Expect(isotp.EncodeSTmin(950 * time.Microsecond)).To(BeEquivalentTo(1))
		Expect(isotp.EncodeSTmin(5 * time.Millisecond)).To(BeEquivalentTo(5))
		Expect(isotp.EncodeSTmin(5*time.Millisecond + 1)).To(BeEquivalentTo(6))
		Expect(isotp.EncodeSTmin(127 * time.Millisecond)).To(BeEquivalentTo(0x7f))
		for b := 0; b < 256; b++ {
			d := isotp.DecodeSTmin(byte(b))
			if b <= 0x7f || (b >= 0xf1 && b <= 0xf9) {
				Expect(isotp.EncodeSTmin(d)).To(BeEquivalentTo(b))
			}
		}
	})

	// The timed bus's transmit queue blocks Send itself (vcan never does;
	// the shared N_As spec holds the frame in the node instead). The CFs
	// with no STmin gap go to the timed bus in runs (can.BatchSender), and
	// N_As bounds each run.
	It("fails with N_As when the timed bus holds a frame longer than N_As", func() {
		simEnv(vbus.Config{Bitrate: 500_000, TxQueue: 1}, func(e *env) {
			oa := optsA()
			oa.NAs = 100 * time.Microsecond // shorter than one frame at 500 kbit/s
			a, _ := e.conn(oa), e.conn(optsB())
			err := a.Send(pattern(100))
			Expect(err).To(MatchError(isotp.ErrTimeout))
			Expect(err.(*isotp.Error).Timer).To(Equal("N_As"))
			Expect(err).To(MatchError(ContainSubstring("N_As timeout: handing a run of 14 CFs to the CAN node took")))
		})
	})
})
