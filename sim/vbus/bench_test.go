package vbus_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/vbus"
)

// BenchmarkVirtualBus: frames per second through an untimed bus with 16
// nodes (each frame reaches 15 receivers, which drain their queues).
func BenchmarkVirtualBus(b *testing.B) {
	bus := vbus.New(vbus.Config{Name: "bench"})
	var nodes []can.Node
	for i := range 16 {
		n, err := bus.Attach(fmt.Sprintf("n%d", i))
		if err != nil {
			b.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	f := can.New(0x123, []byte{1, 2, 3, 4, 5, 6, 7, 8})
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		src := nodes[i%16]
		if err := src.Send(f); err != nil {
			b.Fatal(err)
		}
		if i%256 == 255 {
			for _, n := range nodes {
				for {
					if _, err := n.Recv(0); err != nil {
						break
					}
				}
			}
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "frames/s")
}

// BenchmarkTimedBusFrames: a saturated 500 kbit/s timed bus with 4 senders
// and 4 receivers on the simulated clock: simulated frames per wall second
// and the speed-up over real time.
func BenchmarkTimedBusFrames(b *testing.B) {
	clk := clock.NewSim(time.Time{})
	bus := vbus.New(vbus.Config{Name: "bench", Clock: clk, Bitrate: 500_000})
	start := time.Now()
	err := clk.Run("root", func() {
		per := b.N/4 + 1
		done := clock.NewQueue[bool](clk, 0)
		for i := range 4 {
			rx, _ := bus.Attach(fmt.Sprintf("rx%d", i))
			clk.Go(rx.Name(), func() {
				for {
					if _, err := rx.Recv(clock.Forever); err != nil {
						return
					}
				}
			})
			tx, _ := bus.Attach(fmt.Sprintf("tx%d", i))
			clk.Go(tx.Name(), func() {
				f := can.New(uint32(0x100+i), []byte{1, 2, 3, 4, 5, 6, 7, 8})
				for range per {
					if err := tx.Send(f); err != nil {
						b.Error(err)
						return
					}
				}
				done.TryPush(true)
			})
		}
		for range 4 {
			done.Pop(clock.Forever)
		}
		clk.Sleep(time.Second)
	})
	if err != nil {
		b.Fatal(err)
	}
	wall := time.Since(start)
	st := bus.Stats()
	b.ReportMetric(float64(st.Frames)/wall.Seconds(), "frames/s")
	b.ReportMetric(float64(clk.Elapsed())/float64(wall), "x-realtime")
	b.ReportMetric(st.Load*100, "load%")
}
