package scenarios

// Programming preconditions (docs/restbus.md): the car sets off in the
// middle of an update (a signal step at_transfer, for a while), the judge
// that knows the vehicle's true state (unsafe_programming), every run's
// expected end (expect_installed), an attacker node that spoofs a signal
// (spoof-signal), and scenarios outside the model (out_of_model).

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	gotime "time"

	"github.com/uptane-hil/uptane-hil/attacks/bus"
	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/dbc"
	"github.com/uptane-hil/uptane-hil/sim/events"
	"github.com/uptane-hil/uptane-hil/sim/restbus"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// OutOfModel is the expected verdict of a scenario outside the model: the
// run documents what the attack achieves and why no ECU check can stop it.
// It is a finding, never counted as a defence.
const OutOfModel = "out-of-model"

// Resisted is the observed verdict of a scenario out of the model on a
// device under test that the attack did not get to its goal (the finding
// does not reproduce there): it passes, and is counted apart, neither a
// finding nor a defence (no Uptane check stopped it). See outOfModel.
const Resisted = "resisted"

// TransferPoint is a point of an ECU's image transfer: Percent of its
// bytes acknowledged by the ECU.
type TransferPoint struct {
	ECU     string `yaml:"ecu"`
	Percent int    `yaml:"percent"`
}

func (s *Scenario) validatePreconditions() error {
	if s.ExpectInstalled != "" && !strings.HasPrefix(s.ExpectInstalled, "release:") || s.ExpectInstalled != "" && !imageRe.MatchString(s.ExpectInstalled) {
		return s.Errorf("expect_installed", "%q is not release:N", s.ExpectInstalled)
	}
	if s.OutOfModel != "" {
		if strings.TrimSpace(s.OutOfModel) == "" {
			return s.Errorf("out_of_model", "say why no ECU check can stop the attack")
		}
		if len(s.Defence) > 0 {
			return s.Errorf("defence", "a scenario out of the model has no defence (out_of_model says why)")
		}
	}
	for i, st := range s.Steps {
		b := (*BusAttack)(nil)
		if st.Attack != nil {
			b = st.Attack.Bus
		}
		if b == nil {
			continue
		}
		f := fmt.Sprintf("steps[%d].attack.bus", i)
		spoof := b.Action == "spoof-signal"
		switch {
		case spoof && (b.Message == "" || b.Signal == "" || b.Value == ""):
			return s.Errorf(f, "spoof-signal needs the message, signal and value the attacker's copies carry")
		case !spoof && (b.Message != "" || b.Signal != "" || b.Value != ""):
			return s.Errorf(f, "only spoof-signal has a message, signal and value")
		}
	}
	return nil
}

// sink is the run's event sink: the log, then every hook.
func (r *runner) sink() events.Sink {
	log := r.log.Sink()
	return func(e events.Event) {
		log(e)
		for _, h := range r.hooks {
			h(e)
		}
	}
}

// changeSignal makes the rest-bus send raw from now on, and back to the
// value before after st.For (when set).
func (r *runner) changeSignal(st *SignalStep, sig *dbc.Signal, raw int64) error {
	rb := r.v.Restbus[st.Bus]
	old, err := rb.Value(st.Message, st.Signal)
	if err != nil {
		return err
	}
	if err := rb.Set(st.Message, st.Signal, raw); err != nil {
		return err
	}
	r.note(fmt.Sprintf("signal: %s %s.%s = %s", st.Bus, st.Message, st.Signal, withUnit(sig, raw)))
	if st.For > 0 {
		r.sim.Go("signal "+st.Signal+" back", func() {
			r.sim.Sleep(st.For)
			if rb.Set(st.Message, st.Signal, old) == nil {
				r.note(fmt.Sprintf("signal: %s %s.%s = %s again, after %s", st.Bus, st.Message, st.Signal, withUnit(sig, old), st.For))
			}
		})
	}
	return nil
}

// armSignal holds a signal change back until the Primary has sent
// st.AtTransfer's share of that ECU's image.
func (r *runner) armSignal(f string, st *SignalStep, sig *dbc.Signal, raw int64) error {
	at := st.AtTransfer
	if r.v.Secondary(at.ECU) == nil {
		return r.s.Errorf(f+".at_transfer.ecu", "rig %s has no Secondary %q", r.v.Rig.Name, at.ECU)
	}
	armed := true
	r.hooks = append(r.hooks, func(e events.Event) {
		if !armed || !imageBlock(e, at.ECU) || e.Done*100 < e.Total*int64(at.Percent) {
			return
		}
		armed = false
		r.note(fmt.Sprintf("%d %% of %s's image sent", at.Percent, at.ECU))
		sent := r.onWire(st, sig, raw)
		if err := r.changeSignal(st, sig, raw); err != nil {
			r.note("signal not changed: " + err.Error())
			return
		}
		sent()
	})
	return nil
}

