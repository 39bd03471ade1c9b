package verify_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/verify"
)

// t0 is the attested time of every spec.
var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// key makes a deterministic key named name.
func key(typ, name string) *keys.Private {
	return must(keys.Generate(typ, seed.Seed(1).Reader(name)))
}

// signBytes signs m with signers (dropping other signatures) and returns
// its bytes.
func signBytes[T metadata.Roles](m *metadata.Metadata[T], signers ...keys.Signer) []byte {
	m.Signatures = nil
	if err := meta.Sign(m, signers...); err != nil {
		panic(err)
	}
	return must(m.ToBytes(false))
}

// testRepo is a repository built with go-tuf's constructors: its files are
// what a Fetcher serves.
type testRepo struct {
	name      string
	signers   map[string][]keys.Signer // role → keys that sign
	root      *metadata.Metadata[metadata.RootType]
	timestamp *metadata.Metadata[metadata.TimestampType]
	snapshot  *metadata.Metadata[metadata.SnapshotType]
	targets   *metadata.Metadata[metadata.TargetsType]
	delegated map[string]*metadata.Metadata[metadata.TargetsType]
	files     verify.MapFetcher
	// snapshotHashes: list length and hashes of targets files in Snapshot.
	snapshotHashes bool
}

func newTestRepo(name string) *testRepo {
	r := &testRepo{name: name, signers: map[string][]keys.Signer{}, files: verify.MapFetcher{},
		delegated: map[string]*metadata.Metadata[metadata.TargetsType]{}}
	r.root = metadata.Root(t0.AddDate(1, 0, 0))
	add := func(role string, k *keys.Private) {
		must(0, r.root.Signed.AddKey(k.Public(), role))
		r.signers[role] = append(r.signers[role], k)
	}
	add(meta.Root, key(keys.Ed25519, name+"/root"))
	add(meta.Timestamp, key(keys.Ed25519, name+"/timestamp"))
	add(meta.Snapshot, key(keys.ECDSAP256, name+"/snapshot"))
	// Threshold-2 Targets role, one ed25519 and one ECDSA key.
	add(meta.Targets, key(keys.Ed25519, name+"/targets-1"))
	add(meta.Targets, key(keys.ECDSAP256, name+"/targets-2"))
	r.root.Signed.Roles[meta.Targets].Threshold = 2
	r.timestamp = metadata.Timestamp(t0.AddDate(0, 0, 7))
	r.snapshot = metadata.Snapshot(t0.AddDate(0, 0, 30))
	r.targets = metadata.Targets(t0.AddDate(0, 3, 0))
	r.publishRoot()
	return r
}

func (r *testRepo) trusted() *verify.Repo {
	return must(verify.NewRepo(r.name, r.files["1.root.json"]))
}

// publishRoot signs the current Root with its Root keys plus extra
// signers and publishes it as N.root.json.
func (r *testRepo) publishRoot(extra ...keys.Signer) {
	s := append(append([]keys.Signer{}, r.signers[meta.Root]...), extra...)
	r.files[meta.VersionedName(r.root.Signed.Version, meta.Root)] = signBytes(r.root, s...)
}

// rotate replaces role's keys with a new key (in a new Root version signed
// by the old and new Root keys).
func (r *testRepo) rotate(role string, k *keys.Private) {
	old := r.signers[meta.Root]
	for _, id := range append([]string{}, r.root.Signed.Roles[role].KeyIDs...) {
		must(0, r.root.Signed.RevokeKey(id, role))
	}
	must(0, r.root.Signed.AddKey(k.Public(), role))
	r.root.Signed.Roles[role].Threshold = 1
	r.signers[role] = []keys.Signer{k}
	r.root.Signed.Version++
	if role == meta.Root {
		r.publishRoot(old...)
	} else {
		r.publishRoot()
	}
}

// delegate adds a delegation from top-level Targets to a new role with one
// key, returning the delegated role entry for further settings.
func (r *testRepo) delegate(role string, paths []string, hwids ...string) *metadata.DelegatedRole {
	k := key(keys.Ed25519, r.name+"/"+role)
	if r.targets.Signed.Delegations == nil {
		r.targets.Signed.Delegations = &metadata.Delegations{Keys: map[string]*metadata.Key{}}
	}
	d := metadata.DelegatedRole{Name: role, KeyIDs: []string{}, Threshold: 1, Paths: paths}
	if len(hwids) > 0 {
		meta.SetHardwareIDs(&d, hwids...)
	}
	r.targets.Signed.Delegations.Roles = append(r.targets.Signed.Delegations.Roles, d)
	must(0, r.targets.Signed.AddKey(k.Public(), role))
	r.signers[role] = []keys.Signer{k}
	r.delegated[role] = metadata.Targets(t0.AddDate(0, 3, 0))
	return r.delegation(role)
}

