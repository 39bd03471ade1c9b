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

// cfGaps returns the time between successive consecutive frames of sender
// that are not separated by a flow control frame.
func cfGaps(evs []can.Event, sender string) []time.Duration {
	var gaps []time.Duration
	var prev time.Time
	for _, ev := range evs {
		switch {
		case ev.Frame.Data[0]>>4 == 3:
			prev = time.Time{}
		case ev.Sender == sender && ev.Frame.Data[0]>>4 == 2:
			if !prev.IsZero() {
				gaps = append(gaps, ev.Time.Sub(prev))
			}
			prev = ev.Time
		}
	}
	return gaps
}

var _ = Describe("flow control", func() {
	It("honours the receiver's block size and STmin (untimed bus)", func() {
		simRun(vbus.Config{}, func(r *rig) {
			ob := optsB()
			ob.BlockSize, ob.STmin = 4, 5*time.Millisecond
			a, b := r.conn(optsA()), r.conn(ob)
			msg := pattern(100) // FF (6 bytes) + 14 CFs
			q := r.sendAsync(a, msg)
			Expect(b.Recv(-1)).To(Equal(msg))
			Expect(mustPop(q)).To(Succeed())
			Expect(r.types(0)).To(Equal("FF FC CF CF CF CF FC CF CF CF CF FC CF CF CF CF FC CF CF"))
			for _, ev := range r.from("B") {
				Expect(ev.Frame.String()).To(Equal("7E8#300405"))
			}
			gaps := cfGaps(r.events, "A")
			Expect(gaps).To(HaveLen(10))
			for _, g := range gaps {
				Expect(g).To(Equal(5 * time.Millisecond))
			}
		})
	})

	DescribeTable("paces consecutive frames by STmin on the timed bus",
		func(fd bool, data int) {
			simRun(vbus.Config{FD: fd, Bitrate: 500_000, DataBitrate: data}, func(r *rig) {
				oa, ob := optsA(), optsB()
				oa.FD, ob.FD, oa.BRS = fd, fd, fd
				ob.STmin = 5 * time.Millisecond
				a, b := r.conn(oa), r.conn(ob)
				msg := pattern(1000)
				q := r.sendAsync(a, msg)
				Expect(b.Recv(-1)).To(Equal(msg))
				Expect(mustPop(q)).To(Succeed())
				gaps := cfGaps(r.events, "A")
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
		simRun(vbus.Config{Bitrate: 500_000}, func(r *rig) {
			a, b := r.conn(optsA()), r.conn(optsB())
			msg := pattern(700)
			q := r.sendAsync(a, msg)
			Expect(b.Recv(-1)).To(Equal(msg))
			Expect(mustPop(q)).To(Succeed())
			st := r.bus.Stats()
			var busy time.Duration
			for _, n := range st.Nodes {
				busy += n.Busy
			}
			// the bus was idle only for the FF-to-FC turnaround
			first, last := r.events[0].Time, r.events[len(r.events)-1].Time
			Expect(float64(busy) / float64(last.Sub(first))).To(BeNumerically(">", 0.97))
		})
	})

	DescribeTable("decodes the peer's STmin byte",
		func(stmin byte, want time.Duration) {
			simRun(vbus.Config{}, func(r *rig) {
				a := r.conn(optsA())
				p := r.peer("peer", 0x7e8, 0x7e0)
				q := r.sendAsync(a, pattern(30)) // FF + 4 CFs
				p.recv()
				p.send(fmt.Sprintf("30 00 %02x", stmin))
				var times []time.Time
				for range 4 {
					p.recv()
					times = append(times, r.clk.Now())
				}
				Expect(mustPop(q)).To(Succeed())
				for i := 1; i < len(times); i++ {
					Expect(times[i].Sub(times[i-1])).To(Equal(want))
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

	It("takes BS and STmin from the first CTS and sends a block per FC", func() {
		simRun(vbus.Config{}, func(r *rig) {
			a := r.conn(optsA())
			p := r.peer("peer", 0x7e8, 0x7e0)
			q := r.sendAsync(a, pattern(6+7*7)) // FF + 7 CFs
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
			Expect(mustPop(q)).To(Succeed())
		})
	})

	It("waits again on FC WAIT, restarting N_Bs, then goes on at CTS", func() {
		simRun(vbus.Config{}, func(r *rig) {
			oa := optsA()
			oa.NBs = 150 * time.Millisecond
			a := r.conn(oa)
			p := r.peer("peer", 0x7e8, 0x7e0)
			msg := pattern(20)
			start := r.clk.Now()
			q := r.sendAsync(a, msg)
			p.recv()
			for range 3 {
				r.clk.Sleep(100 * time.Millisecond)
				p.send("31 00 00")
			}
			r.clk.Sleep(100 * time.Millisecond)
			p.send("30 00 00")
			p.recv()
			p.recv()
			Expect(mustPop(q)).To(Succeed())
			Expect(r.clk.Since(start)).To(Equal(400 * time.Millisecond))
		})
	})

	It("aborts after more FC WAIT than N_WFTmax", func() {
		simRun(vbus.Config{}, func(r *rig) {
			oa := optsA()
			oa.MaxWait = 2
			a := r.conn(oa)
			p := r.peer("peer", 0x7e8, 0x7e0)
			q := r.sendAsync(a, pattern(20))
			p.recv()
			for range 3 {
				p.send("31 00 00")
			}
			err := mustPop(q)
			Expect(err).To(MatchError(isotp.ErrProtocol))
			Expect(err).To(MatchError("isotp: FC WAIT 3 times in a row after FF, more than N_WFTmax 2; transmission aborted (tx id 0x7e0)"))
			p.expectNothing()

			oa.Name, oa.MaxWait = "A2", -1
			a2 := r.conn(oa)
			q = r.sendAsync(a2, pattern(20))
			p.recv()
			p.send("31 00 00")
			Expect(mustPop(q)).To(MatchError(ContainSubstring("N_WFTmax 0")))
		})
	})

	It("fails with an overflow error when the receiver answers FC OVFLW", func() {
		simRun(vbus.Config{}, func(r *rig) {
			a := r.conn(optsA())
			p := r.peer("peer", 0x7e8, 0x7e0)
			q := r.sendAsync(a, pattern(5000))
			p.recv()
			p.send("32 00 00")
			err := mustPop(q)
			Expect(err).To(MatchError(isotp.ErrOverflow))
			Expect(isotp.KindOf(err)).To(Equal(isotp.KindOverflow))
			Expect(err).To(MatchError("isotp: receiver answered FC OVFLW to a 5000-byte message (tx id 0x7e0)"))
			p.expectNothing()
		})
	})

	It("aborts on an invalid flow status or a malformed FC", func() {
		simRun(vbus.Config{}, func(r *rig) {
			a := r.conn(optsA())
			p := r.peer("peer", 0x7e8, 0x7e0)
			q := r.sendAsync(a, pattern(20))
			p.recv()
			p.send("35 00 00")
			Expect(mustPop(q)).To(MatchError(ContainSubstring("invalid flow status 5 after FF")))
			q = r.sendAsync(a, pattern(20))
			p.recv()
			p.send("30 00")
			err := mustPop(q)
			Expect(err).To(MatchError(ContainSubstring("malformed FC of 2 bytes")))
			Expect(err).To(MatchError(isotp.ErrProtocol))
		})
	})

	It("ignores flow control frames nobody waits for", func() {
		simRun(vbus.Config{}, func(r *rig) {
			var evs []isotp.Event
			oa := optsA()
			oa.Observer = func(ev isotp.Event) { evs = append(evs, ev) }
			a := r.conn(oa)
			p := r.peer("peer", 0x7e8, 0x7e0)
			p.send("30 00 00")
			r.clk.Sleep(time.Millisecond)
			Expect(evs).To(HaveLen(1))
			Expect(evs[0].Ignored).To(BeTrue())
			Expect(evs[0].Type).To(Equal(isotp.FlowControl))
			q := r.sendAsync(a, pattern(20))
			p.recv()
			p.send("30 00 00")
			p.recv()
			p.recv()
			Expect(mustPop(q)).To(Succeed())
		})
	})

	It("times out after exactly N_Bs without flow control", func() {
		simRun(vbus.Config{}, func(r *rig) {
			a := r.conn(optsA())
			start := r.clk.Now()
			err := a.Send(pattern(20))
			Expect(r.clk.Since(start)).To(Equal(isotp.DefaultTimeout))
			Expect(err).To(MatchError(isotp.ErrTimeout))
			Expect(err).To(MatchError("isotp: N_Bs timeout: no flow control within 1s after FF (tx id 0x7e0)"))
			var e *isotp.Error
			Expect(err).To(BeAssignableToTypeOf(e))
			Expect(err.(*isotp.Error).Timer).To(Equal("N_Bs"))

			oa := optsA()
			oa.Name, oa.NBs = "A2", 250*time.Millisecond
			a2 := r.conn(oa)
			p := r.peer("peer", 0x7e8, 0x7e0)
			q := r.sendAsync(a2, pattern(6+7*5))
			p.recv()
			p.send("30 02 00")
			p.recv()
			p.recv()
			t := r.clk.Now()
			err = mustPop(q)
			Expect(r.clk.Since(t)).To(Equal(250 * time.Millisecond))
			Expect(err).To(MatchError(ContainSubstring("N_Bs timeout: no flow control within 250ms after CF 2 of 5")))
		})
	})

	It("fails with N_As when the CAN node holds a frame longer than N_As", func() {
		simRun(vbus.Config{Bitrate: 500_000, TxQueue: 1}, func(r *rig) {
			oa := optsA()
			oa.NAs = 100 * time.Microsecond // shorter than one frame at 500 kbit/s
			a, _ := r.conn(oa), r.conn(optsB())
			err := a.Send(pattern(100))
			Expect(err).To(MatchError(isotp.ErrTimeout))
			Expect(err.(*isotp.Error).Timer).To(Equal("N_As"))
			Expect(err).To(MatchError(ContainSubstring("N_As timeout: handing CF to the CAN node took")))
		})
	})
})
