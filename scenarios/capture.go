package scenarios

// The captures of a run: every bus to one pcap and one candump log.

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/capture"
)

// capture writes every bus of the run to one pcap and one candump log.
func (r *runner) capture(dir, profile string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	base := r.s.Name + "-" + strings.NewReplacer(":", "-", "+", "_", "/", "_").Replace(profile)
	pf, err := os.Create(filepath.Join(dir, base+".pcap"))
	if err != nil {
		return nil, err
	}
	lf, err := os.Create(filepath.Join(dir, base+".log"))
	if err != nil {
		pf.Close()
		return nil, err
	}
	pw, err := capture.NewPcapWriter(pf)
	if err != nil {
		pf.Close()
		lf.Close()
		return nil, err
	}
	var stops []func()
	for _, name := range slices.Sorted(maps.Keys(r.v.Buses)) {
		lw := capture.NewLogWriter(lf, name)
		stops = append(stops, r.v.Buses[name].Tap(func(ev can.Event) {
			pw.WriteEvent(ev)
			lw.WriteEvent(ev)
		}))
	}
	r.pcapName = filepath.Join(filepath.Base(dir), base+".pcap")
	r.logName = filepath.Join(filepath.Base(dir), base+".log")
	return func() {
		for _, s := range stops {
			s()
		}
		pf.Close()
		lf.Close()
	}, nil
}
