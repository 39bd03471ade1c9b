package isotp_test

import (
	"runtime"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/sim/clock"
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

// describeReception: reassembly, the receiver's timer, hostile and
// malformed frames and the receiver's limits, on transport t.
func describeReception(t transport) {
	Describe("reception", func() {
		var (
			rec *recorder
			ob  isotp.Options
		)
		BeforeEach(func() {
			rec = &recorder{}
			ob = optsB()
			ob.Observer = rec.observe
		})

		It("reassembles a hand-made message and sends FC after every block", func() {
			t.run(false, func(e *env) {
				ob.BlockSize, ob.STmin = 3, 300*time.Microsecond
				b := e.conn(ob)
				p := e.peer("peer", 0x7e0, 0x7e8)
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
				Expect(b.Recv(e.within)).To(Equal(pattern(90)))
			})
		})

		It("gives up after N_Cr with a clear error", func() {
			t.run(false, func(e *env) {
				b := e.conn(ob)
				p := e.peer("peer", 0x7e0, 0x7e8)
				p.send(ff90)
				p.recv()
				var last time.Time
				for sn := 1; sn <= 3; sn++ {
					e.clk.Sleep(10 * time.Millisecond)
					last = e.clk.Now() // before the CF: N_Cr cannot start earlier
					p.send(cfHex(sn))
				}
				_, err := b.Recv(e.within)
				e.atLeast(e.clk.Since(last), isotp.DefaultTimeout, "from CF 3 to the N_Cr error")
				Expect(err).To(MatchError("isotp: N_Cr timeout after CF 3 of 12 (rx id 0x7e0)"))
				Expect(err).To(MatchError(isotp.ErrTimeout))
				Expect(err.(*isotp.Error).Timer).To(Equal("N_Cr"))
				// the rest of the old message is ignored, never delivered
				p.send(cfHex(4))
				e.noMessage(b)
				e.await("the stray CF", func() bool { return len(rec.ignored()) > 0 })
				Expect(rec.ignored()).To(ConsistOf(ContainSubstring("CF while no reception")))
			})
		})

		It("aborts on a wrong sequence number and never delivers the corrupted message", func() {
			t.run(false, func(e *env) {
				b := e.conn(ob)
				p := e.peer("peer", 0x7e0, 0x7e8)
				p.send(ff90)
				p.recv()
				p.send(cfHex(1))
				p.send(cfHex(3))
				_, err := b.Recv(e.within)
				Expect(err).To(MatchError("isotp: wrong sequence number 3 in CF 2 of 12, expected 2; reception aborted (rx id 0x7e0)"))
				Expect(err).To(MatchError(isotp.ErrProtocol))
				for sn := 2; sn <= 12; sn++ {
					p.send(cfHex(sn))
				}
				e.noMessage(b)
				p.send("02 68 69")
				Expect(b.Recv(e.within)).To(Equal([]byte("hi")))
			})
		})

		It("wraps the sequence number from 15 to 0", func() {
			t.run(false, func(e *env) {
				b := e.conn(ob)
				p := e.peer("peer", 0x7e0, 0x7e8)
				msg := pattern(6 + 7*17)
				p.send("10 7D " + hexOf(msg[:6]))
				p.recv()
				for i := 1; i <= 17; i++ {
					p.send("2" + "0123456789ABCDEF"[i&0xf:i&0xf+1] + hexOf(msg[6+7*(i-1):6+7*i]))
				}
				Expect(b.Recv(e.within)).To(Equal(msg))
			})
		})

		It("ignores a CF when no reception is in progress", func() {
			t.run(false, func(e *env) {
				b := e.conn(ob)
				p := e.peer("peer", 0x7e0, 0x7e8)
				p.send(cfHex(1))
				e.noMessage(b)
				p.expectNothing()
				p.send("02 68 69")
				Expect(b.Recv(e.within)).To(Equal([]byte("hi")))
				Expect(rec.ignored()).To(ConsistOf("ignored: CF while no reception is in progress"))
			})
		})

		DescribeTable("restarts on a new FF or SF during a reception and reports the aborted one",
			func(newFrame string, want []byte, what string) {
				t.run(false, func(e *env) {
					b := e.conn(ob)
					p := e.peer("peer", 0x7e0, 0x7e8)
					p.send(ff90)
					p.recv()
					p.send(cfHex(1))
					p.send(newFrame)
					if strings.HasPrefix(newFrame, "1") {
						p.recv()
						p.send("21 " + hexOf(want[6:13]))
						p.send("22 " + hexOf(want[13:]))
					}
					_, err := b.Recv(e.within)
					Expect(err).To(MatchError(isotp.ErrProtocol))
					Expect(err).To(MatchError("isotp: reception of a 90-byte message aborted after 13 bytes (CF 1 of 12) by a new " + what + " (rx id 0x7e0)"))
					Expect(b.Recv(e.within)).To(Equal(want))
					e.noMessage(b)
				})
			},
			Entry("FF", "10 14 "+hexOf(pattern(20)[:6]), pattern(20), "FF"),
			Entry("SF", "03 01 02 03", []byte{1, 2, 3}, "SF"),
		)

		It("answers FC OVFLW to a message over MaxRx and reports it", func() {
			t.run(false, func(e *env) {
				ob.MaxRx = 100
				b := e.conn(ob)
				p := e.peer("peer", 0x7e0, 0x7e8)
				p.send("10 65 00 00 00 00 00 00") // 101 bytes
				Expect(p.recv().String()).To(Equal("7E8#320000"))
				_, err := b.Recv(e.within)
				Expect(err).To(MatchError(isotp.ErrOverflow))
				Expect(err).To(MatchError("isotp: FF announces 101 bytes, more than the 100-byte receive limit; sent FC OVFLW (rx id 0x7e0)"))
				p.send(cfHex(1))
				e.noMessage(b)
				p.send("10 64 00 00 00 00 00 00") // exactly 100 bytes is fine
				Expect(p.recv().String()).To(Equal("7E8#300000"))
			})
		})

		It("answers a first frame announcing 4 GiB with OVFLW without allocating for it", func() {
			t.run(false, func(e *env) {
				b := e.conn(ob)
				p := e.peer("peer", 0x7e0, 0x7e8)
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				p.send("10 00 FF FF FF FF 00 00")
				Expect(p.recv().String()).To(Equal("7E8#320000"))
				_, err := b.Recv(e.within)
				runtime.ReadMemStats(&after)
				Expect(err).To(MatchError(ContainSubstring("FF announces 4294967295 bytes")))
				Expect(after.TotalAlloc - before.TotalAlloc).To(BeNumerically("<", 64<<10))
			})
		})

		It("allocates for a large announced message only as its data arrives", func() {
			t.run(false, func(e *env) {
				b := e.conn(ob)
				p := e.peer("peer", 0x7e0, 0x7e8)
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				p.send("10 00 00 10 00 00 00 00") // 1 MiB announced, then silence
				p.recv()
				_, err := b.Recv(e.within)
				runtime.ReadMemStats(&after)
				Expect(err).To(MatchError(ContainSubstring("N_Cr timeout after CF 0 of")))
				Expect(after.TotalAlloc - before.TotalAlloc).To(BeNumerically("<", 64<<10))
			})
		})

		It("ignores malformed frames and stays usable", func() {
			t.run(false, func(e *env) {
				b := e.conn(ob)
				p := e.peer("peer", 0x7e0, 0x7e8)
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
				e.noMessage(b)
				p.expectNothing()
				p.send("01 2A")
				Expect(b.Recv(e.within)).To(Equal([]byte{42}), "the first message after the malformed frames")
				Expect(rec.ignored()).To(HaveLen(7))
			})
		})

		It("ignores short CFs before the last and CFs longer than the FF", func() {
			t.run(true, func(e *env) {
				ob.FD = true
				b := e.conn(ob)
				p := e.peer("peer", 0x7e0, 0x7e8)
				p.send(ff90)
				p.recv()
				p.send("21 01 02")                // short, but not the last
				p.send("21" + hexOf(pattern(11))) // FD CF of 12 bytes after a classic FF
				for sn := 1; sn <= 12; sn++ {
					p.send(cfHex(sn))
				}
				Expect(b.Recv(e.within)).To(Equal(pattern(90)))
				Expect(rec.ignored()).To(HaveLen(2))
			})
		})

		It("reassembles a CAN FD message whose last CF is shorter and padded", func() {
			t.run(true, func(e *env) {
				ob.FD = true
				b := e.conn(ob)
				p := e.peer("peer", 0x7e0, 0x7e8)
				msg := pattern(100) // FF 62 bytes, CF 38 bytes padded to 48
				p.send("10 64" + hexOf(msg[:62]))
				Expect(p.recv().FD).To(BeTrue())
				p.send("21" + hexOf(msg[62:]) + strings.Repeat("CC", 9))
				Expect(b.Recv(e.within)).To(Equal(msg))
				// an escape SF of 30 bytes in a 32-byte frame
				p.send("00 1E" + hexOf(msg[:30]))
				Expect(b.Recv(e.within)).To(Equal(msg[:30]))
			})
		})

		It("bounds its receive queue: OVFLW at a first frame, drops when full", func() {
			t.run(false, func(e *env) {
				ob.RxQueue = 2
				b := e.conn(ob)
				p := e.peer("peer", 0x7e0, 0x7e8)
				p.send("01 01")
				p.send("01 02")
				p.send("01 03")
				p.send(ff90)
				Expect(p.recv().String()).To(Equal("7E8#320000"))
				Expect(b.Recv(e.within)).To(Equal([]byte{1}))
				Expect(b.Recv(e.within)).To(Equal([]byte{2}))
				e.noMessage(b)
				dropped := rec.errs()
				Expect(dropped).To(HaveLen(2))
				Expect(dropped[0]).To(MatchError(ContainSubstring("receive queue full: 1-byte message dropped")))
				Expect(dropped[1]).To(MatchError(ContainSubstring("receive queue full at a 90-byte FF")))
			})
		})

		It("reports every frame to the observer", func() {
			t.run(false, func(e *env) {
				var ra recorder
				oa := optsA()
				oa.Observer = ra.observe
				a, b := e.conn(oa), e.conn(ob)
				q := e.sendAsync(a, pattern(20))
				Expect(b.Recv(e.within)).To(Equal(pattern(20)))
				Expect(e.pop(q)).To(Succeed())
				summary := func(evs []isotp.Event) string {
					var s []string
					for _, ev := range evs {
						s = append(s, ev.Dir.String()+" "+ev.Type.String())
					}
					return strings.Join(s, ", ")
				}
				if e.exact {
					Expect(summary(ra.all())).To(Equal("tx FF, rx FC, tx CF, tx CF"))
				} else {
					// A's sender and A's receive goroutine report
					// concurrently: the order holds per direction
					var tx, rx []isotp.Event
					for _, ev := range ra.all() {
						if ev.Dir == isotp.TX {
							tx = append(tx, ev)
						} else {
							rx = append(rx, ev)
						}
					}
					Expect(summary(tx)).To(Equal("tx FF, tx CF, tx CF"))
					Expect(summary(rx)).To(Equal("rx FC"))
				}
				evs := rec.all()
				Expect(summary(evs)).To(Equal("rx FF, tx FC, rx CF, rx CF"))
				Expect(evs[3].Info).To(Equal("CF 2 of 2"))
			})
		})

		It("closes cleanly: blocked and later calls fail with KindClosed", func() {
			t.run(false, func(e *env) {
				oa := optsA()
				oa.TxID = 0x700 // nobody listens: Send blocks waiting for FC
				a, b := e.conn(oa), e.conn(ob)
				errs := e.sendAsync(a, pattern(20))
				got := clock.NewQueue[error](e.clk, 1)
				e.clk.Go("recv", func() { _, err := b.Recv(-1); got.TryPush(err) })
				e.clk.Sleep(10 * time.Millisecond)
				Expect(a.Close()).To(Succeed())
				Expect(b.Close()).To(Succeed())
				Expect(isotp.KindOf(e.pop(errs))).To(Equal(isotp.KindClosed))
				Expect(e.pop(got)).To(MatchError(isotp.ErrClosed))
				Expect(a.Send([]byte{1})).To(MatchError(isotp.ErrClosed))
				_, err := b.Recv(0)
				Expect(err).To(MatchError(isotp.ErrClosed))
				Expect(a.Close()).To(Succeed())
			})
		})

		It("runs a channel on a node attached by the caller, ignoring other identifiers (OnNode)", func() {
			t.run(false, func(e *env) {
				node, err := e.bus.Attach("B") // no filter: sees everything
				Expect(err).NotTo(HaveOccurred())
				b, err := isotp.OnNode(node, e.bus.FD(), e.clk, ob)
				Expect(err).NotTo(HaveOccurred())
				a := e.conn(optsA())
				p := e.peer("peer", 0x123, 0x7ff)
				p.send("01 2A") // an SF on another identifier
				q := e.sendAsync(a, pattern(50))
				Expect(b.Recv(e.within)).To(Equal(pattern(50)))
				Expect(e.pop(q)).To(Succeed())
				e.noMessage(b)
				evs := rec.all()
				Expect(evs[0].Ignored).To(BeTrue())
				Expect(evs[0].Info).To(ContainSubstring("identifier 0x123"))
				Expect(b.Close()).To(Succeed())
			})
		})
	})
}

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
