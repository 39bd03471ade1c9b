package vehicle

import (
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/uptane/akdialect"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/verify"
)

// ECUVerdict is where one Secondary ended after an update cycle.
type ECUVerdict struct {
	ECU    string
	Status string // the Primary's outcome (primary.Installed, UpToDate, ...)
	// Assigned is the image the Director's Targets (as the Primary verified
	// them in the cycle) assign to the ECU; "" when none.
	Assigned string
	// Installed is the image the ECU's last signed version report names.
	Installed string
	// OnAssigned: the report names the assigned image with its length and
	// hashes (or, with nothing assigned, the ECU reported at all).
	OnAssigned bool
	Err        error
}

// Verdict judges a cycle: OK only if the cycle verified the metadata,
// every Secondary ended installed or up to date on its assigned image
// according to its own signed version report, and the Director accepted
// the final manifest (so it recorded those versions).
type Verdict struct {
	OK          bool
	ECUs        []ECUVerdict
	Err         error // the Primary's own failure
	ManifestErr error // the Director refused the final manifest
}

// Judge compares each Secondary's last version report with the Director's
// assignment in the Primary's trusted Director metadata.
func Judge(rep *primary.CycleReport, director *verify.Repo) Verdict {
	v := Verdict{OK: rep.Err == nil && rep.ManifestErr == nil, Err: rep.Err, ManifestErr: rep.ManifestErr}
	assigned := map[string]*metadata.TargetFiles{}
	if director != nil && director.Targets() != nil {
		for name, tf := range director.Targets().Signed.Targets {
			c, err := meta.GetCustom(tf)
			if err != nil {
				continue
			}
			for ecu := range c.ECUIdentifiers {
				t := *tf
				t.Path = name
				assigned[ecu] = &t
			}
		}
	}
	ids := slices.Sorted(maps.Keys(rep.ECUs))
	for _, id := range ids {
		o := rep.ECUs[id]
		ev := ECUVerdict{ECU: id, Status: o.Status, Err: o.Err}
		var inst *manifest.Image
		same := sameHashes
		if o.Report != nil {
			if sr, err := manifest.ParseReport(o.Report, manifest.MaxReportSize); err == nil {
				inst = &sr.Signed.Installed
				ev.Installed = inst.Filename
			} else if ar, err := akdialect.ParseReport(o.Report, manifest.MaxReportSize); err == nil {
				inst = &ar.Installed // an aktualizr-secondary's signed ECU manifest
				ev.Installed = inst.Filename
				same = reportedHashesMatch // it reports its SHA-256 only
			}
		}
		a := assigned[id]
		if a != nil {
			ev.Assigned = a.Path
		}
		switch {
		case inst == nil:
		case a == nil:
			ev.OnAssigned = true
		default:
			ev.OnAssigned = inst.Filename == a.Path && inst.Length == a.Length && same(inst.Hashes, a.Hashes)
		}
		if o.Status != primary.Installed && o.Status != primary.UpToDate {
			ev.OnAssigned = false
		}
		if !ev.OnAssigned {
			v.OK = false
		}
		v.ECUs = append(v.ECUs, ev)
	}
	return v
}

// reportedHashesMatch: every hash the ECU reports (at least one) is the
// assigned image's hash of that algorithm.
func reportedHashesMatch(reported, assigned metadata.Hashes) bool {
	if len(reported) == 0 {
		return false
	}
	for k, x := range reported {
		if y, ok := assigned[k]; !ok || string(y) != string(x) {
			return false
		}
	}
	return true
}

func sameHashes(a, b metadata.Hashes) bool {
	if len(a) == 0 || len(a) != len(b) {
		return false
	}
	for k, x := range a {
		if string(b[k]) != string(x) {
			return false
		}
	}
	return true
}

// Print writes the verdict as a table (ECU, profile, status, installed
// image, assigned image when it differs, error) and its last line.
func (v Verdict) Print(w io.Writer, r *rigs.Rig) {
	fmt.Fprintf(w, "%-10s %-8s %-12s %-30s %s\n", "ECU", "profile", "status", "image", "assigned")
	for _, e := range v.ECUs {
		prof := ""
		if re := r.ECU(e.ECU); re != nil {
			prof = re.Profile
		}
		assigned := "="
		if e.Assigned == "" {
			assigned = "(none)"
		} else if e.Assigned != e.Installed {
			assigned = e.Assigned
		}
		if !e.OnAssigned {
			assigned += "  NOT ON ITS ASSIGNED IMAGE"
		}
		line := fmt.Sprintf("%-10s %-8s %-12s %-30s %s", e.ECU, prof, e.Status, e.Installed, assigned)
		if e.Err != nil {
			line += "  " + e.Err.Error()
		}
		fmt.Fprintln(w, line)
	}
	if v.Err != nil {
		fmt.Fprintln(w, "primary:", v.Err)
	}
	if v.ManifestErr != nil {
		fmt.Fprintln(w, "manifest:", v.ManifestErr)
	}
}
