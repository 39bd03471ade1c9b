package scenarios

import (
	"strings"

	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// Play plays one profile of the scenario: the conformant one, or (control
// true) the control profile that lacks the scenario's defence. Run is Play
// for both; a suite spread over processes or machines plays each (scenario,
// profile, seed) on its own. Every Play is independent of any other: it
// builds its vehicle from the rig and the seed under its own simulated
// clock, so the results are the same whichever process plays it, in
// whatever order.
func (s *Scenario) Play(o RunOptions, control bool) ([]Result, error) {
	if control && (o.ConformantOnly || s.OutOfModel != "") {
		return nil, nil // a scenario out of the model has no control
	}
	if o.DUT != nil {
		if e := o.Rig.ECU(o.DUT.ECU); e != nil && e.Protocol == rigs.AktualizrIP && e.Process == rigs.AktualizrSecondary {
			// an aktualizr-secondary uptane-hil starts (aktualizr_dut.go)
			if control {
				return s.PlayAktualizrTwin(o)
			}
			return s.PlayAktualizrDUT(o)
		}
	}
	if o.DUT != nil && !control {
		return s.runOnDUT(o)
	}
	return s.runProfile(o, control)
}

// tagged appends "-tag" to name when tag is set.
func tagged(name, tag string) string {
	if tag == "" {
		return name
	}
	return name + "-" + tag
}

// NotPlayed returns the results of a play that could not be played (its
// vehicle did not come up, a step broke) under some seed of a sweep: one
// failed result per judged ECU, observed "defended" (the attacker's goal
// was not seen to hold) and the error as the detail. A sweep lists them
// with the seeds that replay the error instead of stopping at the first.
func (s *Scenario) NotPlayed(r *rigs.Rig, control bool, err error) []Result {
	profile, expected := check.Conformant, Defended
	if s.OutOfModel != "" {
		expected = OutOfModel
	}
	if control {
		profile, expected = s.Profile(), Compromised
	}
	judged := s.ECUs
	if len(judged) == 0 {
		for _, e := range r.Secondaries() {
			judged = append(judged, e.ID)
		}
	}
	out := make([]Result, len(judged))
	for i, ecu := range judged {
		out[i] = Result{Scenario: s.Name, Description: strings.TrimSpace(s.Description), Attack: s.Attack, Standard: s.Standard,
			Transport: s.Transport, ECU: ecu, Profile: profile.Name, Control: control, Expected: expected, Observed: Defended,
			Detail: "not played: " + err.Error()}
	}
	return out
}
