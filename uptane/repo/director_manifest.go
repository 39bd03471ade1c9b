package repo

import (
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// Record is what the Director recorded about one vehicle manifest it
// received: accepted, or rejected with the check that failed.
type Record struct {
	Seq      uint64       `json:"seq"`
	Time     time.Time    `json:"time"`
	VIN      string       `json:"vin"`
	Accepted bool         `json:"accepted"`
	Check    check.ID     `json:"check,omitempty"`
	Attack   check.Attack `json:"attack,omitempty"`
	ECU      string       `json:"ecu,omitempty"`
	Error    string       `json:"error,omitempty"`
	Reports  int          `json:"reports"`
	// Refusals are the manifest's programming refusals: the Secondaries
	// that refused to be programmed in that cycle (NRC 0x22), as the
	// Primary reported them.
	Refusals []manifest.Refusal `json:"programming_refusals,omitempty"`
}

// InstalledImage is what an ECU last reported installed, from an accepted
// manifest.
type InstalledImage struct {
	manifest.Image
	Counter    uint64    `json:"report_counter"`
	LatestTime time.Time `json:"latest_time"`
	Reported   time.Time `json:"reported"` // Director time of the manifest
	// Refused, when set, is why the ECU did not install its assignment in
	// the cycle of that manifest: it refused to be programmed (NRC 0x22, its
	// preconditions unmet) and the Primary gave up waiting.
	Refused *manifest.Refusal `json:"refused,omitempty"`
}

// ReportedAttack is an attack an ECU reported in an accepted manifest.
type ReportedAttack struct {
	Seq  uint64    `json:"seq"` // the manifest's record
	Time time.Time `json:"time"`
	ECU  string    `json:"ecu"`
	manifest.DetectedAttack
}

type ecuState struct {
	Counter    uint64    `json:"counter"`
	LatestTime time.Time `json:"latest_time"`
}

// ErrBadManifest: the body is not a well-formed vehicle manifest.
var ErrBadManifest = errors.New("repo: director: malformed vehicle manifest")

func nonceKey(ecu string, nonce []byte) []byte {
	return append(append([]byte(ecu), 0), nonce...)
}

// ReceiveManifest parses and verifies a vehicle version manifest uploaded for
// vehicle vin ({#director_repository} steps 1-4), records the outcome, and
// on success records what each ECU has installed and the attacks it
// reported. A failed check returns a *check.Error with a
// "director_repository.*" ID:
//
//   - manifest_signature: not signed by the vehicle's Primary (inventory
//     key), or names another Primary or vehicle;
//   - ecus_in_inventory: a report from an ECU that is not this vehicle's;
//   - report_signature: a report not signed by its ECU's registered key;
//   - nonce_fresh: a report whose nonce was seen before, whose counter did
//     not increase, or whose time went backwards;
//   - all_ecus_reported: an ECU of the inventory is missing.
//
// A report time more than MaxClockSkew ahead of the Director's clock is
// rejected with a plain error.
func (d *Director) ReceiveManifest(vin string, data []byte) (*Record, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.opts.Clock.Now().UTC()
	sm, perr := manifest.ParseManifest(data, d.opts.MaxManifest)
	var rec *Record
	var vErr error
	// One transaction: the checks, the record and the nonces the manifest
	// consumes commit together or not at all.
	err := d.db.Update(func(tx *bolt.Tx) error {
		v, err := d.vehicle(tx, vin)
		if err != nil {
			return err
		}
		if perr != nil {
			vErr = fmt.Errorf("%w: %v", ErrBadManifest, perr)
		} else {
			vErr = d.verifyManifest(tx, v, sm, now)
		}
		rec = &Record{Time: now, VIN: vin, Accepted: vErr == nil}
		if sm != nil {
			rec.Reports = len(sm.Signed.Reports) + len(sm.Signed.AktualizrReports)
			rec.Refusals = sm.Signed.Refusals
		}
		if vErr != nil {
			rec.Error = vErr.Error()
			if ce, ok := check.As(vErr); ok {
				rec.Check, rec.Attack, rec.ECU = ce.Check, ce.Attack, ce.ECU
			}
		}
		rb, err := tx.Bucket(bRecords).CreateBucketIfNotExists([]byte(vin))
		if err != nil {
			return err
		}
		seq, err := rb.NextSequence()
		if err != nil {
			return err
		}
		rec.Seq = seq
		if err := putJSON(rb, u64(seq), rec); err != nil {
			return err
		}
		if vErr != nil {
			return nil
		}
		return d.accept(tx, vin, seq, sm, now)
	})
	if errors.Is(err, ErrUnknownVehicle) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("repo: director: record manifest: %w", err)
	}
	if vErr != nil {
		d.log.Warn("manifest rejected", "vin", vin, "seq", rec.Seq, "check", rec.Check, "ecu", rec.ECU, "error", rec.Error)
		return rec, vErr
	}
	d.log.Info("manifest accepted", "vin", vin, "seq", rec.Seq, "reports", rec.Reports)
	return rec, nil
}