// DUTSignalMargin is how long, on a DUT run, the Primary's next request
// waits after the rest-bus sent the changed signal of an at_transfer step:
// the time the DUT has to read the frame before the request that the
// change concerns. Ten cycles of a 10 ms signal: a DUT process that its
// host (an emulated VM under load) did not run for tens of milliseconds
// must not be judged for a block it acknowledged before it could read the
// change; it was 20 ms.
const DUTSignalMargin = 100 * gotime.Millisecond

// onWire returns, on a DUT run (wall clock), a wait for the rest-bus's
// first frame with the changed value, and DUTSignalMargin after it, at
// most a second: the car sets off at that point of the transfer, and the
// next image block is sent after the change is on the wire, as on the
// simulated clock, where the change lands within the signal's cycle while
// the transfer goes on for much longer. On the simulated clock nothing
// waits.
func (r *runner) onWire(st *SignalStep, sig *dbc.Signal, raw int64) func() {
	rb := r.v.Restbus[st.Bus]
	if r.dut == nil || r.sim.Simulated() || rb == nil {
		return func() {}
	}
	m, ok := rb.DB().Message(st.Message)
	if !ok {
		return func() {}
	}
	i, ok := m.Index(sig.Name)
	if !ok {
		return func() {}
	}
	seen := make(chan struct{})
	var once sync.Once
	remove := rb.OnSent(func(f can.Frame, _ gotime.Time) {
		if f.ID == m.ID && f.Extended == m.Extended && m.Decode(&f)[i] == raw {
			once.Do(func() { close(seen) })
		}
	})
	return func() {
		defer remove()
		select {
		case <-seen:
			gotime.Sleep(DUTSignalMargin)
		case <-gotime.After(gotime.Second):
			r.note(fmt.Sprintf("signal: no frame of %s with %s = %s on the wire within 1s", m.Name, sig.Name, withUnit(sig, raw)))
		}
	}
}

// imageBlock reports whether e is the Primary's progress on ecu's image:
// a block of it the ECU acknowledged.
func imageBlock(e events.Event, ecu string) bool {
	return e.Kind == events.Transfer && e.ECU == ecu && strings.HasPrefix(e.Label, "image ") && e.Total > 0
}

// watchUnsafe judges unsafe_programming: for each judged Secondary with
// programming preconditions, the vehicle's true state is what the
// rest-bus's own nodes send (a judge knows each frame's sender; an ECU
// does not); an image block the ECU acknowledged, or its install, while
// that state breaks the preconditions is unsafe programming.
func (r *runner) watchUnsafe() {
	if !r.s.Goal.UnsafeProgramming {
		return
	}
	genuine := func(sender string) bool { return strings.HasPrefix(sender, restbus.NodePrefix) }
	truth := map[string]*restbus.Monitor{}
	for _, id := range r.judged {
		var e *rigs.ECU
		if s := r.v.Secondary(id); s != nil {
			e = s.Rig
		} else if d := r.dut; d != nil && d.ecu.ID == id {
			e = d.ecu
		}
		if e == nil || len(e.Conditions()) == 0 || r.v.Buses[e.Bus] == nil {
			continue
		}
		// the true state has no age: the rest-bus's last word stands
		conds := slices.Clone(e.Conditions())
		for i := range conds {
			conds[i].Timeout = 0
			conds[i].E2E = nil // the judge reads the genuine frames alone
		}
		if rb := r.v.Restbus[e.Bus]; r.dut != nil && rb != nil {
			// a DUT's bus is SocketCAN, which names no sender: what the
			// rest-bus's own nodes sent is the truth
			m := restbus.NewMonitor(r.sim, conds)
			rb.OnSent(m.Observe) // ends with the rest-bus (the run's vehicle)
			truth[id] = m
			continue
		}
		truth[id] = restbus.WatchFrom(r.v.Buses[e.Bus], r.sim, conds, genuine)
	}
	r.hooks = append(r.hooks, func(e events.Event) {
		m := truth[e.ECU]
		if m == nil {
			return
		}
		kind, what := "", ""
		switch {
		case imageBlock(e, e.ECU):
			kind, what = "image", fmt.Sprintf("took image bytes up to %d of %d", e.Done, e.Total)
		case e.Kind == events.Phase && e.Label == "reset":
			kind, what = "install", "installed (its install routine ran)"
		default:
			return
		}
		if err := m.Check(); err != nil && !r.unsafeSeen[e.ECU+"/"+kind] {
			r.unsafeSeen[e.ECU+"/"+kind] = true
			r.unsafe[e.ECU] = append(r.unsafe[e.ECU], fmt.Sprintf("%s at %s of the run while %v", what, e.Time.Sub(r.start).Round(gotime.Millisecond), err))
		}
	})
}

