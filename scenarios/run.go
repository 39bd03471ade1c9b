package scenarios

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	gotime "time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/attacks/eavesdrop"
	"github.com/uptane-hil/uptane-hil/attacks/mitm"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/reports"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/events"
	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
)

// Verdicts.
const (
	Defended    = "defended"
	Compromised = "compromised"
)

// RunOptions configure a scenario run.
type RunOptions struct {
	Rig  *rigs.Rig
	Dir  string    // each run gets a fresh directory below
	Seed seed.Seed // 0: the rig's seed
	// Reach is how the Primary reaches every Secondary, all of them in
	// this process (nil: vehicle.Bus, the in-vehicle protocol on the rig's
	// buses; vehicle.Direct: direct calls).
	Reach vehicle.Reach
	// Base replaces the conformant profile (a spec weakens it to prove the
	// suite notices a missing defence).
	Base *check.Profile
	// ConformantOnly skips the control runs.
	ConformantOnly bool
	// Captures, when set, is the folder where each run's bus traffic is
	// written: <scenario>-<profile>.pcap (LINKTYPE_CAN_SOCKETCAN, every
	// bus) and .log (candump -L, one interface name per bus).
	Captures string
	// Tag, when set, is appended to the run's directory and capture file
	// names (a seed sweep tags each run "seed-N", see Play).
	Tag string
	// DUT, when set, plays the conformant run of each scenario against the
	// device under test (a Secondary outside this process, reached over its
	// bus) and the control run against its simulated twin (dut_run.go).
	DUT *DUT

	// forwarding: the Primary forwards what its backend link gives it
	// (aktualizr_dut.go); aktualizrDUT: the judged ECU is this real
	// aktualizr-secondary, whose identity is read after bring-up.
	forwarding   bool
	aktualizrDUT string
}

// Result is the verdict for one judged ECU under one profile.
type Result struct {
	Scenario    string
	Description string
	Attack      string
	Standard    []string
	Transport   string
	ECU         string
	Profile     string
	Control     bool
	Expected    string
	Observed    string
	Detected    string // the check that stopped the attack, "" if none
	Detail      string
	// Finding, for a scenario out of the model (Expected OutOfModel): why
	// no ECU check can stop the attack, and what the ECU could tell.
	Finding  string
	Report   json.RawMessage // the ECU's last signed version report
	Pass     bool
	Duration gotime.Duration // simulated
	Wall     gotime.Duration
	Events   []events.Event
	// Capture and CandumpLog are the capture files of the run (relative
	// to RunOptions.Captures' parent), "" without captures.
	Capture, CandumpLog string
	// BusLoad is each timed bus's load over the run, by kind of traffic
	// (busload.go).
	BusLoad []reports.BusLoad
	// Target says what the result judges: the simulated vehicle, the
	// device under test (the conformant run) or its twin (the control).
	Target Target
	// Identity is the DUT as read on the bus before the scenario (OnDUT
	// results only).
	Identity *Identity
	// After is the DUT as its last version report of the scenario says
	// (OnDUT results of applicable scenarios): its image, release and
	// latest attested time once the scenario is over.
	After *Identity
	// Applicability is Applicability.String() of the scenario for the DUT
	// (OnDUT and Twin results).
	Applicability string
}

// Run plays the scenario against the conformant profile and against its
// control profile. An error means the scenario could not be played at all
// (a broken rig or step), not that a defence failed.
//
// With o.DUT the conformant run is played against the device under test
// and the control run against its simulated twin (dut_run.go).
func (s *Scenario) Run(o RunOptions) ([]Result, error) {
	a, err := s.Play(o, false)
	if err != nil || o.ConformantOnly || s.OutOfModel != "" {
		return a, err
	}
	b, err := s.runProfile(o, true)
	if err != nil {
		return nil, err
	}
	return append(a, b...), nil
}

