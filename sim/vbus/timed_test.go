package vbus_test

import (
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/vbus"
)

// inSim runs root as the root actor of a fresh simulated clock.
func inSim(root func(clk *clock.Sim)) {
	GinkgoHelper()
	clk := clock.NewSim(time.Time{})
	clk.SetHorizon(time.Hour)
	Expect(clk.Run("root", func() { root(clk) })).To(Succeed())
}

func attach(b can.Bus, name string, flt ...can.Filter) can.Node {
	GinkgoHelper()
	n, err := b.Attach(name, flt...)
	Expect(err).NotTo(HaveOccurred())
	return n
}

func recvAt(clk clock.Clock, n can.Node) (can.Frame, time.Duration) {
	GinkgoHelper()
	f, err := n.Recv(time.Second)
	Expect(err).NotTo(HaveOccurred())
	return f, clk.Now().Sub(clock.Epoch)
}

const bit500k = 2 * time.Microsecond

var _ = Describe("Untimed bus", func() {
	It("delivers to every other node whose filters accept the frame, never to the sender", func() {
		inSim(func(clk *clock.Sim) {
			b := vbus.New(vbus.Config{Clock: clk})
			a, all, only := attach(b, "a"), attach(b, "all"), attach(b, "only", can.Exact(0x7e0, false))
			Expect(a.Send(can.New(0x100, []byte{1}))).To(Succeed())
			Expect(a.Send(can.New(0x7e0, []byte{2}))).To(Succeed())
			f, _ := recvAt(clk, all)
			Expect(f.ID).To(BeEquivalentTo(0x100))
			f, _ = recvAt(clk, only)
			Expect(f.ID).To(BeEquivalentTo(0x7e0))
			_, err := a.Recv(0)
			Expect(errors.Is(err, can.ErrTimeout)).To(BeTrue())
			Expect(clk.Elapsed()).To(BeZero())
			Expect(b.Stats().Frames).To(BeEquivalentTo(2))
		})
	})

	It("refuses FD frames on a classic bus and invalid frames, naming the node", func() {
		b := vbus.New(vbus.Config{Name: "pt"})
		n := attach(b, "ecu")
		err := n.Send(can.New(0x1, make([]byte, 12)))
		Expect(errors.Is(err, can.ErrNoFD)).To(BeTrue())
		Expect(err.Error()).To(ContainSubstring("vbus pt: node ecu"))
		err = n.Send(can.Frame{ID: 0x800})
		Expect(err).To(MatchError(ContainSubstring("11 bits")))
	})

	It("closes nodes: Recv and Send fail with ErrClosed", func() {
		b := vbus.New(vbus.Config{})
		n := attach(b, "x")
		Expect(b.Close()).To(Succeed())
		_, err := n.Recv(clock.Forever)
		Expect(errors.Is(err, can.ErrClosed)).To(BeTrue())
		Expect(errors.Is(n.Send(can.New(1, nil)), can.ErrClosed)).To(BeTrue())
		_, err = b.Attach("late")
		Expect(errors.Is(err, can.ErrClosed)).To(BeTrue())
	})
})

