package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/uptane-hil/uptane-hil/uptane/check"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// Found is image metadata located by ResolveDelegations.
type Found struct {
	Target *metadata.TargetFiles
	// Role is the role whose metadata lists the image ("targets" or a
	// delegated role; for a multi-role delegation the earliest agreeing
	// member).
	Role string
	// Agreeing lists the agreeing members of a multi-role delegation.
	Agreeing []string
	// Files are the repository file names of the delegated metadata loaded
	// while searching (what a full-verification Secondary needs to repeat
	// the search, {#send_metadata_primary}).
	Files []string
}

// delegation is one entry of a delegations list, ordinary or succinct.
type delegation struct {
	role        metadata.DelegatedRole
	terminating bool
	applies     bool // path (and hardware) match
	multi       *meta.MultiRole
	err         error // malformed extension field
}

type search struct {
	u        *Update
	target   string
	hwid     string
	visited  map[string]bool
	budget   int
	files    []string
	notFound error // why a delegation that applied gave nothing (multi-role threshold)
	skipped  bool  // a delegation was skipped for its path/hardware scope
	noScope  bool  // probe search ignoring scope (attributing a failure)
}

// ResolveDelegations is {#resolve_delegations}: starting at the top-level
// Targets (already checked), find the role with authority to sign the image
// named target for hardware identifier hwid, loading and checking each
// delegated role on the way ({#check_targets}) in the delegations' listed
// order. A delegation applies when one of its paths matches target
// (shell-style wildcards per path element, as in TUF) and, if it lists
// hardware identifiers, hwid is one of them. A terminating delegation that
// applies ends the search. Multi-role delegations follow
// MultiroleDelegations. Delegated metadata found valid is kept in the
// working copy.
//
// It returns a check error, or (nil, nil) when the image was not found and
// the profile switches resolve_delegations.found off.
func (u *Update) ResolveDelegations(target, hwid string) (*Found, error) {
	if u.w.targets == nil {
		return nil, fmt.Errorf("verify: %s repository: no trusted top-level Targets to resolve %q from", u.w.name, target)
	}
	s := &search{u: u, target: target, hwid: hwid, visited: map[string]bool{meta.Targets: true}, budget: u.lim.MaxDelegations}
	f, err := s.resolve(u.w.targets, meta.Targets)
	if err != nil {
		return nil, err
	}
	if f != nil {
		f.Files = s.files
		return f, nil
	}
	if s.notFound != nil {
		return nil, s.notFound
	}
	if !u.o.on(check.ResolveDelegationsFound) {
		return nil, nil
	}
	// Attribute the failure (Uptane workflow only): if a role that is not
	// delegated for this path or hardware lists the image, the scope
	// restriction is what stopped it. The search is over and has failed;
	// this probe runs on a scratch copy, so nothing it loads is trusted or
	// kept. The TUF workflow never fetches a role whose delegation does not
	// apply (the conformance suite counts the requests).
	if u.o.on(check.ResolveDelegationsScope) && s.skipped && u.o.Workflow == Uptane {
		scratch := &Update{o: u.o, lim: u.lim, f: u.f, trusted: u.trusted, w: u.w.Clone(), used: map[string][]byte{}, loaded: maps.Clone(u.loaded), Vehicle: u.Vehicle, Partial: u.Partial}
		probe := &search{u: scratch, target: target, hwid: hwid, visited: map[string]bool{meta.Targets: true}, budget: u.lim.MaxDelegations, noScope: true}
		if pf, err := probe.resolve(scratch.w.targets, meta.Targets); err == nil && pf != nil {
			return nil, u.fail(check.ResolveDelegationsScope, pf.Role, "%q (hardware %q) is listed only by role %q, which is not delegated for that path and hardware", target, hwid, pf.Role)
		}
	}
	return nil, u.fail(check.ResolveDelegationsFound, meta.Targets, "no role with authority lists %q (hardware %q)", target, hwid)
}