// observeRefusal: a Secondary that refused to be programmed for its
// preconditions (the Primary's account) performed
// pouf.programming_preconditions.
func (r *runner) observeRefusal(id string, o *primary.ECUOutcome) {
	if o == nil || o.Refusal == nil {
		return
	}
	rf := o.Refusal
	what := "resumed"
	if !rf.Resumed {
		what = "the Primary gave up"
	}
	r.addID(id, check.PoufProgrammingPreconditions)
	said := rf.Conditions
	if said == "" {
		said = "by the time the Primary asked, the ECU read its preconditions as holding"
	}
	r.details[id] = append(r.details[id], fmt.Sprintf("refused %s with NRC 0x22 (%s); the Primary waited %s, %s", rf.Step, said, rf.Waited, what))
}

// spoofSignal starts a spoof-signal attacker on the bus.
func (r *runner) spoofSignal(b *BusAttack) (func(), error) {
	db := r.v.Rig.Bus(b.Bus).DB()
	if db == nil {
		return nil, fmt.Errorf("bus %s has no DBC file", b.Bus)
	}
	m, ok := db.Message(b.Message)
	if !ok {
		return nil, fmt.Errorf("%s defines no message %q", db.File, b.Message)
	}
	sig, ok := m.Signal(b.Signal)
	if !ok {
		return nil, fmt.Errorf("message %s has no signal %q", m.Name, b.Signal)
	}
	raw, err := sig.ParseValue(b.Value)
	if err != nil {
		return nil, err
	}
	sp := bus.SignalSpoof{Message: m, Signal: sig, Raw: raw}
	if cfg, ok := r.v.Rig.Bus(b.Bus).RestbusConfig(); ok {
		for _, c := range cfg.Checksums {
			if c.Message == m.Name {
				sp.Checksums = append(sp.Checksums, c)
			}
		}
	}
	sf, err := bus.StartSignalSpoof(r.v.Buses[b.Bus], r.sim, "attacker (spoof "+m.Name+")", sp)
	if err != nil {
		return nil, err
	}
	r.attackEvent(b.Target, fmt.Sprintf("spoof %s.%s = %s after every genuine frame (same alive counter, checksum recomputed)", m.Name, sig.Name, withUnit(sig, raw)))
	return func() {
		st := sf.Stop()
		r.spoofed[b.Target] = fmt.Sprintf("on the wire, %s came at twice its cycle rate with each alive counter value twice (%d genuine frames, %d spoofed), which an end-to-end check (AUTOSAR E2E) can flag; which of two frames is genuine, nothing on a CAN frame tells (no sender, no authentication)",
			m.Name, st.Genuine, st.Spoofed)
		if r.spoofFrames == nil {
			r.spoofFrames = map[string]int64{}
		}
		r.spoofFrames[b.Target] += int64(st.Spoofed)
		r.attackEvent(b.Target, fmt.Sprintf("spoofer off: %d frames spoofed", st.Spoofed))
	}, nil
}

// outOfModel makes res a finding: expected OutOfModel, and it passes when
// the attack was seen to succeed (the finding reproduces); Finding says
// why no ECU check could stop it and what the ECU could have told. On the
// simulated ECUs a finding that does not reproduce fails: the scenario no
// longer shows what it documents. A device under test on which it does not
// reproduce resisted the attack (observed Resisted, passing): a good
// outcome for its supplier, shown apart, neither a finding nor a defence
// of an Uptane check (Detected stays empty; what the device did is in the
// detail) — provided the attack was seen acting (a spoofer that sent no
// frame proves nothing).
func (r *runner) outOfModel(ecu string, res *Result) {
	res.Expected = OutOfModel
	res.Pass = res.Observed == Compromised
	res.Detected = "" // no check stopped it: a refusal on the way is in the detail
	f := strings.Join(strings.Fields(r.s.OutOfModel), " ")
	if sp := r.spoofed[ecu]; sp != "" {
		f += " Observed: " + sp + "."
	}
	res.Finding = f
	if res.Pass {
		return
	}
	n, spoofer := r.spoofFrames[ecu]
	if r.dut != nil && ecu == r.dut.ecu.ID && res.Observed == Defended && (!spoofer || n > 0) {
		res.Observed, res.Pass = Resisted, true
		did := res.Detail
		if did == "" {
			did = "it reported nothing the harness saw"
		}
		res.Detail = "the device under test resisted: the attack did not reach its goal on it (out of the model: no Uptane check is credited); what it did: " + did
		return
	}
	why := "the attack did not reach its goal"
	if spoofer && n == 0 {
		why = "the spoofer sent no frame: the attack never acted"
	}
	res.Detail = strings.TrimPrefix(res.Detail+"; the finding did not reproduce: "+why, "; ")
}
