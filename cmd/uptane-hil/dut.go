package main

import (
	"fmt"

	"github.com/uptane-hil/uptane-hil/reports"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/scenarios"
)

// dutOf is the device under test of a run: --dut, else the rig's ECU with
// dut: true, else nil. It must be a Secondary the harness does not run:
// process external or physical on a SocketCAN bus, or reached over
// aktualizr-ip.
func dutOf(f *runFlags, r *rigs.Rig) (*scenarios.DUT, error) {
	e := r.DUT()
	if f.dut != "" {
		if e != nil && e.ID != f.dut {
			return nil, fmt.Errorf("--dut %s, but rig %s marks %s as the device under test (dut: true)", f.dut, r.File, e.ID)
		}
		if e = r.ECU(f.dut); e == nil {
			return nil, fmt.Errorf("--dut %s: rig %s has no ECU %q", f.dut, r.File, f.dut)
		}
	}
	if e == nil {
		return nil, nil
	}
	if e.Role != rigs.Secondary {
		return nil, fmt.Errorf("--dut %s: the device under test is a Secondary; %s is the rig's Primary (the harness plays the Primary)", e.ID, e.ID)
	}
	if e.Protocol == rigs.AktualizrIP && e.Process != rigs.InProcess {
		return &scenarios.DUT{ECU: e.ID, State: f.state}, nil
	}
	if e.Process != rigs.External && e.Process != rigs.Physical {
		return nil, fmt.Errorf("--dut %s: rig %s runs %s in this process (process: %s); a device under test runs outside it: process: external (uptane-hil ecu) or physical", e.ID, r.File, e.ID, e.Process)
	}
	if b := r.Bus(e.Bus); b == nil || b.Kind != rigs.SocketCAN {
		return nil, fmt.Errorf("--dut %s: rig %s puts %s on bus %s, which is not a SocketCAN bus (kind: socketcan): the harness reaches a device under test over its bus only", e.ID, r.File, e.ID, e.Bus)
	}
	if r.Clock != rigs.WallClock {
		return nil, fmt.Errorf("--dut %s: rig %s runs on simulated time; a device under test answers in real time: clock: wall", e.ID, r.File)
	}
	return &scenarios.DUT{ECU: e.ID, State: f.state}, nil
}

// dutWord is a DUT run's result in the run's words: the DUT's verdict, or
// the twin's control.
func dutWord(control bool) string {
	if control {
		return "twin"
	}
	return "dut"
}

// printDUTLine prints one result of a DUT run: the DUT's verdict (or not
// applicable, with the reason), or the twin's control.
func printDUTLine(width, n, total int, control bool, x reports.Result) {
	word := resultWord(x) // FIND for a finding played on the DUT, RSST for one it resisted
	if x.Observed == scenarios.NotApplicable {
		fmt.Printf("[%*d/%d] %-4s %-34s %-9s %-5s not applicable: %s\n", width, n, total, "N/A", x.Scenario, x.ECU, dutWord(control), x.Detail)
		return
	}
	detail := x.Detected
	if x.Observed == scenarios.Compromised && !control || x.IsResisted() {
		detail = x.Detail
	}
	fmt.Printf("[%*d/%d] %-4s %-34s %-9s %-5s %-11s %s\n", width, n, total, word, x.Scenario, x.ECU, dutWord(control), x.Observed, detail)
}
