package vehicle

import (
	"fmt"

	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/vbus"
)

// installFaults installs the rig's faults of bus b on the virtual bus vb.
// The rule names are fixed by their place in the rig ("powertrain/drop#1"),
// so each rule draws from its own stream of the run's seed and a run
// replays exactly.
func installFaults(r *rigs.Rig, b *rigs.Bus, vb *vbus.Bus) error {
	for i, f := range b.Faults {
		rule := vbus.FaultRule{Name: fmt.Sprintf("%s/%s#%d", b.Name, f.Kind, i+1), Kind: f.Kind,
			Probability: f.Probability, Nodes: faultNodes(r, f.Nodes), From: f.From, Until: f.Until, Count: f.Count,
			Delay: f.Delay, Flips: f.Flips, Recovery: f.Recovery}
		if err := vb.AddFault(rule); err != nil {
			return fmt.Errorf("vehicle: rig %s: buses %s faults[%d]: %w", r.File, b.Name, i, err)
		}
	}
	return nil
}

// faultNodes maps the rig's ECU identifiers to bus node names: a Secondary
// sends as its identifier, the Primary as one node per Secondary channel
// ("TCU-0001>ECM-0001").
func faultNodes(r *rigs.Rig, ids []string) []string {
	var out []string
	for _, id := range ids {
		e := r.ECU(id)
		if e == nil || e.Role != rigs.Primary {
			out = append(out, id)
			continue
		}
		for _, s := range r.Secondaries() {
			out = append(out, id+">"+s.ID)
		}
	}
	return out
}
