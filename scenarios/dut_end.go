package scenarios

// The device under test at the end of a run (issue 10, the report's
// dut.end): read over its bus as each scenario reads it before its steps.

import (
	"fmt"

	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// ReadDUT reads what the device under test o.DUT says about itself now:
// its identity DIDs and a signed version report over a fresh nonce (the
// image it runs, that image's release, its attested time and report
// counter), with the backend and the rest of the vehicle brought up from
// the state directory as for a scenario, and no step played. A run reads
// it after its last scenario: the report's dut.end. An aktualizr-secondary
// DUT is provisioned afresh for each scenario and has no end to read.
func ReadDUT(o RunOptions) (Identity, error) {
	e, err := dutECU(o)
	if err != nil {
		return Identity{}, err
	}
	if e.Protocol == rigs.AktualizrIP {
		return Identity{}, fmt.Errorf("scenarios: the device under test %s is an aktualizr-secondary, provisioned afresh for each scenario: there is no state to read at the end", e.ID)
	}
	cs, err := loadClock(o.DUT.State)
	if err != nil {
		return Identity{}, err
	}
	seen, err := loadSeen(o.DUT.State)
	if err != nil {
		return Identity{}, err
	}
	clk := clock.NewWall()
	clk.Jump(cs.Offset)
	buses, detach := sessionBuses(o.DUT.Buses)
	defer detach()
	rig := o.Rig
	v, err := vehicle.NewBackend(vehicle.Options{Rig: rig, Dir: o.DUT.State, Clock: clk, Seed: o.Seed, Buses: buses, Wait: o.DUT.Wait,
		Profiles: map[string]check.Profile{rig.Primary().ID: Forwarding()},
		Reach: func(x *rigs.ECU) vehicle.Reach {
			if x.ID == e.ID {
				return vehicle.ByRig(x)
			}
			return vehicle.Everywhere(vehicle.Bus{})(x)
		}})
	if err != nil {
		return Identity{}, fmt.Errorf("scenarios: the backend in %s: %w", o.DUT.State, err)
	}
	defer v.Close()
	if err := aboveSeen(v, seen); err != nil {
		return Identity{}, err
	}
	if err := v.BringUp(); err != nil {
		return Identity{}, fmt.Errorf("scenarios: bring-up with the device under test %s: %w", e.ID, err)
	}
	r := &runner{sim: clk, v: v, detected: map[string][]check.ID{}, details: map[string][]string{}}
	id, err := r.identify(&dutRun{ecu: e, link: v.Secondary(e.ID).Link})
	if err != nil {
		return id, fmt.Errorf("scenarios: the device under test %s: %w", e.ID, err)
	}
	return id, nil
}
