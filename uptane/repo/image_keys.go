package repo

import (
	"fmt"
	"slices"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// Signers returns the signers of a role (top-level or delegated): the seam
// through which a scenario hands a role's key to an attacker.
func (im *Image) Signers(role string) []keys.Signer {
	im.mu.Lock()
	defer im.mu.Unlock()
	if s, ok := im.top.signers[role]; ok {
		return slices.Clone(s)
	}
	return slices.Clone(im.roleSg[role])
}

// RotateKeys replaces the keys of a role. For a top-level role it makes Root
// N+1 (signed by the old and, for Root, the new Root keys); for a delegated
// role it changes the delegating role's delegation. Either takes effect at
// the next Publish.
func (im *Image) RotateKeys(role string, signers []keys.Signer, threshold int) error {
	im.mu.Lock()
	defer im.mu.Unlock()
	if err := saveKeys(im.keyDir(), im.log, signers...); err != nil {
		return err
	}
	if _, ok := im.top.signers[role]; ok {
		if err := im.top.rotate(role, signers, threshold, expires(im.opts.Clock, im.opts.Expiry.For(meta.Root))); err != nil {
			return err
		}
		im.rootDirty = append(im.rootDirty, im.top.root.Signed.Version)
		if role == meta.Targets {
			im.dirty[meta.Targets] = true
		}
		im.log.Info("keys rotated", "role", role, "root_version", im.top.root.Signed.Version, "threshold", threshold)
		return im.saveRoot()
	}
	p, ok := im.parent[role]
	if !ok {
		return fmt.Errorf("repo: image: rotate keys: no role %q", role)
	}
	if threshold < 1 || threshold > len(signers) {
		return fmt.Errorf("repo: image: rotate %s keys: threshold %d with %d keys", role, threshold, len(signers))
	}
	dl := im.roles[p].Signed.Delegations
	for i := range dl.Roles {
		if dl.Roles[i].Name == role {
			dl.Roles[i].KeyIDs = nil
			for _, s := range signers {
				dl.Keys[s.KeyID()] = s.Public()
				dl.Roles[i].KeyIDs = append(dl.Roles[i].KeyIDs, s.KeyID())
			}
			dl.Roles[i].Threshold = threshold
		}
	}
	im.pruneDelegationKeys(dl)
	im.roleSg[role] = slices.Clone(signers)
	im.dirty[p], im.dirty[role] = true, true
	im.log.Info("keys rotated", "role", role, "delegator", p, "threshold", threshold)
	return nil
}

func (im *Image) pruneDelegationKeys(dl *metadata.Delegations) {
	used := map[string]bool{}
	for _, r := range dl.Roles {
		for _, id := range r.KeyIDs {
			used[id] = true
		}
	}
	for id := range dl.Keys {
		if !used[id] {
			delete(dl.Keys, id)
		}
	}
}
