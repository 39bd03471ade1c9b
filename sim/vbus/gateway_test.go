package vbus_test

import (
	"errors"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/sim/vbus"
)

var _ = Describe("Gateway", func() {
	It("forwards both ways, and a hook set at run time alters, drops or injects", func() {
		inSim(func(clk *clock.Sim) {
			a := vbus.New(vbus.Config{Name: "a", Clock: clk, Bitrate: 500_000})
			b := vbus.New(vbus.Config{Name: "b", Clock: clk})
			gw, err := vbus.NewGateway(a, b, vbus.GatewayConfig{Name: "gw", Clock: clk,
				BtoA: []can.Filter{can.Exact(0x7e8, false)}})
			Expect(err).NotTo(HaveOccurred())
			ta, tb := attach(a, "tester"), attach(b, "ecu")
			var senders []string
			b.Tap(func(ev can.Event) { senders = append(senders, ev.Sender) })

			Expect(ta.Send(can.New(0x7e0, []byte{1}))).To(Succeed())
			f, err := tb.Recv(time.Second)
			Expect(err).NotTo(HaveOccurred())
			Expect(f.Data[0]).To(Equal(byte(1)))
			Expect(senders).To(Equal([]string{"gw"}))

			Expect(tb.Send(can.New(0x7e8, []byte{2}))).To(Succeed())
			Expect(tb.Send(can.New(0x123, []byte{3}))).To(Succeed())
			f, err = ta.Recv(time.Second)
			Expect(err).NotTo(HaveOccurred())
			Expect(f.ID).To(BeEquivalentTo(0x7e8))
			_, err = ta.Recv(time.Second)
			Expect(errors.Is(err, can.ErrTimeout)).To(BeTrue(), "0x123 is not routed b->a")

			gw.SetHook(func(dir vbus.Direction, f can.Frame) []can.Frame {
				switch f.Data[0] {
				case 10:
					return nil
				case 11:
					f.Data[0] = 99
					return []can.Frame{f}
				case 12:
					return []can.Frame{f, can.New(0x666, []byte{0xee})}
				}
				return []can.Frame{f}
			})
			for _, v := range []byte{10, 11, 12} {
				Expect(ta.Send(can.New(0x7e0, []byte{v}))).To(Succeed())
			}
			var got []string
			for range 3 {
				f, err := tb.Recv(time.Second)
				Expect(err).NotTo(HaveOccurred())
				got = append(got, fmt.Sprintf("%X:%d", f.ID, f.Data[0]))
			}
			Expect(got).To(Equal([]string{"7E0:99", "7E0:12", "666:238"}))
			clk.Sleep(time.Millisecond) // let the gateway count its last send
			st := gw.Stats()
			Expect(st.Dropped[vbus.AtoB]).To(BeEquivalentTo(1))
			Expect(st.Forwarded[vbus.AtoB]).To(BeEquivalentTo(4))
			Expect(st.Forwarded[vbus.BtoA]).To(BeEquivalentTo(1))

			gw.SetHook(func(vbus.Direction, can.Frame) []can.Frame { return []can.Frame{{ID: 0x900}} })
			Expect(ta.Send(can.New(0x7e0, []byte{1}))).To(Succeed())
			clk.Sleep(time.Second)
			Expect(gw.Errors()).To(HaveLen(1))
			Expect(gw.Errors()[0].Error()).To(ContainSubstring("vbus gateway gw a->b"))
			Expect(gw.Close()).To(Succeed())
		})
	})
})

// exchange runs a multi-node request/response exchange with faults on a
// timed bus and returns every tap event as text.
func exchange(s seed.Seed) []string {
	var out []string
	inSim(func(clk *clock.Sim) {
		b := vbus.New(vbus.Config{Name: "pt", Clock: clk, Bitrate: 500_000, Seed: s, Faults: []vbus.FaultRule{
			{Name: "loss", Kind: vbus.Drop, Probability: 0.05},
			{Name: "flip", Kind: vbus.Corrupt, Probability: 0.05},
			{Name: "lag", Kind: vbus.Delay, Probability: 0.05, Delay: 3 * time.Millisecond},
			{Name: "dup", Kind: vbus.Duplicate, Probability: 0.05},
			{Name: "swap", Kind: vbus.Reorder, Probability: 0.05},
		}})
		b.Tap(func(ev can.Event) {
			out = append(out, fmt.Sprintf("%s %s %s %s", ev.Time.Format(time.RFC3339Nano), ev.Sender, ev.Frame, ev.Fault))
		})
		for i := range 6 {
			n := attach(b, fmt.Sprintf("ecu%d", i))
			id := uint32(0x700 + i)
			clk.Go(n.Name(), func() {
				for {
					f, err := n.Recv(clock.Forever)
					if err != nil {
						return
					}
					if f.ID == 0x7df {
						Expect(n.Send(can.New(id, []byte{f.Data[0], byte(id)}))).To(Succeed())
					}
				}
			})
		}
		tester := attach(b, "tester")
		for i := range 50 {
			Expect(tester.Send(can.New(0x7df, []byte{byte(i)}))).To(Succeed())
			clk.Sleep(time.Millisecond)
		}
		clk.Sleep(100 * time.Millisecond)
	})
	return out
}

var _ = Describe("Determinism", func() {
	It("gives the identical event sequence for the same seed and inputs", func() {
		a, b := exchange(42), exchange(42)
		Expect(len(a)).To(BeNumerically(">", 300))
		Expect(a).To(Equal(b))
		Expect(exchange(43)).NotTo(Equal(a))
		faults := map[string]bool{}
		for _, line := range a {
			for _, k := range []string{"drop", "corrupt", "delay", "duplicate", "reorder"} {
				if len(line) > len(k) && line[len(line)-len(k):] == k {
					faults[k] = true
				}
			}
		}
		Expect(faults).To(HaveLen(5), "every fault kind shows in the events")
	})
})