// resolve applies steps 2–4 to the checked metadata md of role.
func (s *search) resolve(md *metadata.Metadata[metadata.TargetsType], role string) (*Found, error) {
	// Step 2: the metadata lists the image.
	if tf, ok := md.Signed.Targets[s.target]; ok {
		return &Found{Target: tf, Role: role}, nil
	}
	// Step 4: search the delegations in listed order.
	for _, d := range s.delegations(md) {
		if !d.applies && !s.noScope && s.u.o.on(check.ResolveDelegationsScope) {
			s.skipped = true
			continue
		}
		if s.budget <= 0 {
			break
		}
		var f *Found
		var err error
		switch {
		case d.err != nil:
			err = s.u.fail(check.ResolveDelegationsFound, role, "delegation to %q is malformed", d.role.Name).Wrap(d.err)
		case d.multi != nil:
			f, err = s.multirole(md, role, d)
		default:
			if s.visited[d.role.Name] {
				continue
			}
			s.visited[d.role.Name] = true
			var child *metadata.Metadata[metadata.TargetsType]
			child, err = s.load(md, role, &d.role)
			if err == nil {
				f, err = s.resolve(child, d.role.Name)
			}
		}
		if err != nil {
			return nil, err
		}
		if f != nil {
			return f, nil
		}
		// Step 3 (checked where the delegation is, after the delegated
		// role's own delegations were searched, as in TUF): a terminating
		// delegation ends the search.
		if d.terminating && s.u.o.on(check.ResolveDelegationsTerminating) {
			return nil, s.u.fail(check.ResolveDelegationsTerminating, d.role.Name, "the terminating delegation from %s to %q applies to %q but no metadata for it was found", role, d.role.Name, s.target).Wrap(s.notFound)
		}
	}
	return nil, nil
}

func (s *search) delegations(md *metadata.Metadata[metadata.TargetsType]) []delegation {
	dl := md.Signed.Delegations
	if dl == nil {
		return nil
	}
	if sr := dl.SuccinctRoles; sr != nil {
		var out []delegation
		for _, rr := range sr.GetRolesForTarget(s.target) {
			out = append(out, delegation{role: metadata.DelegatedRole{Name: rr.Name, KeyIDs: sr.KeyIDs, Threshold: sr.Threshold},
				terminating: rr.Terminating, applies: true})
		}
		return out
	}
	out := make([]delegation, 0, len(dl.Roles))
	for _, r := range dl.Roles {
		d := delegation{role: r, terminating: r.Terminating}
		ok, _ := r.IsDelegatedPath(s.target)
		ids, scoped, err := meta.HardwareIDs(&r)
		if err != nil {
			d.err = err
		}
		if ok && scoped {
			ok = false
			for _, id := range ids {
				if id == s.hwid {
					ok = true
				}
			}
		}
		d.applies = ok
		if d.multi, err = meta.MultiRoleOf(&r); err != nil {
			d.err = err
		}
		out = append(out, d)
	}
	return out
}

// load is step 1 for a delegated role: download and check its metadata
// with {#check_targets}, with the keys and threshold the delegator gives.
func (s *search) load(parent *metadata.Metadata[metadata.TargetsType], parentRole string, d *metadata.DelegatedRole) (*metadata.Metadata[metadata.TargetsType], error) {
	u := s.u
	s.budget--
	role := d.Name
	if role == "" || role == meta.Root || role == meta.Timestamp || role == meta.Snapshot || role == meta.Targets {
		return nil, u.fail(check.ResolveDelegationsFound, parentRole, "delegation to a role named %q", role)
	}
	lr, ok := u.loaded[role]
	if !ok {
		ct, err := u.checkTargets(role)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil, u.fail(check.ResolveDelegationsFound, role, "metadata of delegated role %q is missing", role).Wrap(err)
			}
			return nil, err
		}
		if err := u.targetsSteps4to8(role, ct.m, u.w.delegated[role]); err != nil {
			return nil, err
		}
		lr = &ct.loadedRole
		u.loaded[role] = lr
		u.w.delegated[role] = ct.m
		u.w.rawDeleg[role] = ct.raw
	}
	// Step 3 of check_targets: signed by the threshold the delegator gives.
	if err := verifyThresholdStep(u, role, lr.m, lr.payload, parent.Signed.Delegations.Keys, d.KeyIDs, d.Threshold, "keys "+parentRole+" delegates to it"); err != nil {
		return nil, err
	}
	s.files = append(s.files, lr.name)
	return lr.m, nil
}

