package vbus_test

import (
	"errors"
	"fmt"
	"math/bits"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/sim/vbus"
)

type trace struct {
	events []can.Event
}

func (t *trace) tap(ev can.Event) { t.events = append(t.events, ev) }

func (t *trace) faults() []string {
	var out []string
	for _, ev := range t.events {
		out = append(out, string(ev.Fault))
	}
	return out
}

// drain returns the payload first bytes a node received until the bus was
// quiet for a second.
func drain(n can.Node) []byte {
	var out []byte
	for {
		f, err := n.Recv(time.Second)
		if err != nil {
			return out
		}
		out = append(out, f.Data[0])
	}
}

func bothModels(body func(timed bool)) func() {
	return func() {
		for _, timed := range []bool{false, true} {
			name := "untimed"
			if timed {
				name = "timed"
			}
			It("in the "+name+" model", func() { body(timed) })
		}
	}
}

func newBus(clk clock.Clock, timed bool, rules ...vbus.FaultRule) *vbus.Bus {
	cfg := vbus.Config{Name: "body", Clock: clk, Seed: seed.Seed(7), Faults: rules}
	if timed {
		cfg.Bitrate = 500_000
	}
	return vbus.New(cfg)
}

func sendSeq(n can.Node, id uint32, count int) {
	GinkgoHelper()
	for i := range count {
		Expect(n.Send(can.New(id, []byte{byte(i), 0xa5}))).To(Succeed())
	}
}