func (r *testRepo) delegation(role string) *metadata.DelegatedRole {
	for i := range r.targets.Signed.Delegations.Roles {
		if r.targets.Signed.Delegations.Roles[i].Name == role {
			return &r.targets.Signed.Delegations.Roles[i]
		}
	}
	panic("no delegation " + role)
}

// publish signs and publishes every file at the current versions.
func (r *testRepo) publish() {
	names := make([]string, 0, len(r.delegated))
	for n := range r.delegated {
		names = append(names, n)
	}
	sort.Strings(names)
	r.snapshot.Signed.Meta = map[string]*metadata.MetaFiles{}
	put := func(role string, m *metadata.Metadata[metadata.TargetsType]) {
		b := signBytes(m, r.signers[role]...)
		r.files[meta.VersionedName(m.Signed.Version, role)] = b
		mf := metadata.MetaFile(m.Signed.Version)
		if r.snapshotHashes {
			mf.Length, mf.Hashes = int64(len(b)), meta.HashesOf(b)
		}
		r.snapshot.Signed.Meta[role+".json"] = mf
	}
	for _, n := range names {
		put(n, r.delegated[n])
	}
	put(meta.Targets, r.targets)
	r.publishSnapshot()
}

// publishSnapshot signs the Snapshot and a Timestamp listing it.
func (r *testRepo) publishSnapshot() { r.publishSnapshotBy(r.signers[meta.Snapshot]...) }

// publishSnapshotBy signs the Snapshot with the given keys and a Timestamp
// listing it.
func (r *testRepo) publishSnapshotBy(signers ...keys.Signer) {
	b := signBytes(r.snapshot, signers...)
	r.files[meta.VersionedName(r.snapshot.Signed.Version, meta.Snapshot)] = b
	r.timestamp.Signed.Meta = map[string]*metadata.MetaFiles{"snapshot.json": {
		Version: r.snapshot.Signed.Version, Length: int64(len(b)), Hashes: meta.HashesOf(b)}}
	r.publishTimestamp()
}

func (r *testRepo) publishTimestamp() {
	r.files["timestamp.json"] = signBytes(r.timestamp, r.signers[meta.Timestamp]...)
}

// release publishes a new version of the Snapshot and Timestamp (callers
// bump the Targets versions they changed).
func (r *testRepo) release() {
	r.snapshot.Signed.Version++
	r.timestamp.Signed.Version++
	r.publish()
}

// pad adds an unrecognized field of n bytes to signed metadata.
func pad(fields *map[string]any, n int) {
	if *fields == nil {
		*fields = map[string]any{}
	}
	(*fields)["padding"] = strings.Repeat("x", n)
}

// targetFile makes target metadata for data with the SHALL-match section.
func targetFile(name string, data []byte, hw string, rc uint64) *metadata.TargetFiles {
	tf := &metadata.TargetFiles{Length: int64(len(data)), Hashes: meta.HashesOf(data), Path: name}
	must(0, meta.SetCustom(tf, &meta.Custom{Uptane: meta.ShallMatch{HardwareIDs: []string{hw}, ReleaseCounter: rc}}))
	return tf
}

// directorFile makes Director target metadata for the given ECUs (ECU →
// hardware identifier).
func directorFile(name string, data []byte, hw string, rc uint64, ecus map[string]string) *metadata.TargetFiles {
	tf := &metadata.TargetFiles{Length: int64(len(data)), Hashes: meta.HashesOf(data), Path: name}
	c := &meta.Custom{Uptane: meta.ShallMatch{HardwareIDs: []string{hw}, ReleaseCounter: rc}, ECUIdentifiers: map[string]meta.ECUTarget{}}
	for e, h := range ecus {
		c.ECUIdentifiers[e] = meta.ECUTarget{HardwareID: h}
	}
	must(0, meta.SetCustom(tf, c))
	return tf
}

