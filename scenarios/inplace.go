package scenarios

// Retargeting a scenario onto a device under test (both DUT paths: UDS on
// ISO-TP and aktualizr-ip): the scenario files are written for the
// reference vehicle (rigs/virtual.yaml); on a DUT they are played with the
// DUT in the place of the Secondary they judge.

import (
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/uptane-hil/uptane-hil/rigs"
)

// referenceECUs are the ECUs of the reference vehicle (rigs/virtual.yaml)
// the scenario files name, for a rig that has not got them (a bench with
// one supplier's ECU): which of them a DUT takes the place of depends on
// their profile.
var referenceECUs = map[string]rigs.ECU{
	"TCU-0001": {ID: "TCU-0001", HardwareID: "tcu-v1", Role: rigs.Primary, Profile: rigs.Full},
	"ECM-0001": {ID: "ECM-0001", HardwareID: "ecm-v3", Role: rigs.Secondary, Profile: rigs.Full},
	"BRK-0001": {ID: "BRK-0001", HardwareID: "brk-v2", Role: rigs.Secondary, Profile: rigs.Partial},
	"BCM-0001": {ID: "BCM-0001", HardwareID: "bcm-v1", Role: rigs.Secondary, Profile: rigs.Full},
	"IVI-0001": {ID: "IVI-0001", HardwareID: "ivi-v5", Role: rigs.Secondary, Profile: rigs.Partial},
}

// ReferenceECUs are the ECUs of the reference vehicle the scenario files
// name (for the spec that they are rigs/virtual.yaml's).
func ReferenceECUs() map[string]rigs.ECU { return maps.Clone(referenceECUs) }

// ecuOf is the ECU id names on rig r, or on the reference vehicle when r
// has not got it (nil when neither has).
func ecuOf(r *rigs.Rig, id string) *rigs.ECU {
	if e := r.ECU(id); e != nil {
		return e
	}
	if e, ok := referenceECUs[id]; ok {
		return &e
	}
	return nil
}

