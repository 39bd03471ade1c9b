package repo

import (
	"maps"
	"slices"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	bolt "go.etcd.io/bbolt"

	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// Versions are metadata versions by role ("targets", "snapshot",
// "timestamp", a delegated role's name).
type Versions map[string]int64

// Above makes the Director's next Targets, Snapshot and Timestamp of
// vehicle vin carry versions above those of seen, the highest versions of
// each role its clients may have been given in its name (an attacker who
// held its online keys signed some): a client that trusts version N takes
// the Director's next file only if it is numbered above N
// ({#check_targets}, check_snapshot.version, check_timestamp.version).
// When seen holds a version above the Director's own, it re-signs the
// three roles at once, numbered after seen's; else it does nothing. It
// reports whether it re-signed.
func (d *Director) Above(vin string, seen Versions) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	raised := false
	err := d.db.Update(func(tx *bolt.Tx) error {
		if _, err := d.vehicle(tx, vin); err != nil {
			return err
		}
		vb, st, err := vehicleStateOf(tx, vin)
		if err != nil {
			return err
		}
		for _, x := range []struct {
			role string
			v    *int64
		}{{meta.Targets, &st.Targets}, {meta.Snapshot, &st.Snapshot}, {meta.Timestamp, &st.Timestamp}} {
			if n := seen[x.role]; n > *x.v {
				*x.v, raised = n, true
			}
		}
		if !raised {
			return nil
		}
		st.Dirty = true
		if err := putJSON(vb, []byte("state"), st); err != nil {
			return err
		}
		return d.refresh(tx, vin)
	})
	if raised && err == nil {
		d.log.Info("versions raised above those seen", "vin", vin, "seen", seen)
	}
	return raised, err
}

// Above makes the Image repository's next metadata carry versions above
// those of seen (see Director.Above): every targets role, Snapshot and
// Timestamp that seen numbers at or above the repository's last are
// re-published now, numbered after seen's. It reports whether it
// published.
func (im *Image) Above(seen Versions) (bool, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	raised := false
	for _, role := range slices.Sorted(maps.Keys(seen)) {
		n := seen[role]
		switch role {
		case meta.Root:
			// a Root is only ever the repository's own (keys rotate)
		case meta.Snapshot:
			if n > im.snapshot {
				im.snapshot, raised = n, true
			}
		case meta.Timestamp:
			if n > im.timestamp {
				im.timestamp, raised = n, true
			}
		default:
			if _, ok := im.roles[role]; ok && n > im.published[role] {
				im.published[role], im.dirty[role], raised = n, true, true
			}
		}
	}
	if !raised {
		return false, nil
	}
	im.log.Info("versions raised above those seen", "seen", seen)
	return true, im.publish()
}

// Fresh re-publishes the Image repository's metadata when a role is less
// than half its validity away from its expiry at the repository's clock (a
// clock that jumped forward: a wall-clock run whose harness advanced its
// time); the Director does the same on demand. It reports whether it
// published.
func (im *Image) Fresh() (bool, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	now := im.opts.Clock.Now()
	stale := func(exp time.Time, role string) bool {
		return now.Add(im.opts.Expiry.For(role) / 2).After(exp)
	}
	any := false
	for role, m := range im.roles {
		if stale(m.Signed.Expires, role) {
			im.dirty[role], any = true, true
		}
	}
	ts, err := decode[metadata.TimestampType]("timestamp.json", im.files[meta.UnversionedName(meta.Timestamp)])
	if err != nil {
		return false, err
	}
	sn, err := decode[metadata.SnapshotType]("snapshot", im.files[meta.VersionedName(im.snapshot, meta.Snapshot)])
	if err != nil {
		return false, err
	}
	if !any && !stale(ts.Signed.Expires, meta.Timestamp) && !stale(sn.Signed.Expires, meta.Snapshot) {
		return false, nil
	}
	im.log.Info("metadata near its expiry re-published", "now", now)
	return true, im.publish()
}
