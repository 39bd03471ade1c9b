package isotp_test

import (
	"testing"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/isotp"
	"github.com/uptane-hil/uptane-hil/sim/vbus"
)

// BenchmarkISOTPTimedBus transfers 1 MiB over the timed virtual bus (BS 0,
// STmin 0) and reports:
//
//   - %limit: the achieved payload rate as a percentage of the bus's
//     theoretical ISO-TP payload limit. The limit is the payload the
//     consecutive frames carried divided by the time those frames occupy
//     the wire, from the bus's own bit-count model (vbus.FrameBits:
//     stuff bits, CRC, ACK, EOF and intermission included):
//     limit = (len(msg) - FF payload) / (busy time of the sender - FF
//     duration), i.e. payload bytes per CF ÷ CF frame time, averaged over
//     the CFs actually sent. The achieved rate is len(msg) / (simulated
//     time from Send to the receiver's Recv returning); it loses only the
//     FF, the FC turnaround and any gap between CFs.
//   - x-realtime: simulated time / wall time.
//   - sim-s: the simulated duration of one transfer.
func BenchmarkISOTPTimedBus(b *testing.B) {
	const nominal = 500_000
	for _, tc := range []struct {
		name string
		fd   bool
		data int
	}{
		{"classic-500k", false, 0},
		{"fd-500k-2M", true, 2_000_000},
	} {
		b.Run(tc.name, func(b *testing.B) {
			msg := pattern(1 << 20)
			var sim time.Duration
			var pct float64
			b.ReportAllocs()
			b.ResetTimer()
			wall0 := time.Now()
			for range b.N {
				clk := clock.NewSim(time.Time{})
				bus := vbus.New(vbus.Config{Name: "bench", Clock: clk, FD: tc.fd, Bitrate: nominal, DataBitrate: tc.data})
				var ff can.Frame
				gotFF := false
				bus.Tap(func(ev can.Event) {
					if !gotFF && ev.Sender == "A" {
						ff, gotFF = ev.Frame, true
					}
				})
				oa, ob := optsA(), optsB()
				oa.FD, oa.BRS, ob.FD, ob.BRS = tc.fd, tc.fd, tc.fd, tc.fd
				var elapsed time.Duration
				err := clk.Run("root", func() {
					a, err := isotp.New(bus, clk, oa)
					if err != nil {
						b.Fatal(err)
					}
					rx, err := isotp.New(bus, clk, ob)
					if err != nil {
						b.Fatal(err)
					}
					start := clk.Now()
					clk.Go("send", func() {
						if err := a.Send(msg); err != nil {
							b.Error(err)
						}
					})
					got, err := rx.Recv(-1)
					if err != nil || len(got) != len(msg) {
						b.Fatalf("received %d bytes, %v", len(got), err)
					}
					elapsed = clk.Since(start)
				})
				if err != nil {
					b.Fatal(err)
				}
				var busy time.Duration
				for _, n := range bus.Stats().Nodes {
					if n.Name == "A" {
						busy = n.Busy
					}
				}
				dl := int(ff.Len)
				cfPayload := len(msg) - (dl - 6) // escape FF: 6 bytes of PCI
				cfBusy := busy - vbus.FrameBits(ff).Duration(nominal, tc.data)
				limit := float64(cfPayload) / cfBusy.Seconds()
				achieved := float64(len(msg)) / elapsed.Seconds()
				pct = achieved / limit * 100
				sim += elapsed
			}
			wall := time.Since(wall0)
			b.ReportMetric(pct, "%limit")
			b.ReportMetric(float64(sim)/float64(wall), "x-realtime")
			b.ReportMetric((sim / time.Duration(b.N)).Seconds(), "sim-s")
		})
	}
}
