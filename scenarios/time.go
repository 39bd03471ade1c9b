package scenarios

import (
	"fmt"
	gotime "time"

	"github.com/uptane-hil/uptane-hil/attacks/bus"
	"github.com/uptane-hil/uptane-hil/ecus/uds"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/can"
)

// writeTime: a node on the bus writes the target an unauthenticated time
// ahead of the run's clock (DID 0xF1A4 in the extended session, no
// SecurityAccess): the time lock-out (docs/pouf.md, "Time").
func (r *runner) writeTime(bs can.Bus, ch bus.Channel, e *rigs.ECU, ahead gotime.Duration) error {
	t := r.sim.Now().Add(ahead)
	r.attackEvent(e.ID, fmt.Sprintf("writes the time %s over UDS", t.UTC().Format(gotime.RFC3339)))
	err := bus.WriteTime(bs, r.sim, ch, e.ID, t)
	if _, nrc := uds.NRCOf(err); err != nil && !nrc && r.dut != nil && r.dut.ecu.ID == e.ID {
		// no refusal and no acceptance: the write never met the DUT's
		// check, so the scenario cannot judge it (a DUT error, not a
		// defence nobody saw)
		return fmt.Errorf("the attacker's time write to the device under test %s got no answer: %w", e.ID, err)
	}
	r.refused(e.ID, err)
	return nil
}
