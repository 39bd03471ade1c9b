package repo

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// Delegation describes a delegated targets role ({#delegations_meta}).
type Delegation struct {
	Name        string
	Paths       []string // path patterns (go-tuf / fnmatch per path element)
	Terminating bool
	// HardwareIDs, when set, scopes the delegation to images for these
	// hardware identifiers.
	HardwareIDs []string
	// Signers are the supplier's keys; the role's metadata is signed with
	// them, never with the delegator's keys.
	Signers   []keys.Signer
	Threshold int // default: all signers
}

// MultiDelegation is a multi-role delegation ({#multirole_delegations}): a
// Threshold of the Members must agree on an image's metadata.
type MultiDelegation struct {
	Name        string
	Paths       []string
	Terminating bool
	HardwareIDs []string
	Threshold   int
	Members     []Delegation // their Paths and Terminating are ignored
}

var roleName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

func (im *Image) addDelegatedRole(parent string, d Delegation, paths []string, multi *meta.MultiRole) error {
	if !roleName.MatchString(d.Name) || d.Name == meta.Targets || d.Name == meta.Root || d.Name == meta.Snapshot || d.Name == meta.Timestamp {
		return fmt.Errorf("repo: image: delegate: bad role name %q (letters, digits, _ and -, not a top-level role)", d.Name)
	}
	if _, dup := im.roles[d.Name]; dup {
		return fmt.Errorf("repo: image: delegate: role %q exists", d.Name)
	}
	if _, dup := im.parent[d.Name]; dup {
		return fmt.Errorf("repo: image: delegate: role %q exists", d.Name)
	}
	pm := im.roles[parent]
	if pm.Signed.Delegations == nil {
		pm.Signed.Delegations = &metadata.Delegations{Keys: map[string]*metadata.Key{}, Roles: []metadata.DelegatedRole{}}
	}
	dr := metadata.DelegatedRole{Name: d.Name, KeyIDs: []string{}, Threshold: 1, Terminating: d.Terminating, Paths: paths}
	if len(d.HardwareIDs) > 0 {
		dr.UnrecognizedFields = map[string]any{meta.FieldHardwareIDs: slices.Clone(d.HardwareIDs)}
	}
	if multi != nil {
		if dr.UnrecognizedFields == nil {
			dr.UnrecognizedFields = map[string]any{}
		}
		dr.UnrecognizedFields[meta.FieldMultiRole] = *multi
	} else {
		if len(d.Signers) == 0 {
			return fmt.Errorf("repo: image: delegate %q: no signers", d.Name)
		}
		th := d.Threshold
		if th == 0 {
			th = len(d.Signers)
		}
		if th < 1 || th > len(d.Signers) {
			return fmt.Errorf("repo: image: delegate %q: threshold %d with %d keys", d.Name, th, len(d.Signers))
		}
		dr.Threshold = th
		for _, s := range d.Signers {
			pm.Signed.Delegations.Keys[s.KeyID()] = s.Public()
			dr.KeyIDs = append(dr.KeyIDs, s.KeyID())
		}
		if err := saveKeys(im.keyDir(), im.log, d.Signers...); err != nil {
			return err
		}
		im.roleSg[d.Name] = slices.Clone(d.Signers)
		im.roles[d.Name] = metadata.Targets(expires(im.opts.Clock, im.opts.Expiry.For(d.Name)))
		im.dirty[d.Name] = true
	}
	pm.Signed.Delegations.Roles = append(pm.Signed.Delegations.Roles, dr)
	im.parent[d.Name] = parent
	im.dirty[parent] = true
	return nil
}

func (im *Image) checkParent(parent string) error {
	if _, ok := im.roles[parent]; !ok {
		return fmt.Errorf("repo: image: delegate: no targets role %q", parent)
	}
	return nil
}

func checkPaths(name string, paths []string) error {
	if len(paths) == 0 {
		return fmt.Errorf("repo: image: delegate %q: no paths", name)
	}
	for _, p := range paths {
		if p == "" || len(p) > 255 {
			return fmt.Errorf("repo: image: delegate %q: bad path pattern %q", name, p)
		}
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("repo: image: delegate %q: path pattern %q: %v", name, p, err)
		}
	}
	return nil
}

