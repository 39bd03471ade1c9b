package repo

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/internal/atomicfile"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// ImageOptions configures an Image repository.
type ImageOptions struct {
	// Dir holds the repository's state: keys/ (private keys, mode 0600),
	// metadata/ (every published metadata file) and targets/ (images, one
	// file per hash). Empty: in memory only.
	Dir   string
	Clock Clock // required
	Keys  KeyConfig
	// Expiry of each role's metadata; zero fields take DefaultExpiry.
	Expiry Expiry
	// Logger receives what the repository does (never key material).
	Logger *slog.Logger
	// Uploaders are the write credentials of the upload endpoints (PUT
	// /upload/targets/..., POST /upload/publish): one per supplier, each
	// bound to one delegated targets role ({#image_repository}: a writer is
	// authorized for an image by the chain of delegations). None: no write
	// access over HTTP. Top-level Targets is never writable over HTTP: its
	// keys are the OEM's, kept offline.
	Uploaders []Uploader
	// MaxUpload caps an uploaded image (default 64 MiB).
	MaxUpload int64
}

// Uploader is one supplier's credential for the upload endpoints: a request
// carrying "Authorization: Bearer <Token>" writes as Role and nothing else,
// and only what the chain of delegations gives Role (its paths and hardware
// identifiers).
type Uploader struct {
	Role  string // a delegated targets role; never top-level "targets"
	Token string // a secret, at least MinUploadToken bytes; never logged
}

// MinUploadToken is the shortest upload credential accepted.
const MinUploadToken = 16

func checkUploaders(us []Uploader) error {
	seen := map[string]bool{}
	for i, u := range us {
		switch {
		case u.Role == meta.Targets || u.Role == meta.Root || u.Role == meta.Snapshot || u.Role == meta.Timestamp:
			return fmt.Errorf("repo: image: uploader %d: role %q: top-level roles are signed only by their key holders (offline), never over HTTP", i, u.Role)
		case u.Role == "":
			return fmt.Errorf("repo: image: uploader %d: no role", i)
		case len(u.Token) < MinUploadToken:
			return fmt.Errorf("repo: image: uploader %d (role %q): token shorter than %d bytes", i, u.Role, MinUploadToken)
		case seen[u.Token]:
			return fmt.Errorf("repo: image: uploader %d (role %q): token shared with another uploader", i, u.Role)
		}
		seen[u.Token] = true
	}
	return nil
}

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

// Image is an Image repository ({#image_repository}).
type Image struct {
	mu     sync.Mutex
	opts   ImageOptions
	log    *slog.Logger
	top    *topRoles
	roleSg map[string][]keys.Signer // delegated role → its signers
	// targets roles: "targets" and delegated roles, working copies.
	roles     map[string]*metadata.Metadata[metadata.TargetsType]
	parent    map[string]string // delegated role → delegating role
	published map[string]int64  // targets roles: last published version
	dirty     map[string]bool
	snapshot  int64
	timestamp int64
	rootDirty []int64           // root versions made since the last Publish
	images    map[string][]byte // target name → current image bytes
	files     map[string][]byte // published metadata files
	blobs     map[string][]byte // "targets/HASH.NAME" → image bytes
}

// OpenImage opens the Image repository in opts.Dir, or creates one (new
// keys, Root version 1, and a first Publish) when the directory holds none.
func OpenImage(opts ImageOptions) (*Image, error) {
	if opts.Clock == nil {
		return nil, errors.New("repo: image: a Clock is required")
	}
	if opts.MaxUpload <= 0 {
		opts.MaxUpload = 64 << 20
	}
	if err := checkUploaders(opts.Uploaders); err != nil {
		return nil, err
	}
	im := &Image{opts: opts, log: opts.Logger, roleSg: map[string][]keys.Signer{},
		roles: map[string]*metadata.Metadata[metadata.TargetsType]{}, parent: map[string]string{},
		published: map[string]int64{}, dirty: map[string]bool{}, images: map[string][]byte{},
		files: map[string][]byte{}, blobs: map[string][]byte{}}
	if im.log == nil {
		im.log = discardLogger()
	}
	im.log = im.log.With("repo", meta.Image)
	if opts.Dir != "" {
		if _, err := os.Stat(filepath.Join(opts.Dir, "metadata", "timestamp.json")); err == nil {
			if err := im.load(); err != nil {
				return nil, err
			}
			return im, nil
		}
	}
	top, err := newTopRoles(opts.Keys, expires(opts.Clock, opts.Expiry.For(meta.Root)))
	if err != nil {
		return nil, err
	}
	im.top = top
	var all []keys.Signer
	for _, r := range []string{meta.Root, meta.Targets, meta.Snapshot, meta.Timestamp} {
		all = append(all, top.signers[r]...)
	}
	if err := saveKeys(im.keyDir(), im.log, all...); err != nil {
		return nil, err
	}
	im.rootDirty = []int64{1}
	im.roles[meta.Targets] = metadata.Targets(expires(opts.Clock, opts.Expiry.For(meta.Targets)))
	im.dirty[meta.Targets] = true
	if err := im.saveRoot(); err != nil {
		return nil, err
	}
	if err := im.publish(); err != nil {
		return nil, err
	}
	im.log.Info("image repository created", "dir", opts.Dir)
	return im, nil
}