// referenced lists the ECU identifiers a scenario's steps and setup name.
func (s *Scenario) referenced() []string {
	set := map[string]bool{}
	for _, st := range s.Steps {
		if st.Campaign != nil {
			for _, id := range st.Campaign.ECUs {
				set[id] = true
			}
		}
		if st.Publish != nil && st.Publish.ECU != "" {
			set[st.Publish.ECU] = true
		}
		if st.Attack != nil && st.Attack.Manifest != nil && st.Attack.Manifest.ECU != "" {
			set[st.Attack.Manifest.ECU] = true
		}
		if st.PowerCut != nil && st.PowerCut.ECU != "" {
			set[st.PowerCut.ECU] = true
		}
		if st.Attack != nil && st.Attack.Bus != nil && st.Attack.Bus.Target != "" {
			set[st.Attack.Bus.Target] = true
		}
	}
	for id := range s.Setup.KeyTypes.ECUs {
		set[id] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// InPlaceOf returns the scenario with the device under test in the place of
// the Secondary it judges, and the DUT as its only judged ECU. When the
// scenario judges the DUT already, only the judged list changes. Else the
// DUT takes the place of one judged Secondary (of rig r, or of the
// reference vehicle when r has not got it): the first whose profile is the
// DUT's, else the first; the ids and hardware ids of the two are swapped
// wherever the scenario names them (the ECU it judged stays simulated under
// the DUT's old name, when r has it). A scenario that judges every
// Secondary takes the first of r's other Secondaries. The rig's Primary
// takes the reference Primary's place when r has not got it. Bus attacks
// aimed at the judged ECU then aim at the DUT, on its bus.
//
// missing names why the scenario cannot be played on r with the DUT ("" when
// it can): it judges a Primary's own image, or needs an ECU r has not got.
func (s *Scenario) InPlaceOf(r *rigs.Rig, dut *rigs.ECU) (out *Scenario, missing string, err error) {
	if slices.Contains(s.ECUs, dut.ID) {
		c := *s
		c.ECUs = []string{dut.ID}
		onBusOf(&c, dut)
		return &c, lacking(&c, r), nil
	}
	var from *rigs.ECU
	for _, id := range s.ECUs {
		e := ecuOf(r, id)
		if e == nil || e.Role != rigs.Secondary {
			continue
		}
		if from == nil || (e.Profile == dut.Profile && dut.Profile != "" && from.Profile != dut.Profile) {
			from = e
		}
	}
	if from == nil && len(s.ECUs) == 0 {
		for _, e := range r.Secondaries() {
			if e.ID != dut.ID && e.Protocol != rigs.AktualizrIP {
				from = e
				break
			}
		}
	}
	if from == nil {
		if why := s.judgesPrimary(r); why != "" {
			return nil, why, nil
		}
		if len(s.ECUs) == 0 {
			return nil, fmt.Sprintf("the scenario judges every Secondary, and rig %s has none but the DUT", r.Name), nil
		}
		return nil, fmt.Sprintf("the scenario judges %s, which rig %s has not", strings.Join(s.ECUs, ", "), r.Name), nil
	}
	data, err := os.ReadFile(s.File)
	if err != nil {
		return nil, "", fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	swap := map[string]string{from.ID: dut.ID, dut.ID: from.ID}
	if from.HardwareID != dut.HardwareID {
		swap[from.HardwareID], swap[dut.HardwareID] = dut.HardwareID, from.HardwareID
	}
	if p := r.Primary(); p != nil && r.ECU(referenceECUs["TCU-0001"].ID) == nil {
		swap["TCU-0001"] = p.ID
	}
	text := swapWords(string(data), swap)
	out, err = Parse(s.File, []byte(text))
	if err != nil {
		return nil, "", fmt.Errorf("scenario %s with %s in the place of %s: %w", s.Name, dut.ID, from.ID, err)
	}
	out.ECUs = []string{dut.ID}
	onBusOf(out, dut)
	tapBusOf(out, from, dut)
	return out, lacking(out, r), nil
}

// tapBusOf moves an eavesdropper that tapped the bus of the ECU the DUT
// replaces to the DUT's bus: the traffic it is after (the judged ECU's
// image) now crosses the DUT's bus.
func tapBusOf(s *Scenario, from, dut *rigs.ECU) {
	if dut.Bus == "" || from.Bus == "" || from.Bus == dut.Bus {
		return
	}
	for i, st := range s.Steps {
		if a := st.Attack; a != nil && a.Eavesdrop != nil && a.Eavesdrop.Bus == from.Bus {
			x, e := *a, *a.Eavesdrop
			e.Bus = dut.Bus
			x.Eavesdrop = &e
			s.Steps[i].Attack = &x
		}
	}
}

// onBusOf puts the scenario's bus attacks on the DUT on the DUT's bus.
func onBusOf(s *Scenario, dut *rigs.ECU) {
	if dut.Bus == "" {
		return
	}
	s.Steps = slices.Clone(s.Steps)
	for i, st := range s.Steps {
		if a := st.Attack; a != nil && a.Bus != nil && a.Bus.Target == dut.ID && a.Bus.Bus != dut.Bus {
			x, b := *a, *a.Bus
			b.Bus = dut.Bus
			x.Bus = &b
			s.Steps[i].Attack = &x
		}
	}
}

// swapWords replaces every whole word of text that is a key of swap by its
// value, all at once (so two names can change places).
func swapWords(text string, swap map[string]string) string {
	words := slices.Sorted(maps.Keys(swap))
	for i, w := range words {
		words[i] = regexp.QuoteMeta(w)
	}
	// longest first, so that a name is never taken for its prefix
	slices.SortFunc(words, func(a, b string) int { return len(b) - len(a) })
	re := regexp.MustCompile(`\b(` + strings.Join(words, "|") + `)\b`)
	return re.ReplaceAllStringFunc(text, func(w string) string { return swap[w] })
}

// lacking names an ECU the scenario needs that rig r has not got ("" when
// r has them all).
func lacking(s *Scenario, r *rigs.Rig) string {
	for _, id := range append(s.referenced(), s.ECUs...) {
		if r.ECU(id) == nil {
			return fmt.Sprintf("the scenario needs ECU %s, which rig %s has not", id, r.Name)
		}
	}
	for _, n := range s.busesNamed() {
		b := r.Bus(n.bus)
		switch {
		case b == nil:
			return fmt.Sprintf("the scenario needs bus %s, which rig %s has not", n.bus, r.Name)
		case n.restbus && b.DB() == nil:
			return fmt.Sprintf("the scenario changes or reads rest-bus signals on bus %s, and rig %s gives that bus no DBC file (restbus:)", n.bus, r.Name)
		}
	}
	if s.Goal.UnsafeProgramming {
		for _, id := range s.ECUs {
			if why := s.readsSignals(r, r.ECU(id)); why != "" {
				return why
			}
		}
	}
	return ""
}

// readsSignals says why a scenario that judges unsafe programming cannot
// judge Secondary e of rig r: e declares no programming precondition on a
// signal the scenario changes or spoofs ("" when it does). The harness
// cannot know what a device requires beyond what the rig says.
func (s *Scenario) readsSignals(r *rigs.Rig, e *rigs.ECU) string {
	if e == nil || e.Role != rigs.Secondary {
		return ""
	}
	if len(e.Conditions()) == 0 {
		return fmt.Sprintf("the scenario judges %s's programming preconditions, and rig %s declares none for it (preconditions:)", e.ID, r.Name)
	}
	var named []string
	for _, st := range s.Steps {
		var bus, msg, sig string
		switch {
		case st.Signal != nil:
			bus, msg, sig = st.Signal.Bus, st.Signal.Message, st.Signal.Signal
		case st.Attack != nil && st.Attack.Bus != nil && st.Attack.Bus.Action == "spoof-signal":
			bus, msg, sig = st.Attack.Bus.Bus, st.Attack.Bus.Message, st.Attack.Bus.Signal
		default:
			continue
		}
		if bus != e.Bus {
			continue
		}
		for _, c := range e.Conditions() {
			if c.Message.Name == msg && c.Signal.Name == sig {
				return ""
			}
		}
		named = append(named, msg+"."+sig)
	}
	if len(named) == 0 {
		return fmt.Sprintf("the scenario changes no signal on %s's bus %s", e.ID, e.Bus)
	}
	return fmt.Sprintf("the scenario changes %s, and none of %s's programming preconditions in rig %s reads it", strings.Join(slices.Compact(slices.Sorted(slices.Values(named))), ", "), e.ID, r.Name)
}

// busNeed is a bus a scenario's step names, and whether the step needs
// the rig's DBC file on it (a rest-bus signal it changes, reads or spoofs).
type busNeed struct {
	bus     string
	restbus bool
}

// busesNamed are the buses the scenario's steps name (signal.go, bus
// attacks, eavesdropping); a bus attack that names none runs on its
// target's bus.
func (s *Scenario) busesNamed() []busNeed {
	var out []busNeed
	for _, st := range s.Steps {
		switch {
		case st.Signal != nil:
			out = append(out, busNeed{st.Signal.Bus, true})
		case st.ExpectSignal != nil:
			out = append(out, busNeed{st.ExpectSignal.Bus, true})
		case st.Attack != nil && st.Attack.Bus != nil && st.Attack.Bus.Bus != "":
			out = append(out, busNeed{st.Attack.Bus.Bus, st.Attack.Bus.Action == "spoof-signal"})
		case st.Attack != nil && st.Attack.Eavesdrop != nil:
			out = append(out, busNeed{st.Attack.Eavesdrop.Bus, false})
		}
	}
	return out
}

// judgesPrimary says that the scenario judges the Primary's own image (on
// rig r, or on the reference vehicle when r is nil), "" when it does not.
func (s *Scenario) judgesPrimary(r *rigs.Rig) string {
	for _, id := range s.ECUs {
		e := referenceECUs[id]
		if r != nil {
			if x := ecuOf(r, id); x != nil {
				e = *x
			}
		}
		if e.Role == rigs.Primary {
			return fmt.Sprintf("the scenario judges the Primary's own image (%s), not a Secondary's", id)
		}
	}
	return ""
}