var _ = Describe("Fault injection", func() {
	Describe("drop with a probability draws from the seed", bothModels(func(timed bool) {
		run := func(s seed.Seed) ([]byte, []string) {
			var got []byte
			tr := &trace{}
			inSim(func(clk *clock.Sim) {
				b := vbus.New(vbus.Config{Clock: clk, Seed: s, Bitrate: map[bool]int{true: 500_000}[timed],
					Faults: []vbus.FaultRule{{Name: "lossy", Kind: vbus.Drop, Probability: 0.5}}})
				b.Tap(tr.tap)
				tx, rx := attach(b, "tx"), attach(b, "rx")
				sendSeq(tx, 0x10, 100)
				got = drain(rx)
				n, err := b.Injected("lossy")
				Expect(err).NotTo(HaveOccurred())
				Expect(n).To(Equal(100 - len(got)))
				Expect(b.Stats().Faults[vbus.Drop]).To(BeEquivalentTo(n))
			})
			return got, tr.faults()
		}
		a, fa := run(1)
		b, fb := run(1)
		c, _ := run(2)
		Expect(a).To(Equal(b))
		Expect(fa).To(Equal(fb))
		Expect(len(a)).To(BeNumerically("~", 50, 20))
		Expect(a).NotTo(Equal(c), "another seed gives another pattern")
		Expect(fa).To(HaveLen(100), "every dropped frame is in the tap events")
		Expect(fa).To(ContainElement("drop"))
	}))

	Describe("targets identifiers, nodes, windows and counts, and switches at run time", bothModels(func(timed bool) {
		inSim(func(clk *clock.Sim) {
			b := newBus(clk, timed,
				vbus.FaultRule{Name: "id", Kind: vbus.Drop, IDs: []can.Filter{can.Exact(0x20, false)}},
				vbus.FaultRule{Name: "node", Kind: vbus.Drop, Nodes: []string{"evil"}, Count: 2},
				vbus.FaultRule{Name: "late", Kind: vbus.Drop, From: 10 * time.Second, Until: 20 * time.Second},
			)
			tx, evil, rx := attach(b, "tx"), attach(b, "evil"), attach(b, "rx")
			Expect(tx.Send(can.New(0x20, []byte{1}))).To(Succeed())
			Expect(tx.Send(can.New(0x21, []byte{2}))).To(Succeed())
			sendSeq(evil, 0x30, 4)
			Expect(drain(rx)).To(Equal([]byte{2, 2, 3}))
			clk.Sleep(10*time.Second - clk.Elapsed())
			Expect(tx.Send(can.New(0x21, []byte{9}))).To(Succeed())
			Expect(drain(rx)).To(BeEmpty(), "inside the window")
			Expect(b.SetFault("late", false)).To(Succeed())
			Expect(tx.Send(can.New(0x21, []byte{8}))).To(Succeed())
			Expect(drain(rx)).To(Equal([]byte{8}), "switched off")
			Expect(b.SetFault("late", true)).To(Succeed())
			Expect(b.RemoveFault("id")).To(Succeed())
			clk.Sleep(20*time.Second - clk.Elapsed())
			Expect(tx.Send(can.New(0x20, []byte{7}))).To(Succeed())
			Expect(drain(rx)).To(Equal([]byte{7}), "window over, id rule removed")
			Expect(b.SetFault("nope", true)).To(MatchError(ContainSubstring("vbus body: fault nope: no such rule")))
		})
	}))

	Describe("corrupt, detected: not delivered, counted as an error, shown to taps", bothModels(func(timed bool) {
		inSim(func(clk *clock.Sim) {
			b := newBus(clk, timed, vbus.FaultRule{Kind: vbus.Corrupt, Flips: 3, Count: 1})
			tr := &trace{}
			b.Tap(tr.tap)
			tx, rx := attach(b, "tx"), attach(b, "rx")
			sendSeq(tx, 0x10, 2)
			Expect(drain(rx)).To(Equal([]byte{1}))
			Expect(tr.faults()).To(Equal([]string{"corrupt", ""}))
			orig := can.New(0x10, []byte{0, 0xa5})
			Expect(flipped(orig, tr.events[0].Frame)).To(Equal(3))
			st := b.Stats()
			Expect(st.Errors).To(BeEquivalentTo(1))
			Expect(st.Nodes[0].Errors).To(BeEquivalentTo(1))
			if timed {
				good := vbus.FrameBits(orig).Total() + vbus.FrameBits(can.New(0x10, []byte{1, 0xa5})).Total()
				Expect(st.Bits).To(BeEquivalentTo(good+7), "the error frame replaces the EOF")
			}
		})
	}))

	Describe("corrupt, undetected: the receivers get the altered payload", bothModels(func(timed bool) {
		inSim(func(clk *clock.Sim) {
			b := newBus(clk, timed, vbus.FaultRule{Kind: vbus.Corrupt, Undetected: true, IDs: []can.Filter{can.Exact(0x10, false)}})
			tr := &trace{}
			b.Tap(tr.tap)
			tx, rx := attach(b, "tx"), attach(b, "rx")
			orig := can.New(0x10, []byte{0x00, 0xa5, 0xff, 0x12})
			Expect(tx.Send(orig)).To(Succeed())
			got, err := rx.Recv(time.Second)
			Expect(err).NotTo(HaveOccurred())
			Expect(flipped(orig, got)).To(Equal(1))
			Expect(b.Stats().Errors).To(BeZero())
			Expect(tr.faults()).To(Equal([]string{string(vbus.CorruptUndetected)}))
		})
	}))

	Describe("delay, duplicate and reorder", bothModels(func(timed bool) {
		inSim(func(clk *clock.Sim) {
			b := newBus(clk, timed,
				vbus.FaultRule{Name: "slow", Kind: vbus.Delay, Delay: 50 * time.Millisecond, IDs: []can.Filter{can.Exact(0x1, false)}},
				vbus.FaultRule{Name: "twice", Kind: vbus.Duplicate, IDs: []can.Filter{can.Exact(0x2, false)}},
				vbus.FaultRule{Name: "swap", Kind: vbus.Reorder, IDs: []can.Filter{can.Exact(0x3, false)}},
			)
			tr := &trace{}
			b.Tap(tr.tap)
			tx, rx := attach(b, "tx"), attach(b, "rx")
			Expect(tx.Send(can.New(0x1, []byte{1}))).To(Succeed())
			Expect(tx.Send(can.New(0x4, []byte{4}))).To(Succeed())
			f, err := rx.Recv(time.Second)
			Expect(err).NotTo(HaveOccurred())
			Expect(f.Data[0]).To(Equal(byte(4)), "the delayed frame comes later")
			f, err = rx.Recv(time.Second)
			Expect(err).NotTo(HaveOccurred())
			Expect(f.Data[0]).To(Equal(byte(1)))
			Expect(clk.Elapsed()).To(BeNumerically(">=", 50*time.Millisecond))
			Expect(clk.Elapsed()).To(BeNumerically("<", 51*time.Millisecond))

			Expect(tx.Send(can.New(0x2, []byte{2}))).To(Succeed())
			Expect(tx.Send(can.New(0x3, []byte{3}))).To(Succeed())
			Expect(tx.Send(can.New(0x5, []byte{5}))).To(Succeed())
			Expect(drain(rx)).To(Equal([]byte{2, 2, 5, 3}))
			var labels []string
			for _, ev := range tr.events {
				labels = append(labels, fmt.Sprintf("%d%s", ev.Frame.Data[0], ev.Fault))
			}
			Expect(labels).To(Equal([]string{"4", "1delay", "2", "2duplicate", "5", "3reorder"}))

			// a held frame with nothing after it goes out after Delay (10 ms)
			Expect(tx.Send(can.New(0x3, []byte{6}))).To(Succeed())
			t0 := clk.Elapsed()
			_, err = rx.Recv(time.Second)
			Expect(err).NotTo(HaveOccurred())
			Expect(clk.Elapsed() - t0).To(BeNumerically(">=", 10*time.Millisecond))
		})
	}))

	Describe("bus-off", bothModels(func(timed bool) {
		inSim(func(clk *clock.Sim) {
			b := newBus(clk, timed, vbus.FaultRule{Name: "off", Kind: vbus.BusOff, Nodes: []string{"ecu"}, Recovery: 100 * time.Millisecond, Count: 1})
			tr := &trace{}
			b.Tap(tr.tap)
			ecu, rx := attach(b, "ecu"), attach(b, "rx")
			Expect(ecu.Send(can.New(0x10, []byte{1}))).To(Succeed())
			Expect(drain(rx)).To(BeEmpty())
			Expect(b.IsBusOff("ecu")).To(BeFalse(), "recovered after 100 ms (drain waited 1 s)")
			Expect(tr.faults()).To(Equal([]string{"bus-off"}))

			Expect(b.SetBusOff("ecu", 0)).To(Succeed())
			err := ecu.Send(can.New(0x10, []byte{2}))
			Expect(errors.Is(err, can.ErrBusOff)).To(BeTrue())
			Expect(err.Error()).To(ContainSubstring("node ecu"))
			clk.Sleep(time.Hour / 2)
			Expect(errors.Is(ecu.Send(can.New(0x10, []byte{3})), can.ErrBusOff)).To(BeTrue(), "no recovery time: until Recover")
			Expect(b.Recover("ecu")).To(Succeed())
			Expect(ecu.Send(can.New(0x10, []byte{4}))).To(Succeed())
			Expect(drain(rx)).To(Equal([]byte{4}))
			Expect(b.Recover("ecu")).To(MatchError(ContainSubstring("not bus-off")))
			Expect(b.SetBusOff("ghost", 0)).To(MatchError(ContainSubstring("no such node")))
			Expect(b.Stats().Nodes[0].BusOffs).To(BeEquivalentTo(2))
		})
	}))

	It("flushes a bus-off node's transmit queue and fails its blocked senders (timed)", func() {
		inSim(func(clk *clock.Sim) {
			b := vbus.New(vbus.Config{Clock: clk, Bitrate: 500_000, TxQueue: 2})
			tr := &trace{}
			b.Tap(tr.tap)
			ecu := attach(b, "ecu")
			attach(b, "rx")
			var errs []error
			clk.Go("sender", func() {
				for i := range 3 {
					errs = append(errs, ecu.Send(can.New(0x10, []byte{byte(i)})))
				}
			})
			// frame 0 is on the wire, frame 1 queued, the sender blocked on frame 2
			clk.Sleep(10 * time.Microsecond)
			Expect(errs).To(HaveLen(2))
			Expect(b.SetBusOff("ecu", 0)).To(Succeed())
			clk.Sleep(time.Second)
			Expect(errs).To(HaveLen(3))
			Expect(errs[:2]).To(Equal([]error{nil, nil}))
			Expect(errors.Is(errs[2], can.ErrBusOff)).To(BeTrue())
			Expect(tr.faults()).To(Equal([]string{"bus-off", ""}), "frame 1 lost, frame 0 completes")
			Expect(tr.events[0].Frame.Data[0]).To(Equal(byte(1)))
		})
	})

	It("rejects bad rules with an error naming the rule", func() {
		b := vbus.New(vbus.Config{Name: "pt"})
		for _, r := range []vbus.FaultRule{
			{Name: "k", Kind: "melt"},
			{Name: "p", Kind: vbus.Drop, Probability: 1.5},
			{Name: "w", Kind: vbus.Drop, From: 2 * time.Second, Until: time.Second},
			{Name: "d", Kind: vbus.Delay},
			{Name: "i", Kind: vbus.Drop, IDs: []can.Filter{{ID: 0x800}}},
			{Name: "c", Kind: vbus.Drop, Count: -1},
		} {
			Expect(b.AddFault(r)).To(MatchError(ContainSubstring("vbus pt: fault " + r.Name + ":")))
		}
		Expect(b.AddFault(vbus.FaultRule{Name: "x", Kind: vbus.Drop})).To(Succeed())
		Expect(b.AddFault(vbus.FaultRule{Name: "x", Kind: vbus.Drop})).To(MatchError(ContainSubstring("already installed")))
		Expect(b.AddFault(vbus.FaultRule{Kind: vbus.Drop})).To(Succeed())
		Expect(b.RemoveFault("drop#2")).To(Succeed())
	})
})

func flipped(a, b can.Frame) int {
	n := 0
	for i := range a.Data {
		n += bits.OnesCount8(a.Data[i] ^ b.Data[i])
	}
	return n
}
