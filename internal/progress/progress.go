// Package progress draws a run's events for a person: on a terminal, one
// live line per ECU with its phase and a transfer bar, plus bus load; to a
// pipe or file, plain timestamped lines.
package progress

import (
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/events"
)

// IsTerminal reports whether f is a character device (a terminal).
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Display renders events.
type Display struct {
	w      io.Writer
	live   bool
	start  time.Time
	mu     sync.Mutex
	ecus   map[string]*row
	order  []string
	load   map[string]float64
	drawn  int
	lastAt time.Time
}

type row struct {
	phase       string
	done, total int64
	err         string
}

// New returns a display writing to w; live selects the terminal mode.
func New(w io.Writer, live bool) *Display {
	return &Display{w: w, live: live, ecus: map[string]*row{}, load: map[string]float64{}}
}

// SetBusLoad records a bus's load in percent (shown on the live display).
func (d *Display) SetBusLoad(bus string, pct float64) {
	d.mu.Lock()
	d.load[bus] = pct
	d.mu.Unlock()
}

// Sink returns the display's event sink.
func (d *Display) Sink() events.Sink {
	return func(e events.Event) {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.start.IsZero() {
			d.start = e.Time
		}
		if e.ECU != "" {
			r := d.ecus[e.ECU]
			if r == nil {
				r = &row{}
				d.ecus[e.ECU] = r
				d.order = append(d.order, e.ECU)
			}
			switch e.Kind {
			case events.Phase:
				r.phase, r.done, r.total = e.Label, 0, 0
			case events.Transfer:
				r.done, r.total = e.Done, e.Total
			case events.Result:
				r.phase, r.err = e.Label, e.Err
			}
		}
		if d.live {
			if e.Kind == events.Transfer && e.Time.Sub(d.lastAt) < 100*time.Millisecond && e.Done != e.Total {
				return
			}
			d.lastAt = e.Time
			d.redraw()
			return
		}
		if e.Kind == events.Transfer && e.Done != e.Total {
			return
		}
		d.line(e)
	}
}

func (d *Display) line(e events.Event) {
	t := e.Time.Sub(d.start).Seconds()
	who := e.ECU
	if who == "" {
		who = strings.Trim(e.From+"→"+e.To, "→")
	}
	msg := e.Label
	if e.Kind == events.Transfer {
		msg = fmt.Sprintf("%s %d bytes", e.Label, e.Total)
	}
	if e.Err != "" {
		msg += ": " + e.Err
	}
	fmt.Fprintf(d.w, "[%9.3fs] %-8s %-16s %s\n", t, e.Kind, who, msg)
}

func bar(done, total int64, width int) string {
	if total <= 0 {
		return strings.Repeat(" ", width+7)
	}
	f := float64(done) / float64(total)
	n := int(f * float64(width))
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + fmt.Sprintf("] %3.0f%%", 100*f)
}

func (d *Display) redraw() {
	var b strings.Builder
	if d.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", d.drawn)
	}
	lines := 0
	for _, id := range d.order {
		r := d.ecus[id]
		status := r.phase
		if r.err != "" {
			status += " ✗ " + r.err
		}
		if len(status) > 60 {
			status = status[:57] + "..."
		}
		fmt.Fprintf(&b, "\x1b[2K%-12s %s %s\n", id, bar(r.done, r.total, 24), status)
		lines++
	}
	if len(d.load) > 0 {
		names := slices.Sorted(maps.Keys(d.load))
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = fmt.Sprintf("%s %5.1f%%", n, d.load[n])
		}
		fmt.Fprintf(&b, "\x1b[2Kbus load: %s\n", strings.Join(parts, "  "))
		lines++
	}
	d.drawn = lines
	io.WriteString(d.w, b.String())
}