type runner struct {
	s        *Scenario
	v        *vehicle.Vehicle
	sim      clock.Clock // the run's clock: simulated, or the wall clock of a DUT run
	judged   []string
	detected map[string][]check.ID
	details  map[string][]string
	offs     map[string]func()
	rules    []*mitm.Rule
	proxy    *mitm.Proxy              // the man in the middle on the Primary's repository link
	held     map[string][]keys.Signer // director role → signers the attacker holds
	heldECU  map[string]*keys.Private // ECU id → ECU keys the attacker holds
	// Image repository keys the attacker holds and the images it signed
	// (keys.go); the eavesdropper and the buses it taps (eavesdrop.go).
	heldImage map[string][]keys.Signer
	forged    map[string]*metadata.TargetFiles
	tap       *eavesdrop.Tap
	tapped    []string
	replayed  []byte  // the manifest the attacker replayed
	dut       *dutRun // the device under test (dut_run.go), nil in simulated runs
	attacked  bool
	slowest   gotime.Duration
	log       events.Log
	pcapName  string
	logName   string
	bus       busState   // attacks on the vehicle network (bus.go)
	power     powerState // power cuts (power.go)
	identity  *Identity  // the device under test, as read before the steps
	// hooks see each event of the run as it is emitted (preconditions.go)
	hooks []func(events.Event)
	// unsafe: unsafe programming seen per ECU; spoofed: what a signal
	// spoofer left on the wire (preconditions.go)
	unsafe     map[string][]string
	unsafeSeen map[string]bool
	spoofed    map[string]string
	// spoofFrames: how many frames the spoof-signal attackers aimed at
	// each ECU sent (set when one ran).
	spoofFrames map[string]int64
	start       gotime.Time
}

func (s *Scenario) runProfile(o RunOptions, control bool) ([]Result, error) {
	profile := check.Conformant
	profiles := map[string]check.Profile{}
	if o.Base != nil && !control {
		profile = *o.Base
		profiles["*"] = profile
	}
	if control {
		profile = s.Profile()
		profiles["*"] = profile
	}
	var dut *rigs.ECU // the twin of the device under test
	var applies Applicability
	if o.DUT != nil {
		var err error
		if dut, err = dutECU(o); err != nil {
			return nil, err
		}
		var played *Scenario
		if played, applies, err = s.twinOf(o.Rig, dut); err != nil {
			return nil, err
		}
		if played == nil {
			// the rig lacks an ECU the scenario needs: no control either
			return nil, nil
		}
		s = played
		o.Rig = twin(o.Rig)
		profiles[o.Rig.Primary().ID] = forwardingWithout(profile)
	}
	sim := clock.NewSim(gotime.Time{})
	sim.SetHorizon(10 * 365 * 24 * gotime.Hour)
	wall := gotime.Now()
	var results []Result
	var stepErr error
	r := &runner{s: s, sim: sim, held: map[string][]keys.Signer{}, heldECU: map[string]*keys.Private{}, detected: map[string][]check.ID{}, details: map[string][]string{}, offs: map[string]func(){},
		heldImage: map[string][]keys.Signer{}, forged: map[string]*metadata.TargetFiles{},
		unsafe: map[string][]string{}, unsafeSeen: map[string]bool{}, spoofed: map[string]string{}, start: sim.Now()}
	err := sim.Run(s.Name+"/"+profile.Name, func() {
		dir := filepath.Join(o.Dir, s.Name, tagged(strings.NewReplacer(":", "-", "+", "_").Replace(profile.Name), o.Tag))
		if dut != nil {
			// the twin is made afresh for every control run (the DUT's
			// state lives in the state directory, not here)
			dir = filepath.Join(o.Dir, s.Name, "twin-"+filepath.Base(dir))
			if err := os.RemoveAll(dir); err != nil {
				stepErr = err
				return
			}
		}
		rig, err := s.Setup.KeyTypes.rig(s, o.Rig)
		if err != nil {
			stepErr = err
			return
		}
		reach := o.Reach
		if reach == nil {
			reach = vehicle.Bus{}
		}
		vo := vehicle.Options{Rig: rig, Dir: dir, Clock: sim, Seed: o.Seed, Profiles: profiles,
			Events: r.sink(), Reach: vehicle.Everywhere(reach),
			Transport: func(backend http.RoundTripper) http.RoundTripper {
				r.proxy = mitm.New(backend, sim)
				return r.proxy
			}}
		if len(s.PowerLoss()) > 0 {
			vo.Crash = r.crashFor
		}
		s.Setup.Image.apply(&vo)
		vo.Compatibility = s.compatibility()
		r.dutOptions(o, &vo)
		v, err := vehicle.NewBackend(vo)
		if err != nil {
			stepErr = fmt.Errorf("%s: bring-up: %w", s.File, err)
			return
		}
		defer v.Close()
		r.v = v
		if err := r.beforeFactory(); err != nil {
			stepErr = fmt.Errorf("%s: setup.before_factory: %w", s.File, err)
			return
		}
		if err := v.BringUp(); err != nil {
			stepErr = fmt.Errorf("%s: bring-up: %w", s.File, err)
			return
		}
		if o.aktualizrDUT != "" {
			id, err := ReadAktualizrIdentity(v, o.aktualizrDUT)
			if err != nil {
				stepErr = fmt.Errorf("%s: the device under test: %w", s.File, err)
				return
			}
			r.identity = &id
		}
		if err := r.busSetup(); err != nil {
			stepErr = err
			return
		}
		busLoad := r.recordBusLoad()
		if o.Captures != "" && len(v.Buses) > 0 {
			stop, err := r.capture(o.Captures, profile.Name, o.Tag)
			if err != nil {
				stepErr = err
				return
			}
			defer stop()
		}
		r.judged = s.ECUs
		if dut != nil && slices.Contains(s.ECUs, dut.ID) {
			r.judged = []string{dut.ID}
			twinEvent(r, dut)
		}
		if len(r.judged) == 0 {
			for _, sec := range v.Secondaries {
				r.judged = append(r.judged, sec.Rig.ID)
			}
		}
		for _, id := range r.judged {
			if v.Secondary(id) == nil && !r.isPrimary(id) {
				stepErr = s.Errorf("ecus", "rig %s has no Secondary or Primary %q", o.Rig.Name, id)
				return
			}
		}
		r.watchUnsafe()
		for i := range s.Steps {
			if err := r.step(i); err != nil {
				stepErr = err
				return
			}
		}
		r.busEnd()
		results = r.verdicts(profile, control)
		load := busLoad()
		for i := range results {
			results[i].BusLoad = load
		}
	})
	if stepErr != nil {
		return nil, stepErr
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.File, err)
	}
	for i := range results {
		results[i].Duration = sim.Elapsed()
		results[i].Wall = gotime.Since(wall)
		results[i].Capture, results[i].CandumpLog = r.pcapName, r.logName
		results[i].Identity = r.identity
		if dut != nil {
			results[i].Target, results[i].Applicability = Twin, applies.String()
		}
	}
	return results, nil
}

