package repo

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/uptane-hil/uptane-hil/uptane/akdialect"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// aktualizrReports parses the aktualizr ECU manifests of a vehicle manifest.
func aktualizrReports(m *manifest.VehicleManifest) ([]*akdialect.Report, error) {
	var out []*akdialect.Report
	seen := map[string]bool{}
	for _, r := range m.Reports {
		seen[r.Signed.ECUSerial] = true
	}
	for i, raw := range m.AktualizrReports {
		r, err := akdialect.ParseReport(raw, manifest.MaxReportSize)
		if err != nil {
			return nil, fmt.Errorf("%w: aktualizr_ecu_version_reports[%d]: %v", ErrBadManifest, i, err)
		}
		if seen[r.ECUSerial] {
			return nil, fmt.Errorf("%w: ECU %q reports twice", ErrBadManifest, r.ECUSerial)
		}
		seen[r.ECUSerial] = true
		out = append(out, r)
	}
	return out, nil
}

// verifyAktualizrReports checks the aktualizr ECU manifests of a vehicle
// manifest as far as they allow: the ECU is the vehicle's and the manifest
// is signed by its registered key. They carry no nonce, no counter and no
// attested time, so director_repository.nonce_fresh cannot be checked: a
// replayed aktualizr manifest is accepted (docs/aktualizr-ip.md).
func (d *Director) verifyAktualizrReports(tx *bolt.Tx, v *Vehicle, reps []*akdialect.Report) error {
	const repo = meta.Director
	for _, r := range reps {
		id := r.ECUSerial
		e, ok := v.ECU(id)
		if !ok && !d.opts.Profile.On(check.DirectorRepositoryECUsInInventory) {
			continue
		}
		if !ok {
			where := "is not in the inventory"
			if owner := tx.Bucket(bECUs).Get([]byte(id)); owner != nil {
				where = fmt.Sprintf("belongs to vehicle %s", owner)
			}
			return check.Fail(check.DirectorRepositoryECUsInInventory, repo, "", "vehicle %s: an aktualizr ECU manifest from ECU %q, which %s", v.VIN, id, where).OnECU(id)
		}
		if err := r.Verify(e.Key); err != nil && d.opts.Profile.On(check.DirectorRepositoryReportSignature) {
			return check.Fail(check.DirectorRepositoryReportSignature, repo, "", "vehicle %s: the aktualizr ECU manifest of %s is not signed by its key %s", v.VIN, id, short(e.KeyID)).Wrap(err).OnECU(id)
		}
	}
	return nil
}

// acceptAktualizr records what each aktualizr ECU reports installed.
func acceptAktualizr(inst map[string]InstalledImage, reps []*akdialect.Report, now time.Time) {
	for _, r := range reps {
		inst[r.ECUSerial] = InstalledImage{Image: r.Installed, Reported: now}
	}
}