func (im *Image) keyDir() string {
	if im.opts.Dir == "" {
		return ""
	}
	return filepath.Join(im.opts.Dir, "keys")
}

func (im *Image) saveRoot() error {
	b, err := encode(im.top.root)
	if err != nil {
		return err
	}
	return im.writeFile(meta.VersionedName(im.top.root.Signed.Version, meta.Root), b)
}

func (im *Image) writeFile(name string, b []byte) error {
	im.files[name] = b
	if im.opts.Dir == "" {
		return nil
	}
	dir := filepath.Join(im.opts.Dir, "metadata")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("repo: image: %w", err)
	}
	return atomicfile.Write(filepath.Join(dir, name), b, 0o644)
}

func (im *Image) writeBlob(name string, b []byte) error {
	if im.opts.Dir == "" {
		return nil
	}
	p := filepath.Join(im.opts.Dir, "targets", filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("repo: image: %w", err)
	}
	return atomicfile.Write(p, b, 0o644)
}

// Root returns the current Root metadata, signed (the trust anchor to
// provision ECUs with).
func (im *Image) Root() []byte {
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.files[meta.VersionedName(im.top.root.Signed.Version, meta.Root)]
}

// File returns a published metadata file ("3.root.json", "timestamp.json")
// or an image file ("targets/HASH.NAME").
func (im *Image) File(name string) ([]byte, bool) {
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.file(name)
}

func (im *Image) file(name string) ([]byte, bool) {
	if strings.HasPrefix(name, "targets/") {
		b, ok := im.blobs[name]
		return b, ok
	}
	if name == meta.UnversionedName(meta.Root) {
		name = meta.VersionedName(im.top.root.Signed.Version, meta.Root)
	}
	b, ok := im.files[name]
	return b, ok
}

// Version returns the last published version of a role's metadata (0 if
// never published).
func (im *Image) Version(role string) int64 {
	im.mu.Lock()
	defer im.mu.Unlock()
	switch role {
	case meta.Root:
		return im.top.root.Signed.Version
	case meta.Snapshot:
		return im.snapshot
	case meta.Timestamp:
		return im.timestamp
	}
	return im.published[role]
}

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

// AddImage adds an image to the top-level targets role.
func (im *Image) AddImage(name string, data []byte, hardwareIDs []string, releaseCounter uint64) error {
	return im.AddImageTo(meta.Targets, name, data, hardwareIDs, releaseCounter)
}

