package scenarios

import (
	"fmt"
	"strings"

	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// Applicability says whether a scenario can judge a device under test (a
// Secondary the harness does not run, reached only over the bus): the DUT
// is judged only by its own checks, so a scenario applies when at least one
// check of its defence is one the DUT performs (check.PerformedBy).
type Applicability struct {
	// DUT is the Secondary the verdict is for (check.SecondaryFull or
	// check.SecondaryPartial).
	DUT check.Actor
	// Device, when set, names the DUT in place of DUT's actor (a Secondary
	// that is not ours: "aktualizr-secondary (full verification)").
	Device string
	// Applicable: the DUT must defend the attack by itself.
	Applicable bool
	// Checks are the checks of the defence the DUT performs: one of them
	// must stop the attack on the DUT (empty when not applicable).
	Checks []check.ID
	// Reason says why the scenario is not applicable, naming every check of
	// the defence and who performs it ("" when applicable).
	Reason string
	// Finding: the scenario is out of the model (no check of any ECU can
	// stop it) and is played on the DUT as a finding: reported apart,
	// never as a defence (Checks is empty).
	Finding bool
}

// String is the verdict in a report's words.
func (a Applicability) String() string {
	who := a.DUT.String()
	if a.Device != "" {
		who = a.Device
	}
	if a.Applicable && a.Finding {
		return "applicable to " + article(who) + who + " as a finding: out of the model, no check of any ECU can stop it (reported apart, never as a defence)"
	}
	if a.Applicable {
		names := make([]string, len(a.Checks))
		for i, id := range a.Checks {
			names[i] = id.String()
		}
		return "applicable to " + article(who) + who + ": its " + strings.Join(names, ", ")
	}
	return "not applicable to " + article(who) + who + ": " + a.Reason
}

// article is "a " before a kind of Secondary, "" before a name.
func article(who string) string {
	if strings.HasSuffix(who, "Secondary") {
		return "a "
	}
	return ""
}

// transportWords says where an attack of each transport happens.
var transportWords = map[string]string{
	"backend-link": "on the backend link",
	"bus":          "on the vehicle bus",
	"keys":         "with compromised keys",
	"power":        "by a power cut",
}

// ApplicableToDUT says whether a scenario with the given attack, transport
// and defence applies to a DUT of the given kind, a Secondary with full or
// partial verification; any other actor is an error.
func ApplicableToDUT(attack, transport string, defence []check.ID, dut check.Actor) (Applicability, error) {
	return applicable(attack, transport, defence, dut, "")
}

// metadataSections are the sections whose checks verify repository
// metadata; a partial-verification Secondary runs them on the Director's
// metadata alone.
var metadataSections = map[string]bool{
	"check_root": true, "check_timestamp": true, "check_snapshot": true, "check_targets": true,
	"resolve_delegations": true, "multirole_delegations": true, "full_verification": true,
}

// applicable is ApplicableToDUT; a non-empty directorKeys says that the
// attacker signs the Director's Targets with a key the ECUs still trust, so
// a partial-verification DUT's metadata checks cannot stop it.
func applicable(attack, transport string, defence []check.ID, dut check.Actor, directorKeys string) (Applicability, error) {
	if dut != check.SecondaryFull && dut != check.SecondaryPartial {
		return Applicability{}, fmt.Errorf("scenarios: a device under test is a Secondary with full or partial verification, not the %s", dut)
	}
	a := Applicability{DUT: dut}
	for _, id := range defence {
		if !id.Valid() {
			return Applicability{}, fmt.Errorf("scenarios: defence names no check (ID %d)", uint16(id))
		}
		if !id.Performers().Has(dut) {
			continue
		}
		if ch, _ := check.Lookup(id); directorKeys != "" && dut == check.SecondaryPartial && metadataSections[ch.Section] {
			continue
		}
		a.Checks = append(a.Checks, id)
	}
	if len(a.Checks) > 0 {
		a.Applicable = true
		return a, nil
	}
	what := strings.TrimSpace(attack + " " + transportWords[transport])
	if len(defence) == 0 {
		a.Reason = what + ": the scenario names no defence"
		return a, nil
	}
	// Group the defence by who performs it: "check_timestamp.expiry is
	// performed by the Primary and full-verification Secondaries".
	var groups []string
	var order []check.Actors
	byActors := map[check.Actors][]string{}
	for _, id := range defence {
		p := id.Performers()
		if _, seen := byActors[p]; !seen {
			order = append(order, p)
		}
		byActors[p] = append(byActors[p], id.String())
	}
	for _, p := range order {
		groups = append(groups, strings.Join(byActors[p], ", ")+" by "+p.String())
	}
	a.Reason = fmt.Sprintf("%s: its defence is performed by others than a %s (%s)", what, dut, strings.Join(groups, "; "))
	if directorKeys != "" && dut == check.SecondaryPartial {
		a.Reason = fmt.Sprintf("%s: %s, and a partial-verification Secondary trusts the Director's metadata alone "+
			"({#partial_verification}), so its metadata checks cannot stop the attack (defence: %s)", what, directorKeys, strings.Join(groups, "; "))
	}
	return a, nil
}

// ForDUT says whether the scenario applies to a DUT with the given
// verification ("full" or "partial", a rig's profile).
func (s *Scenario) ForDUT(verification string) (Applicability, error) {
	dut, ok := check.SecondaryActor(verification)
	if !ok {
		return Applicability{}, fmt.Errorf("scenario %s: a device under test verifies full or partial, not %q", s.Name, verification)
	}
	if s.OutOfModel != "" {
		// played on the DUT as a finding: what the attack achieves on this
		// ECU, with why no check can stop it
		return Applicability{DUT: dut, Applicable: true, Finding: true}, nil
	}
	return applicable(s.Attack, s.Transport, s.Defence, dut, s.directorKeysHeld())
}

// directorKeysHeld says, when the attacker holds the Director's Targets key
// (its online keys or the Targets role's) and the scenario never rotates
// it, which steps hand it over; "" otherwise.
func (s *Scenario) directorKeysHeld() string {
	held := ""
	for i, st := range s.Steps {
		if st.Rotate != nil && st.Rotate.Repo == "director" {
			return ""
		}
		if st.Attack != nil && st.Attack.Compromise != nil {
			c := st.Attack.Compromise
			if c.Repo == "director" && (c.Role == "online" || c.Role == "targets") && held == "" {
				held = fmt.Sprintf("the attacker holds the Director's %s keys (steps[%d])", c.Role, i)
			}
		}
	}
	return held
}
