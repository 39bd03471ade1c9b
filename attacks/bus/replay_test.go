package bus_test

import (
	"bytes"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/attacks/bus"
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/capture"
	"github.com/uptane-hil/uptane-hil/sim/clock"
)

// log joins candump -L lines.
func log(lines ...string) []byte { return []byte(strings.Join(lines, "\n") + "\n") }

var _ = Describe("the attacker's log and replay (Recorder, UpdateSession, Replay)", func() {
	It("picks the first update session that installed an image: from the nonce write that opened its cycle to the ECUReset", func() {
		l := log(
			"(1.000000) powertrain 7E1#10132EF1A3000102", // cycle 1: nonce write (first frame) ...
			"(1.000100) powertrain 7E9#300000",           // ... the ECU's flow control (not the request id)
			"(1.000200) powertrain 7E1#21030405060708",
			"(1.000300) powertrain 7E1#220A0B0C0D0E0F",
			"(1.001000) powertrain 7E1#043101FF10",       // verify metadata: nothing new, no install
			"(2.000000) powertrain 7E0#10132EF1A30001",   // another ECU's nonce write
			"(3.000000) powertrain 7E1#10132EF1A3101112", // cycle 2 starts here
			"(3.000200) powertrain 7E1#21131415161718",
			"(3.000300) powertrain 7E1#221A1B1C1D1E1F",
			"(3.001000) powertrain 7E1#300000",     // the Primary's flow control for a long answer
			"(3.002000) powertrain 7E1#043101FF12", // install
			"(3.003000) powertrain 7E1#021101",     // ECUReset: the session ends here
			"(3.004000) powertrain 7E1#0322F1A2",
			"(4.000000) powertrain 7E1#043101FF12", // a later install is not part of it
			"(4.001000) powertrain 7E1#021101",
		)
		recs, err := bus.UpdateSession(l, ch)
		Expect(err).NotTo(HaveOccurred())
		var got []string
		for _, r := range recs {
			got = append(got, r.Frame.String())
		}
		Expect(got).To(Equal([]string{"7E1#10132EF1A3101112", "7E1#21131415161718", "7E1#221A1B1C1D1E1F", "7E1#300000", "7E1#043101FF12", "7E1#021101"}))
		Expect(recs[0].Time).To(BeTemporally("==", time.Unix(3, 0)))
	})

	It("reads CAN FD single frames with the escaped length", func() {
		l := log(
			"(1.000000) body 7E0##10013"+"2EF1A3"+strings.Repeat("AB", 16)+"CCCCCC",
			"(1.001000) body 7E0##1043101FF12",
			"(1.002000) body 7E0##1021101",
		)
		recs, err := bus.UpdateSession(l, bus.Channel{Request: 0x7E0, Response: 0x7E8, FD: true})
		Expect(err).NotTo(HaveOccurred())
		Expect(recs).To(HaveLen(3))
	})

	It("says so when the log holds no session with an install, or is broken", func() {
		_, err := bus.UpdateSession(log("(1.000000) powertrain 7E1#10132EF1A3000102", "(1.100000) powertrain 7E1#021101"), ch)
		Expect(err).To(MatchError(ContainSubstring("no update session that installed an image on the ECU at 0x7e1 (2 frames on that identifier)")))
		_, err = bus.UpdateSession(log("(1.000000) powertrain 7E1#zz"), ch)
		Expect(err).To(MatchError(ContainSubstring("the recorded log")))
	})

	It("records a bus and replays frames with their recorded spacing, the same way every run", func() {
		replayOnce := func() ([]string, []time.Duration) {
			var frames []string
			var gaps []time.Duration
			onBench(func(b *bench) {
				rec := bus.Record(b.bus)
				tx, err := b.bus.Attach("primary")
				Expect(err).NotTo(HaveOccurred())
				for i, wait := range []time.Duration{0, 5 * time.Millisecond, 7 * time.Millisecond, 40 * time.Millisecond} {
					b.sim.Sleep(wait)
					Expect(tx.Send(can.New(0x7E1, []byte{0x02, 0x3E, byte(i)}))).To(Succeed())
				}
				b.sim.Sleep(10 * time.Millisecond)
				rec.Stop()
				l := rec.Log()
				Expect(strings.Count(string(l), "\n")).To(Equal(4))
				Expect(string(l)).To(ContainSubstring(" powertrain 7E1#023E00\n"))

				rx, err := b.bus.Attach("ecu", can.Exact(0x7E1, false))
				Expect(err).NotTo(HaveOccurred())
				got := clock.NewQueue[time.Time](b.sim, 0)
				b.sim.Go("ecu", func() {
					for i := 0; i < 4; i++ {
						f, err := rx.Recv(time.Second)
						if err != nil {
							return
						}
						frames = append(frames, f.String())
						got.TryPush(b.sim.Now())
					}
				})
				all, err := capture.ParseCandumpLog(bytes.NewReader(l))
				Expect(err).NotTo(HaveOccurred())
				n, err := bus.Replay(b.bus, b.sim, "attacker (replay)", all)
				Expect(err).NotTo(HaveOccurred())
				Expect(n).To(Equal(4))
				var last time.Time
				for i := 0; i < 4; i++ {
					at, err := got.Pop(time.Second)
					Expect(err).NotTo(HaveOccurred())
					if i > 0 {
						gaps = append(gaps, at.Sub(last))
					}
					last = at
				}
			})
			return frames, gaps
		}
		frames, gaps := replayOnce()
		Expect(frames).To(Equal([]string{"7E1#023E00", "7E1#023E01", "7E1#023E02", "7E1#023E03"}))
		// the spacing as sent, give or take the few bit times that bit
		// stuffing adds to one frame and not to another
		for i, want := range []time.Duration{5 * time.Millisecond, 7 * time.Millisecond, 40 * time.Millisecond} {
			Expect(gaps[i]).To(BeNumerically("~", want, 20*time.Microsecond))
		}
		frames2, gaps2 := replayOnce()
		Expect(frames2).To(Equal(frames))
		Expect(gaps2).To(Equal(gaps))
	})
})