// AddImageTo adds an image to a targets role, after checking the chain of
// delegations authorizes that role for the name and hardware identifiers.
// The image is served, and the role re-signed, at the next Publish.
func (im *Image) AddImageTo(role, name string, data []byte, hardwareIDs []string, releaseCounter uint64) error {
	if err := meta.ValidTargetName(name); err != nil {
		return fmt.Errorf("repo: image: %w", err)
	}
	if len(hardwareIDs) == 0 {
		return fmt.Errorf("repo: image: %q: at least one hardware identifier is required", name)
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	m, ok := im.roles[role]
	if !ok {
		return fmt.Errorf("repo: image: no targets role %q", role)
	}
	if err := im.authorize(role, name, hardwareIDs); err != nil {
		return fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	tf := &metadata.TargetFiles{Length: int64(len(data)), Hashes: meta.HashesOf(data), Path: name}
	if err := meta.SetCustom(tf, &meta.Custom{Uptane: meta.ShallMatch{HardwareIDs: slices.Clone(hardwareIDs), ReleaseCounter: releaseCounter}}); err != nil {
		return fmt.Errorf("repo: image: %w", err)
	}
	m.Signed.Targets[name] = tf
	im.dirty[role] = true
	data = slices.Clone(data)
	for _, n := range meta.ImageNames(name, tf.Hashes) {
		if err := im.writeBlob(n, data); err != nil {
			return err
		}
		im.blobs["targets/"+n] = data
	}
	im.images[name] = data
	im.log.Info("image added", "role", role, "name", name, "length", len(data), "hardware_ids", hardwareIDs, "release_counter", releaseCounter)
	return nil
}

// RemoveImage removes an image from a targets role (the file stays served
// for clients holding older metadata).
func (im *Image) RemoveImage(role, name string) error {
	im.mu.Lock()
	defer im.mu.Unlock()
	m, ok := im.roles[role]
	if !ok {
		return fmt.Errorf("repo: image: no targets role %q", role)
	}
	if _, ok := m.Signed.Targets[name]; !ok {
		return fmt.Errorf("repo: image: role %q has no image %q", role, name)
	}
	delete(m.Signed.Targets, name)
	im.dirty[role] = true
	return nil
}

// Target returns the published metadata of an image: the first role, in
// delegation order from "targets", that lists it.
func (im *Image) Target(name string) (*metadata.TargetFiles, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	tf := im.find(meta.Targets, name, 0)
	if tf == nil {
		return nil, fmt.Errorf("repo: image: no image %q", name)
	}
	c := *tf
	c.Hashes = metadata.Hashes{}
	for k, v := range tf.Hashes {
		c.Hashes[k] = slices.Clone(v)
	}
	c.Path = name
	return &c, nil
}

func (im *Image) find(role, name string, depth int) *metadata.TargetFiles {
	m := im.roles[role]
	if m == nil || depth > 32 {
		return nil
	}
	if tf, ok := m.Signed.Targets[name]; ok {
		return tf
	}
	if m.Signed.Delegations == nil {
		return nil
	}
	for _, d := range m.Signed.Delegations.Roles {
		if tf := im.find(d.Name, name, depth+1); tf != nil {
			return tf
		}
	}
	return nil
}

// ImageData returns the bytes of an image.
func (im *Image) ImageData(name string) ([]byte, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	b, ok := im.images[name]
	if !ok {
		return nil, fmt.Errorf("repo: image: no image %q", name)
	}
	return slices.Clone(b), nil
}

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
	for _, role := range sortedNames(im.roles) {
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
	for _, role := range sortedNames(im.published) {
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

// load reads the last published state from opts.Dir.
func (im *Image) load() error {
	dir := filepath.Join(im.opts.Dir, "metadata")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("repo: image: load: %w", err)
	}
	var rootV int64
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return fmt.Errorf("repo: image: load: %w", err)
		}
		im.files[n] = b
		if v, ok := strings.CutSuffix(n, ".root.json"); ok {
			if x, err := strconv.ParseInt(v, 10, 64); err == nil && x > rootV {
				rootV = x
			}
		}
	}
	rootName := meta.VersionedName(rootV, meta.Root)
	root, err := decode[metadata.RootType](rootName, im.files[rootName])
	if err != nil {
		return err
	}
	ks, err := loadKeys(im.keyDir())
	if err != nil {
		return err
	}
	im.top = &topRoles{root: root, signers: map[string][]keys.Signer{}}
	im.top.assignSigners(ks)
	ts, err := decode[metadata.TimestampType]("timestamp.json", im.files["timestamp.json"])
	if err != nil {
		return err
	}
	im.timestamp = ts.Signed.Version
	snMeta, ok := ts.Signed.Meta["snapshot.json"]
	if !ok {
		return errors.New("repo: image: load: timestamp.json lists no snapshot.json")
	}
	im.snapshot = snMeta.Version
	snName := meta.VersionedName(im.snapshot, meta.Snapshot)
	sn, err := decode[metadata.SnapshotType](snName, im.files[snName])
	if err != nil {
		return err
	}
	for file, mf := range sn.Signed.Meta {
		role := strings.TrimSuffix(file, ".json")
		name := meta.VersionedName(mf.Version, role)
		m, err := decode[metadata.TargetsType](name, im.files[name])
		if err != nil {
			return err
		}
		im.roles[role] = m
		im.published[role] = mf.Version
	}
	if im.roles[meta.Targets] == nil {
		return errors.New("repo: image: load: snapshot lists no targets.json")
	}
	for _, role := range sortedNames(im.roles) {
		m := im.roles[role]
		if d := m.Signed.Delegations; d != nil {
			for _, dr := range d.Roles {
				im.parent[dr.Name] = role
				for _, id := range dr.KeyIDs {
					if s, ok := ks[id]; ok {
						im.roleSg[dr.Name] = append(im.roleSg[dr.Name], s)
					}
				}
			}
		}
		for name, tf := range m.Signed.Targets {
			tf.Path = name
			names := meta.ImageNames(name, tf.Hashes)
			if len(names) == 0 {
				return fmt.Errorf("repo: image: load: %s lists %q without hashes", role, name)
			}
			data, err := os.ReadFile(filepath.Join(im.opts.Dir, "targets", filepath.FromSlash(names[0])))
			if err != nil {
				return fmt.Errorf("repo: image: load: %w", err)
			}
			if err := meta.CheckHashes(data, tf.Length, tf.Hashes); err != nil {
				return fmt.Errorf("repo: image: load: image %q: %w", name, err)
			}
			im.images[name] = data
		}
	}
	// Every image file ever published stays served (clients may hold
	// older metadata).
	tdir := filepath.Join(im.opts.Dir, "targets")
	err = filepath.WalkDir(tdir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		rel, err := filepath.Rel(tdir, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		im.blobs["targets/"+filepath.ToSlash(rel)] = data
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("repo: image: load: %w", err)
	}
	im.log.Info("image repository loaded", "dir", im.opts.Dir, "root", root.Signed.Version, "snapshot", im.snapshot, "timestamp", im.timestamp)
	return nil
}

// uploader returns the credential an Authorization header carries.
func (im *Image) uploader(h string) (Uploader, bool) {
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return Uploader{}, false
	}
	var found Uploader
	hit := 0
	for _, u := range im.opts.Uploaders {
		// every credential is compared, so the time taken does not say which matched
		if subtle.ConstantTimeCompare([]byte(tok), []byte(u.Token)) == 1 {
			found, hit = u, hit+1
		}
	}
	return found, hit == 1
}
