package scenarios

import (
	"errors"
	"fmt"
	gotime "time"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/dbc"
)

// SignalStep names a signal of a bus's DBC file and a value: a physical
// number ("50") or the text of one of its value descriptions ("ON", "P").
type SignalStep struct {
	Bus     string `yaml:"bus"`
	Message string `yaml:"message"`
	Signal  string `yaml:"signal"`
	Value   string `yaml:"value"`
	// Within (expect_signal) is how long the bus is read for a frame with
	// the value (default 1 s of the run's clock).
	Within gotime.Duration `yaml:"within"`
	// AtTransfer (signal) holds the change back until the Primary has sent
	// that share of an ECU's image: the car sets off mid-transfer
	// (preconditions.go). The step itself returns at once.
	AtTransfer *TransferPoint `yaml:"at_transfer"`
	// For (signal): the signal goes back to its value before the change
	// after this long (the car is parked again).
	For gotime.Duration `yaml:"for"`
}

// DefaultSignalWithin is how long expect_signal reads the bus by default.
const DefaultSignalWithin = gotime.Second

func (s *Scenario) validateSignalStep(f string, st Step) error {
	sig, what := st.Signal, "signal"
	if sig == nil {
		sig, what = st.ExpectSignal, "expect_signal"
	}
	if sig == nil {
		return nil
	}
	f += "." + what
	switch {
	case sig.Bus == "":
		return s.Errorf(f+".bus", "missing: the bus whose DBC defines the signal")
	case sig.Message == "":
		return s.Errorf(f+".message", "missing: the DBC message")
	case sig.Signal == "":
		return s.Errorf(f+".signal", "missing: the signal of the message")
	case sig.Value == "":
		return s.Errorf(f+".value", "missing: a number, or the text of one of the signal's values")
	case sig.Within < 0:
		return s.Errorf(f+".within", "negative")
	case sig.Within != 0 && what == "signal":
		return s.Errorf(f+".within", "only expect_signal waits")
	case sig.For < 0:
		return s.Errorf(f+".for", "negative")
	case (sig.For != 0 || sig.AtTransfer != nil) && what == "expect_signal":
		return s.Errorf(f, "only a signal step has at_transfer and for")
	case sig.AtTransfer != nil && sig.AtTransfer.ECU == "":
		return s.Errorf(f+".at_transfer.ecu", "missing: the ECU whose image transfer triggers the change")
	case sig.AtTransfer != nil && (sig.AtTransfer.Percent < 1 || sig.AtTransfer.Percent > 99):
		return s.Errorf(f+".at_transfer.percent", "%d: a share of the image, 1..99", sig.AtTransfer.Percent)
	}
	return nil
}

// lookup finds a step's bus, message and signal in the rig and the raw
// value it names.
func (r *runner) lookup(f string, st *SignalStep) (*dbc.Message, *dbc.Signal, int64, error) {
	b := r.v.Rig.Bus(st.Bus)
	if b == nil {
		return nil, nil, 0, r.s.Errorf(f+".bus", "rig %s has no bus %q", r.v.Rig.Name, st.Bus)
	}
	db := b.DB()
	if db == nil {
		return nil, nil, 0, r.s.Errorf(f+".bus", "bus %s has no DBC file (restbus: in the rig)", st.Bus)
	}
	m, ok := db.Message(st.Message)
	if !ok {
		return nil, nil, 0, r.s.Errorf(f+".message", "%s defines no message %q", db.File, st.Message)
	}
	sig, ok := m.Signal(st.Signal)
	if !ok {
		return nil, nil, 0, r.s.Errorf(f+".signal", "message %s has no signal %q", m.Name, st.Signal)
	}
	raw, err := sig.ParseValue(st.Value)
	if err != nil {
		return nil, nil, 0, r.s.Errorf(f+".value", "%v", err)
	}
	return m, sig, raw, nil
}

// setSignal: the rest-bus sends the new value from now on (the car starts
// driving, the ignition goes off).
func (r *runner) setSignal(f string, st *SignalStep) error {
	_, sig, raw, err := r.lookup(f, st)
	if err != nil {
		return err
	}
	rb := r.v.Restbus[st.Bus]
	if rb == nil {
		return r.s.Errorf(f+".bus", "bus %s has no rest-bus running", st.Bus)
	}
	if st.AtTransfer != nil {
		return r.armSignal(f, st, sig, raw)
	}
	if err := r.changeSignal(st, sig, raw); err != nil {
		return r.s.Errorf(f, "%v", err)
	}
	return nil
}

// expectSignal reads the bus until a frame of the message carries the value,
// or fails once Within has passed.
func (r *runner) expectSignal(f string, st *SignalStep) error {
	m, sig, want, err := r.lookup(f, st)
	if err != nil {
		return err
	}
	bus := r.v.Buses[st.Bus]
	if bus == nil {
		return r.s.Errorf(f+".bus", "bus %s is not open", st.Bus)
	}
	node, err := bus.Attach("tester (expect_signal)", can.Exact(m.ID, m.Extended))
	if err != nil {
		return r.s.Errorf(f, "%v", err)
	}
	defer node.Close()
	within := st.Within
	if within == 0 {
		within = DefaultSignalWithin
	}
	i, _ := m.Index(sig.Name)
	deadline := r.sim.Now().Add(within)
	seen, last := 0, int64(0)
	for {
		left := deadline.Sub(r.sim.Now())
		if left <= 0 {
			break
		}
		fr, err := node.Recv(left)
		if errors.Is(err, can.ErrTimeout) {
			break
		}
		if err != nil {
			return r.s.Errorf(f, "%v", err)
		}
		if fr.FD != m.FD || int(fr.Len) < m.Size {
			continue
		}
		seen++
		last = m.Decode(&fr)[i]
		if last == want {
			r.note(fmt.Sprintf("expect_signal: %s %s.%s = %s", st.Bus, m.Name, sig.Name, withUnit(sig, last)))
			return nil
		}
	}
	if seen == 0 {
		return r.s.Errorf(f, "no frame of %s (%#x) on %s within %s", m.Name, m.ID, st.Bus, within)
	}
	return r.s.Errorf(f, "%s.%s is %s on %s, not %s (%d frames within %s)", m.Name, sig.Name, withUnit(sig, last), st.Bus, sig.Format(want), seen, within)
}

// withUnit formats a raw value as its physical value and unit.
func withUnit(sig *dbc.Signal, raw int64) string {
	if sig.Unit == "" {
		return sig.Format(raw)
	}
	return sig.Format(raw) + " " + sig.Unit
}
