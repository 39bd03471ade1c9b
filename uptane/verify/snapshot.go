package verify

import (
	"maps"
	"slices"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// snapshotNotRolledBack refuses a new Timestamp that lists a Snapshot
// version lower than the trusted Snapshot's, or than the trusted
// Timestamp lists (TUF 5.4.3.2). It is check_snapshot.version (step 4)
// applied before the Snapshot is fetched, so that the new Timestamp is not
// trusted either: the rollback is refused where it is first visible.
func (u *Update) snapshotNotRolledBack(ts *metadata.Metadata[metadata.TimestampType]) error {
	if !u.o.on(check.SnapshotVersion) {
		return nil
	}
	m := ts.Signed.Meta[meta.UnversionedName(meta.Snapshot)]
	if m == nil {
		return nil // check_snapshot.timestamp_match names the missing entry
	}
	if s := u.w.snapshot; s != nil && m.Version < s.Signed.Version {
		return u.fail(check.SnapshotVersion, meta.Timestamp, "timestamp version %d lists snapshot version %d, lower than the trusted snapshot version %d", ts.Signed.Version, m.Version, s.Signed.Version)
	}
	if prev := u.snapshotMeta(); prev != nil && m.Version < prev.Version {
		return u.fail(check.SnapshotVersion, meta.Timestamp, "timestamp version %d lists snapshot version %d, lower than version %d the trusted timestamp version %d lists", ts.Signed.Version, m.Version, prev.Version, u.w.timestamp.Signed.Version)
	}
	return nil
}

// snapshotMeta is what the trusted Timestamp says about the Snapshot.
func (u *Update) snapshotMeta() *metadata.MetaFiles {
	if u.w.timestamp == nil {
		return nil
	}
	return u.w.timestamp.Signed.Meta[meta.UnversionedName(meta.Snapshot)]
}

// SnapshotUnchanged reports whether the trusted Snapshot has the version,
// and the hashes and length if listed, that the (new) Timestamp lists: full
// verification steps 4 and 8 then stop or skip ahead.
func (u *Update) SnapshotUnchanged() bool {
	m := u.snapshotMeta()
	if m == nil || u.w.snapshot == nil || u.w.snapshot.Signed.Version != m.Version {
		return false
	}
	return m.VerifyLengthHashes(u.w.raw[meta.Snapshot]) == nil
}

// CheckSnapshot is {#check_snapshot}: download up to the length the
// Timestamp lists (1), match the Timestamp's hashes and version (2), check
// the threshold of Snapshot keys (3), that the version (4) and no listed
// Targets version go down (5), that no Targets file disappears (6), and
// expiry (7).
func (u *Update) CheckSnapshot() error {
	const role = meta.Snapshot
	m := u.snapshotMeta()
	max, name := u.lim.Snapshot, meta.UnversionedName(role)
	if m != nil {
		if m.Length > 0 {
			max = m.Length
		}
		name = u.w.fileName(role, m.Version)
	}
	data, err := u.fetch(check.SnapshotSize, role, name, max)
	if err != nil {
		return err
	}
	match := u.o.on(check.SnapshotTimestampMatch)
	if match {
		if m == nil {
			return u.fail(check.SnapshotTimestampMatch, role, "timestamp version %d lists no snapshot.json", u.w.timestamp.Signed.Version)
		}
		if err := verifyLengthHashes(m, data); err != nil {
			return u.fail(check.SnapshotTimestampMatch, role, "%s does not match the length/hashes in timestamp version %d", name, u.w.timestamp.Signed.Version).Wrap(err)
		}
	}
	snap, err := parseSnapshot(data)
	if err != nil {
		return u.fail(check.SnapshotSignatures, role, "%s is not valid Snapshot metadata", name).Wrap(err)
	}
	if match && snap.Signed.Version != m.Version {
		return u.fail(check.SnapshotTimestampMatch, role, "version %d, timestamp lists version %d", snap.Signed.Version, m.Version)
	}
	if u.o.on(check.SnapshotSignatures) {
		if err := verifyRole(snap, payloadOf(snap), u.w.root.Signed.Keys, u.w.root.Signed.Roles[role]); err != nil {
			return u.fail(check.SnapshotSignatures, role, "version %d is not signed by the threshold of snapshot keys of root version %d", snap.Signed.Version, u.w.root.Signed.Version).Wrap(err)
		}
	}
	if old := u.w.snapshot; old != nil {
		if u.o.on(check.SnapshotVersion) && snap.Signed.Version < old.Signed.Version {
			return u.fail(check.SnapshotVersion, role, "version %d is lower than the trusted version %d", snap.Signed.Version, old.Signed.Version)
		}
		for _, file := range slices.Sorted(maps.Keys(old.Signed.Meta)) {
			prev, now := old.Signed.Meta[file], snap.Signed.Meta[file]
			if now == nil {
				if u.o.on(check.SnapshotTargetsListed) {
					return u.fail(check.SnapshotTargetsListed, role, "version %d no longer lists %s (trusted version %d lists it)", snap.Signed.Version, file, old.Signed.Version)
				}
				continue
			}
			if u.o.on(check.SnapshotTargetsVersions) && now.Version < prev.Version {
				return u.fail(check.SnapshotTargetsVersions, role, "version %d lists %s version %d, lower than %d in trusted version %d", snap.Signed.Version, file, now.Version, prev.Version, old.Signed.Version)
			}
		}
	}
	if u.o.on(check.SnapshotExpiry) && u.expired(snap.Signed.Expires) {
		return u.fail(check.SnapshotExpiry, role, "version %d expired at %s; time is %s", snap.Signed.Version, tstr(snap.Signed.Expires), tstr(u.o.Time))
	}
	u.w.snapshot = snap
	u.w.raw[role] = data
	return nil
}