func (r *runner) step(i int) error {
	st := r.s.Steps[i]
	f := fmt.Sprintf("steps[%d]", i)
	v := r.v
	switch {
	case st.Campaign != nil:
		ecus := st.Campaign.ECUs
		if len(ecus) == 0 {
			ecus = r.judged
		}
		if err := v.Publish(st.Campaign.Release, ecus...); err != nil {
			if _, ok := check.As(err); !ok {
				return r.s.Errorf(f+".campaign", "%v", err)
			}
			// the Director refused the campaign (a dependency or conflict):
			// a defence of the backend for each ECU of the bundle
			r.note("the Director refuses the campaign: " + err.Error())
			for _, ecu := range ecus {
				r.addChecks(ecu, err)
				r.details[ecu] = append(r.details[ecu], err.Error())
			}
		}

		r.power.assign(st.Campaign.Release, ecus)
		if !st.Campaign.AssignOnly {
			r.observe(v.Cycle())
			return r.afterCycle()
		}
	case st.Cycle != nil:
		r.observe(v.Cycle())
		return r.afterCycle()
	case st.PowerCut != nil:
		return r.powerCut(f+".power_cut", st.PowerCut)
	case st.Advance > 0:
		r.sim.Jump(st.Advance)
		r.note("time travel: +" + st.Advance.String())
	case st.AttackOff != "":
		if off := r.offs[st.AttackOff]; off != nil {
			off()
		}
		delete(r.offs, st.AttackOff)
		r.note("attack off: " + st.AttackOff)
	case st.Attack != nil:
		off, err := r.attack(f+".attack", st.Attack)
		if err != nil {
			return err
		}
		r.offs[st.Attack.Name] = off
		r.attacked = true
		r.v.PrimaryCfg.Events(events.Event{Time: r.sim.Now(), Kind: events.Attack, From: events.Attacker, Label: "attack on: " + st.Attack.Name})
	case st.Rotate != nil:
		if err := r.rotate(st.Rotate); err != nil {
			return r.s.Errorf(f+".rotate", "%v", err)
		}
	case st.Publish != nil:
		publish := r.publish
		if st.Publish.Repo == "image" {
			publish = r.publishImage
		}
		if err := publish(st.Publish); err != nil {
			return r.s.Errorf(f+".publish", "%v", err)
		}
		r.attacked = true
	case st.Signal != nil:
		return r.setSignal(f+".signal", st.Signal)
	case st.ExpectSignal != nil:
		return r.expectSignal(f+".expect_signal", st.ExpectSignal)
	default:
		return r.s.Errorf(f, "this step is not supported by the runner yet")
	}
	return nil
}

func (r *runner) note(label string) {
	if r.v.PrimaryCfg.Events != nil {
		r.v.PrimaryCfg.Events(events.Event{Time: r.sim.Now(), Kind: events.Note, Label: label})
	}
}

// ErrBroken marks a scenario whose control run was not compromised.
var ErrBroken = errors.New("scenario cannot fail: its control profile was not compromised")
