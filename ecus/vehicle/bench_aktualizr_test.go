package vehicle_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/internal/aktualizr"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/events"
)

// BenchmarkAktualizrIPImage: a 1 MiB image sent over loopback TCP with
// aktualizr-ip (uploadDataReq chunks of 1 KiB, as aktualizr's Primary sends
// them) to the real aktualizr-secondary and to our own Secondary's server
// side, in the same campaigns: MB/s of the image transfer (the Primary's
// "send image" phase: the chunks and their answers, nothing else) for each.
func BenchmarkAktualizrIPImage(b *testing.B) {
	if _, err := aktualizr.Binary(); err != nil {
		if aktualizr.Required() {
			b.Fatal(err)
		}
		b.Skip("SKIPPED: ", err)
	}
	p1, _ := aktualizr.FreePort()
	p2, _ := aktualizr.FreePort()
	const size = 1 << 20
	y := fmt.Sprintf(`name: bench-aktualizr
seed: 3
clock: wall
buses: [{name: powertrain, kind: virtual, bitrate: 500000}]
vehicle: {vin: BENCHAKTUALIZR001}
ecus:
  - {id: TCU-1, hardware_id: tcu, role: primary, buses: [powertrain]}
  - {id: AKT-1, hardware_id: akt-hw, role: secondary, protocol: aktualizr-ip, address: "127.0.0.1:%d", process: aktualizr-secondary, image_size: %d}
  - {id: OURS-1, hardware_id: ours-hw, role: secondary, protocol: aktualizr-ip, address: "127.0.0.1:%d", image_size: %d}
`, p1, size, p2, size)
	r, err := rigs.Parse("bench-aktualizr.yaml", []byte(y))
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	start := map[string]time.Time{}
	spent := map[string]time.Duration{}
	sink := func(e events.Event) {
		if e.Kind != events.Phase || e.ECU == "" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if t, ok := start[e.ECU]; ok {
			spent[e.ECU] += time.Since(t)
			delete(start, e.ECU)
		}
		if strings.HasPrefix(e.Label, "send image") {
			start[e.ECU] = time.Now()
		}
	}
	dir := b.TempDir()
	v, err := vehicle.Build(vehicle.Options{Rig: r, Dir: dir, Clock: clock.NewWall(), Reach: vehicle.ByRig, Events: sink})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := v.Campaign(uint64(2+i), "AKT-1", "OURS-1")
		if err != nil {
			b.Fatal(err)
		}
		for _, id := range []string{"AKT-1", "OURS-1"} {
			if o := rep.ECUs[id]; o.Status != primary.Installed {
				b.Fatalf("%s: %s: %v", id, o.Status, o.Err)
			}
		}
	}
	b.StopTimer()
	mbs := func(id string) float64 { return float64(b.N) * size / 1e6 / spent[id].Seconds() }
	b.ReportMetric(mbs("AKT-1"), "MB/s-aktualizr-secondary")
	b.ReportMetric(mbs("OURS-1"), "MB/s-ours")
}
