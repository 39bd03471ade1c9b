// Package forge is the attacker who holds keys (seam 2 of
// docs/architecture.md): with a repository's compromised signers it makes
// validly signed metadata of its own — Director targets that send one ECU a
// malicious image, or a fresh timestamp that points back at an old
// snapshot — ready to be served by the man in the middle.
package forge

import (
	"crypto/sha256"
	"crypto/sha512"
	"fmt"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// Files is a set of forged repository files, name → bytes (e.g.
// "timestamp.json", "7.snapshot.json", "targets/ecm-v3/HASH.fw.bin").
type Files map[string][]byte

// Repo is the attacker's view of one repository: its current top-level
// metadata (as served) and the signers it holds per role.
type Repo struct {
	Timestamp []byte
	Snapshot  []byte
	Targets   []byte
	Signers   map[string][]keys.Signer
}

func hashes(b []byte) metadata.Hashes {
	a := sha256.Sum256(b)
	c := sha512.Sum512(b)
	return metadata.Hashes{"sha256": a[:], "sha512": c[:]}
}

func (r *Repo) signers(role string) ([]keys.Signer, error) {
	s := r.Signers[role]
	if len(s) == 0 {
		return nil, fmt.Errorf("forge: the attacker holds no %s key", role)
	}
	return s, nil
}

// DirectorImage forges Director metadata that directs ecu to install image
// under the name of its current target: Targets N+1 (signed with the
// targets keys held), Snapshot and Timestamp re-signed to match (with the
// snapshot and timestamp keys held). It returns the files to serve, with the
// image under the path the Primary downloads it from ("targets/...").
func DirectorImage(r *Repo, ecu string, image []byte) (Files, error) {
	t, err := (&metadata.Metadata[metadata.TargetsType]{}).FromBytes(r.Targets)
	if err != nil {
		return nil, fmt.Errorf("forge: Director targets: %w", err)
	}
	found := ""
	for name, tf := range t.Signed.Targets {
		c, err := meta.GetCustom(tf)
		if err != nil {
			continue
		}
		if _, ok := c.ECUIdentifiers[ecu]; ok {
			found = name
			tf.Length, tf.Hashes = int64(len(image)), hashes(image)
		}
	}
	if found == "" {
		return nil, fmt.Errorf("forge: the Director's targets have no image for %s to replace", ecu)
	}
	out := Files{}
	if err := r.resign(t, out); err != nil {
		return nil, err
	}
	for _, n := range meta.ImageNames(found, hashes(image)) {
		out["targets/"+n] = image
	}
	return out, nil
}

// resign signs targets as version N+1 and a matching snapshot and timestamp.
func (r *Repo) resign(t *metadata.Metadata[metadata.TargetsType], out Files) error {
	return r.resignAs(t, meta.Targets, out)
}

// resignAs signs t as version N+1 of the targets role role (with the keys
// held for role) and a snapshot and timestamp that list it.
func (r *Repo) resignAs(t *metadata.Metadata[metadata.TargetsType], role string, out Files) error {
	ts, err := r.signers(role)
	if err != nil {
		return err
	}
	t.Signed.Version++
	t.Signatures = nil
	if err := meta.Sign(t, ts...); err != nil {
		return err
	}
	tb, err := t.ToBytes(false)
	if err != nil {
		return err
	}
	out[meta.VersionedName(t.Signed.Version, role)] = tb
	s, err := (&metadata.Metadata[metadata.SnapshotType]{}).FromBytes(r.Snapshot)
	if err != nil {
		return fmt.Errorf("forge: snapshot: %w", err)
	}
	mf := s.Signed.Meta[meta.UnversionedName(role)]
	if mf == nil {
		return fmt.Errorf("forge: snapshot lists no %s", meta.UnversionedName(role))
	}
	mf.Version = t.Signed.Version
	if mf.Length != 0 {
		mf.Length = int64(len(tb))
	}
	if len(mf.Hashes) != 0 {
		mf.Hashes = hashes(tb)
	}
	return r.resignSnapshot(s, out)
}

func (r *Repo) resignSnapshot(s *metadata.Metadata[metadata.SnapshotType], out Files) error {
	ss, err := r.signers(meta.Snapshot)
	if err != nil {
		return err
	}
	s.Signed.Version++
	s.Signatures = nil
	if err := meta.Sign(s, ss...); err != nil {
		return err
	}
	sb, err := s.ToBytes(false)
	if err != nil {
		return err
	}
	out[meta.VersionedName(s.Signed.Version, meta.Snapshot)] = sb
	return r.timestampFor(sb, s.Signed.Version, out)
}

func (r *Repo) timestampFor(snapshot []byte, version int64, out Files) error {
	tss, err := r.signers(meta.Timestamp)
	if err != nil {
		return err
	}
	ts, err := (&metadata.Metadata[metadata.TimestampType]{}).FromBytes(r.Timestamp)
	if err != nil {
		return fmt.Errorf("forge: timestamp: %w", err)
	}
	mf := ts.Signed.Meta["snapshot.json"]
	if mf == nil {
		return fmt.Errorf("forge: timestamp lists no snapshot.json")
	}
	mf.Version = version
	if mf.Length != 0 {
		mf.Length = int64(len(snapshot))
	}
	if len(mf.Hashes) != 0 {
		mf.Hashes = hashes(snapshot)
	}
	ts.Signed.Version++
	ts.Signatures = nil
	if err := meta.Sign(ts, tss...); err != nil {
		return err
	}
	b, err := ts.ToBytes(false)
	if err != nil {
		return err
	}
	out[meta.UnversionedName(meta.Timestamp)] = b
	return nil
}

// TimestampRollback forges a new Timestamp (signed with the timestamp keys
// held) that points at an older, genuinely signed Snapshot the attacker
// recorded: a rollback by whoever holds the timestamp key.
func TimestampRollback(r *Repo, oldSnapshot []byte) (Files, error) {
	s, err := (&metadata.Metadata[metadata.SnapshotType]{}).FromBytes(oldSnapshot)
	if err != nil {
		return nil, fmt.Errorf("forge: old snapshot: %w", err)
	}
	out := Files{meta.VersionedName(s.Signed.Version, meta.Snapshot): oldSnapshot}
	if err := r.timestampFor(oldSnapshot, s.Signed.Version, out); err != nil {
		return nil, err
	}
	return out, nil
}

// TargetsFor re-signs Director targets with the signers given (the attacker's
// own key when it holds none of the Director's), pointing ecu's image at
// image: what a compromised Primary hands a partial-verification Secondary.
func TargetsFor(targets []byte, ecu string, image []byte, signers ...keys.Signer) ([]byte, error) {
	t, err := (&metadata.Metadata[metadata.TargetsType]{}).FromBytes(targets)
	if err != nil {
		return nil, fmt.Errorf("forge: Director targets: %w", err)
	}
	found := false
	for _, tf := range t.Signed.Targets {
		if c, err := meta.GetCustom(tf); err == nil {
			if _, ok := c.ECUIdentifiers[ecu]; ok {
				tf.Length, tf.Hashes, found = int64(len(image)), hashes(image), true
			}
		}
	}
	if !found {
		return nil, fmt.Errorf("forge: the Director's targets have no image for %s to replace", ecu)
	}
	t.Signed.Version++
	t.Signatures = nil
	if err := meta.Sign(t, signers...); err != nil {
		return nil, err
	}
	return t.ToBytes(false)
}

// DirectorAssign forges Director metadata that directs ecu (of hardware
// hwid) to install an image that genuinely exists on the Image repository
// (name, with the Image repository's metadata img) but is wrong for it: an
// older release, or firmware for other hardware. Targets, Snapshot and
// Timestamp are re-signed with the Director keys held.
func DirectorAssign(r *Repo, ecu, hwid, name string, img *metadata.TargetFiles) (Files, error) {
	t, err := (&metadata.Metadata[metadata.TargetsType]{}).FromBytes(r.Targets)
	if err != nil {
		return nil, fmt.Errorf("forge: Director targets: %w", err)
	}
	ic, err := meta.GetCustom(img)
	if err != nil {
		return nil, fmt.Errorf("forge: image %s: %w", name, err)
	}
	for n, tf := range t.Signed.Targets {
		if c, err := meta.GetCustom(tf); err == nil {
			if _, ok := c.ECUIdentifiers[ecu]; ok {
				delete(c.ECUIdentifiers, ecu)
				if len(c.ECUIdentifiers) == 0 {
					delete(t.Signed.Targets, n)
					continue
				}
				if err := meta.SetCustom(tf, c); err != nil {
					return nil, err
				}
			}
		}
	}
	tf := &metadata.TargetFiles{Length: img.Length, Hashes: img.Hashes, Path: name}
	c := &meta.Custom{Uptane: ic.Uptane, ECUIdentifiers: map[string]meta.ECUTarget{ecu: {HardwareID: hwid}}}
	if old, ok := t.Signed.Targets[name]; ok {
		if oc, err := meta.GetCustom(old); err == nil {
			for k, v := range oc.ECUIdentifiers {
				c.ECUIdentifiers[k] = v
			}
		}
	}
	if err := meta.SetCustom(tf, c); err != nil {
		return nil, err
	}
	t.Signed.Targets[name] = tf
	out := Files{}
	if err := r.resign(t, out); err != nil {
		return nil, err
	}
	return out, nil
}

// ImageTarget forges Image repository metadata that lists image under name,
// for hardware hwid with release counter rc, in the targets role role
// ("targets" or a delegated role) whose current metadata is current: that
// role's version N+1 signed with the keys held for role (all of them, even
// when fewer than its threshold), and a Snapshot and Timestamp that list it
// (with the snapshot and timestamp keys held; r.Snapshot and r.Timestamp are
// the Image repository's current ones). It returns the files to serve —
// metadata under the Image repository's names and the image under
// "targets/HASH.NAME" — and the image's target metadata, which a Director
// the attacker also controls assigns (DirectorAssign) so that Director and
// Image repository agree.
func ImageTarget(r *Repo, role string, current []byte, name string, image []byte, hwid string, rc uint64) (Files, *metadata.TargetFiles, error) {
	if err := meta.ValidTargetName(name); err != nil {
		return nil, nil, fmt.Errorf("forge: %w", err)
	}
	t, err := (&metadata.Metadata[metadata.TargetsType]{}).FromBytes(current)
	if err != nil {
		return nil, nil, fmt.Errorf("forge: Image %s: %w", role, err)
	}
	tf := &metadata.TargetFiles{Length: int64(len(image)), Hashes: hashes(image), Path: name}
	if err := meta.SetCustom(tf, &meta.Custom{Uptane: meta.ShallMatch{HardwareIDs: []string{hwid}, ReleaseCounter: rc}}); err != nil {
		return nil, nil, fmt.Errorf("forge: %w", err)
	}
	if t.Signed.Targets == nil {
		t.Signed.Targets = map[string]*metadata.TargetFiles{}
	}
	t.Signed.Targets[name] = tf
	out := Files{}
	if err := r.resignAs(t, role, out); err != nil {
		return nil, nil, err
	}
	for _, n := range meta.ImageNames(name, tf.Hashes) {
		out["targets/"+n] = image
	}
	c := *tf
	return out, &c, nil
}

// TargetsRollback forges, with the snapshot and timestamp keys held, a new
// Snapshot (version N+1, so it passes the version check) that lists an
// older, genuinely signed Targets file the attacker recorded, and a
// Timestamp for it: a rollback by whoever holds the snapshot key. The old
// Targets file is among the files returned, under its versioned name.
func TargetsRollback(r *Repo, oldTargets []byte) (Files, error) {
	t, err := (&metadata.Metadata[metadata.TargetsType]{}).FromBytes(oldTargets)
	if err != nil {
		return nil, fmt.Errorf("forge: old targets: %w", err)
	}
	s, err := (&metadata.Metadata[metadata.SnapshotType]{}).FromBytes(r.Snapshot)
	if err != nil {
		return nil, fmt.Errorf("forge: snapshot: %w", err)
	}
	mf := s.Signed.Meta["targets.json"]
	if mf == nil {
		return nil, fmt.Errorf("forge: snapshot lists no targets.json")
	}
	mf.Version = t.Signed.Version
	if mf.Length != 0 {
		mf.Length = int64(len(oldTargets))
	}
	if len(mf.Hashes) != 0 {
		mf.Hashes = hashes(oldTargets)
	}
	out := Files{meta.VersionedName(t.Signed.Version, meta.Targets): oldTargets}
	if err := r.resignSnapshot(s, out); err != nil {
		return nil, err
	}
	return out, nil
}
