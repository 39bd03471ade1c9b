package verify

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// Options configure a verification.
type Options struct {
	// Profile switches checks off (control profiles); the zero value has
	// every check on.
	Profile check.Profile
	// Limits bound downloads and searches; zero fields take DefaultLimits.
	Limits Limits
	// Time is the current or latest securely attested time ({#verify_time}).
	// The verifier never reads a clock itself.
	Time time.Time
	// VIN is the vehicle the verifying ECU belongs to: Director Targets
	// must name it in custom.vin (targets_images_meta.vehicle_id), so one
	// vehicle's Director metadata cannot be replayed to another. Empty:
	// not bound (only verifiers outside a vehicle, e.g. the TUF client).
	VIN string
	// Workflow picks the rules where the TUF client workflow and the Uptane
	// Standard differ (docs/verification.md, "TUF and Uptane rules"); the
	// zero value is Uptane.
	Workflow Workflow
}

// Workflow selects the client workflow where the TUF specification and the
// Uptane Standard differ.
type Workflow int

const (
	// Uptane follows the Uptane Standard 2.1.0 (every ECU).
	Uptane Workflow = iota
	// TUF follows the TUF specification's client workflow
	// (uptane/tufclient, run by the TUF conformance suite).
	TUF
)

// String names the workflow.
func (w Workflow) String() string {
	if w == TUF {
		return "TUF"
	}
	return "Uptane"
}

func (o Options) on(id check.ID) bool { return o.Profile.On(id) }

// Update is one update cycle of one repository. It works on a copy of the
// trusted Repo; each procedure (CheckRoot, CheckTimestamp, ...) changes the
// copy only when all its steps pass, and Commit installs the copy. Until
// Commit, the trusted Repo is untouched.
type Update struct {
	o       Options
	lim     Limits
	f       Fetcher
	trusted *Repo
	w       *Repo
	used    map[string][]byte
	// cache of delegated roles checked in this update: steps 1, 2, 4, 5 of
	// check_targets passed; signatures are re-checked per delegator.
	loaded map[string]*loadedRole

	// Vehicle, on the Primary, lists the ECU identifiers present in the
	// vehicle: check_targets step 8 is done on Director Targets when it is
	// non-nil.
	Vehicle []string
	// Partial skips check_targets step 2 (partial-verification ECUs have no
	// Snapshot) and fetches Targets as "targets.json".
	Partial bool
}

type loadedRole struct {
	m       *metadata.Metadata[metadata.TargetsType]
	payload []byte
	name    string
}

// Begin starts an update cycle of trusted, fetching from f.
func Begin(o Options, trusted *Repo, f Fetcher) *Update {
	return &Update{o: o, lim: o.Limits.withDefaults(), f: f, trusted: trusted, w: trusted.Clone(),
		used: map[string][]byte{}, loaded: map[string]*loadedRole{}}
}

// Working is the working copy (what Commit would install). Do not modify.
func (u *Update) Working() *Repo { return u.w }

// Commit replaces the trusted Repo's content with the working copy.
func (u *Update) Commit() { *u.trusted = *u.w.Clone() }

// Used returns the metadata files fetched in this update, name → bytes.
func (u *Update) Used() map[string][]byte {
	out := make(map[string][]byte, len(u.used))
	for k, v := range u.used {
		out[k] = v
	}
	return out
}

func (u *Update) fail(id check.ID, role, format string, args ...any) *check.Error {
	return check.Fail(id, u.w.name, role, format, args...)
}

// fetch downloads name with the size check id: at most max bytes, or
// Limits.Unchecked when the profile switches the check off.
func (u *Update) fetch(id check.ID, role, name string, max int64) ([]byte, error) {
	limit := max
	if !u.o.on(id) {
		limit = u.lim.Unchecked
	}
	if u.f == nil {
		return nil, fmt.Errorf("verify: %s repository: no fetcher for %s", u.w.name, name)
	}
	data, err := u.f.Fetch(name, limit)
	if err != nil {
		return nil, fmt.Errorf("verify: %s repository: fetch %s: %w", u.w.name, name, err)
	}
	if int64(len(data)) > limit {
		if u.o.on(id) {
			return nil, u.fail(id, role, "%s is longer than the %d bytes allowed", name, max)
		}
		return nil, fmt.Errorf("verify: %s repository: %s is longer than %d bytes (size check off, hard cap)", u.w.name, name, limit)
	}
	u.used[name] = data
	return data, nil
}

