package verify

import (
	"fmt"
	"maps"
	"slices"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

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
		if err := verifyLengthHashes(sm, data); err != nil {
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
