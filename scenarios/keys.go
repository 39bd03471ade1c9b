package scenarios

// Key compromise and recovery: the setup that shapes the Image repository
// (threshold roles, supplier delegations), the attacker taking a
// repository's keys, the metadata it signs and serves with them, and the
// OEM rotating keys to revoke them.

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/attacks/forge"
	"github.com/uptane-hil/uptane-hil/attacks/mitm"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/sim/events"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// ImageSetup shapes the Image repository before the first step.
type ImageSetup struct {
	// Roles gives top-level roles ("root", "targets", "snapshot",
	// "timestamp") more keys and a threshold, e.g. {targets: {keys: 2,
	// threshold: 2}}.
	Roles map[string]RoleKeys `yaml:"roles"`
	// Delegations are supplier roles the top-level Targets delegates to, in
	// this order; each signs the images its paths and hardware cover.
	Delegations []DelegationSetup `yaml:"delegations"`
}

// RoleKeys is a role's number of keys and threshold.
type RoleKeys struct {
	Keys      int `yaml:"keys"`      // default: the threshold
	Threshold int `yaml:"threshold"` // default 1
}

// DelegationSetup is one supplier delegation ({#delegations_meta}).
type DelegationSetup struct {
	Name        string   `yaml:"name"`
	Paths       []string `yaml:"paths"`        // image path patterns, e.g. 'brk-v2/*'
	HardwareIDs []string `yaml:"hardware_ids"` // scope: images for these hardware identifiers only
	Terminating bool     `yaml:"terminating"`
	Keys        int      `yaml:"keys"`      // the supplier's keys (default: the threshold)
	Threshold   int      `yaml:"threshold"` // default 1
}

var (
	roleNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	topRoles   = map[string]bool{meta.Root: true, meta.Targets: true, meta.Snapshot: true, meta.Timestamp: true}
)

func (s *Scenario) validateImageSetup() error {
	im := s.Setup.Image
	names := slices.Sorted(maps.Keys(im.Roles))
	for _, r := range names {
		f := "setup.image.roles." + r
		if !topRoles[r] {
			return s.Errorf(f, "%q is not a top-level role (root, targets, snapshot, timestamp)", r)
		}
		if err := s.validateRoleKeys(f, im.Roles[r]); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for i, d := range im.Delegations {
		f := fmt.Sprintf("setup.image.delegations[%d]", i)
		switch {
		case !roleNameRe.MatchString(d.Name) || topRoles[d.Name]:
			return s.Errorf(f+".name", "%q: name the supplier role (letters, digits, _ and -, not a top-level role)", d.Name)
		case seen[d.Name]:
			return s.Errorf(f+".name", "role %q is delegated twice", d.Name)
		case len(d.Paths) == 0:
			return s.Errorf(f+".paths", "missing: the image paths delegated, e.g. ['brk-v2/*']")
		}
		seen[d.Name] = true
		for j, p := range d.Paths {
			if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, "..") {
				return s.Errorf(fmt.Sprintf("%s.paths[%d]", f, j), "%q is not an image path pattern like 'brk-v2/*'", p)
			}
		}
		if err := s.validateRoleKeys(f, RoleKeys{Keys: d.Keys, Threshold: d.Threshold}); err != nil {
			return err
		}
	}
	return nil
}

func (s *Scenario) validateRoleKeys(f string, rk RoleKeys) error {
	switch {
	case rk.Keys < 0 || rk.Keys > 16:
		return s.Errorf(f+".keys", "%d: 1 to 16 keys", rk.Keys)
	case rk.Threshold < 0 || rk.Threshold > 16:
		return s.Errorf(f+".threshold", "%d: 1 to 16", rk.Threshold)
	case rk.Keys > 0 && rk.Threshold > rk.Keys:
		return s.Errorf(f+".threshold", "%d is more than the %d keys", rk.Threshold, rk.Keys)
	}
	return nil
}

// apply puts the setup into the vehicle's bring-up options.
func (im ImageSetup) apply(o *vehicle.Options) {
	if len(im.Roles) > 0 {
		o.ImageRoles = map[string]vehicle.RoleKeys{}
		for r, rk := range im.Roles {
			o.ImageRoles[r] = vehicle.RoleKeys{Keys: rk.Keys, Threshold: rk.Threshold}
		}
	}
	for _, d := range im.Delegations {
		o.Delegations = append(o.Delegations, vehicle.Delegation{Name: d.Name, Paths: d.Paths, HardwareIDs: d.HardwareIDs,
			Terminating: d.Terminating, RoleKeys: vehicle.RoleKeys{Keys: d.Keys, Threshold: d.Threshold}})
	}
}