// vehicle is a Director and an Image repository for a Primary (PRI,
// hardware "gw") and Secondaries; Image top-level Targets lists gw.bin and
// delegates "brakes/*" for hardware "brake" to role "supplier".
type vehicle struct {
	dir, img   *testRepo
	ecus       []string
	hw         map[string]string
	images     map[string][]byte
	tDir, tImg *verify.Repo // trusted state
	o          verify.Options
	installed  map[string]*metadata.TargetFiles
	// crafting hooks of specs
	noImage     bool
	ecuMod      func(*verify.ECU)
	delivered   []byte
	expectPlain []byte
}

func img(name string, rc uint64) []byte { return []byte(fmt.Sprintf("image %s release %d", name, rc)) }

// newVehicle builds a vehicle with n brake Secondaries BRK1..BRKn (n ≥ 1).
func newVehicle(n int) *vehicle {
	v := &vehicle{dir: newTestRepo(meta.Director), img: newTestRepo(meta.Image), hw: map[string]string{"PRI": "gw"},
		images: map[string][]byte{}, o: verify.Options{Time: t0, VIN: "VIN1"}}
	v.ecus = []string{"PRI"}
	v.images["gw.bin"] = img("gw.bin", 1)
	v.img.targets.Signed.Targets["gw.bin"] = targetFile("gw.bin", v.images["gw.bin"], "gw", 1)
	v.img.delegate("supplier", []string{"brakes/*"}, "brake")
	v.img.delegate("retired", nil) // listed in Snapshot, delegated no paths
	v.img.delegated["retired"].Signed.Version = 2
	v.dir.targets.Signed.Targets["gw.bin"] = directorFile("gw.bin", v.images["gw.bin"], "gw", 1, map[string]string{"PRI": "gw"})
	for i := 1; i <= n; i++ {
		ecu := fmt.Sprintf("BRK%d", i)
		v.ecus = append(v.ecus, ecu)
		v.hw[ecu] = "brake"
		name := fmt.Sprintf("brakes/brk%d.bin", i)
		v.images[name] = img(name, 5)
		v.img.delegated["supplier"].Signed.Targets[name] = targetFile(name, v.images[name], "brake", 5)
		v.dir.targets.Signed.Targets[name] = directorFile(name, v.images[name], "brake", 5, map[string]string{ecu: "brake"})
	}
	meta.SetVIN(&v.dir.targets.Signed, "VIN1")
	v.dir.publish()
	v.img.publish()
	v.tDir, v.tImg = v.dir.trusted(), v.img.trusted()
	return v
}

func (v *vehicle) primary() verify.Scope {
	return verify.Scope{Primary: true, ECUs: v.ecus, Installed: v.installed}
}

// verifyPrimary runs full verification on the Primary with profile p.
func (v *vehicle) verifyPrimary(p check.Profile) (*verify.Result, error) {
	o := v.o
	o.Profile = p
	return verify.FullVerification(o, v.primary(), v.tDir, v.tImg, v.dir.files, v.img.files)
}

// state is the serialised trusted state of both repositories.
func (v *vehicle) state() string {
	return string(must(v.tDir.Marshal())) + "\n" + string(must(v.tImg.Marshal()))
}

// newDirectorImage assigns ecu a new image (also on the Image repository
// in role, "" = top-level) in a new release of both repositories.
func (v *vehicle) newImage(ecu, name, role string, rc uint64) {
	data := img(name, rc)
	v.images[name] = data
	hw := v.hw[ecu]
	it := v.img.targets
	if role != "" {
		it = v.img.delegated[role]
	}
	it.Signed.Targets[name] = targetFile(name, data, hw, rc)
	it.Signed.Version++
	v.img.release()
	v.assign(ecu, name, data, hw, rc)
}

// assign makes the Director assign ecu the image name (with the given
// metadata) in a new Director release.
func (v *vehicle) assign(ecu, name string, data []byte, hw string, rc uint64) {
	for n, tf := range v.dir.targets.Signed.Targets {
		c := must(meta.GetCustom(tf))
		if _, ok := c.ECUIdentifiers[ecu]; ok {
			delete(v.dir.targets.Signed.Targets, n)
		}
	}
	v.dir.targets.Signed.Targets[name] = directorFile(name, data, hw, rc, map[string]string{ecu: hw})
	v.dir.targets.Signed.Version++
	v.dir.release()
}

func jsonOf(v any) string { return string(must(json.Marshal(v))) }
