package restbus

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/dbc"
)

// Condition is one condition on a bus signal (an ECU's programming
// precondition): its physical value at most Max, at least Min, or its raw
// value Equals.
type Condition struct {
	Message  *dbc.Message
	Signal   *dbc.Signal
	Min, Max *float64
	Equals   *int64
}

func (c Condition) String() string {
	var parts []string
	if c.Equals != nil {
		parts = append(parts, "= "+c.Signal.Format(*c.Equals))
	}
	if c.Min != nil {
		parts = append(parts, fmt.Sprintf(">= %v", *c.Min))
	}
	if c.Max != nil {
		parts = append(parts, fmt.Sprintf("<= %v", *c.Max))
	}
	return c.Signal.Name + " " + strings.Join(parts, ", ")
}

// holds reports whether raw meets the condition.
func (c Condition) holds(raw int64) bool {
	v := c.Signal.Physical(raw)
	return (c.Equals == nil || raw == *c.Equals) && (c.Min == nil || v >= *c.Min) && (c.Max == nil || v <= *c.Max)
}

// ErrConditions is wrapped by Monitor.Check's errors.
var ErrConditions = errors.New("conditions not met")

// Monitor watches a bus for the signals of some conditions and keeps the
// last value of each, as an ECU reading its bus does.
type Monitor struct {
	conds  []Condition
	mu     sync.Mutex
	last   []int64
	seen   []bool
	remove func()
}

// Watch starts watching bus (a tap: every frame on the wire, whoever sent
// it — a spoofer's frames too).
func Watch(bus can.Bus, conds []Condition) *Monitor { return WatchFrom(bus, conds, nil) }

// WatchFrom is Watch on the frames of the senders from accepts (nil: every
// sender): a judge that knows who sent each frame — the simulation does,
// an ECU on a CAN bus does not — reads the vehicle's true state, e.g. the
// rest-bus's own nodes (NodePrefix) and not a spoofer's frames.
func WatchFrom(bus can.Bus, conds []Condition, from func(sender string) bool) *Monitor {
	m := &Monitor{conds: conds, last: make([]int64, len(conds)), seen: make([]bool, len(conds))}
	m.remove = bus.Tap(func(ev can.Event) {
		if !ev.Fault.OnWire() || ev.Fault == can.FaultCorrupt {
			return
		}
		if from != nil && !from(ev.Sender) {
			return
		}
		f := ev.Frame
		for i, c := range m.conds {
			if f.ID != c.Message.ID || f.Extended != c.Message.Extended || int(f.Len) < c.Message.Size {
				continue
			}
			raw := c.Signal.Raw(f.Payload())
			m.mu.Lock()
			m.last[i], m.seen[i] = raw, true
			m.mu.Unlock()
		}
	})
	return m
}

// Check returns nil when every condition holds on the last values seen,
// else an error (wrapping ErrConditions) naming what does not.
func (m *Monitor) Check() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var bad []string
	for i, c := range m.conds {
		switch {
		case !m.seen[i]:
			bad = append(bad, fmt.Sprintf("%s.%s not seen on the bus (want %s)", c.Message.Name, c.Signal.Name, c))
		case !c.holds(m.last[i]):
			bad = append(bad, fmt.Sprintf("%s is %s %s (want %s)", c.Signal.Name, c.Signal.Format(m.last[i]), c.Signal.Unit, c))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrConditions, strings.Join(bad, "; "))
}

// Stop stops watching.
func (m *Monitor) Stop() { m.remove() }