func (s *Scenario) validatePublish(f string, p *Publish) error {
	switch p.Repo {
	case "director":
		if p.Role != "" || p.Name != "" || p.Release != 0 {
			return s.Errorf(f, "role, name and release are for publishing on the image repository")
		}
		n := 0
		for _, on := range []bool{p.Image != "", p.Rollback, p.RollbackTargets} {
			if on {
				n++
			}
		}
		if n != 1 {
			return s.Errorf(f, "give exactly one of image: malicious or target:NAME (with ecu), rollback: true, rollback_targets: true")
		}
		if p.Image != "" && ((p.Image != "malicious" && !strings.HasPrefix(p.Image, "target:")) || p.ECU == "") {
			return s.Errorf(f+".image", "image: malicious or target:NAME, with the ecu it is for")
		}
	case "image":
		if p.Rollback || p.RollbackTargets {
			return s.Errorf(f, "rollback and rollback_targets are for the director repository")
		}
		if p.Image != "malicious" || p.ECU == "" {
			return s.Errorf(f+".image", "on the image repository: image: malicious, with the ecu it is for")
		}
		if err := meta.ValidTargetName(p.Name); err != nil {
			return s.Errorf(f+".name", "the target name of the malicious image, e.g. ecm-v3/firmware-r3.bin: %v", err)
		}
		if p.Role != "" && !roleNameRe.MatchString(p.Role) {
			return s.Errorf(f+".role", "%q is not a targets role name", p.Role)
		}
	default:
		return s.Errorf(f+".repo", "%q is not director or image", p.Repo)
	}
	return nil
}

// compromiseImage hands the attacker keys of the Image repository: a
// top-level or supplier role's, or "online" (snapshot and timestamp, the
// keys the repository keeps on line; its Targets key is offline).
func (r *runner) compromiseImage(f string, c *Compromise) error {
	roles := []string{c.Role}
	if c.Role == "online" {
		roles = []string{meta.Snapshot, meta.Timestamp}
	}
	for _, role := range roles {
		sg := r.v.Image.Signers(role)
		if len(sg) == 0 {
			return r.s.Errorf(f+".compromise.role", "the image repository has no %s keys", role)
		}
		if c.Key < 0 || c.Key >= len(sg) {
			return r.s.Errorf(f+".compromise.key", "the image %s role has %d keys", role, len(sg))
		}
		r.heldImage[role] = append(r.heldImage[role], sg[c.Key])
	}
	r.note(fmt.Sprintf("attacker holds image %s key #%d", c.Role, c.Key))
	return nil
}

// imageFile returns the Image repository's current file of role.
func (r *runner) imageFile(role string) ([]byte, error) {
	name := meta.UnversionedName(meta.Timestamp)
	if role != meta.Timestamp {
		v := r.v.Image.Version(role)
		if v == 0 {
			return nil, fmt.Errorf("the image repository has no %s role", role)
		}
		name = meta.VersionedName(v, role)
	}
	b, ok := r.v.Image.File(name)
	if !ok {
		return nil, fmt.Errorf("the image repository has no file %s", name)
	}
	return b, nil
}

// publishImage signs, with the Image repository keys the attacker holds,
// metadata of a targets role that lists a malicious image for an ECU's
// hardware, and a snapshot and timestamp for it, and serves them (and the
// image) on the vehicle's link.
func (r *runner) publishImage(p *Publish) error {
	e := r.v.Rig.ECU(p.ECU)
	if e == nil {
		return fmt.Errorf("no ECU %q in the rig", p.ECU)
	}
	role := p.Role
	if role == "" {
		role = meta.Targets
	}
	rc := p.Release
	if rc == 0 {
		inst, err := r.installed(p.ECU)
		if err != nil {
			return err
		}
		rc = inst.Release + 1
	}
	rp := &forge.Repo{Signers: r.heldImage}
	var err error
	if rp.Timestamp, err = r.imageFile(meta.Timestamp); err != nil {
		return err
	}
	if rp.Snapshot, err = r.imageFile(meta.Snapshot); err != nil {
		return err
	}
	if rp.Targets, err = r.imageFile(meta.Targets); err != nil {
		return err
	}
	current, err := r.imageFile(role)
	if err != nil {
		return err
	}
	files, tf, err := forge.ImageTarget(rp, role, current, p.Name, r.v.ImageBytes("malicious", 0, e.ImageSize), e.HardwareID, rc)
	if err != nil {
		return err
	}
	r.forged[p.Name] = tf
	r.serve("/image/", files)
	r.v.PrimaryCfg.Events(events.Event{Time: r.sim.Now(), Kind: events.Attack, From: events.Attacker,
		Label: fmt.Sprintf("attacker signs %s as image %s role and serves %d forged files", p.Name, role, len(files))})
	return nil
}

// serve answers requests for each file under prefix with the forged bytes.
func (r *runner) serve(prefix string, files forge.Files) {
	names := slices.Sorted(maps.Keys(files))
	for _, n := range names {
		path := prefix + n
		rule := &mitm.Rule{Name: "publish " + n, Path: regexp.MustCompile("^" + regexp.QuoteMeta(path) + "$"), Action: mitm.Substitute{Body: files[n]}}
		r.rules = append(r.rules, rule)
		r.proxy.Add(rule)
	}
}

