package isotp_test

import (
	"runtime"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/sim/isotp"
	"github.com/uptane-hil/uptane-hil/sim/vbus"
)

// The receiver B (rx 0x7e0, tx 0x7e8) is driven by a raw peer sending
// hand-made frames on 0x7e0.

// cfHex returns consecutive frame sn carrying seven bytes of pattern data.
func cfHex(sn int) string {
	b := pattern(6 + 7*16)
	off := 6 + 7*(sn-1)
	if off+7 > len(b) {
		off = 6
	}
	return "2" + "0123456789ABCDEF"[sn&0xf:sn&0xf+1] + hexOf(b[off:off+7])
}

// ff90 is the first frame of a 90-byte message: 6 bytes here, 12 CFs.
var ff90 = "10 5A " + hexOf(pattern(6))

func noMessage(c *isotp.Conn) {
	_, err := c.Recv(0)
	Expect(err).To(MatchError(isotp.ErrTimeout))
}

var _ = Describe("reception", func() {
	var (
		evs []isotp.Event
		ob  isotp.Options
	)
	BeforeEach(func() {
		evs = nil
		ob = optsB()
		ob.Observer = func(ev isotp.Event) { evs = append(evs, ev) }
	})
	ignored := func() []string {
		var out []string
		for _, ev := range evs {
			if ev.Ignored {
				out = append(out, ev.Info)
			}
		}
		return out
	}

	It("reassembles a hand-made message and sends FC after every block", func() {
		simRun(vbus.Config{}, func(r *rig) {
			ob.BlockSize, ob.STmin = 3, 300*time.Microsecond
			b := r.conn(ob)
			p := r.peer("peer", 0x7e0, 0x7e8)
			p.send(ff90)
			Expect(p.recv().String()).To(Equal("7E8#3003F3"))
			for sn := 1; sn <= 12; sn++ {
				p.send(cfHex(sn))
				if sn%3 == 0 && sn < 12 {
					Expect(p.recv().String()).To(Equal("7E8#3003F3"))
				} else {
					p.expectNothing()
				}
			}
			Expect(b.Recv(0)).To(Equal(pattern(90)))
		})
	})

	It("gives up after exactly N_Cr with a clear error", func() {
		simRun(vbus.Config{}, func(r *rig) {
			b := r.conn(ob)
			p := r.peer("peer", 0x7e0, 0x7e8)
			p.send(ff90)
			p.recv()
			for sn := 1; sn <= 3; sn++ {
				r.clk.Sleep(10 * time.Millisecond)
				p.send(cfHex(sn))
			}
			last := r.clk.Now()
			_, err := b.Recv(-1)
			Expect(r.clk.Since(last)).To(Equal(isotp.DefaultTimeout))
			Expect(err).To(MatchError("isotp: N_Cr timeout after CF 3 of 12 (rx id 0x7e0)"))
			Expect(err).To(MatchError(isotp.ErrTimeout))
			Expect(err.(*isotp.Error).Timer).To(Equal("N_Cr"))
			// the rest of the old message is ignored, never delivered
			p.send(cfHex(4))
			noMessage(b)
			Expect(ignored()).To(ConsistOf(ContainSubstring("CF while no reception")))
		})
	})

	It("aborts on a wrong sequence number and never delivers the corrupted message", func() {
		simRun(vbus.Config{}, func(r *rig) {
			b := r.conn(ob)
			p := r.peer("peer", 0x7e0, 0x7e8)
			p.send(ff90)
			p.recv()
			p.send(cfHex(1))
			p.send(cfHex(3))
			_, err := b.Recv(0)
			Expect(err).To(MatchError("isotp: wrong sequence number 3 in CF 2 of 12, expected 2; reception aborted (rx id 0x7e0)"))
			Expect(err).To(MatchError(isotp.ErrProtocol))
			for sn := 2; sn <= 12; sn++ {
				p.send(cfHex(sn))
			}
			noMessage(b)
			p.send("02 68 69")
			Expect(b.Recv(0)).To(Equal([]byte("hi")))
		})
	})

	It("wraps the sequence number from 15 to 0", func() {
		simRun(vbus.Config{}, func(r *rig) {
			b := r.conn(ob)
			p := r.peer("peer", 0x7e0, 0x7e8)
			msg := pattern(6 + 7*17)
			p.send("10 7D " + hexOf(msg[:6]))
			p.recv()
			for i := 1; i <= 17; i++ {
				p.send("2" + "0123456789ABCDEF"[i&0xf:i&0xf+1] + hexOf(msg[6+7*(i-1):6+7*i]))
			}
			Expect(b.Recv(0)).To(Equal(msg))
		})
	})

	It("ignores a CF when no reception is in progress", func() {
		simRun(vbus.Config{}, func(r *rig) {
			b := r.conn(ob)
			p := r.peer("peer", 0x7e0, 0x7e8)
			p.send(cfHex(1))
			noMessage(b)
			Expect(ignored()).To(ConsistOf("ignored: CF while no reception is in progress"))
			p.expectNothing()
			p.send("02 68 69")
			Expect(b.Recv(0)).To(Equal([]byte("hi")))
		})
	})

	DescribeTable("restarts on a new FF or SF during a reception and reports the aborted one",
		func(newFrame string, want []byte, what string) {
			simRun(vbus.Config{}, func(r *rig) {
				b := r.conn(ob)
				p := r.peer("peer", 0x7e0, 0x7e8)
				p.send(ff90)
				p.recv()
				p.send(cfHex(1))
				p.send(newFrame)
				if strings.HasPrefix(newFrame, "1") {
					p.recv()
					p.send("21 " + hexOf(want[6:13]))
					p.send("22 " + hexOf(want[13:]))
				}
				_, err := b.Recv(0)
				Expect(err).To(MatchError(isotp.ErrProtocol))
				Expect(err).To(MatchError("isotp: reception of a 90-byte message aborted after 13 bytes (CF 1 of 12) by a new " + what + " (rx id 0x7e0)"))
				Expect(b.Recv(0)).To(Equal(want))
				noMessage(b)
			})
		},
		Entry("FF", "10 14 "+hexOf(pattern(20)[:6]), pattern(20), "FF"),
		Entry("SF", "03 01 02 03", []byte{1, 2, 3}, "SF"),
	)

	It("answers FC OVFLW to a message over MaxRx and reports it", func() {
		simRun(vbus.Config{}, func(r *rig) {
			ob.MaxRx = 100
			b := r.conn(ob)
			p := r.peer("peer", 0x7e0, 0x7e8)
			p.send("10 65 00 00 00 00 00 00") // 101 bytes
			Expect(p.recv().String()).To(Equal("7E8#320000"))
			_, err := b.Recv(0)
			Expect(err).To(MatchError(isotp.ErrOverflow))
			Expect(err).To(MatchError("isotp: FF announces 101 bytes, more than the 100-byte receive limit; sent FC OVFLW (rx id 0x7e0)"))
			p.send(cfHex(1))
			noMessage(b)
			p.send("10 64 00 00 00 00 00 00") // exactly 100 bytes is fine
			Expect(p.recv().String()).To(Equal("7E8#300000"))
		})
	})

	It("answers a first frame announcing 4 GiB with OVFLW without allocating for it", func() {
		simRun(vbus.Config{}, func(r *rig) {
			b := r.conn(ob)
			p := r.peer("peer", 0x7e0, 0x7e8)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			p.send("10 00 FF FF FF FF 00 00")
			Expect(p.recv().String()).To(Equal("7E8#320000"))
			_, err := b.Recv(0)
			runtime.ReadMemStats(&after)
			Expect(err).To(MatchError(ContainSubstring("FF announces 4294967295 bytes")))
			Expect(after.TotalAlloc - before.TotalAlloc).To(BeNumerically("<", 64<<10))
		})
	})

	It("allocates for a large announced message only as its data arrives", func() {
		simRun(vbus.Config{}, func(r *rig) {
			b := r.conn(ob)
			p := r.peer("peer", 0x7e0, 0x7e8)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			p.send("10 00 00 10 00 00 00 00") // 1 MiB announced, then silence
			p.recv()
			_, err := b.Recv(-1)
			runtime.ReadMemStats(&after)
			Expect(err).To(MatchError(ContainSubstring("N_Cr timeout after CF 0 of")))
			Expect(after.TotalAlloc - before.TotalAlloc).To(BeNumerically("<", 64<<10))
		})
	})

	It("ignores malformed frames and stays usable", func() {
		simRun(vbus.Config{}, func(r *rig) {
			b := r.conn(ob)
			p := r.peer("peer", 0x7e0, 0x7e8)
			for _, h := range []string{
				"00 01 02",                // SF_DL 0
				"07 01 02 03",             // SF_DL beyond the frame
				"10 05 01 02 03 04 05 00", // FF_DL fits a single frame
				"10 14 01 02 03 04 05",    // classic FF shorter than 8 bytes
				"10 00 00 00 00 64 00 00", // escape FF_DL that fits 12 bits
				"45 00",                   // unknown PCI type
				"",                        // no PCI at all
			} {
				p.send(h)
			}
			noMessage(b)
			p.expectNothing()
			Expect(ignored()).To(HaveLen(7))
			p.send("01 2A")
			Expect(b.Recv(0)).To(Equal([]byte{42}))
		})
	})

	It("ignores short CFs before the last and CFs longer than the FF", func() {
		simRun(vbus.Config{FD: true}, func(r *rig) {
			ob.FD = true
			b := r.conn(ob)
			p := r.peer("peer", 0x7e0, 0x7e8)
			p.send(ff90)
			p.recv()
			p.send("21 01 02")                // short, but not the last
			p.send("21" + hexOf(pattern(11))) // FD CF of 12 bytes after a classic FF
			Expect(ignored()).To(HaveLen(2))
			for sn := 1; sn <= 12; sn++ {
				p.send(cfHex(sn))
			}
			Expect(b.Recv(0)).To(Equal(pattern(90)))
		})
	})

	It("reassembles a CAN FD message whose last CF is shorter and padded", func() {
		simRun(vbus.Config{FD: true}, func(r *rig) {
			ob.FD = true
			b := r.conn(ob)
			p := r.peer("peer", 0x7e0, 0x7e8)
			msg := pattern(100) // FF 62 bytes, CF 38 bytes padded to 48
			p.send("10 64" + hexOf(msg[:62]))
			Expect(p.recv().FD).To(BeTrue())
			p.send("21" + hexOf(msg[62:]) + strings.Repeat("CC", 9))
			Expect(b.Recv(0)).To(Equal(msg))
			// an escape SF of 30 bytes in a 32-byte frame
			p.send("00 1E" + hexOf(msg[:30]))
			Expect(b.Recv(0)).To(Equal(msg[:30]))
		})
	})

	It("bounds its receive queue: OVFLW at a first frame, drops when full", func() {
		simRun(vbus.Config{}, func(r *rig) {
			ob.RxQueue = 2
			b := r.conn(ob)
			p := r.peer("peer", 0x7e0, 0x7e8)
			p.send("01 01")
			p.send("01 02")
			p.send("01 03")
			p.send(ff90)
			Expect(p.recv().String()).To(Equal("7E8#320000"))
			Expect(b.Recv(0)).To(Equal([]byte{1}))
			Expect(b.Recv(0)).To(Equal([]byte{2}))
			noMessage(b)
			var dropped []error
			for _, ev := range evs {
				if ev.Err != nil {
					dropped = append(dropped, ev.Err)
				}
			}
			Expect(dropped).To(HaveLen(2))
			Expect(dropped[0]).To(MatchError(ContainSubstring("receive queue full: 1-byte message dropped")))
			Expect(dropped[1]).To(MatchError(ContainSubstring("receive queue full at a 90-byte FF")))
		})
	})

	It("reports every frame to the observer", func() {
		simRun(vbus.Config{}, func(r *rig) {
			var ea []isotp.Event
			oa := optsA()
			oa.Observer = func(ev isotp.Event) { ea = append(ea, ev) }
			a, b := r.conn(oa), r.conn(ob)
			q := r.sendAsync(a, pattern(20))
			Expect(b.Recv(-1)).To(Equal(pattern(20)))
			Expect(mustPop(q)).To(Succeed())
			summary := func(evs []isotp.Event) string {
				var s []string
				for _, ev := range evs {
					s = append(s, ev.Dir.String()+" "+ev.Type.String())
				}
				return strings.Join(s, ", ")
			}
			Expect(summary(ea)).To(Equal("tx FF, rx FC, tx CF, tx CF"))
			Expect(summary(evs)).To(Equal("rx FF, tx FC, rx CF, rx CF"))
			Expect(evs[3].Info).To(Equal("CF 2 of 2"))
		})
	})

	It("closes cleanly: blocked and later calls fail with KindClosed", func() {
		simRun(vbus.Config{}, func(r *rig) {
			oa := optsA()
			oa.TxID = 0x700 // nobody listens: Send blocks waiting for FC
			a, b := r.conn(oa), r.conn(ob)
			errs := r.sendAsync(a, pattern(20))
			got := make(chan error, 1)
			r.clk.Go("recv", func() { _, err := b.Recv(-1); got <- err })
			r.clk.Sleep(10 * time.Millisecond)
			Expect(a.Close()).To(Succeed())
			Expect(b.Close()).To(Succeed())
			Expect(isotp.KindOf(mustPop(errs))).To(Equal(isotp.KindClosed))
			r.clk.Sleep(time.Millisecond)
			Expect(<-got).To(MatchError(isotp.ErrClosed))
			Expect(a.Send([]byte{1})).To(MatchError(isotp.ErrClosed))
			_, err := b.Recv(0)
			Expect(err).To(MatchError(isotp.ErrClosed))
			Expect(a.Close()).To(Succeed())
		})
	})
})

