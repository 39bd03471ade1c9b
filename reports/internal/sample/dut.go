package sample

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uptane-hil/uptane-hil/reports"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// DUT is the sample's device under test: the brake controller of
// rigs/vcan.yaml, a full-verification Secondary on vcan0.
const DUT = "BRK-0001"

// identity is what the sample DUT says about itself, with the image and
// release it has installed.
func identity(release uint64, at time.Time) *reports.Identity {
	return &reports.Identity{ECU: DUT, HardwareID: "brk-v2", VIN: "UPTHIL00000000001", Profile: "full",
		KeyID: hexOf("key " + DUT), Installed: fmt.Sprintf("brk-v2-r%d.bin", release), Release: release, Time: at}
}

// DUTReport returns the sample suite played against a device under test:
// per scenario the conformant run on the DUT (TargetDUT) and the control
// run on its twin (TargetTwin). A scenario whose defence a full-verification
// Secondary does not perform is NotApplicable on the DUT; one whose
// defence is in lacking is compromised on it (a DUT run with `ecu
// --without`).
func DUTReport(lacking ...check.ID) *reports.Report {
	r := reports.New(reports.Tool{Name: "uptane-hil", Version: "0.4.0"},
		reports.Rig{Name: "vcan", File: "rigs/vcan.yaml", Transport: "SocketCAN vcan0, vcan1 (UDS on ISO-TP), device under test BRK-0001", Buses: []reports.Bus{
			{Name: "powertrain", Interface: "vcan0", Bitrate: 500000},
			{Name: "body", Interface: "vcan1", Bitrate: 500000, DataBitrate: 2000000, FD: true},
		}}, 1, Started)
	r.DUT = &reports.DUT{ECU: DUT, Bus: "powertrain", Interface: "vcan0", Link: "UDS on ISO-TP (uptane-hil's stack)"}
	release := uint64(1)
	at := Started
	wall := 0.0
	for si, s := range scenarios {
		applies := s.defence.Performers().Has(check.SecondaryFull)
		seq, dur := sequence(s, false)
		dir := "runs/" + s.name + "/dut"
		x := reports.Result{Scenario: s.name, Description: s.description, Attack: s.attack, Standard: s.standard,
			Transport: s.transport, ECU: DUT, Profile: "conformant", Target: reports.TargetDUT,
			Expected: reports.Defended, Observed: reports.Defended, Pass: true, Detected: s.defence.String(),
			Detail: strings.ReplaceAll(s.fault, "%s", DUT), Duration: dur, Wall: 900 + float64(si*37%200),
			Capture: dir + "/powertrain.pcap", CandumpLog: dir + "/powertrain.log", Sequence: seq,
			Statements: statements(s), Identity: identity(release, at)}
		if applies {
			x.Applicability = "applicable to a Secondary with full verification: its " + s.defence.String()
			x.Checks = []string{s.defence.String()}
			x.VersionReport = versionReport(DUT, s, false, si)
			if slices.Contains(lacking, s.defence) {
				x.Observed, x.Detected, x.Pass = reports.Compromised, "", false
				x.Detail = "the DUT installed the attacker's image; no check reported the attack"
				release++
			}
		} else {
			x.Applicability = fmt.Sprintf("not applicable to a Secondary with full verification: %s %s: its defence is performed by others than a Secondary with full verification (%s by %s)",
				s.attack, "on the backend link", s.defence, s.defence.Performers())
			x.Expected, x.Observed, x.Detected, x.Pass = reports.NotApplicable, reports.NotApplicable, "", false
			x.Detail = strings.TrimPrefix(x.Applicability, "not applicable to a Secondary with full verification: ")
			x.Capture, x.CandumpLog, x.Sequence, x.Duration, x.Wall = "", "", nil, 0, 0
		}
		at = at.Add(time.Duration(x.Wall * float64(time.Millisecond)))
		wall += x.Wall
		r.Add(x)
		cseq, cdur := sequence(s, true)
		tdir := "runs/" + s.name + "/twin-without-" + s.defence.String()
		t := reports.Result{Scenario: s.name, Description: s.description, Attack: s.attack, Standard: s.standard,
			Transport: s.transport, ECU: DUT, Profile: "without:" + s.defence.String(), Control: true, Target: reports.TargetTwin,
			Applicability: x.Applicability, Expected: reports.Compromised, Observed: reports.Compromised, Pass: true,
			Duration: cdur, Wall: 30 + float64(si), Capture: tdir + "/powertrain.pcap", CandumpLog: tdir + "/powertrain.log",
			Sequence: cseq, Statements: statements(s), VersionReport: versionReport(DUT, s, true, si)}
		wall += t.Wall
		r.Add(t)
	}
	r.DUT.Start = identity(1, Started)
	r.DUT.End = identity(release, at)
	r.Finish(Started.Add(time.Duration(wall * float64(time.Millisecond))))
	return r
}

// DUTDefences are the defences of the sample's scenarios that apply to the
// sample DUT, in scenario order.
func DUTDefences() []check.ID {
	var out []check.ID
	for _, s := range scenarios {
		if s.defence.Performers().Has(check.SecondaryFull) {
			out = append(out, s.defence)
		}
	}
	return out
}
