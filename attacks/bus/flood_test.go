package bus_test

import (
	"sync"

	"time"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/isotp"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/attacks/bus"
	"github.com/uptane-hil/uptane-hil/ecus/secondary"
	"github.com/uptane-hil/uptane-hil/ecus/uds"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// flood floods an ECU whose server works 2 ms on each request it processes
// (500 a second at most) with 1000 TesterPresent a second for two seconds.
func flood(profile check.Profile) bus.FloodStats {
	var st bus.FloodStats
	onBench(func(b *bench) {
		b.serve("BRK-1", &fakeECU{}, secondary.ServerLimits(uds.ServerConfig{ServiceTime: 2 * time.Millisecond, RateBurst: 50}, profile, nil))
		f, err := bus.StartFlood(b.bus, b.sim, ch, "attacker (flood)", bus.FloodConfig{Rate: 1000})
		Expect(err).NotTo(HaveOccurred())
		b.sim.Sleep(2 * time.Second)
		st = f.Stop()
	})
	return st
}

var _ = Describe("a request flood (Flood)", func() {
	It("sends at its rate and sees every request answered by an ECU that answers the excess busy (pouf.rate_limit)", func() {
		st := flood(check.Conformant)
		Expect(st.Sent).To(BeNumerically("~", 2000, 2))
		Expect(st.Lost).To(BeZero())
		Expect(st.Stalled).To(BeZero())
		Expect(st.Starved()).To(BeFalse())
		Expect(st.Answered).To(Equal(st.Sent))
		// a burst of 50, then 200 a second
		Expect(st.Sent - st.Busy).To(BeNumerically("~", 50+2*200, 3))
	})

	It("sees requests lost when the ECU processes them all and cannot keep up", func() {
		st := flood(check.Without(check.PoufRateLimit))
		Expect(st.Busy).To(BeZero())
		Expect(st.Lost).To(BeNumerically(">", 0))
		Expect(st.Stalled).To(BeZero(), "it answers every 2 ms all along")
		Expect(st.Starved()).To(BeTrue())
		// what 2 s of a 2 ms-per-request processor answer, plus the 256
		// requests its receive queue held when the flood stopped
		Expect(st.Answered).To(BeNumerically("~", 1000+256, 5))
	})

	It("counts the answers of an ECU still working through its backlog after Grace as answered, not lost", func() {
		var st bus.FloodStats
		onBench(func(b *bench) {
			// 5 ms a request: its 256 queued requests take 1.28 s, more
			// than the 1 s Grace
			b.serve("BRK-1", &fakeECU{}, secondary.ServerLimits(uds.ServerConfig{ServiceTime: 5 * time.Millisecond}, check.Without(check.PoufRateLimit), nil))
			f, err := bus.StartFlood(b.bus, b.sim, ch, "attacker (flood)", bus.FloodConfig{Rate: 1000})
			Expect(err).NotTo(HaveOccurred())
			b.sim.Sleep(time.Second)
			st = f.Stop()
		})
		Expect(st.Answered).To(BeNumerically("~", 200+256, 5), "what it processed in the flood's second, then its whole queue")
		Expect(st.Lost).To(Equal(st.Sent - st.Answered))
		Expect(st.Lost).To(BeNumerically(">", 0), "it could not keep up: the requests its full queue turned away are lost")
	})

	// A stall: the ECU's diagnostic task does not run for 1.5 s (a request
	// of its own that blocks it, as a host that does not schedule a DUT's
	// process would), with the flood on from its start and 1 s after it.
	stalled := func(profile check.Profile) bus.FloodStats {
		var st bus.FloodStats
		onBench(func(b *bench) {
			b.serve("BRK-1", &stallECU{clk: b.sim, did: 0xF1A0, stall: 1500 * time.Millisecond},
				secondary.ServerLimits(uds.ServerConfig{ServiceTime: 2 * time.Millisecond, RateBurst: 50}, profile, nil))
			conn, err := isotp.New(b.bus, b.sim, isotp.Options{Name: "primary", TxID: ch.Request, RxID: ch.Response})
			Expect(err).NotTo(HaveOccurred())
			Expect(conn.Send([]byte{0x22, 0xF1, 0xA0})).To(Succeed())
			f, err := bus.StartFlood(b.bus, b.sim, ch, "attacker (flood)", bus.FloodConfig{Rate: 1000})
			Expect(err).NotTo(HaveOccurred())
			b.sim.Sleep(2500 * time.Millisecond)
			st = f.Stop()
		})
		return st
	}

	It("does not take a rate-limited ECU that stood still for a while for starved: what it lost, it lost while it answered nothing at all", func() {
		st := stalled(check.Conformant)
		// 1.5 s of requests, less the 256 its receive queue held, and a
		// few more while it works through the burst its bucket lets in
		Expect(st.Lost).To(BeNumerically(">=", 1500-256), "a stall loses requests")
		Expect(st.Stalled).To(BeNumerically("~", 1500-100, 5), "sent from 100 ms into the silence until its first answer")
		Expect(st.Lost).To(BeNumerically("<", st.Stalled))
		Expect(st.Busy).To(BeNumerically(">", 0))
		Expect(st.Starved()).To(BeFalse())
	})

	It("still sees a starved ECU that also stood still: it loses requests while it answers, too", func() {
		st := stalled(check.Without(check.PoufRateLimit))
		Expect(st.Stalled).To(BeNumerically("~", 1500-100, 5))
		// in the stall it lost 1500-256 (its queue was full from then
		// on), after it 500 of the next 1000
		Expect(st.Lost).To(BeNumerically("~", 1500-256+500, 5))
		Expect(st.Lost - st.Stalled).To(BeNumerically(">", 300))
		Expect(st.Starved()).To(BeTrue())
	})

	It("falls silent after its duration (For), and Stop still counts every answer", func() {
		var st, early bus.FloodStats
		onBench(func(b *bench) {
			b.serve("BRK-1", &fakeECU{}, secondary.ServerLimits(uds.ServerConfig{ServiceTime: 2 * time.Millisecond, RateBurst: 50}, check.Conformant, nil))
			f, err := bus.StartFlood(b.bus, b.sim, ch, "attacker (flood)", bus.FloodConfig{Rate: 1000, For: 500 * time.Millisecond})
			Expect(err).NotTo(HaveOccurred())
			b.sim.Sleep(time.Second)
			early = f.Stats()
			b.sim.Sleep(time.Second)
			st = f.Stop()
		})
		Expect(early.Sent).To(BeNumerically("~", 500, 2), "half a second at 1000/s")
		Expect(st.Sent).To(Equal(early.Sent), "nothing after its time was up")
		Expect(st.Answered).To(Equal(st.Sent))
		Expect(st.Starved()).To(BeFalse())
		onBench(func(b *bench) {
			_, err := bus.StartFlood(b.bus, b.sim, ch, "f", bus.FloodConfig{Rate: 10, For: -time.Second})
			Expect(err).To(MatchError(ContainSubstring("flood duration -1s is negative")))
		})
	})

	It("replays the same frames from the same start", func() {
		Expect(flood(check.Without(check.PoufRateLimit))).To(Equal(flood(check.Without(check.PoufRateLimit))))
	})

	It("refuses a rate that is not positive and a request that is not one single frame", func() {
		onBench(func(b *bench) {
			_, err := bus.StartFlood(b.bus, b.sim, ch, "f", bus.FloodConfig{})
			Expect(err).To(MatchError(ContainSubstring("flood rate 0 requests/s")))
			_, err = bus.StartFlood(b.bus, b.sim, ch, "f", bus.FloodConfig{Rate: 10, Request: make([]byte, 8)})
			Expect(err).To(MatchError(ContainSubstring("1..7 bytes")))
		})
	})
})

// stallBus is a bus whose one node stalls once in Send (a sender that was
// not scheduled for a while on a wall clock) and notes when each frame went.
type stallBus struct {
	clk   clock.Clock
	at    int // the frame whose Send stalls
	stall time.Duration
	mu    sync.Mutex
	sent  []time.Time
}

func (b *stallBus) Name() string                                   { return "stall" }
func (b *stallBus) FD() bool                                       { return false }
func (b *stallBus) Tap(func(can.Event)) func()                     { return func() {} }
func (b *stallBus) Close() error                                   { return nil }
func (b *stallBus) Attach(string, ...can.Filter) (can.Node, error) { return &stallNode{b: b}, nil }

type stallNode struct{ b *stallBus }

func (n *stallNode) Name() string { return "attacker" }
func (n *stallNode) Send(can.Frame) error {
	n.b.mu.Lock()
	k := len(n.b.sent)
	n.b.sent = append(n.b.sent, n.b.clk.Now())
	n.b.mu.Unlock()
	if k == n.b.at {
		n.b.clk.Sleep(n.b.stall)
	}
	return nil
}
func (n *stallNode) Recv(time.Duration) (can.Frame, error) {
	n.b.clk.Sleep(time.Hour)
	return can.Frame{}, can.ErrClosed
}
func (n *stallNode) Close() error { return nil }

var _ = Describe("a request flood whose sender stalls", func() {
	It("never sends above its rate afterwards: the slots it missed are gone (no burst to catch up)", func() {
		sim := clock.NewSim(time.Time{})
		b := &stallBus{clk: sim, at: 10, stall: 300 * time.Millisecond}
		Expect(sim.Run("spec", func() {
			f, err := bus.StartFlood(b, sim, ch, "attacker (flood)", bus.FloodConfig{Rate: 1000, Grace: time.Millisecond})
			Expect(err).NotTo(HaveOccurred())
			sim.Sleep(time.Second)
			f.Stop()
		})).To(Succeed())
		b.mu.Lock()
		defer b.mu.Unlock()
		// in any 10 ms, at most 11 requests
		for i := range b.sent {
			j := i
			for j < len(b.sent) && b.sent[j].Sub(b.sent[i]) < 10*time.Millisecond {
				j++
			}
			Expect(j-i).To(BeNumerically("<=", 11), "requests from %s", b.sent[i].Sub(b.sent[0]))
		}
		// and it went on at its rate: a second less the 300 ms stalled
		Expect(len(b.sent)).To(BeNumerically("~", 700, 3))
	})
})

// stallECU is a fakeECU whose read of DID did keeps its diagnostic task
// busy for stall on clk, answering nothing else meanwhile.
type stallECU struct {
	fakeECU
	clk   clock.Clock
	did   uint16
	stall time.Duration
}

func (e *stallECU) ReadDID(did uint16) ([]byte, error) {
	if did == e.did {
		e.clk.Sleep(e.stall)
		return []byte{1}, nil
	}
	return e.fakeECU.ReadDID(did)
}