// Delegate adds a delegation from the targets role parent ("targets" or a
// delegated role) to a supplier role, which signs its own metadata with
// d.Signers. It takes effect at the next Publish.
func (im *Image) Delegate(parent string, d Delegation) error {
	im.mu.Lock()
	defer im.mu.Unlock()
	if err := im.checkParent(parent); err != nil {
		return err
	}
	if err := checkPaths(d.Name, d.Paths); err != nil {
		return err
	}
	if err := im.addDelegatedRole(parent, d, slices.Clone(d.Paths), nil); err != nil {
		return err
	}
	im.log.Info("delegated", "from", parent, "to", d.Name, "paths", d.Paths, "terminating", d.Terminating, "hardware_ids", d.HardwareIDs)
	return nil
}

// DelegateMulti adds a multi-role delegation from parent: the delegation
// itself, then one member delegation per member role with "paths": [].
func (im *Image) DelegateMulti(parent string, md MultiDelegation) error {
	im.mu.Lock()
	defer im.mu.Unlock()
	if err := im.checkParent(parent); err != nil {
		return err
	}
	if err := checkPaths(md.Name, md.Paths); err != nil {
		return err
	}
	if md.Threshold < 1 || md.Threshold > len(md.Members) {
		return fmt.Errorf("repo: image: delegate %q: threshold %d of %d member roles", md.Name, md.Threshold, len(md.Members))
	}
	mr := &meta.MultiRole{Threshold: md.Threshold}
	for _, m := range md.Members {
		mr.Roles = append(mr.Roles, m.Name)
	}
	if err := im.addDelegatedRole(parent, Delegation{Name: md.Name, Terminating: md.Terminating, HardwareIDs: md.HardwareIDs}, slices.Clone(md.Paths), mr); err != nil {
		return err
	}
	for _, m := range md.Members {
		m.Terminating = false
		if err := im.addDelegatedRole(parent, m, []string{}, nil); err != nil {
			return err
		}
	}
	im.log.Info("multi-role delegation", "from", parent, "name", md.Name, "members", mr.Roles, "threshold", md.Threshold)
	return nil
}

// delegationOf returns the DelegatedRole entry of role in its delegator.
func (im *Image) delegationOf(role string) *metadata.DelegatedRole {
	p := im.roles[im.parent[role]]
	for i := range p.Signed.Delegations.Roles {
		if p.Signed.Delegations.Roles[i].Name == role {
			return &p.Signed.Delegations.Roles[i]
		}
	}
	return nil
}

func hardwareIDsOf(d *metadata.DelegatedRole) ([]string, bool) {
	ids, scoped, _ := meta.HardwareIDs(d)
	return ids, scoped
}

func (im *Image) multiParents(role string) []*metadata.DelegatedRole {
	var out []*metadata.DelegatedRole
	p := im.roles[im.parent[role]]
	for i := range p.Signed.Delegations.Roles {
		d := &p.Signed.Delegations.Roles[i]
		if mr, _ := meta.MultiRoleOf(d); mr != nil && slices.Contains(mr.Roles, role) {
			out = append(out, d)
		}
	}
	return out
}

// authorize checks the chain of delegations from "targets" to role: every
// delegation on the way covers name and the hardware identifiers
// ({#image_repository}: the repository checks that a writer is authorized
// for that image).
func (im *Image) authorize(role, name string, hwids []string) error {
	for r := role; r != meta.Targets; r = im.parent[r] {
		d := im.delegationOf(r)
		if d == nil {
			return fmt.Errorf("repo: image: role %q is not delegated", r)
		}
		ents := []*metadata.DelegatedRole{d}
		if len(d.Paths) == 0 && d.PathHashPrefixes == nil {
			// a multi-role member acts through its multi-role delegations
			ents = im.multiParents(r)
		}
		ok := false
		for _, e := range ents {
			if in, _ := e.IsDelegatedPath(name); !in {
				continue
			}
			if scope, scoped := hardwareIDsOf(e); scoped {
				all := true
				for _, h := range hwids {
					all = all && slices.Contains(scope, h)
				}
				if !all {
					continue
				}
			}
			ok = true
		}
		if !ok {
			return fmt.Errorf("repo: image: role %q may not sign %q for hardware %v: not delegated to it by %q", role, name, hwids, im.parent[r])
		}
	}
	return nil
}

// ErrUnauthorized: the role is not delegated the image.
var ErrUnauthorized = errors.New("repo: image: not authorized by the chain of delegations")
