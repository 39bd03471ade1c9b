package main

import (
	"fmt"
	"os"
	"time"

	"github.com/uptane-hil/uptane-hil/reports"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/scenarios"
	"github.com/uptane-hil/uptane-hil/sim/seed"
)

// reportResult is one scenario result in the report's form. On a suite
// played against a device under test it carries where the result was
// judged (the device or its twin), the scenario's applicability, the
// checks of its defence the device performs (one of them must report the
// attack; the report names them when none did) and the device's identity
// as read before the scenario.
func reportResult(r *rigs.Rig, u unit, x scenarios.Result, proves []string) reports.Result {
	rs := reports.Result{Scenario: x.Scenario, Description: x.Description, Attack: x.Attack, Standard: x.Standard,
		Transport: x.Transport, ECU: x.ECU, Profile: x.Profile, Seed: u.seed, Control: x.Control, Expected: x.Expected,
		Observed: x.Observed, Detected: x.Detected, Detail: x.Detail, Finding: x.Finding, VersionReport: x.Report, Pass: x.Pass,
		Duration: reports.Ms(x.Duration), Wall: reports.Ms(x.Wall), Sequence: reports.SequenceFromEvents(time.Time{}, x.Events),
		Capture: x.Capture, CandumpLog: x.CandumpLog, BusLoad: x.BusLoad, Statements: proves,
		Target: x.Target.String(), Applicability: x.Applicability, Identity: reportIdentity(x.Identity)}
	if x.Expected == scenarios.NotApplicable {
		rs.Statements = nil // a scenario that cannot judge the device proves nothing on it
	}
	if x.Target == scenarios.OnDUT && x.Expected != scenarios.NotApplicable {
		if a, err := u.scen.ForDUT(dutVerification(r, x)); err == nil && a.Applicable {
			for _, id := range a.Checks {
				rs.Checks = append(rs.Checks, id.String())
			}
		}
	}
	return rs
}

// dutVerification is the device's verification as it reported it (DID
// 0xF1A5), else as the rig declares it.
func dutVerification(r *rigs.Rig, x scenarios.Result) string {
	if x.Identity != nil && x.Identity.Profile != "" {
		return x.Identity.Profile
	}
	if e := r.ECU(x.ECU); e != nil {
		return e.Profile
	}
	return ""
}

func reportIdentity(id *scenarios.Identity) *reports.Identity {
	if id == nil {
		return nil
	}
	return &reports.Identity{ECU: id.ECU, HardwareID: id.HardwareID, VIN: id.VIN, Profile: id.Profile, KeyID: id.KeyID,
		Installed: id.Installed, Release: id.Release, Time: id.Time, Counter: id.Counter}
}

// dutSection is the report's section on the device under test id of rig
// r: where it sits and how the harness reaches it. The rows and counts
// follow from the results (reports.Report.Summarize); the identity at the
// start and the end of the run is set by finishDUT.
func dutSection(r *rigs.Rig, id string) *reports.DUT {
	d := &reports.DUT{ECU: id}
	e := r.ECU(id)
	if e == nil {
		return d
	}
	d.Bus = e.Bus
	if b := r.Bus(e.Bus); b != nil {
		d.Interface = b.Interface
	}
	switch {
	case e.Protocol == rigs.AktualizrIP && e.Address != "":
		d.Link = "aktualizr's IP Secondary protocol over TCP to " + e.Address
	case e.Protocol == rigs.AktualizrIP:
		d.Link = "aktualizr's IP Secondary protocol over ISO-TP"
	case d.Interface != "":
		d.Link = "UDS on ISO-TP on " + d.Interface
	default:
		d.Link = "UDS on ISO-TP"
	}
	return d
}

// finishDUT sets the identity of the device at the start of the run (as
// read before its first scenario, in plan order) and at its end (end, as
// read after the last; nil: the identity read before the last scenario is
// not the end, so none is given).
func finishDUT(rep *reports.Report, end *scenarios.Identity) {
	if rep.DUT == nil {
		return
	}
	for _, x := range rep.Results {
		if x.Target == reports.TargetDUT && x.Identity != nil {
			rep.DUT.Start = x.Identity
			break
		}
	}
	if end != nil {
		rep.DUT.End = reportIdentity(end)
	}
}

// dutEnd reads the device under test's identity after the last scenario
// (scenarios.ReadDUT): the report's dut.end. A DUT that cannot be read
// (one that no longer answers) has none, and the run says why; an
// aktualizr-secondary, provisioned afresh for each scenario, has none.
func dutEnd(r *rigs.Rig, p *suitePlan) *reports.Identity {
	if e := r.ECU(p.dut.ECU); e == nil || e.Protocol == rigs.AktualizrIP {
		return nil
	}
	id, err := scenarios.ReadDUT(scenarios.RunOptions{Rig: r, Seed: seed.Seed(p.seeds[0]), DUT: p.dut})
	if err != nil {
		fmt.Fprintf(os.Stderr, "uptane-hil run: the device under test's identity at the end of the run (dut.end) is not in the report: %v\n", err)
		return nil
	}
	return reportIdentity(&id)
}

// runsText is "N runs", and how many of them are not applicable to the
// device under test (neither passed nor failed).
func runsText(s reports.Summary) string {
	if s.NotApplicable > 0 {
		return fmt.Sprintf("%d runs (%d not applicable)", s.Runs, s.NotApplicable)
	}
	return fmt.Sprintf("%d runs", s.Runs)
}