func (d *Director) verifyManifest(tx *bolt.Tx, v *Vehicle, sm *manifest.SignedManifest, now time.Time) error {
	const repo = meta.Director
	prim, ok := v.Primary()
	if !ok {
		return fmt.Errorf("repo: director: vehicle %s has no Primary ECU", v.VIN)
	}
	m := &sm.Signed
	if err := sm.Verify(prim.Key); err != nil && d.opts.Profile.On(check.DirectorRepositoryManifestSignature) {
		return check.Fail(check.DirectorRepositoryManifestSignature, repo, "", "vehicle %s: the manifest is not signed by Primary %s's key %s", v.VIN, prim.ID, short(prim.KeyID)).Wrap(err).OnECU(prim.ID)
	}
	if m.PrimaryID != prim.ID && d.opts.Profile.On(check.DirectorRepositoryManifestSignature) {
		return check.Fail(check.DirectorRepositoryManifestSignature, repo, "", "vehicle %s: the manifest names Primary %q, the inventory's Primary is %s", v.VIN, m.PrimaryID, prim.ID).OnECU(prim.ID)
	}
	if m.VIN != v.VIN && d.opts.Profile.On(check.DirectorRepositoryManifestSignature) {
		return check.Fail(check.DirectorRepositoryManifestSignature, repo, "", "the manifest is for vehicle %q, uploaded for %s", m.VIN, v.VIN).OnECU(prim.ID)
	}
	for i := range m.Reports {
		r := &m.Reports[i]
		id := r.Signed.ECUSerial
		e, ok := v.ECU(id)
		if !ok && !d.opts.Profile.On(check.DirectorRepositoryECUsInInventory) {
			continue
		}
		if !ok {
			owner := tx.Bucket(bECUs).Get([]byte(id))
			where := "is not in the inventory"
			if owner != nil {
				where = fmt.Sprintf("belongs to vehicle %s", owner)
			}
			return check.Fail(check.DirectorRepositoryECUsInInventory, repo, "", "vehicle %s: a version report from ECU %q, which %s", v.VIN, id, where).OnECU(id)
		}
		if err := r.Verify(e.Key); err != nil && d.opts.Profile.On(check.DirectorRepositoryReportSignature) {
			return check.Fail(check.DirectorRepositoryReportSignature, repo, "", "vehicle %s: the version report of %s is not signed by its key %s", v.VIN, id, short(e.KeyID)).Wrap(err).OnECU(id)
		}
		fresh := d.opts.Profile.On(check.DirectorRepositoryNonceFresh)
		if seq := tx.Bucket(bNonces).Get(nonceKey(id, r.Signed.Nonce)); seq != nil && fresh {
			return check.Fail(check.DirectorRepositoryNonceFresh, repo, "", "vehicle %s: ECU %s reused nonce %x (first seen in an earlier manifest)", v.VIN, id, []byte(r.Signed.Nonce)).OnECU(id)
		}
		var st ecuState
		seen, err := getJSON(tx.Bucket(bECUState), []byte(id), &st)
		if err != nil {
			return err
		}
		if seen && r.Signed.Counter <= st.Counter && fresh {
			return check.Fail(check.DirectorRepositoryNonceFresh, repo, "", "vehicle %s: ECU %s report counter %d, last accepted %d", v.VIN, id, r.Signed.Counter, st.Counter).OnECU(id)
		}
		if seen && r.Signed.LatestTime.Before(st.LatestTime) && fresh {
			return check.Fail(check.DirectorRepositoryNonceFresh, repo, "", "vehicle %s: ECU %s reports time %s, before its last accepted %s", v.VIN, id,
				r.Signed.LatestTime.UTC().Format(time.RFC3339), st.LatestTime.UTC().Format(time.RFC3339)).OnECU(id)
		}
		if r.Signed.LatestTime.After(now.Add(d.opts.MaxClockSkew)) {
			return fmt.Errorf("repo: director: vehicle %s: ECU %s reports time %s, more than %s ahead of the Director's %s",
				v.VIN, id, r.Signed.LatestTime.UTC().Format(time.RFC3339), d.opts.MaxClockSkew, now.Format(time.RFC3339))
		}
	}
	ak, err := aktualizrReports(m)
	if err != nil {
		return err
	}
	if err := d.verifyAktualizrReports(tx, v, ak); err != nil {
		return err
	}
	akIDs := map[string]bool{}
	for _, r := range ak {
		akIDs[r.ECUSerial] = true
	}
	for _, e := range v.ECUs {
		if _, ok := m.Report(e.ID); !ok && !akIDs[e.ID] && d.opts.Profile.On(check.DirectorRepositoryAllECUsReported) {
			return check.Fail(check.DirectorRepositoryAllECUsReported, repo, "", "vehicle %s: ECU %s of the inventory is not in the manifest", v.VIN, e.ID).OnECU(e.ID)
		}
	}
	return nil
}

