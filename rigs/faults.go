package rigs

import (
	"fmt"
	"slices"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/can"
)

// faultKinds are the faults a rig's bus can inject.
var faultKinds = []can.Fault{can.FaultDrop, can.FaultCorrupt, can.FaultDelay, can.FaultDuplicate, can.FaultReorder, can.FaultBusOff}

// Fault is noise a virtual bus injects on every run of the rig: which
// frames it hits is drawn from the run's seed (each rule its own stream),
// so one seed replays a run exactly and a seed sweep (`uptane-hil run
// --seeds 1-100`) plays the suite under as many different fault patterns.
// The fields mirror sim/vbus.FaultRule.
type Fault struct {
	// Kind is drop, corrupt, delay, duplicate, reorder or bus-off.
	Kind can.Fault `yaml:"kind"`
	// Probability that a matching frame is hit (0 or 1: every one).
	Probability float64 `yaml:"probability"`
	// Nodes limits the fault to frames these ECUs send (none: any sender).
	Nodes []string `yaml:"nodes"`
	// From and Until limit the fault to a window of bus time.
	From  time.Duration `yaml:"from"`
	Until time.Duration `yaml:"until"`
	// Count is the most faults the rule injects per run (0: no limit).
	Count int `yaml:"count"`
	// Delay holds a frame back (delay, reorder; default 10 ms).
	Delay time.Duration `yaml:"delay"`
	// Flips is the number of payload bits corrupt flips (default 1).
	Flips int `yaml:"flips"`
	// Recovery is how long a node stays bus-off (bus-off; 0: until the
	// rule stops, so give one).
	Recovery time.Duration `yaml:"recovery"`
}

// HasFaults reports whether any bus of the rig injects faults.
func (r *Rig) HasFaults() bool {
	for _, b := range r.Buses {
		if len(b.Faults) > 0 {
			return true
		}
	}
	return false
}

func (r *Rig) validateFaults(f string, b *Bus) error {
	if len(b.Faults) > 0 && b.Kind != Virtual {
		return r.Errorf(f+".faults", "only virtual buses inject faults (%s is %s)", b.Name, b.Kind)
	}
	for i, x := range b.Faults {
		at := fmt.Sprintf("%s.faults[%d]", f, i)
		switch {
		case !slices.Contains(faultKinds, x.Kind):
			return r.Errorf(at+".kind", "%q is not one of drop, corrupt, delay, duplicate, reorder, bus-off", x.Kind)
		case x.Probability < 0 || x.Probability > 1 || x.Probability != x.Probability:
			return r.Errorf(at+".probability", "%v is not in [0, 1]", x.Probability)
		case x.From < 0 || x.Until < 0 || (x.Until > 0 && x.Until <= x.From):
			return r.Errorf(at+".until", "empty or negative window [%s, %s)", x.From, x.Until)
		case x.Count < 0:
			return r.Errorf(at+".count", "%d is negative", x.Count)
		case x.Delay < 0:
			return r.Errorf(at+".delay", "%s is negative", x.Delay)
		case x.Kind == can.FaultDelay && x.Delay == 0:
			return r.Errorf(at+".delay", "missing: a delay fault needs a delay")
		case x.Flips < 0 || x.Flips > 512:
			return r.Errorf(at+".flips", "%d is out of range 0..512", x.Flips)
		case x.Recovery < 0:
			return r.Errorf(at+".recovery", "%s is negative", x.Recovery)
		case x.Kind == can.FaultBusOff && x.Recovery == 0:
			return r.Errorf(at+".recovery", "missing: a bus-off fault needs a recovery time (the node would stay off)")
		}
		for _, n := range x.Nodes {
			if r.ECU(n) == nil {
				return r.Errorf(at+".nodes", "no ECU %q in the rig", n)
			}
		}
	}
	return nil
}

// HasSocketCAN reports whether any bus of the rig is a SocketCAN interface
// (shared by every process on the host).
func (r *Rig) HasSocketCAN() bool {
	for _, b := range r.Buses {
		if b.Kind == SocketCAN {
			return true
		}
	}
	return false
}
