package repo

import (
	"fmt"
	"maps"
	"slices"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// Publish signs and writes a new release: every targets role that changed
// gets version N+1 (signed with its own keys), then Snapshot and Timestamp
// are bumped and re-signed. Files follow {#metadata_filename_rules}:
// N.root.json, N.targets.json, N.<role>.json, N.snapshot.json,
// timestamp.json, and each image as targets/HASH.NAME once per hash.
func (im *Image) Publish() error {
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.publish()
}

// PublishDelegated is Publish for a supplier: its delegated roles, Snapshot
// and Timestamp are signed, but never top-level Targets (changes to it wait
// for the OEM's Publish with its offline keys).
func (im *Image) PublishDelegated() error {
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.publishRoles(false)
}

func (im *Image) publish() error { return im.publishRoles(true) }

func (im *Image) publishRoles(top bool) error {
	for _, role := range slices.Sorted(maps.Keys(im.roles)) {
		if !im.dirty[role] || (role == meta.Targets && !top) {
			continue
		}
		m := im.roles[role]
		m.Signed.Version = im.published[role] + 1
		m.Signed.Expires = expires(im.opts.Clock, im.opts.Expiry.For(role))
		m.Signatures = nil
		signers := im.roleSg[role]
		if role == meta.Targets {
			signers = im.top.signers[meta.Targets]
		}
		if err := meta.Sign(m, signers...); err != nil {
			return fmt.Errorf("repo: image: sign %s: %w", role, err)
		}
		b, err := encode(m)
		if err != nil {
			return err
		}
		if err := im.writeFile(meta.VersionedName(m.Signed.Version, role), b); err != nil {
			return err
		}
		im.published[role] = m.Signed.Version
		delete(im.dirty, role)
	}
	sn := metadata.Snapshot(expires(im.opts.Clock, im.opts.Expiry.For(meta.Snapshot)))
	sn.Signed.Version = im.snapshot + 1
	sn.Signed.Meta = map[string]*metadata.MetaFiles{}
	for _, role := range slices.Sorted(maps.Keys(im.published)) {
		sn.Signed.Meta[role+".json"] = &metadata.MetaFiles{Version: im.published[role]}
	}
	if err := meta.Sign(sn, im.top.signers[meta.Snapshot]...); err != nil {
		return fmt.Errorf("repo: image: sign snapshot: %w", err)
	}
	sb, err := encode(sn)
	if err != nil {
		return err
	}
	if err := im.writeFile(meta.VersionedName(sn.Signed.Version, meta.Snapshot), sb); err != nil {
		return err
	}
	im.snapshot = sn.Signed.Version
	ts := metadata.Timestamp(expires(im.opts.Clock, im.opts.Expiry.For(meta.Timestamp)))
	ts.Signed.Version = im.timestamp + 1
	ts.Signed.Meta = map[string]*metadata.MetaFiles{"snapshot.json": {Version: sn.Signed.Version, Length: int64(len(sb)), Hashes: meta.HashesOf(sb)}}
	if err := meta.Sign(ts, im.top.signers[meta.Timestamp]...); err != nil {
		return fmt.Errorf("repo: image: sign timestamp: %w", err)
	}
	tb, err := encode(ts)
	if err != nil {
		return err
	}
	if err := im.writeFile(meta.VersionedName(ts.Signed.Version, meta.Timestamp), tb); err != nil {
		return err
	}
	if err := im.writeFile(meta.UnversionedName(meta.Timestamp), tb); err != nil {
		return err
	}
	im.timestamp = ts.Signed.Version
	im.log.Info("published", "root", im.top.root.Signed.Version, "targets", im.published[meta.Targets], "snapshot", im.snapshot, "timestamp", im.timestamp, "new_roots", im.rootDirty)
	im.rootDirty = nil
	return nil
}