func (d *Director) accept(tx *bolt.Tx, vin string, seq uint64, sm *manifest.SignedManifest, now time.Time) error {
	inst := map[string]InstalledImage{}
	if _, err := getJSON(tx.Bucket(bInstalled), []byte(vin), &inst); err != nil {
		return err
	}
	ab, err := tx.Bucket(bAttacks).CreateBucketIfNotExists([]byte(vin))
	if err != nil {
		return err
	}
	for _, r := range sm.Signed.Reports {
		id := r.Signed.ECUSerial
		if err := tx.Bucket(bNonces).Put(nonceKey(id, r.Signed.Nonce), u64(seq)); err != nil {
			return err
		}
		if err := putJSON(tx.Bucket(bECUState), []byte(id), ecuState{Counter: r.Signed.Counter, LatestTime: r.Signed.LatestTime}); err != nil {
			return err
		}
		inst[id] = InstalledImage{Image: r.Signed.Installed, Counter: r.Signed.Counter, LatestTime: r.Signed.LatestTime, Reported: now}
		for _, a := range r.Signed.Attacks {
			n, err := ab.NextSequence()
			if err != nil {
				return err
			}
			if err := putJSON(ab, u64(n), ReportedAttack{Seq: seq, Time: now, ECU: id, DetectedAttack: a}); err != nil {
				return err
			}
		}
	}
	ak, err := aktualizrReports(&sm.Signed)
	if err != nil {
		return err
	}
	acceptAktualizr(inst, ak, now)
	for _, r := range sm.Signed.Refusals {
		if i, ok := inst[r.ECUSerial]; ok && r.Outcome == manifest.RefusalGaveUp {
			i.Refused = &r
			inst[r.ECUSerial] = i
		}
	}
	return putJSON(tx.Bucket(bInstalled), []byte(vin), inst)
}

// Installed returns what each ECU of a vehicle last reported installed.
func (d *Director) Installed(vin string) (map[string]InstalledImage, error) {
	inst := map[string]InstalledImage{}
	err := d.db.View(func(tx *bolt.Tx) error {
		if _, err := d.vehicle(tx, vin); err != nil {
			return err
		}
		_, err := getJSON(tx.Bucket(bInstalled), []byte(vin), &inst)
		return err
	})
	return inst, err
}

func listBucket[T any](d *Director, top []byte, vin string) ([]T, error) {
	out := []T{}
	err := d.db.View(func(tx *bolt.Tx) error {
		if _, err := d.vehicle(tx, vin); err != nil {
			return err
		}
		b := tx.Bucket(top).Bucket([]byte(vin))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			var x T
			if _, err := getJSON(b, k, &x); err != nil {
				return err
			}
			out = append(out, x)
			return nil
		})
	})
	return out, err
}

// Attacks returns the attacks the ECUs of a vehicle reported, oldest first.
func (d *Director) Attacks(vin string) ([]ReportedAttack, error) {
	return listBucket[ReportedAttack](d, bAttacks, vin)
}

// Records returns every manifest the Director received for a vehicle,
// oldest first.
func (d *Director) Records(vin string) ([]Record, error) {
	return listBucket[Record](d, bRecords, vin)
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
