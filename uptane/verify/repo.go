package verify

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/secure-systems-lab/go-securesystemslib/cjson"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/internal/atomicfile"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// Repo is the trusted metadata of one repository ("director" or "image"):
// every Root version trusted so far, and the trusted Timestamp, Snapshot,
// top-level Targets and delegated Targets metadata, as the exact bytes
// received and in parsed form.
//
// A Repo is replaced only when a whole update step succeeds: the procedures
// work on a copy and Update.Commit installs it. The parsed metadata returned
// by the accessors is shared and must not be modified.
type Repo struct {
	name      string
	roots     [][]byte // every trusted Root, oldest first; the last is current
	root      *metadata.Metadata[metadata.RootType]
	timestamp *metadata.Metadata[metadata.TimestampType]
	snapshot  *metadata.Metadata[metadata.SnapshotType]
	targets   *metadata.Metadata[metadata.TargetsType]
	delegated map[string]*metadata.Metadata[metadata.TargetsType]
	raw       map[string][]byte // "timestamp", "snapshot", "targets"
	rawDeleg  map[string][]byte // delegated role → bytes
}

// NewRepo starts the trusted state of repository name from a trusted Root
// (shipped with the ECU or given to the TUF client). The Root must parse
// and be signed by a threshold of its own Root keys.
func NewRepo(name string, root []byte) (*Repo, error) {
	r, err := parseRoot(root)
	if err != nil {
		return nil, fmt.Errorf("verify: %s: trusted root: %w", name, err)
	}
	if err := verifyRole(r, payloadOf(r), r.Signed.Keys, r.Signed.Roles[meta.Root]); err != nil {
		return nil, fmt.Errorf("verify: %s: trusted root version %d: %w", name, r.Signed.Version, err)
	}
	return &Repo{name: name, roots: [][]byte{clone(root)}, root: r,
		delegated: map[string]*metadata.Metadata[metadata.TargetsType]{},
		raw:       map[string][]byte{}, rawDeleg: map[string][]byte{}}, nil
}

// Name is "director" or "image" (or what NewRepo was given).
func (r *Repo) Name() string { return r.name }

// Root is the latest trusted Root.
func (r *Repo) Root() *metadata.Metadata[metadata.RootType] { return r.root }

// Timestamp is the trusted Timestamp, or nil.
func (r *Repo) Timestamp() *metadata.Metadata[metadata.TimestampType] { return r.timestamp }

// Snapshot is the trusted Snapshot, or nil.
func (r *Repo) Snapshot() *metadata.Metadata[metadata.SnapshotType] { return r.snapshot }

// Targets is the trusted top-level Targets, or nil.
func (r *Repo) Targets() *metadata.Metadata[metadata.TargetsType] { return r.targets }

// Delegated is the trusted metadata of a delegated role, or nil.
func (r *Repo) Delegated(role string) *metadata.Metadata[metadata.TargetsType] {
	return r.delegated[role]
}

// DelegatedRoles lists the delegated roles held, sorted.
func (r *Repo) DelegatedRoles() []string {
	return slices.Sorted(maps.Keys(r.delegated))
}

// Raw returns the trusted bytes of a role's metadata ("root" is the latest
// Root), or nil.
func (r *Repo) Raw(role string) []byte {
	switch role {
	case meta.Root:
		return r.roots[len(r.roots)-1]
	case meta.Timestamp, meta.Snapshot, meta.Targets:
		return r.raw[role]
	}
	return r.rawDeleg[role]
}

// RootVersions returns the bytes of every trusted Root version, oldest first.
func (r *Repo) RootVersions() [][]byte { return append([][]byte(nil), r.roots...) }

// Files returns the trusted metadata under its repository file names, as a
// Fetcher of this repository would serve it: "N.root.json" for every Root
// version, "timestamp.json", the Snapshot, Targets and delegated Targets
// under the names the current Root's consistent-snapshot rule gives. A
// Primary can hand this set (or a subset) to a Secondary's MapFetcher.
func (r *Repo) Files() map[string][]byte {
	out := map[string][]byte{}
	for _, b := range r.roots {
		if m, err := parseRoot(b); err == nil {
			out[meta.VersionedName(m.Signed.Version, meta.Root)] = b
		}
	}
	if r.timestamp != nil {
		out[meta.UnversionedName(meta.Timestamp)] = r.raw[meta.Timestamp]
	}
	if r.snapshot != nil {
		out[r.fileName(meta.Snapshot, r.snapshot.Signed.Version)] = r.raw[meta.Snapshot]
	}
	if r.targets != nil {
		out[r.fileName(meta.Targets, r.targets.Signed.Version)] = r.raw[meta.Targets]
	}
	for role, m := range r.delegated {
		out[r.fileName(role, m.Signed.Version)] = r.rawDeleg[role]
	}
	return out
}

// fileName is the repository file name of version v of role under the
// current Root ({#metadata_filename_rules} rule 1), the role name escaped
// once (meta.EscapeRole).
func (r *Repo) fileName(role string, v int64) string {
	esc := meta.EscapeRole(role)
	if r.root.Signed.ConsistentSnapshot && v > 0 {
		return meta.VersionedName(v, esc)
	}
	return meta.UnversionedName(esc)
}

