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
	"github.com/uptane-hil/uptane-hil/sim/events"
	"github.com/uptane-hil/uptane-hil/sim/vbus"
)

// benchRig: a Primary and 8 Secondaries (4 full, 4 partial) with 256 KiB
// images on one classic CAN bus at 500 kbit/s, timed.
func benchRig(b *testing.B) *rigs.Rig {
	r, err := rigs.Parse("bench-campaign.yaml", []byte(benchRigYAML()))
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// benchRigYAML is benchRig's rig file.
func benchRigYAML() string {
	var y strings.Builder
	y.WriteString("name: bench-campaign\nseed: 7\nclock: simulated\nbuses:\n  - {name: powertrain, kind: virtual, bitrate: 500000}\n")
	y.WriteString("vehicle: {vin: BENCHCAMPAIGN0001}\necus:\n  - {id: TCU-1, hardware_id: tcu, role: primary, buses: [powertrain]}\n")
	for i := 0; i < 8; i++ {
		prof := "full"
		if i%2 == 1 {
			prof = "partial"
		}
		fmt.Fprintf(&y, "  - {id: ECU-%d, hardware_id: hw-%d, role: secondary, profile: %s, bus: powertrain, image_size: 262144}\n", i, i, prof)
	}
	return y.String()
}

func BenchmarkCampaign(b *testing.B) {
	r := benchRig(b)
	var simTotal, wallTotal, cpuTotal, metaBus, imageBus, otherBus time.Duration
	for i := 0; i < b.N; i++ {
		sim := clock.NewSim(time.Time{})
		dir := b.TempDir()
		// the bus time of each phase of the Primary, from the bus's busy
		// time at each phase change (no tap: it would cost per frame)
		var bus *vbus.Bus
		category, busy := "other", time.Duration(0)
		account := func() {
			if bus == nil {
				return
			}
			now := bus.Stats().Busy
			d := now - busy
			busy = now
			switch category {
			case "metadata":
				metaBus += d
			case "image":
				imageBus += d
			default:
				otherBus += d
			}
		}
		sink := func(e events.Event) {
			if e.Kind != events.Phase {
				return
			}
			account()
			switch {
			case strings.HasPrefix(e.Label, "send metadata"):
				category = "metadata"
			case strings.HasPrefix(e.Label, "send image"):
				category = "image"
			default:
				category = "other"
			}
		}
		err := sim.Run("bench", func() {
			v, err := vehicle.Build(vehicle.Options{Rig: r, Dir: dir, Clock: sim, Reach: vehicle.ByRig, Events: sink})
			if err != nil {
				b.Fatal(err)
			}
			defer v.Close()
			bus = v.Buses["powertrain"].(*vbus.Bus)
			busy = bus.Stats().Busy
			wall, cpu := time.Now(), cpuTime()
			start := sim.Now()
			rep, err := v.Campaign(2)
			if err != nil {
				b.Fatal(err)
			}
			simTotal += sim.Since(start)
			wallTotal += time.Since(wall)
			cpuTotal += cpuTime() - cpu
			account()
			for id, o := range rep.ECUs {
				if o.Status != primary.Installed {
					b.Fatalf("%s: %s %v", id, o.Status, o.Err)
				}
			}
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	n := float64(b.N)
	b.ReportMetric(simTotal.Seconds()/n, "sim-s/campaign")
	b.ReportMetric(wallTotal.Seconds()/n, "wall-s/campaign")
	b.ReportMetric(simTotal.Seconds()/wallTotal.Seconds(), "x-realtime")
	b.ReportMetric(simTotal.Seconds()/cpuTotal.Seconds(), "x-realtime-cpu")
	b.ReportMetric(metaBus.Seconds()/n, "bus-s-metadata")
	b.ReportMetric(imageBus.Seconds()/n, "bus-s-images")
	b.ReportMetric(otherBus.Seconds()/n, "bus-s-other")
}
