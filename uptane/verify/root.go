package verify

import (
	"errors"
	"sort"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

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