// imageTarget is the Image repository's metadata of an image as the
// attacker serves it: one it forged, else the genuine one.
func (r *runner) imageTarget(name string) (*metadata.TargetFiles, error) {
	if tf, ok := r.forged[name]; ok {
		c := *tf
		return &c, nil
	}
	return r.v.Image.Target(name)
}

// rollbackTargets forges, with the Director snapshot and timestamp keys
// held, a new snapshot listing the oldest Director targets recorded.
func (r *runner) rollbackTargets(rp *forge.Repo) (forge.Files, error) {
	old := r.recordedMatching("/director/"+r.v.Rig.Vehicle.VIN+"/", ".targets.json")
	if old == nil {
		return nil, fmt.Errorf("the attacker has recorded no Director targets yet")
	}
	return forge.TargetsRollback(rp, old)
}

// rotate replaces a role's keys with new ones (Root N+1 revokes the old).
func (r *runner) rotate(rot *Rotate) error {
	k, err := keys.Generate(keyType(r.v.Rig, rot.Repo), r.v.Seed.Reader(fmt.Sprintf("keys/rotated/%s/%s/%d", rot.Repo, rot.Role, r.sim.Now().UnixNano())))
	if err != nil {
		return err
	}
	r.note("OEM rotates the " + rot.Repo + " " + rot.Role + " key")
	if rot.Repo == "director" {
		return r.v.Director.RotateKeys(rot.Role, []keys.Signer{k}, 1)
	}
	if err := r.v.Image.RotateKeys(rot.Role, []keys.Signer{k}, 1); err != nil {
		return err
	}
	return r.v.Image.Publish()
}

// publish serves metadata the attacker signed with the keys it holds.
func (r *runner) publish(p *Publish) error {
	vin := r.v.Rig.Vehicle.VIN
	cur := func(role string) ([]byte, error) {
		if role == meta.Timestamp {
			return r.v.Director.File(vin, "timestamp.json")
		}
		n, err := r.v.Director.Version(vin, role)
		if err != nil {
			return nil, err
		}
		return r.v.Director.File(vin, meta.VersionedName(n, role))
	}
	rp := &forge.Repo{Signers: r.held}
	var err error
	if rp.Timestamp, err = cur(meta.Timestamp); err != nil {
		return err
	}
	if rp.Snapshot, err = cur(meta.Snapshot); err != nil {
		return err
	}
	if rp.Targets, err = cur(meta.Targets); err != nil {
		return err
	}
	var files forge.Files
	if p.Rollback {
		old := r.recordedMatching("/director/"+vin+"/", ".snapshot.json")
		if old == nil {
			return fmt.Errorf("the attacker has recorded no Director snapshot yet")
		}
		files, err = forge.TimestampRollback(rp, old)
	} else if p.RollbackTargets {
		files, err = r.rollbackTargets(rp)
	} else if name, ok := strings.CutPrefix(p.Image, "target:"); ok {
		img, err2 := r.imageTarget(name)
		if err2 != nil {
			return err2
		}
		files, err = forge.DirectorAssign(rp, p.ECU, r.v.Rig.ECU(p.ECU).HardwareID, name, img)
	} else {
		files, err = forge.DirectorImage(rp, p.ECU, r.v.ImageBytes("malicious", 0, r.v.Rig.ECU(p.ECU).ImageSize))
	}
	if err != nil {
		return err
	}
	names := slices.Sorted(maps.Keys(files))
	for _, n := range names {
		path := "/director/" + vin + "/" + n
		if strings.HasPrefix(n, "targets/") {
			path = "/image/" + n
		}
		rule := &mitm.Rule{Name: "publish " + n, Path: regexp.MustCompile("^" + regexp.QuoteMeta(path) + "$"), Action: mitm.Substitute{Body: files[n]}}
		r.rules = append(r.rules, rule)
		r.proxy.Add(rule)
	}
	r.v.PrimaryCfg.Events(events.Event{Time: r.sim.Now(), Kind: events.Attack, From: events.Attacker, Label: fmt.Sprintf("attacker publishes %d forged files", len(files))})
	return nil
}

// recordedMatching returns the oldest recorded body whose path has prefix
// and suffix.
func (r *runner) recordedMatching(prefix, suffix string) []byte {
	var best []byte
	bestV := int64(-1)
	for v := int64(1); v < 1000; v++ {
		p := fmt.Sprintf("%s%d%s", prefix, v, suffix)
		if rec := r.proxy.Recorded(p); len(rec) > 0 {
			if bestV < 0 {
				best, bestV = rec[0], v
			}
			break
		}
	}
	return best
}
