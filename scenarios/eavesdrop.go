package scenarios

// The eavesdropper on a bus (attacks/eavesdrop) and how a run judges it.

import (
	"fmt"
	"strings"

	"github.com/uptane-hil/uptane-hil/attacks/eavesdrop"
	"github.com/uptane-hil/uptane-hil/sim/events"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// EavesdropAttack records every frame on a bus.
type EavesdropAttack struct {
	Bus string `yaml:"bus"` // a bus of the rig
}

// eavesdrop attaches the run's tap to a bus; the returned function detaches
// it (what it recorded stays).
func (r *runner) eavesdrop(f string, a *EavesdropAttack) (func(), error) {
	b := r.v.Buses[a.Bus]
	if b == nil {
		return nil, r.s.Errorf(f+".eavesdrop.bus", "no bus %q in this run (rig %s; scenario runs on the rig's buses)", a.Bus, r.v.Rig.Name)
	}
	if r.tap == nil {
		r.tap = eavesdrop.New(eavesdrop.Options{})
	}
	r.tapped = append(r.tapped, a.Bus)
	r.v.PrimaryCfg.Events(events.Event{Time: r.sim.Now(), Kind: events.Attack, From: events.Attacker, Label: "passive tap on bus " + a.Bus})
	return r.tap.Attach(b), nil
}

// leaked judges the eavesdropper for one ECU: how many bytes of the
// plaintext of the image the Director assigned it the tap recovered. When
// the Director encrypted that image for the ECU, the defence that kept it
// secret (director_repository.encrypt_images) is reported.
func (r *runner) leaked(ecu string) int {
	as, err := r.v.Director.Assignments(r.v.Rig.Vehicle.VIN)
	if err != nil {
		r.details[ecu] = append(r.details[ecu], "eavesdrop: "+err.Error())
		return 0
	}
	for _, a := range as {
		if a.ECU != ecu {
			continue
		}
		plain, err := r.v.Image.ImageData(a.Target)
		if err != nil {
			r.details[ecu] = append(r.details[ecu], "eavesdrop: "+err.Error())
			return 0
		}
		n, frames := 0, 0
		if r.tap != nil {
			n, frames = r.tap.Leaked(plain), r.tap.Frames()
		}
		how := "in clear"
		if a.Encrypted != nil {
			how = "encrypted for it (" + a.Encrypted.Algorithm + ")"
			r.addID(ecu, check.DirectorRepositoryEncryptImages)
		}
		r.details[ecu] = append(r.details[ecu], fmt.Sprintf("the Director assigned %s to %s %s; the eavesdropper on bus %s recovered %d of its %d plaintext bytes from %d frames",
			a.Target, ecu, how, strings.Join(r.tapped, ", "), n, len(plain), frames))
		return n
	}
	r.details[ecu] = append(r.details[ecu], "eavesdrop: the Director assigned "+ecu+" no image")
	return 0
}

// validateEavesdrop: a leaked_over goal needs a tap.
func (s *Scenario) validateEavesdrop() error {
	if s.Goal.LeakedOver == 0 {
		return nil
	}
	for _, st := range s.Steps {
		if st.Attack != nil && st.Attack.Eavesdrop != nil {
			return nil
		}
	}
	return s.Errorf("goal.leaked_over", "no step switches an eavesdropper on (attack: {eavesdrop: {bus: ...}})")
}