var _ = Describe("OnNode", func() {
	It("runs a channel on a node attached by the caller, ignoring other identifiers", func() {
		simRun(vbus.Config{}, func(r *rig) {
			var evs []isotp.Event
			ob := optsB()
			ob.Observer = func(ev isotp.Event) { evs = append(evs, ev) }
			node, err := r.bus.Attach("B") // no filter: sees everything
			Expect(err).NotTo(HaveOccurred())
			b, err := isotp.OnNode(node, false, r.clk, ob)
			Expect(err).NotTo(HaveOccurred())
			a := r.conn(optsA())
			p := r.peer("peer", 0x123, 0x7ff)
			p.send("01 2A") // an SF on another identifier
			q := r.sendAsync(a, pattern(50))
			Expect(b.Recv(-1)).To(Equal(pattern(50)))
			Expect(mustPop(q)).To(Succeed())
			noMessage(b)
			Expect(evs[0].Ignored).To(BeTrue())
			Expect(evs[0].Info).To(ContainSubstring("identifier 0x123"))
			Expect(b.Close()).To(Succeed())
		})
	})
})

var _ = Describe("options", func() {
	DescribeTable("are validated with a clear error",
		func(fd bool, mod func(o *isotp.Options), msg string) {
			o := optsA()
			mod(&o)
			_, err := isotp.New(vbus.New(vbus.Config{FD: fd}), clockWall(), o)
			Expect(err).To(MatchError(isotp.ErrInvalid))
			Expect(err).To(MatchError(ContainSubstring(msg)))
		},
		Entry("11-bit id too large", false, func(o *isotp.Options) { o.TxID = 0x800 }, "tx id 0x800"),
		Entry("FD on a classic bus", false, func(o *isotp.Options) { o.FD = true }, "CAN FD channel on a classic bus"),
		Entry("TX_DL not an FD length", true, func(o *isotp.Options) { o.FD, o.TxDL = true, 10 }, "TX_DL 10"),
		Entry("TX_DL on classic", false, func(o *isotp.Options) { o.TxDL = 64 }, "TX_DL 64 on classic"),
		Entry("BRS without FD", true, func(o *isotp.Options) { o.BRS = true }, "BRS needs CAN FD"),
		Entry("STmin too long", false, func(o *isotp.Options) { o.STmin = time.Second }, "STmin 1s"),
		Entry("negative MaxRx", false, func(o *isotp.Options) { o.MaxRx = -1 }, "MaxRx -1"),
	)
})
