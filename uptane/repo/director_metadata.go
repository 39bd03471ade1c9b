package repo

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	bolt "go.etcd.io/bbolt"

	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// vehicleState is the per-vehicle metadata state.
type vehicleState struct {
	Targets, Snapshot, Timestamp int64
	TargetsExp, SnapshotExp      time.Time
	TimestampExp                 time.Time
	Dirty                        bool
}

// VINField is meta.VINField: the vehicle identifier in the Director
// Targets' "custom" object, always written, checked by every ECU.
const VINField = meta.VINField

// refresh produces new Targets/Snapshot/Timestamp for a vehicle when its
// assignments changed or a role is past half its validity.
func (d *Director) refresh(tx *bolt.Tx, vin string) error {
	v, err := d.vehicle(tx, vin)
	if err != nil {
		return err
	}
	vb, st, err := vehicleStateOf(tx, vin)
	if err != nil {
		return err
	}
	now := d.opts.Clock.Now()
	stale := func(exp time.Time, role string) bool {
		return now.Add(d.opts.Expiry.For(role) / 2).After(exp)
	}
	newTargets := st.Dirty || st.Targets == 0 || stale(st.TargetsExp, meta.Targets)
	newSnapshot := newTargets || stale(st.SnapshotExp, meta.Snapshot)
	newTimestamp := newSnapshot || stale(st.TimestampExp, meta.Timestamp)
	if !newTimestamp {
		return nil
	}
	if newTargets {
		as, err := d.assignments(tx, vin)
		if err != nil {
			return err
		}
		tg := metadata.Targets(expires(d.opts.Clock, d.opts.Expiry.For(meta.Targets)))
		tg.Signed.Version = st.Targets + 1
		meta.SetVIN(&tg.Signed, vin)
		for _, a := range as {
			e, ok := v.ECU(a.ECU)
			if !ok {
				return fmt.Errorf("repo: director: vehicle %s: assignment for unknown ECU %s", vin, a.ECU)
			}
			tf := tg.Signed.Targets[a.Target]
			var c *meta.Custom
			if tf == nil {
				cp := *a.Info
				tf = &cp
				c, err = meta.GetCustom(tf)
				if err != nil {
					return err
				}
				c.ECUIdentifiers = map[string]meta.ECUTarget{}
				c.URI = ""
				tg.Signed.Targets[a.Target] = tf
			} else if c, err = meta.GetCustom(tf); err != nil {
				return err
			}
			c.ECUIdentifiers[a.ECU] = meta.ECUTarget{HardwareID: e.HardwareID, Encrypted: a.Encrypted}
			if err := meta.SetCustom(tf, c); err != nil {
				return err
			}
		}
		if _, err := signAndPut(d, vb, vin, meta.Targets, tg, tg.Signed.Version); err != nil {
			return err
		}
		st.Targets, st.TargetsExp, st.Dirty = tg.Signed.Version, tg.Signed.Expires, false
	}
	if newSnapshot {
		sn := metadata.Snapshot(expires(d.opts.Clock, d.opts.Expiry.For(meta.Snapshot)))
		sn.Signed.Version = st.Snapshot + 1
		sn.Signed.Meta = map[string]*metadata.MetaFiles{"targets.json": {Version: st.Targets}}
		if _, err := signAndPut(d, vb, vin, meta.Snapshot, sn, sn.Signed.Version); err != nil {
			return err
		}
		st.Snapshot, st.SnapshotExp = sn.Signed.Version, sn.Signed.Expires
	}
	snb := vb.Get([]byte("f/" + meta.VersionedName(st.Snapshot, meta.Snapshot)))
	ts := metadata.Timestamp(expires(d.opts.Clock, d.opts.Expiry.For(meta.Timestamp)))
	ts.Signed.Version = st.Timestamp + 1
	ts.Signed.Meta = map[string]*metadata.MetaFiles{"snapshot.json": {Version: st.Snapshot, Length: int64(len(snb)), Hashes: meta.HashesOf(snb)}}
	b, err := signAndPut(d, vb, vin, meta.Timestamp, ts, ts.Signed.Version)
	if err != nil {
		return err
	}
	if err := vb.Put([]byte("f/timestamp.json"), b); err != nil {
		return err
	}
	st.Timestamp, st.TimestampExp = ts.Signed.Version, ts.Signed.Expires
	d.log.Info("vehicle metadata signed", "vin", vin, "targets", st.Targets, "snapshot", st.Snapshot, "timestamp", st.Timestamp)
	return putJSON(vb, []byte("state"), st)
}

