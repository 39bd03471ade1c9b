package vehicle_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/restbus"
	"github.com/uptane-hil/uptane-hil/sim/vbus"
)

// restbusRig is benchRig's bus with a rest-bus of 8-byte messages at 10 ms
// (a generated DBC), as many as it takes to load the bus to load.
func restbusRig(b *testing.B, load float64) (*rigs.Rig, float64) {
	dir := b.TempDir()
	var r *rigs.Rig
	for n := 1; n < 200; n++ {
		var d strings.Builder
		d.WriteString("VERSION \"\"\nNS_ :\nBS_:\nBU_: TCU RB\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&d, "BO_ %d RB_%d: 8 RB\n SG_ S%d : 0|16@1+ (1,0) [0|0] \"\" TCU\n SG_ T%d : 16|48@1+ (1,0) [0|0] \"\" TCU\n", 0x100+i, i, i, i)
		}
		d.WriteString("BA_DEF_ BO_ \"GenMsgCycleTime\" INT 0 10000;\nBA_DEF_ BO_ \"GenMsgStartDelay\" INT 0 10000;\nBA_DEF_ SG_ \"GenSigStartValue\" INT 0 2147483647;\n")
		d.WriteString("BA_DEF_DEF_ \"GenMsgCycleTime\" 10;\nBA_DEF_DEF_ \"GenMsgStartDelay\" 0;\nBA_DEF_DEF_ \"GenSigStartValue\" 0;\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&d, "BA_ \"GenMsgStartDelay\" BO_ %d %d;\nBA_ \"GenSigStartValue\" SG_ %d S%d %d;\n", 0x100+i, i%10, 0x100+i, i, 0x5a5a+i)
		}
		if err := os.WriteFile(filepath.Join(dir, "rb.dbc"), []byte(d.String()), 0o644); err != nil {
			b.Fatal(err)
		}
		y := strings.Replace(benchRigYAML(), "bitrate: 500000}", "bitrate: 500000, restbus: {dbc: rb.dbc}}", 1)
		var err error
		r, err = rigs.Parse(filepath.Join(dir, "bench-restbus.yaml"), []byte(y))
		if err != nil {
			b.Fatal(err)
		}
		cfg, _ := r.Bus("powertrain").RestbusConfig()
		rb, err := restbus.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if l := rb.Load(500_000, 0); l >= load {
			return r, l
		}
	}
	b.Fatal("no rest-bus reaches the load")
	return nil, 0
}

// campaignOnce runs one campaign of release 2 and returns its simulated and
// wall time, and the bus's measured load over the campaign.
func campaignOnce(b *testing.B, r *rigs.Rig) (simT, wallT, cpuT time.Duration, load float64) {
	sim := clock.NewSim(time.Time{})
	dir := b.TempDir()
	err := sim.Run("bench", func() {
		v, err := vehicle.Build(vehicle.Options{Rig: r, Dir: dir, Clock: sim, Reach: vehicle.ByRig})
		if err != nil {
			b.Fatal(err)
		}
		defer v.Close()
		bus := v.Buses["powertrain"].(*vbus.Bus)
		before := bus.Stats()
		wall, cpu := time.Now(), cpuTime()
		start := sim.Now()
		rep, err := v.Campaign(2)
		if err != nil {
			b.Fatal(err)
		}
		simT, wallT, cpuT = sim.Since(start), time.Since(wall), cpuTime()-cpu
		after := bus.Stats()
		load = float64(after.Busy-before.Busy) / float64(after.Elapsed-before.Elapsed)
		for id, o := range rep.ECUs {
			if o.Status != primary.Installed {
				b.Fatalf("%s: %s %v", id, o.Status, o.Err)
			}
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	return simT, wallT, cpuT, load
}

// BenchmarkCampaignRestbus: benchRig's campaign (8 Secondaries, 256 KiB
// images, one classic bus) with a rest-bus loading the bus to 40 %. The
// bound is the idle bus's campaign time over the capacity the rest-bus
// leaves (idle / (1 - load)).
func BenchmarkCampaignRestbus(b *testing.B) {
	const want = 0.40
	idle := benchRig(b)
	loaded, load := restbusRig(b, want)
	idleSim, _, _, _ := campaignOnce(b, idle)
	b.ResetTimer()
	var simTotal, wallTotal, cpuTotal time.Duration
	var measured float64
	for i := 0; i < b.N; i++ {
		s, w, c, l := campaignOnce(b, loaded)
		simTotal, wallTotal, cpuTotal, measured = simTotal+s, wallTotal+w, cpuTotal+c, measured+l
	}
	n := float64(b.N)
	bound := idleSim.Seconds() / (1 - load)
	b.ReportMetric(load, "restbus-load")
	b.ReportMetric(measured/n, "bus-load-during-campaign")
	b.ReportMetric(simTotal.Seconds()/n, "sim-s/campaign")
	b.ReportMetric(idleSim.Seconds(), "sim-s-idle-bus")
	b.ReportMetric(bound, "sim-s-bound")
	b.ReportMetric(simTotal.Seconds()/n/bound, "campaign/bound")
	b.ReportMetric(simTotal.Seconds()/wallTotal.Seconds(), "x-realtime")
	b.ReportMetric(simTotal.Seconds()/cpuTotal.Seconds(), "x-realtime-cpu")
}