var _ = Describe("Timed bus", func() {
	It("delivers a frame at the end of its EOF and frees the bus after the intermission", func() {
		inSim(func(clk *clock.Sim) {
			b := vbus.New(vbus.Config{Clock: clk, Bitrate: 500_000})
			tx, rx := attach(b, "tx"), attach(b, "rx")
			f1 := can.New(0x123, []byte{1, 2, 3, 4, 5, 6, 7, 8})
			bits := vbus.FrameBits(f1)
			Expect(tx.Send(f1)).To(Succeed())
			Expect(tx.Send(f1)).To(Succeed())
			Expect(clk.Elapsed()).To(BeZero(), "Send only queues")
			_, at := recvAt(clk, rx)
			Expect(at).To(Equal(time.Duration(bits.Total()-3) * bit500k))
			_, at = recvAt(clk, rx)
			Expect(at).To(Equal(time.Duration(2*bits.Total()-3) * bit500k))
			st := b.Stats()
			Expect(st.Frames).To(BeEquivalentTo(2))
			Expect(st.Bits).To(BeEquivalentTo(2 * bits.Total()))
			Expect(st.Busy).To(Equal(time.Duration(2*bits.Total()) * bit500k))
			Expect(st.Nodes).To(HaveLen(2))
			Expect(st.Nodes[0].Name).To(Equal("tx"))
			Expect(st.Nodes[0].Frames).To(BeEquivalentTo(2))
		})
	})

	It("arbitrates frames pending at the same instant by identifier, standard before extended, then attach order", func() {
		inSim(func(clk *clock.Sim) {
			b := vbus.New(vbus.Config{Clock: clk, Bitrate: 500_000})
			var order []string
			b.Tap(func(ev can.Event) { order = append(order, ev.Sender+":"+ev.Frame.String()) })
			n1, n2, n3, n4 := attach(b, "n1"), attach(b, "n2"), attach(b, "n3"), attach(b, "n4")
			attach(b, "rx")
			done := clock.NewQueue[bool](clk, 0)
			clk.Go("n1", func() { Expect(n1.Send(can.Frame{ID: 0x200 << 18, Extended: true})).To(Succeed()); done.TryPush(true) })
			clk.Go("n2", func() { Expect(n2.Send(can.New(0x300, nil))).To(Succeed()); done.TryPush(true) })
			clk.Go("n3", func() { Expect(n3.Send(can.New(0x200, nil))).To(Succeed()); done.TryPush(true) })
			clk.Go("n4", func() { Expect(n4.Send(can.New(0x300, nil))).To(Succeed()); done.TryPush(true) })
			clk.Sleep(time.Second)
			Expect(order).To(Equal([]string{
				"n3:200#",      // lowest base ID, standard
				"n1:08000000#", // same base ID, extended: SRR/IDE recessive lose
				"n2:300#",      // tie on 0x300: attach order
				"n4:300#",
			}))
		})
	})

	It("lets a remote frame lose to the data frame of the same identifier", func() {
		inSim(func(clk *clock.Sim) {
			b := vbus.New(vbus.Config{Clock: clk, Bitrate: 125_000})
			var order []string
			b.Tap(func(ev can.Event) { order = append(order, ev.Sender) })
			a, d := attach(b, "remote"), attach(b, "data")
			Expect(a.Send(can.Frame{ID: 0x55, Remote: true})).To(Succeed())
			Expect(d.Send(can.New(0x55, []byte{1}))).To(Succeed())
			clk.Sleep(time.Second)
			Expect(order).To(Equal([]string{"data", "remote"}))
		})
	})

	It("blocks Send on the clock while the transmit queue is full", func() {
		inSim(func(clk *clock.Sim) {
			b := vbus.New(vbus.Config{Clock: clk, Bitrate: 500_000, TxQueue: 4})
			tx := attach(b, "tx")
			f := can.New(0x10, []byte{0xaa})
			d := vbus.FrameBits(f).Duration(500_000, 0)
			for range 4 {
				Expect(tx.Send(f)).To(Succeed())
			}
			Expect(clk.Elapsed()).To(BeZero())
			Expect(tx.Send(f)).To(Succeed())
			// the fifth frame waits until the first has left the queue
			Expect(clk.Elapsed()).To(BeNumerically(">", 0))
			Expect(clk.Elapsed()).To(BeNumerically("<=", d))
		})
	})

	It("sends BRS frames faster than the nominal rate allows and rejects FD on a classic bus", func() {
		inSim(func(clk *clock.Sim) {
			b := vbus.New(vbus.Config{Clock: clk, FD: true, Bitrate: 500_000, DataBitrate: 2_000_000})
			tx, rx := attach(b, "tx"), attach(b, "rx")
			f := can.Frame{ID: 0x7e0, FD: true, BRS: true, Len: 64}
			Expect(tx.Send(f)).To(Succeed())
			_, at := recvAt(clk, rx)
			bits := vbus.FrameBits(f)
			Expect(at).To(Equal(bits.Duration(500_000, 2_000_000) - 3*bit500k))
		})
		b := vbus.New(vbus.Config{Bitrate: 500_000})
		Expect(errors.Is(attach(b, "x").Send(can.Frame{ID: 1, FD: true, Len: 12}), can.ErrNoFD)).To(BeTrue())
	})

	It("runs on the wall clock too, in real time", func() {
		b := vbus.New(vbus.Config{Bitrate: 125_000, TxQueue: 2})
		tx, rx := attach(b, "tx"), attach(b, "rx")
		f := can.New(0x10, []byte{1, 2, 3, 4, 5, 6, 7, 8})
		t0 := time.Now()
		go func() {
			defer GinkgoRecover()
			for range 10 {
				Expect(tx.Send(f)).To(Succeed())
			}
		}()
		for range 10 {
			_, err := rx.Recv(5 * time.Second)
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(time.Since(t0)).To(BeNumerically(">=", 9*vbus.FrameBits(f).Duration(125_000, 0)))
	})

	It("refuses inconsistent configurations when opened from input", func() {
		for _, c := range []struct {
			cfg  vbus.Config
			want string
		}{
			{vbus.Config{Name: "x", Bitrate: -1}, "negative bit rate"},
			{vbus.Config{Name: "x", FD: true, Bitrate: 500_000, DataBitrate: 250_000}, "below the nominal"},
			{vbus.Config{Name: "x", Bitrate: 500_000, DataBitrate: 2_000_000}, "needs a CAN FD bus"},
			{vbus.Config{Name: "x", DataBitrate: 2_000_000}, "needs a nominal bit rate"},
			{vbus.Config{Name: "x", Faults: []vbus.FaultRule{{Kind: "melt"}}}, "unknown kind"},
		} {
			_, err := vbus.Open(c.cfg)
			Expect(err).To(MatchError(ContainSubstring(c.want)))
			Expect(err.Error()).To(HavePrefix("vbus x: "))
		}
	})

	It("reports bus load over windows as a timeline whose busy time adds up", func() {
		inSim(func(clk *clock.Sim) {
			b := vbus.New(vbus.Config{Clock: clk, Bitrate: 500_000})
			tx := attach(b, "tx")
			f := can.New(0x10, []byte{1, 2, 3, 4, 5, 6, 7, 8})
			// 100 ms saturated, then 100 ms idle
			for clk.Elapsed() < 100*time.Millisecond {
				Expect(tx.Send(f)).To(Succeed())
			}
			clk.Sleep(100*time.Millisecond - clk.Elapsed()%time.Millisecond + 100*time.Millisecond)
			series := b.LoadSeries(10 * time.Millisecond)
			Expect(len(series)).To(BeNumerically(">=", 20))
			var busy time.Duration
			for _, s := range series {
				busy += s.Busy
				Expect(s.Load).To(BeNumerically("<=", 1))
				Expect(s.Width).To(Equal(10 * time.Millisecond))
			}
			st := b.Stats()
			Expect(busy).To(Equal(st.Busy))
			Expect(series[3].Load).To(BeNumerically(">", 0.99))
			Expect(series[len(series)-2].Load).To(BeZero())
			Expect(st.Load).To(BeNumerically("~", float64(st.Busy)/float64(clk.Elapsed()), 1e-9))
		})
	})
})