// Clone returns a copy that can be changed without touching r.
func (r *Repo) Clone() *Repo {
	c := *r
	c.roots = append([][]byte(nil), r.roots...)
	c.delegated = make(map[string]*metadata.Metadata[metadata.TargetsType], len(r.delegated))
	for k, v := range r.delegated {
		c.delegated[k] = v
	}
	c.raw = make(map[string][]byte, len(r.raw))
	for k, v := range r.raw {
		c.raw[k] = v
	}
	c.rawDeleg = make(map[string][]byte, len(r.rawDeleg))
	for k, v := range r.rawDeleg {
		c.rawDeleg[k] = v
	}
	return &c
}

// repoFile is the serialised form of a Repo: the exact bytes of every file.
type repoFile struct {
	Repository string            `json:"repository"`
	Roots      [][]byte          `json:"roots"`
	Files      map[string][]byte `json:"files,omitempty"`
	Delegated  map[string][]byte `json:"delegated,omitempty"`
}

// Marshal serialises the trusted state (the exact bytes of every file), for
// an ECU to persist with internal/atomicfile.
func (r *Repo) Marshal() ([]byte, error) {
	return json.Marshal(repoFile{Repository: r.name, Roots: r.roots, Files: r.raw, Delegated: r.rawDeleg})
}

// LoadRepo restores a trusted state written by Marshal. The files were
// verified before they were trusted; LoadRepo parses them again and checks
// that each delegated role is still delegated by the trusted metadata held.
func LoadRepo(data []byte) (*Repo, error) {
	var f repoFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("verify: load trusted state: %w", err)
	}
	if len(f.Roots) == 0 {
		return nil, fmt.Errorf("verify: load trusted state of %q: no root", f.Repository)
	}
	r := &Repo{name: f.Repository, delegated: map[string]*metadata.Metadata[metadata.TargetsType]{},
		raw: map[string][]byte{}, rawDeleg: map[string][]byte{}}
	for i, b := range f.Roots {
		m, err := parseRoot(b)
		if err != nil {
			return nil, fmt.Errorf("verify: load trusted state of %q: root #%d: %w", f.Repository, i, err)
		}
		r.roots = append(r.roots, b)
		r.root = m
	}
	for role, b := range f.Files {
		var err error
		switch role {
		case meta.Timestamp:
			r.timestamp, err = parseTimestamp(b)
		case meta.Snapshot:
			r.snapshot, err = parseSnapshot(b)
		case meta.Targets:
			r.targets, err = parseTargets(b)
		default:
			err = fmt.Errorf("unknown role")
		}
		if err != nil {
			return nil, fmt.Errorf("verify: load trusted state of %q: %s: %w", f.Repository, role, err)
		}
		r.raw[role] = b
	}
	for role, b := range f.Delegated {
		m, err := parseTargets(b)
		if err != nil {
			return nil, fmt.Errorf("verify: load trusted state of %q: delegated role %q: %w", f.Repository, role, err)
		}
		r.delegated[role] = m
		r.rawDeleg[role] = b
	}
	return r, nil
}

// Save writes the trusted state to path atomically (mode 0600).
func (r *Repo) Save(path string) error {
	b, err := r.Marshal()
	if err != nil {
		return fmt.Errorf("verify: save %s: %w", path, err)
	}
	return atomicfile.Write(path, b, 0o600)
}