// signAndPut signs a vehicle's metadata for role with the Director's
// online keys and stores it under its versioned name; it returns the bytes.
func signAndPut[T metadata.Roles](d *Director, vb *bolt.Bucket, vin, role string, md *metadata.Metadata[T], version int64) ([]byte, error) {
	if err := meta.Sign(md, d.top.signers[role]...); err != nil {
		return nil, fmt.Errorf("repo: director: sign %s of %s: %w", role, vin, err)
	}
	b, err := encode(md)
	if err != nil {
		return nil, err
	}
	if err := vb.Put([]byte("f/"+meta.VersionedName(version, role)), b); err != nil {
		return nil, err
	}
	return b, nil
}

// Refresh signs new metadata for a vehicle if its assignments changed or
// its metadata is past half its validity (serving timestamp.json does this
// on demand).
func (d *Director) Refresh(vin string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.db.Update(func(tx *bolt.Tx) error { return d.refresh(tx, vin) })
}

// ErrNoFile: the Director has no such file.
var ErrNoFile = errors.New("repo: director: no such file")

// File returns a file the Director serves for a vehicle: "N.root.json",
// "root.json", "N.targets.json", "N.snapshot.json", "timestamp.json" or an
// encrypted image "targets/HASH.NAME". Asking for timestamp.json first
// signs fresh metadata when needed (on demand).
func (d *Director) File(vin, name string) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []byte
	fn := func(tx *bolt.Tx) error {
		if _, err := d.vehicle(tx, vin); err != nil {
			return err
		}
		if name == "root.json" {
			name = meta.VersionedName(d.top.root.Signed.Version, meta.Root)
		}
		var v int64
		if _, err := fmt.Sscanf(name, "%d.root.json", &v); err == nil && name == meta.VersionedName(v, meta.Root) {
			out = slices.Clone(tx.Bucket(bRoot).Get(u64(uint64(v))))
		} else if vb := tx.Bucket(bVMeta).Bucket([]byte(vin)); vb != nil {
			key := "f/" + name
			if len(name) > 8 && name[:8] == "targets/" {
				key = "t/" + name
			}
			out = slices.Clone(vb.Get([]byte(key)))
		}
		if out == nil {
			return fmt.Errorf("%w %q for vehicle %s", ErrNoFile, name, vin)
		}
		return nil
	}
	if name == "timestamp.json" {
		return out, d.db.Update(func(tx *bolt.Tx) error {
			if err := d.refresh(tx, vin); err != nil {
				return err
			}
			return fn(tx)
		})
	}
	return out, d.db.View(fn)
}

// Version returns the current version of a role's metadata for a vehicle
// (Root: the Director's Root).
func (d *Director) Version(vin, role string) (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if role == meta.Root {
		return d.top.root.Signed.Version, nil
	}
	var st vehicleState
	err := d.db.View(func(tx *bolt.Tx) error {
		vb := tx.Bucket(bVMeta).Bucket([]byte(vin))
		if vb == nil {
			return fmt.Errorf("%w %q", ErrUnknownVehicle, vin)
		}
		_, err := getJSON(vb, []byte("state"), &st)
		return err
	})
	switch role {
	case meta.Targets:
		return st.Targets, err
	case meta.Snapshot:
		return st.Snapshot, err
	case meta.Timestamp:
		return st.Timestamp, err
	}
	return 0, fmt.Errorf("repo: director: no role %q", role)
}
