package vehicle

import (
	"fmt"

	"github.com/uptane-hil/uptane-hil/ecus/link"
	"github.com/uptane-hil/uptane-hil/ecus/secondary"
	"github.com/uptane-hil/uptane-hil/rigs"
)

// Reach is how the Primary reaches one Secondary, and so where that
// Secondary runs. Options.Reach chooses one for each ECU. Each kind of link
// is one implementation: Direct, Bus and External here; a device under test,
// or a Secondary on another in-vehicle protocol (aktualizr's IP Secondary
// over TCP), would each be one more.
type Reach interface {
	// OnBus reports whether the Secondary is reached over its CAN bus:
	// BringUp then opens the rig's buses (unless Options.Buses hands them
	// over).
	OnBus() bool
	// Attach brings the Secondary up where this kind runs it and sets
	// s.Link, the Primary's link to it (and s.ECU, s.BusNode and s.Client
	// as they apply). A Secondary with a client but no ECU in this process
	// is waited for, and its identity checked, once every Secondary is
	// attached.
	Attach(v *Vehicle, s *Secondary) error
}

// Direct runs the Secondary in this process; the Primary calls it directly
// (secondary.Direct, with power-cut modelling), without a bus.
type Direct struct{}

func (Direct) OnBus() bool { return false }

func (Direct) Attach(v *Vehicle, s *Secondary) error {
	if err := v.runHere(s); err != nil {
		return err
	}
	s.Link = &secondary.Direct{ECU: s.ECU, Cfg: s.Config, VIN: v.Rig.Vehicle.VIN}
	return nil
}

// Bus runs the Secondary in this process, serving the in-vehicle protocol
// (UDS on ISO-TP) on its bus; the Primary reaches it over that bus.
type Bus struct{}

func (Bus) OnBus() bool { return true }

func (Bus) Attach(v *Vehicle, s *Secondary) error {
	if err := v.runHere(s); err != nil {
		return err
	}
	return v.connect(s)
}

// External reaches a Secondary that runs outside this process (its own
// `uptane-hil ecu` process, or a physical ECU) over its bus. It needs the
// wall clock: a simulated clock cannot wait for another process.
type External struct{}

func (External) OnBus() bool { return true }

func (External) Attach(v *Vehicle, s *Secondary) error {
	if v.Clock.Simulated() {
		return fmt.Errorf("vehicle: %s runs outside this process (process: %s), which a simulated clock cannot wait for: run the rig on `clock: wall`, or every ECU in this process", s.Rig.ID, s.Rig.Process)
	}
	return v.connect(s)
}

// Custom runs the Secondary in this process and gives the Primary the link
// Link returns (a spec's own transport).
type Custom struct {
	Link func(v *Vehicle, s *Secondary) (link.Secondary, error)
}

func (Custom) OnBus() bool { return false }

func (c Custom) Attach(v *Vehicle, s *Secondary) (err error) {
	if err := v.runHere(s); err != nil {
		return err
	}
	s.Link, err = c.Link(v, s)
	return err
}

// AktualizrIP reaches a Secondary over aktualizr's IP Secondary protocol
// (docs/aktualizr-ip.md): a real aktualizr-secondary at its TCP address, or
// one of ours served here on its address or, with OverBus, on its CAN bus
// (one DER message per ISO-TP PDU).
type AktualizrIP struct{ OverBus bool }

func (a AktualizrIP) OnBus() bool { return a.OverBus }

func (AktualizrIP) Attach(v *Vehicle, s *Secondary) error { return v.bringUpAktualizrIP(s) }

// byProtocol is the Reach of an ECU whose in-vehicle protocol is not the
// POUF, or nil.
func byProtocol(e *rigs.ECU) Reach {
	if e.Protocol == rigs.AktualizrIP {
		return AktualizrIP{OverBus: e.Bus != ""}
	}
	return nil
}

// noBus is an ECU outside this process when nothing reaches it over a bus.
type noBus struct{}

func (noBus) OnBus() bool { return false }

func (noBus) Attach(v *Vehicle, s *Secondary) error {
	// Its own process (uptane-hil ecu) or a physical ECU provisions and
	// runs it; this process can only talk to it over the bus.
	return fmt.Errorf("vehicle: %s runs outside this process (process: %s); it needs a bus link", s.Rig.ID, s.Rig.Process)
}

// runsHere reports whether the rig runs ECU e in this process.
func runsHere(e *rigs.ECU) bool { return e.Process == "" || e.Process == rigs.InProcess }

// ByRig reaches each ECU over its bus, where the rig's `process` says it
// runs: in this process (Bus), or outside it (External).
func ByRig(e *rigs.ECU) Reach {
	if r := byProtocol(e); r != nil {
		return r
	}
	if runsHere(e) {
		return Bus{}
	}
	return External{}
}

// DirectByRig is the default of Options.Reach: an ECU the rig runs in this
// process by direct calls; one outside it cannot be reached (it needs a
// bus: ByRig).
func DirectByRig(e *rigs.ECU) Reach {
	if r := byProtocol(e); r != nil {
		return r
	}
	if runsHere(e) {
		return Direct{}
	}
	return noBus{}
}

// Everywhere reaches every ECU by r, in this process, whatever the rig's
// `process` says (the scenario runner owns every ECU's state).
func Everywhere(r Reach) func(*rigs.ECU) Reach {
	return func(e *rigs.ECU) Reach {
		if p := byProtocol(e); p != nil {
			return p
		}
		return r
	}
}

// runHere provisions the Secondary in this process on its first start (the
// factory: keys derived from the seed, release 1) and boots it.
func (v *Vehicle) runHere(s *Secondary) error {
	e, cfg := s.Rig, s.Config
	fi, img := Factory(v.Seed, e)
	_, err := provisionOnce(cfg.Dir, func(tmp string) error {
		md, err := factoryFiles(cfg.Profile, e.Profile == rigs.Partial, v.directorFile, v.imageFile)
		if err != nil {
			return err
		}
		c := cfg
		c.Dir = tmp
		return secondary.Provision(c, v.Director.Root(), imageRootFor(v, e), md, fi, img)
	})
	if err != nil {
		return err
	}
	s.ECU, err = secondary.Boot(cfg)
	return err
}