// LoadRepoFile reads a trusted state written by Save.
func LoadRepoFile(path string) (*Repo, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	return LoadRepo(b)
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// ParseMetadata parses one metadata file of any role and checks its shape
// (what the verifier relies on before any signature is checked). It never
// panics on hostile input. The result is a *metadata.Metadata of the role's
// type.
func ParseMetadata(data []byte) (any, error) {
	var probe struct {
		Signed struct {
			Type string `json:"_type"`
		} `json:"signed"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("verify: not metadata: %w", err)
	}
	switch probe.Signed.Type {
	case meta.Root:
		return parseRoot(data)
	case meta.Timestamp:
		return parseTimestamp(data)
	case meta.Snapshot:
		return parseSnapshot(data)
	case meta.Targets:
		return parseTargets(data)
	}
	return nil, fmt.Errorf("verify: unknown metadata type %q", probe.Signed.Type)
}

// parse wraps go-tuf's parser: hostile input must give an error, never a
// panic (go-tuf dereferences null target entries while parsing).
func parse[T metadata.Roles](data []byte) (m *metadata.Metadata[T], err error) {
	defer func() {
		if p := recover(); p != nil {
			m, err = nil, fmt.Errorf("malformed metadata (%v)", p)
		}
	}()
	m, err = (&metadata.Metadata[T]{}).FromBytes(data)
	if err != nil {
		return nil, fmt.Errorf("malformed metadata: %w", err)
	}
	// go-tuf takes a missing attribute for its zero value; the common
	// structure ({#common_metadata}) requires the signatures and the expiry.
	var common struct {
		Signatures json.RawMessage `json:"signatures"`
		Signed     struct {
			Expires json.RawMessage `json:"expires"`
		} `json:"signed"`
	}
	if err := json.Unmarshal(data, &common); err != nil {
		return nil, fmt.Errorf("malformed metadata: %w", err)
	}
	if err := meta.CheckStrings(data); err != nil {
		return nil, fmt.Errorf("malformed metadata: %w", err)
	}
	switch {
	case len(common.Signatures) == 0 || string(common.Signatures) == "null":
		return nil, fmt.Errorf("malformed metadata: no signatures attribute")
	case len(common.Signed.Expires) == 0 || string(common.Signed.Expires) == "null":
		return nil, fmt.Errorf("malformed metadata: no expiry")
	}
	return m, nil
}

func checkCommon(version int64) error {
	if version < 1 {
		return fmt.Errorf("malformed metadata: version %d is not positive", version)
	}
	return nil
}

func checkKeys(ks map[string]*metadata.Key) error {
	for id, k := range ks {
		if k == nil {
			return fmt.Errorf("malformed metadata: key %q is null", id)
		}
	}
	return nil
}

func checkMetaFiles(mf map[string]*metadata.MetaFiles) error {
	for name, f := range mf {
		if f == nil {
			return fmt.Errorf("malformed metadata: meta %q is null", name)
		}
		if f.Length < 0 || f.Version < 1 {
			return fmt.Errorf("malformed metadata: meta %q: length %d, version %d", name, f.Length, f.Version)
		}
	}
	return nil
}

func parseRoot(data []byte) (*metadata.Metadata[metadata.RootType], error) {
	m, err := parse[metadata.RootType](data)
	if err != nil {
		return nil, err
	}
	if err := checkCommon(m.Signed.Version); err != nil {
		return nil, err
	}
	if err := checkKeys(m.Signed.Keys); err != nil {
		return nil, err
	}
	for _, role := range metadata.TOP_LEVEL_ROLE_NAMES {
		if m.Signed.Roles[role] == nil {
			return nil, fmt.Errorf("malformed metadata: root lists no %s role", role)
		}
	}
	return m, nil
}

func parseTimestamp(data []byte) (*metadata.Metadata[metadata.TimestampType], error) {
	m, err := parse[metadata.TimestampType](data)
	if err != nil {
		return nil, err
	}
	if err := checkCommon(m.Signed.Version); err != nil {
		return nil, err
	}
	return m, checkMetaFiles(m.Signed.Meta)
}

func parseSnapshot(data []byte) (*metadata.Metadata[metadata.SnapshotType], error) {
	m, err := parse[metadata.SnapshotType](data)
	if err != nil {
		return nil, err
	}
	if err := checkCommon(m.Signed.Version); err != nil {
		return nil, err
	}
	return m, checkMetaFiles(m.Signed.Meta)
}

func parseTargets(data []byte) (*metadata.Metadata[metadata.TargetsType], error) {
	m, err := parse[metadata.TargetsType](data)
	if err != nil {
		return nil, err
	}
	if err := checkCommon(m.Signed.Version); err != nil {
		return nil, err
	}
	for name, t := range m.Signed.Targets {
		if t == nil || t.Length < 0 {
			return nil, fmt.Errorf("malformed metadata: target %q", name)
		}
	}
	if d := m.Signed.Delegations; d != nil {
		if err := checkKeys(d.Keys); err != nil {
			return nil, err
		}
		if d.SuccinctRoles != nil {
			if d.Roles != nil {
				return nil, fmt.Errorf("malformed metadata: delegations have both roles and succinct_roles")
			}
			if b := d.SuccinctRoles.BitLength; b < 1 || b > 32 {
				return nil, fmt.Errorf("malformed metadata: succinct_roles bit_length %d is not in 1..32", b)
			}
		}
	}
	return m, nil
}

// payloadOf is the canonical JSON of the signed part: the bytes signatures
// are over.
func payloadOf[T metadata.Roles](m *metadata.Metadata[T]) []byte {
	b, err := cjson.EncodeCanonical(m.Signed)
	if err != nil {
		return nil
	}
	return b
}

// verifyRole checks that payload carries valid signatures by a threshold of
// distinct keys of role.
func verifyRole[T metadata.Roles](m *metadata.Metadata[T], payload []byte, ks map[string]*metadata.Key, role *metadata.Role) error {
	if role == nil {
		return fmt.Errorf("no such role")
	}
	return verifyThreshold(m.Signatures, payload, ks, role.KeyIDs, role.Threshold)
}

func verifyThreshold(sigs []metadata.Signature, payload []byte, ks map[string]*metadata.Key, keyIDs []string, threshold int) error {
	if threshold < 1 {
		return fmt.Errorf("threshold %d is not positive", threshold)
	}
	if payload == nil {
		return fmt.Errorf("signed part has no canonical JSON form")
	}
	n := meta.CountSignatures(payload, sigs, ks, keyIDs)
	if n < threshold {
		return fmt.Errorf("%d valid signatures of distinct keys, threshold %d", n, threshold)
	}
	return nil
}
