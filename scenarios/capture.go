package scenarios

// The captures of a run: every bus to one pcap and one candump log.

import (
	"bufio"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/capture"
)

// capture writes every bus of the run to one pcap and one candump log.
func (r *runner) capture(dir, profile, tag string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	base := tagged(r.s.Name+"-"+strings.NewReplacer(":", "-", "+", "_", "/", "_").Replace(profile), tag)
	pf, err := os.Create(filepath.Join(dir, base+".pcap"))
	if err != nil {
		return nil, err
	}
	lf, err := os.Create(filepath.Join(dir, base+".log"))
	if err != nil {
		pf.Close()
		return nil, err
	}
	// buffered: a run's capture has a record per frame on its buses, and
	// a write system call per record was a third of the CPU time of a
	// suite against a device under test in the vcan VM; flushed at stop
	pb, lb := &lockedWriter{w: bufio.NewWriterSize(pf, 64<<10)}, &lockedWriter{w: bufio.NewWriterSize(lf, 64<<10)}
	pw, err := capture.NewPcapWriter(pb)
	if err != nil {
		pf.Close()
		lf.Close()
		return nil, err
	}
	var stops []func()
	for _, name := range slices.Sorted(maps.Keys(r.v.Buses)) {
		lw := capture.NewLogWriter(lb, name)
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
		pb.flush()
		lb.flush()
		pf.Close()
		lf.Close()
	}, nil
}

// lockedWriter is a buffered file the taps of several buses write to (on
// the wall clock from goroutines of their own).
type lockedWriter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (l *lockedWriter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.w.Flush()
}
