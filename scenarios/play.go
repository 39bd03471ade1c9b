package scenarios

// Play plays one profile of the scenario: the conformant one, or (control
// true) the control profile that lacks the scenario's defence. Run is Play
// for both; a suite spread over processes or machines plays each (scenario,
// profile, seed) on its own. Every Play is independent of any other: it
// builds its vehicle from the rig and the seed under its own simulated
// clock, so the results are the same whichever process plays it, in
// whatever order.
func (s *Scenario) Play(o RunOptions, control bool) ([]Result, error) {
	if control && o.ConformantOnly {
		return nil, nil
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
