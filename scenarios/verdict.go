package scenarios

// What a run observed of each judged ECU, and its verdict.

import (
	"fmt"
	"strings"

	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
)

// observe records what the cycle says about each judged ECU.
func (r *runner) observe(rep *primary.CycleReport) {
	if d := rep.Finished.Sub(rep.Started); r.attacked && d > r.slowest {
		r.slowest = d
	}
	for _, id := range r.judged {
		o := rep.ECUs[id]
		if r.isPrimary(id) {
			o = rep.Primary // its own image ({#download_images_primary})
		}
		if o == nil {
			continue
		}
		for _, err := range []error{rep.Err, o.Err} {
			if err == nil {
				continue
			}
			r.details[id] = append(r.details[id], err.Error())
			r.addChecks(id, err)
		}
		r.observeRefusal(id, o)
		// every report of the cycle: an attack the ECU reported in the
		// manifest the cycle opened with (a flood that ended before the
		// final one) is dropped by the final report's nonce
		for _, raw := range o.Reports {
			if sr, err := manifest.ParseReport(raw, manifest.MaxReportSize); err == nil {
				for _, a := range sr.Signed.Attacks {
					r.addID(id, a.Check)
				}
			}
		}
	}
}

// isPrimary reports whether ecu is the rig's Primary (judged on its own
// image).
func (r *runner) isPrimary(ecu string) bool {
	p := r.v.Rig.Primary()
	return p != nil && p.ID == ecu
}

func (r *runner) addChecks(ecu string, err error) {
	var visit func(error)
	visit = func(e error) {
		if e == nil {
			return
		}
		if ce, ok := e.(*check.Error); ok {
			r.addID(ecu, ce.Check)
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				visit(x)
			}
		case interface{ Unwrap() error }:
			visit(u.Unwrap())
		}
	}
	visit(err)
}

func (r *runner) addID(ecu string, id check.ID) {
	for _, x := range r.detected[ecu] {
		if x == id {
			return
		}
	}
	r.detected[ecu] = append(r.detected[ecu], id)
}

func (r *runner) installedIs(ecu, want string) bool {
	inst, err := r.installed(ecu)
	if err != nil {
		return false
	}
	if want == "malicious" {
		return !inst.Genuine && !inst.Empty
	}
	var n uint64
	fmt.Sscanf(want, "release:%d", &n)
	return inst.Release == n && inst.Genuine
}

func (r *runner) verdicts(p check.Profile, control bool) []Result {
	s := r.s
	var out []Result
	for _, ecu := range r.judged {
		g := s.Goal
		won := true
		if g.Installed != "" {
			won = won && r.installedIs(ecu, g.Installed)
		}
		if g.NotInstalled != "" {
			won = won && !r.installedIs(ecu, g.NotInstalled)
		}
		if g.Undetected {
			won = won && len(r.detected[ecu]) == 0
		}
		if g.DirectorAccepts != "" {
			won = won && r.directorAccepted(ecu, g.DirectorAccepts)
		}
		if g.Starved {
			won = won && r.starved(ecu)
		}
		if g.Bricked {
			won = won && r.bricked(ecu)
		}
		if g.SlowerThan > 0 {
			won = won && r.slowest > g.SlowerThan
		}
		if g.LeakedOver > 0 {
			won = won && r.leaked(ecu) > g.LeakedOver
		}
		if g.UnsafeProgramming {
			won = won && len(r.unsafe[ecu]) > 0
			r.details[ecu] = append(r.details[ecu], r.unsafe[ecu]...)
		}
		if g.ServedOver > 0 {
			var n int64
			for _, rule := range r.rules {
				n += rule.Served()
			}
			won = won && n > g.ServedOver
		}
		res := Result{Scenario: s.Name, Description: strings.TrimSpace(s.Description), Attack: s.Attack, Standard: s.Standard,
			Transport: s.Transport, ECU: ecu, Profile: p.Name, Control: control, Expected: Defended, Observed: Defended,
			Events: r.log.Events()}
		if control {
			res.Expected = Compromised
		}
		if won {
			res.Observed = Compromised
		}
		want := []check.ID{}
		if s.Detected != 0 {
			want = append(want, s.Detected)
		} else {
			want = append(want, s.Defence...)
		}
		for _, d := range r.detected[ecu] {
			for _, w := range want {
				if d == w && res.Detected == "" {
					res.Detected = d.String()
				}
			}
		}
		if res.Detected == "" && len(r.detected[ecu]) > 0 {
			res.Detected = r.detected[ecu][0].String()
		}
		res.Detail = strings.Join(r.details[ecu], "; ")
		if r.dut != nil && ecu == r.dut.ecu.ID {
			res.Report = r.dut.report
		} else if r.isPrimary(ecu) {
			if b, err := r.v.Primary.VersionReport(); err == nil {
				res.Report = b
			}
		} else if e := r.v.Secondary(ecu).Current(); e != nil {
			if b, err := e.VersionReport(); err == nil {
				res.Report = b
			}
		}
		res.Pass = res.Observed == res.Expected
		if s.OutOfModel != "" {
			r.outOfModel(ecu, &res)
		} else if res.Pass && !control && !containsID(want, res.Detected) {
			res.Pass = false
			msg := fmt.Sprintf("defended, but the expected defence %v was not reported (detected: %v)", want, r.detected[ecu])
			res.Detail = strings.TrimPrefix(res.Detail+"; "+msg, "; ")
		}
		if s.ExpectInstalled != "" && !r.installedIs(ecu, s.ExpectInstalled) {
			if res.Observed == Resisted {
				res.Observed = Defended // resisted is a passing verdict only
			}
			res.Pass = false
			res.Detail = strings.TrimPrefix(res.Detail+"; "+fmt.Sprintf("every run must end with %s on %s (expect_installed): it does not", ecu, s.ExpectInstalled), "; ")
		}
		out = append(out, res)
	}
	return out
}

func containsID(ids []check.ID, s string) bool {
	for _, id := range ids {
		if id.String() == s {
			return true
		}
	}
	return false
}
