package restbus

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/dbc"
)

// Condition is one condition on a bus signal (an ECU's programming
// precondition): its physical value at most Max, at least Min, or its raw
// value Equals, read from a frame no older than Timeout.
type Condition struct {
	Message  *dbc.Message
	Signal   *dbc.Signal
	Min, Max *float64
	Equals   *int64
	// Timeout is how old the last frame of the message may be: a value
	// older than that is stale (the sender fell silent) and the condition
	// unmet, as an ECU's reception deadline monitoring does. 0: never stale.
	Timeout time.Duration
	// E2E, when set, is the receiver's end-to-end check of the message
	// (e2e.go): a frame that fails it is discarded, and the condition is
	// unmet while the signal is invalid.
	E2E *E2E
}

// Stale timeouts by default (DefaultTimeout): StaleCycles cycle times of the
// message, at least MinTimeout (a wall-clock host that stalls for a few
// cycles does not make a signal stale).
const (
	StaleCycles = 5
	MinTimeout  = 500 * time.Millisecond
)

// DefaultTimeout is the stale timeout of a signal of m: StaleCycles of its
// cycle time (GenMsgCycleTime), at least MinTimeout; 0 (never stale) for a
// message that is not cyclic.
func DefaultTimeout(m *dbc.Message) time.Duration {
	if m.SendType != dbc.SendCyclic || m.Cycle <= 0 {
		return 0
	}
	return max(StaleCycles*m.Cycle, MinTimeout)
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

// Monitor keeps the last value of the signals of some conditions, and when
// each was last seen, as an ECU reading its bus does. Its frames come from
// a bus (Watch, WatchFrom) or from whoever calls Observe.
type Monitor struct {
	clk    clock.Clock
	conds  []Condition
	mu     sync.Mutex
	last   []int64
	at     []time.Time
	seen   []bool
	e2e    []e2eState
	first  []int64 // the first value seen of each signal
	told   []bool  // whether notify heard each signal's first sighting
	remove func()
	notify func(string)
	said   string // the last verdict told to notify
}

// NewMonitor is a Monitor of conds that sees only the frames given to
// Observe; clk says how old a value is.
func NewMonitor(clk clock.Clock, conds []Condition) *Monitor {
	return &Monitor{clk: clk, conds: conds, last: make([]int64, len(conds)), at: make([]time.Time, len(conds)),
		seen: make([]bool, len(conds)), e2e: make([]e2eState, len(conds)), first: make([]int64, len(conds)), told: make([]bool, len(conds)),
		remove: func() {}}
}

// Watch starts watching bus (a tap: every frame on the wire, whoever sent
// it — a spoofer's frames too).
func Watch(bus can.Bus, clk clock.Clock, conds []Condition) *Monitor {
	return WatchFrom(bus, clk, conds, nil)
}

// WatchFrom is Watch on the frames of the senders from accepts (nil: every
// sender): a judge that knows who sent each frame — the simulation does,
// an ECU on a CAN bus does not — reads the vehicle's true state, e.g. the
// rest-bus's own nodes (NodePrefix) and not a spoofer's frames.
func WatchFrom(bus can.Bus, clk clock.Clock, conds []Condition, from func(sender string) bool) *Monitor {
	m := NewMonitor(clk, conds)
	m.remove = bus.Tap(func(ev can.Event) {
		if !ev.Fault.OnWire() || ev.Fault == can.FaultCorrupt {
			return
		}
		if from != nil && !from(ev.Sender) {
			return
		}
		at := ev.Time
		if !clk.Simulated() {
			// on the wall clock the clock's own time (a Jump moves it; a
			// kernel timestamp does not know of it)
			at = clk.Now()
		}
		m.Observe(ev.Frame, at)
	})
	return m
}

// Notify makes the monitor tell fn, in words for an ECU's log, when it first
// sees each signal, and each change of Check's verdict. A signal already
// seen (a frame can arrive between Watch and Notify) is told at once.
func (m *Monitor) Notify(fn func(string)) {
	m.mu.Lock()
	m.notify = fn
	first := m.untold()
	m.mu.Unlock()
	for _, s := range first {
		fn(s)
	}
}

// untold marks as told, and returns in words, the first sighting of each
// signal seen that notify has not heard of; nil without notify. m.mu is
// held.
func (m *Monitor) untold() []string {
	if m.notify == nil {
		return nil
	}
	var first []string
	for i, c := range m.conds {
		if m.seen[i] && !m.told[i] {
			m.told[i] = true
			first = append(first, fmt.Sprintf("%s.%s first seen on the bus: %s", c.Message.Name, c.Signal.Name, c.Signal.Format(m.first[i])+unit(c.Signal)))
		}
	}
	return first
}

// Observe takes frame f, seen at time at.
func (m *Monitor) Observe(f can.Frame, at time.Time) {
	m.mu.Lock()
	for i, c := range m.conds {
		if f.ID != c.Message.ID || f.Extended != c.Message.Extended || int(f.Len) < c.Message.Size {
			continue
		}
		if c.E2E != nil {
			fresh := !m.seen[i] || c.Timeout > 0 && at.Sub(m.at[i]) > c.Timeout
			if c.E2E.judge(&m.e2e[i], f.Payload(), fresh) != "" {
				continue // discarded: its value is not taken
			}
		}
		raw := c.Signal.Raw(f.Payload())
		if !m.seen[i] {
			m.first[i] = raw
		}
		m.last[i], m.at[i], m.seen[i] = raw, at, true
	}
	notify, first := m.notify, m.untold()
	m.mu.Unlock()
	for _, s := range first {
		notify(s)
	}
}

func unit(s *dbc.Signal) string {
	if s.Unit == "" {
		return ""
	}
	return " " + s.Unit
}

// Check returns nil when every condition holds on the last values seen,
// else an error (wrapping ErrConditions) naming what does not: a value
// that breaks it, a signal never seen, or one whose last frame is older
// than its Timeout.
func (m *Monitor) Check() error {
	now := m.clk.Now()
	m.mu.Lock()
	var bad []string
	for i, c := range m.conds {
		switch {
		case !m.seen[i]:
			bad = append(bad, fmt.Sprintf("%s.%s not seen on the bus (want %s)", c.Message.Name, c.Signal.Name, c))
		case c.Timeout > 0 && now.Sub(m.at[i]) > c.Timeout:
			bad = append(bad, fmt.Sprintf("%s.%s stale: no frame for %s (timeout %s; last %s%s; want %s)", c.Message.Name, c.Signal.Name,
				now.Sub(m.at[i]).Round(time.Millisecond), c.Timeout, c.Signal.Format(m.last[i]), unit(c.Signal), c))
		case c.E2E != nil && !c.E2E.valid(&m.e2e[i]):
			bad = append(bad, fmt.Sprintf("%s.%s %s", c.Message.Name, c.Signal.Name, c.E2E.invalid(&m.e2e[i])))
		case !c.holds(m.last[i]):
			bad = append(bad, fmt.Sprintf("%s is %s%s (want %s)", c.Signal.Name, c.Signal.Format(m.last[i]), unit(c.Signal), c))
		}
	}
	var err error
	said := "programming preconditions hold"
	if len(bad) > 0 {
		err = fmt.Errorf("%w: %s", ErrConditions, strings.Join(bad, "; "))
		said = "programming refused: " + err.Error()
	}
	notify := m.notify
	changed := said != m.said
	m.said = said
	m.mu.Unlock()
	if notify != nil && changed {
		notify(said)
	}
	return err
}

// Stop stops watching.
func (m *Monitor) Stop() { m.remove() }