func (u *Update) expired(exp time.Time) bool { return !u.o.Time.Before(exp) }

func tstr(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// CheckRoot is {#check_root}: walk the Root chain N → N+1 while the
// repository has a next version, each signed by a threshold of the old and
// of the new Root keys and numbered N+1 (steps 2.1–2.4), each made the
// latest trusted Root as soon as it is verified (2.5, TUF 5.3.8: on the next
// cycle the chain resumes there even when a later step fails), check that
// the latest Root has not expired (3, TUF 5.3.10: after the loop, so an
// expired newest Root is still kept), and delete the trusted Timestamp and
// Snapshot when their keys rotated (4, fast-forward recovery; see
// fastForwardRecovery).
//
// CheckRoot is the one procedure that changes the working copy before all
// its steps pass: each verified Root is the latest from step 2.5 on.
func (u *Update) CheckRoot() error {
	old := u.w.root
	// Step 4 applies to the Roots installed by step 2.5 even when step 3 or
	// a later Root of the chain fails: the trusted Timestamp and Snapshot
	// of rotated keys are never kept beside the Root that rotated them
	// (TUF clients achieve the same by re-verifying the trusted files with
	// the new Root).
	defer func() {
		if u.w.root != old {
			u.fastForwardRecovery(old, u.w.root)
		}
	}()
	for i := 0; i < u.lim.MaxRootRotations; i++ {
		cur := u.w.root
		n := cur.Signed.Version
		name := meta.VersionedName(n+1, meta.Root)
		// Step 2.2: up to X bytes.
		data, err := u.fetch(check.RootSize, meta.Root, name, u.lim.Root)
		if errors.Is(err, ErrNotFound) {
			break
		}
		if err != nil {
			return err
		}
		next, err := parseRoot(data)
		if err != nil {
			return u.fail(check.RootSignatures, meta.Root, "%s is not valid Root metadata", name).Wrap(err)
		}
		// Step 2.3: signed by a threshold of version N's and of its own Root keys.
		if u.o.on(check.RootSignatures) {
			payload := payloadOf(next)
			if err := verifyRole(next, payload, cur.Signed.Keys, cur.Signed.Roles[meta.Root]); err != nil {
				return u.fail(check.RootSignatures, meta.Root, "version %d is not signed by a threshold of version %d's root keys", next.Signed.Version, n).Wrap(err)
			}
			if err := verifyRole(next, payload, next.Signed.Keys, next.Signed.Roles[meta.Root]); err != nil {
				return u.fail(check.RootSignatures, meta.Root, "version %d is not signed by a threshold of its own root keys", next.Signed.Version).Wrap(err)
			}
		}
		// Step 2.4: the version is N+1.
		if next.Signed.Version != n+1 && u.o.on(check.RootVersion) {
			return u.fail(check.RootVersion, meta.Root, "%s has version %d, want %d", name, next.Signed.Version, n+1)
		}
		// Step 2.5: version N+1 is the latest Root.
		u.w.root = next
		u.w.roots = append(u.w.roots, data)
	}
	// Step 3: the latest Root has not expired.
	if cur := u.w.root; u.o.on(check.RootExpiry) && u.expired(cur.Signed.Expires) {
		return u.fail(check.RootExpiry, meta.Root, "version %d expired at %s; time is %s", cur.Signed.Version, tstr(cur.Signed.Expires), tstr(u.o.Time))
	}
	return nil
}

// fastForwardRecovery is step 4 of {#check_root} (TUF 5.3.11) for the Root
// chain from old to cur: when the Timestamp or Snapshot keys (or
// threshold) changed, the trusted Timestamp and Snapshot are deleted; when
// the Snapshot keys changed, so are the trusted Targets metadata, top-level
// and delegated, whose versions the old Snapshot vouched for. That is the
// repository's targets recovery (TUF): after a Snapshot key rotation the
// Targets versions may start over, and check_targets step 4 ("the previous
// Targets metadata file, if any") has no previous file to compare with.
func (u *Update) fastForwardRecovery(old, cur *metadata.Metadata[metadata.RootType]) {
	if !u.o.on(check.RootRotationReset) {
		return
	}
	snap := roleChanged(old, cur, meta.Snapshot)
	if !snap && !roleChanged(old, cur, meta.Timestamp) {
		return
	}
	u.w.timestamp, u.w.snapshot = nil, nil
	delete(u.w.raw, meta.Timestamp)
	delete(u.w.raw, meta.Snapshot)
	if snap {
		u.w.targets = nil
		delete(u.w.raw, meta.Targets)
		clear(u.w.delegated)
		clear(u.w.rawDeleg)
		clear(u.loaded)
	}
}

// roleChanged reports whether role's keys or threshold differ between two
// Roots.
func roleChanged(a, b *metadata.Metadata[metadata.RootType], role string) bool {
	ra, rb := a.Signed.Roles[role], b.Signed.Roles[role]
	if ra.Threshold != rb.Threshold || len(ra.KeyIDs) != len(rb.KeyIDs) {
		return true
	}
	ka := append([]string(nil), ra.KeyIDs...)
	kb := append([]string(nil), rb.KeyIDs...)
	sort.Strings(ka)
	sort.Strings(kb)
	for i := range ka {
		if ka[i] != kb[i] {
			return true
		}
		x, y := a.Signed.Keys[ka[i]], b.Signed.Keys[kb[i]]
		if (x == nil) != (y == nil) || x != nil && (x.Type != y.Type || x.Value.PublicKey != y.Value.PublicKey) {
			return true
		}
	}
	return false
}

// CheckTimestamp is {#check_timestamp}: download "timestamp.json" up to Y
// bytes (1), check the threshold of Timestamp keys of the latest Root (2),
// that the version does not go down (3), and that it has not expired (4).
func (u *Update) CheckTimestamp() error {
	const role = meta.Timestamp
	name := meta.UnversionedName(role)
	data, err := u.fetch(check.TimestampSize, role, name, u.lim.Timestamp)
	if err != nil {
		return err
	}
	ts, err := parseTimestamp(data)
	if err != nil {
		return u.fail(check.TimestampSignatures, role, "%s is not valid Timestamp metadata", name).Wrap(err)
	}
	if u.o.on(check.TimestampSignatures) {
		if err := verifyRole(ts, payloadOf(ts), u.w.root.Signed.Keys, u.w.root.Signed.Roles[role]); err != nil {
			return u.fail(check.TimestampSignatures, role, "version %d is not signed by the threshold of timestamp keys of root version %d", ts.Signed.Version, u.w.root.Signed.Version).Wrap(err)
		}
	}
	old := u.w.timestamp
	if old != nil && u.o.on(check.TimestampVersion) && ts.Signed.Version < old.Signed.Version {
		return u.fail(check.TimestampVersion, role, "version %d is lower than the trusted version %d", ts.Signed.Version, old.Signed.Version)
	}
	// TUF 5.4.3.1: a Timestamp of the trusted version is not new; the
	// trusted one stays, even if this one's content differs, and what it
	// lists is not fetched. (Uptane's step 3 accepts an equal version.)
	keep := old != nil && u.o.Workflow == TUF && u.o.on(check.TimestampVersion) && ts.Signed.Version == old.Signed.Version
	if !keep {
		if err := u.snapshotNotRolledBack(ts); err != nil {
			return err
		}
	}
	// Step 4, on the Timestamp that will be trusted.
	if exp := u.w.timestamp; keep && u.o.on(check.TimestampExpiry) && u.expired(exp.Signed.Expires) {
		return u.fail(check.TimestampExpiry, role, "trusted version %d (the repository's is the same version) expired at %s; time is %s", exp.Signed.Version, tstr(exp.Signed.Expires), tstr(u.o.Time))
	}
	if u.o.on(check.TimestampExpiry) && u.expired(ts.Signed.Expires) {
		return u.fail(check.TimestampExpiry, role, "version %d expired at %s; time is %s", ts.Signed.Version, tstr(ts.Signed.Expires), tstr(u.o.Time))
	}
	if keep {
		return nil
	}
	u.w.timestamp = ts
	u.w.raw[role] = data
	return nil
}

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
		if err := m.VerifyLengthHashes(data); err != nil {
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

// CheckTargets is {#check_targets} for the top-level Targets: download up
// to Z bytes (1), match the Snapshot's version (2; skipped when Partial),
// check the threshold of Targets keys of the latest Root (3), that the
// version does not go down (4), expiry (5), and for the Director: no
// delegations (6), no ECU identifier twice (7), and on the Primary every
// ECU identifier in the vehicle (8).
func (u *Update) CheckTargets() error {
	lr, err := u.checkTargets(meta.Targets)
	if err != nil {
		return err
	}
	t := lr.m
	if err := verifyThresholdStep(u, meta.Targets, t, lr.payload, u.w.root.Signed.Keys, u.w.root.Signed.Roles[meta.Targets].KeyIDs, u.w.root.Signed.Roles[meta.Targets].Threshold, fmt.Sprintf("targets keys of root version %d", u.w.root.Signed.Version)); err != nil {
		return err
	}
	if err := u.targetsSteps4to8(meta.Targets, t, u.w.targets); err != nil {
		return err
	}
	u.w.targets = t
	u.w.raw[meta.Targets] = lr.raw
	return nil
}

type checkedTargets struct {
	loadedRole
	raw []byte
}

// checkTargets does steps 1 and 2 of {#check_targets} for role and parses
// the file.
func (u *Update) checkTargets(role string) (*checkedTargets, error) {
	file := meta.UnversionedName(role)
	var sm *metadata.MetaFiles
	if !u.Partial && u.w.snapshot != nil {
		sm = u.w.snapshot.Signed.Meta[file]
	}
	max, name := u.lim.Targets, u.w.fileName(role, 0)
	if sm != nil {
		if sm.Length > 0 {
			max = sm.Length
		}
		name = u.w.fileName(role, sm.Version)
	}
	data, err := u.fetch(check.TargetsSize, role, name, max)
	if err != nil {
		return nil, err
	}
	match := !u.Partial && u.o.on(check.TargetsSnapshotMatch)
	if match {
		if sm == nil {
			v := int64(0)
			if u.w.snapshot != nil {
				v = u.w.snapshot.Signed.Version
			}
			return nil, u.fail(check.TargetsSnapshotMatch, role, "snapshot version %d does not list %s", v, file)
		}
		if err := sm.VerifyLengthHashes(data); err != nil {
			return nil, u.fail(check.TargetsSnapshotMatch, role, "%s does not match the length/hashes in snapshot version %d", name, u.w.snapshot.Signed.Version).Wrap(err)
		}
	}
	t, err := parseTargets(data)
	if err != nil {
		return nil, u.fail(check.TargetsSignatures, role, "%s is not valid Targets metadata", name).Wrap(err)
	}
	if match && t.Signed.Version != sm.Version {
		return nil, u.fail(check.TargetsSnapshotMatch, role, "version %d, snapshot version %d lists version %d", t.Signed.Version, u.w.snapshot.Signed.Version, sm.Version)
	}
	return &checkedTargets{loadedRole: loadedRole{m: t, payload: payloadOf(t), name: name}, raw: data}, nil
}

// verifyThresholdStep is step 3 of {#check_targets}, as two checks:
// check_targets.signatures (at least one valid signature by a key the
// delegator gives; off, signatures are not checked at all) and
// check_targets.threshold (valid signatures of a threshold of distinct such
// keys; off, one valid key suffices).
func verifyThresholdStep(u *Update, role string, t *metadata.Metadata[metadata.TargetsType], payload []byte, ks map[string]*metadata.Key, keyIDs []string, threshold int, whose string) error {
	if !u.o.on(check.TargetsSignatures) {
		return nil
	}
	if threshold < 1 {
		return u.fail(check.TargetsSignatures, role, "version %d: the %s have threshold %d, which is not positive", t.Signed.Version, whose, threshold)
	}
	if payload == nil {
		return u.fail(check.TargetsSignatures, role, "version %d: the signed part has no canonical JSON form", t.Signed.Version)
	}
	n := meta.CountSignatures(payload, t.Signatures, ks, keyIDs)
	if n == 0 {
		return u.fail(check.TargetsSignatures, role, "version %d carries no valid signature by the %s (threshold %d)", t.Signed.Version, whose, threshold)
	}
	if u.o.on(check.TargetsThreshold) && n < threshold {
		return u.fail(check.TargetsThreshold, role, "version %d is signed by %d of the %s, threshold %d", t.Signed.Version, n, whose, threshold)
	}
	return nil
}

// targetsSteps4to8 are steps 4–8 of {#check_targets}; prev is the trusted
// metadata of the role, if any.
func (u *Update) targetsSteps4to8(role string, t, prev *metadata.Metadata[metadata.TargetsType]) error {
	if prev != nil && u.o.on(check.TargetsVersion) && t.Signed.Version < prev.Signed.Version {
		return u.fail(check.TargetsVersion, role, "version %d is lower than the trusted version %d", t.Signed.Version, prev.Signed.Version)
	}
	if u.o.on(check.TargetsExpiry) && u.expired(t.Signed.Expires) {
		return u.fail(check.TargetsExpiry, role, "version %d expired at %s; time is %s", t.Signed.Version, tstr(t.Signed.Expires), tstr(u.o.Time))
	}
	if u.w.name != meta.Director || role != meta.Targets {
		return nil
	}
	// {#targets_images_meta}: Director Targets name the vehicle they are
	// for; all vehicles share the Director's keys, so only this binds
	// them to one vehicle (docs/verification.md, "Which vehicle").
	if u.o.VIN != "" && u.o.on(check.TargetsImagesMetaVehicleID) {
		if got := meta.VINOf(&t.Signed); got != u.o.VIN {
			return u.fail(check.TargetsImagesMetaVehicleID, role, "version %d is for vehicle %q, not this vehicle %q", t.Signed.Version, got, u.o.VIN)
		}
	}
	// Step 6: the Director does not delegate.
	if d := t.Signed.Delegations; d != nil && (len(d.Roles) > 0 || d.SuccinctRoles != nil || len(d.Keys) > 0) && u.o.on(check.TargetsDirectorNoDelegations) {
		return u.fail(check.TargetsDirectorNoDelegations, role, "version %d has delegations", t.Signed.Version)
	}
	// Step 7: no ECU identifier twice.
	seen := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(t.Signed.Targets)) {
		c, err := meta.GetCustom(t.Signed.Targets[name])
		if err != nil {
			if u.o.on(check.TargetsDirectorUniqueECUs) {
				return u.fail(check.TargetsDirectorUniqueECUs, role, "version %d: cannot read the ECU identifiers of %q", t.Signed.Version, name).Wrap(err)
			}
			continue
		}
		for _, ecu := range slices.Sorted(maps.Keys(c.ECUIdentifiers)) {
			if other, dup := seen[ecu]; dup && u.o.on(check.TargetsDirectorUniqueECUs) {
				return u.fail(check.TargetsDirectorUniqueECUs, role, "version %d lists ECU %s for both %q and %q", t.Signed.Version, ecu, other, name).OnECU(ecu)
			}
			seen[ecu] = name
		}
	}
	// Step 8: on the Primary, every ECU identifier is in the vehicle.
	if u.Vehicle != nil && u.o.on(check.TargetsDirectorECUsInVehicle) {
		in := map[string]bool{}
		for _, e := range u.Vehicle {
			in[e] = true
		}
		for _, ecu := range slices.Sorted(maps.Keys(seen)) {
			if !in[ecu] {
				return u.fail(check.TargetsDirectorECUsInVehicle, role, "version %d lists ECU %s (for %q), which is not in this vehicle", t.Signed.Version, ecu, seen[ecu]).OnECU(ecu)
			}
		}
	}
	return nil
}
