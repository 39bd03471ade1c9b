package vehicle_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/clock"
)

// twoBusRig: benchRig's 8 Secondaries (256 KiB images) on two classic
// buses at 500 kbit/s, 4 on each, the Primary on both; only: the
// Secondaries of that bus alone (the bus's own campaign, its bound).
func twoBusRig(b *testing.B, only string) *rigs.Rig {
	var y strings.Builder
	y.WriteString("name: bench-buses\nseed: 7\nclock: simulated\nbuses:\n")
	y.WriteString("  - {name: bus-a, kind: virtual, bitrate: 500000}\n  - {name: bus-b, kind: virtual, bitrate: 500000}\n")
	y.WriteString("vehicle: {vin: BENCHCAMPAIGN0002}\necus:\n  - {id: TCU-1, hardware_id: tcu, role: primary, buses: [bus-a, bus-b]}\n")
	for i := 0; i < 8; i++ {
		prof, bus := "full", "bus-a"
		if i%2 == 1 {
			prof = "partial"
		}
		if i >= 4 {
			bus = "bus-b"
		}
		if only != "" && bus != only {
			continue
		}
		fmt.Fprintf(&y, "  - {id: ECU-%d, hardware_id: hw-%d, role: secondary, profile: %s, bus: %s, image_size: 262144}\n", i, i, prof, bus)
	}
	r, err := rigs.Parse("bench-buses.yaml", []byte(y.String()))
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// timedCampaign runs one campaign of release 2 on r and returns its
// simulated, wall and CPU time.
func timedCampaign(b *testing.B, r *rigs.Rig) (simT, wallT, cpuT time.Duration) {
	sim := clock.NewSim(time.Time{})
	dir := b.TempDir()
	err := sim.Run("bench", func() {
		v, err := vehicle.Build(vehicle.Options{Rig: r, Dir: dir, Clock: sim, Reach: vehicle.ByRig})
		if err != nil {
			b.Fatal(err)
		}
		defer v.Close()
		wall, cpu, start := time.Now(), cpuTime(), sim.Now()
		rep, err := v.Campaign(2)
		if err != nil {
			b.Fatal(err)
		}
		simT, wallT, cpuT = sim.Since(start), time.Since(wall), cpuTime()-cpu
		for id, o := range rep.ECUs {
			if o.Status != primary.Installed {
				b.Fatalf("%s: %s %v", id, o.Status, o.Err)
			}
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	return simT, wallT, cpuT
}

// BenchmarkCampaignBuses: a campaign on two buses of 4 Secondaries each,
// updated at once (primary.updateSecondaries). The bound is the busiest
// bus's campaign alone (its Secondaries only); sequential updates would take
// about the sum of the two.
func BenchmarkCampaignBuses(b *testing.B) {
	both := twoBusRig(b, "")
	a, _, _ := timedCampaign(b, twoBusRig(b, "bus-a"))
	bb, _, _ := timedCampaign(b, twoBusRig(b, "bus-b"))
	bound := max(a, bb)
	b.ResetTimer()
	var simTotal, wallTotal, cpuTotal time.Duration
	for i := 0; i < b.N; i++ {
		s, w, c := timedCampaign(b, both)
		simTotal, wallTotal, cpuTotal = simTotal+s, wallTotal+w, cpuTotal+c
	}
	n := float64(b.N)
	b.ReportMetric(simTotal.Seconds()/n, "sim-s/campaign")
	b.ReportMetric(bound.Seconds(), "sim-s-busiest-bus")
	b.ReportMetric((a + bb).Seconds(), "sim-s-sum-of-buses")
	b.ReportMetric(simTotal.Seconds()/n/bound.Seconds(), "campaign/busiest-bound")
	b.ReportMetric(simTotal.Seconds()/wallTotal.Seconds(), "x-realtime")
	b.ReportMetric(simTotal.Seconds()/cpuTotal.Seconds(), "x-realtime-cpu")
}