// multirole is {#multirole_delegations} for delegation d of parent.
func (s *search) multirole(parent *metadata.Metadata[metadata.TargetsType], parentRole string, d delegation) (*Found, error) {
	u := s.u
	mr := d.multi
	defs := map[string]*metadata.DelegatedRole{}
	for i := range parent.Signed.Delegations.Roles {
		r := &parent.Signed.Delegations.Roles[i]
		if _, dup := defs[r.Name]; !dup {
			defs[r.Name] = r
		}
	}
	type cand struct {
		role string
		f    *Found
	}
	var cands []cand
	var memberErr error
	// Step 1: resolve each member role.
	for _, name := range mr.Roles {
		def := defs[name]
		if def == nil || def.Name == d.role.Name || s.visited[name] || s.budget <= 0 {
			continue
		}
		s.visited[name] = true
		child, err := s.load(parent, parentRole, def)
		var f *Found
		if err == nil {
			f, err = s.resolve(child, name)
		}
		s.visited[name] = false
		if err != nil {
			// A member that fails counts as not agreeing.
			if memberErr == nil {
				memberErr = err
			}
			continue
		}
		if f != nil {
			cands = append(cands, cand{name, f})
		}
	}
	// Step 2.1: group members with identical non-custom and SHALL-match
	// metadata, in the order of their earliest member.
	type group struct {
		key   string
		roles []string
		f     *Found
	}
	var groups []*group
	for _, c := range cands {
		k := agreementKey(c.f.Target)
		var g *group
		for _, x := range groups {
			if x.key == k {
				g = x
			}
		}
		if g == nil {
			g = &group{key: k, f: c.f}
			groups = append(groups, g)
		}
		g.roles = append(g.roles, c.role)
	}
	var agreeing []*group
	for _, g := range groups {
		if mr.Threshold >= 1 && len(g.roles) >= mr.Threshold {
			agreeing = append(agreeing, g)
		}
	}
	if len(agreeing) == 0 {
		if !u.o.on(check.MultiroleDelegationsThreshold) {
			if len(groups) > 0 {
				f := *groups[0].f
				f.Agreeing = groups[0].roles
				return &f, nil
			}
			return nil, nil
		}
		// Step 2.4: no agreeing set meets the threshold.
		sizes := make([]int, len(groups))
		for i, g := range groups {
			sizes[i] = len(g.roles)
		}
		s.notFound = u.fail(check.MultiroleDelegationsThreshold, d.role.Name, "for %q the largest set of agreeing roles of %v has %d, threshold %d", s.target, mr.Roles, maxInt(sizes), mr.Threshold).Wrap(memberErr)
		return nil, nil
	}
	// Steps 2.2–2.3: with a conflict, the set with the earliest member wins;
	// groups are already in that order.
	f := *agreeing[0].f
	f.Role = agreeing[0].roles[0]
	f.Agreeing = agreeing[0].roles
	return &f, nil
}

func maxInt(xs []int) int {
	m := 0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// agreementKey identifies a target's non-custom metadata (length, hashes)
// and its SHALL-match custom section.
func agreementKey(tf *metadata.TargetFiles) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d", tf.Length)
	algs := slices.Sorted(maps.Keys(tf.Hashes))
	for _, a := range algs {
		fmt.Fprintf(&b, "|%s=%x", a, []byte(tf.Hashes[a]))
	}
	if c, err := meta.GetCustom(tf); err == nil {
		sm, _ := json.Marshal(c.Uptane)
		b.WriteString("|")
		b.Write(sm)
	}
	return b.String()
}

// MultiroleDelegations is {#multirole_delegations} for the multi-role
// delegation d of the checked Targets metadata parent (of role parentRole),
// for the image target of hardware hwid. ResolveDelegations applies it to
// every delegation carrying a "multiRole" field:
//
//  1. resolve each member role with {#resolve_delegations}; a member whose
//     metadata is missing or fails a check counts as not agreeing;
//  2. group members whose length, hashes and SHALL-match custom section are
//     identical and drop groups smaller than the threshold (2.1); on a
//     conflict take the group with the earliest member in the listed order
//     (2.2); otherwise the single agreeing group (2.3); with none, check
//     multirole_delegations.threshold fails (2.4).
//
// With the check switched off, the earliest member's metadata is taken.
func (u *Update) MultiroleDelegations(parent *metadata.Metadata[metadata.TargetsType], parentRole string, d *metadata.DelegatedRole, target, hwid string) (*Found, error) {
	mr, err := meta.MultiRoleOf(d)
	if err != nil {
		return nil, u.fail(check.MultiroleDelegationsThreshold, d.Name, "malformed multi-role delegation").Wrap(err)
	}
	if mr == nil {
		return nil, fmt.Errorf("verify: delegation %q is not a multi-role delegation", d.Name)
	}
	s := &search{u: u, target: target, hwid: hwid, visited: map[string]bool{parentRole: true}, budget: u.lim.MaxDelegations}
	f, err := s.multirole(parent, parentRole, delegation{role: *d, multi: mr, applies: true, terminating: d.Terminating})
	if err != nil {
		return nil, err
	}
	if f == nil && s.notFound != nil {
		return nil, s.notFound
	}
	if f != nil {
		f.Files = s.files
	}
	return f, nil
}
