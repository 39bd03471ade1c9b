package repo

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	bolt "go.etcd.io/bbolt"

	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/imagecrypt"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// ImageSource is where the Director takes an image's metadata (length,
// hashes, SHALL-match custom section) and, to encrypt it, its bytes. *Image
// is one.
type ImageSource interface {
	Target(name string) (*metadata.TargetFiles, error)
	ImageData(name string) ([]byte, error)
}

// DirectorOptions configures a Director repository.
type DirectorOptions struct {
	// Dir holds keys/ (private keys, mode 0600) and director.db (the
	// inventory database, bbolt). Required.
	Dir    string
	Clock  Clock // required
	Keys   KeyConfig
	Expiry Expiry
	Logger *slog.Logger
	// Images is the Image repository the Director takes image metadata
	// from (required to Assign).
	Images ImageSource
	// Rand supplies image encryption keys and nonces (crypto/rand when
	// nil; a sim/seed Reader makes encrypted images reproducible).
	Rand io.Reader
	// MaxManifest caps an uploaded vehicle manifest (default
	// manifest.MaxManifestSize).
	MaxManifest int
	// MaxClockSkew is how far in the future an ECU's reported time may be
	// (default 5 minutes).
	MaxClockSkew time.Duration
	// Profile switches the Director's checks off (control runs): the
	// manifest checks and director_repository.encrypt_images; the zero
	// value has every check on.
	Profile check.Profile
}

// ECU is an ECU in the inventory database ({#inventory_db}).
type ECU struct {
	ID         string        `json:"id"`
	HardwareID string        `json:"hardwareId"`
	Key        *metadata.Key `json:"key"`   // ECU signing key (public part only)
	KeyID      string        `json:"keyid"` // TUF key ID of Key (filled in by the Director)
	// EncryptionKey is the ECU's X25519 public key (32 bytes), optional.
	EncryptionKey metadata.HexBytes `json:"encryptionKey,omitempty"`
	Primary       bool              `json:"primary"`
}

// Vehicle is a vehicle in the inventory database.
type Vehicle struct {
	VIN  string `json:"vin"`
	ECUs []ECU  `json:"ecus"`
}

// Primary returns the vehicle's Primary ECU.
func (v *Vehicle) Primary() (*ECU, bool) {
	for i := range v.ECUs {
		if v.ECUs[i].Primary {
			return &v.ECUs[i], true
		}
	}
	return nil, false
}

// ECU returns the ECU with identifier id.
func (v *Vehicle) ECU(id string) (*ECU, bool) {
	for i := range v.ECUs {
		if v.ECUs[i].ID == id {
			return &v.ECUs[i], true
		}
	}
	return nil, false
}

// Assignment is an image the Director directs one ECU to install.
type Assignment struct {
	ECU    string                `json:"ecu"`
	Target string                `json:"target"`
	Info   *metadata.TargetFiles `json:"info"`
	// Encrypted is set when the image is encrypted for this ECU.
	Encrypted *meta.Encrypted `json:"encrypted,omitempty"`
}

// AssignOptions are options of Assign.
type AssignOptions struct {
	// Encrypt encrypts the image for the ECU's X25519 key.
	Encrypt bool
}

// vehicleState is the per-vehicle metadata state.
type vehicleState struct {
	Targets, Snapshot, Timestamp int64
	TargetsExp, SnapshotExp      time.Time
	TimestampExp                 time.Time
	Dirty                        bool
}

// Bucket names of director.db.
var (
	bRoot      = []byte("root")      // version (8 bytes BE) → Root metadata
	bVehicles  = []byte("vehicles")  // VIN → Vehicle
	bECUs      = []byte("ecus")      // ECU id → VIN
	bAssign    = []byte("assign")    // VIN → []Assignment
	bVMeta     = []byte("vmeta")     // VIN → bucket: "state", "f/<file>", "t/<targets/HASH.NAME>"
	bNonces    = []byte("nonces")    // ECU id 0x00 nonce → seq of the manifest
	bECUState  = []byte("ecustate")  // ECU id → last accepted counter and time
	bRecords   = []byte("records")   // VIN → bucket: seq → Record
	bAttacks   = []byte("attacks")   // VIN → bucket: seq → ReportedAttack
	bInstalled = []byte("installed") // VIN → map ECU → InstalledImage
)

var allBuckets = [][]byte{bRoot, bVehicles, bECUs, bAssign, bVMeta, bNonces, bECUState, bRecords, bAttacks, bInstalled}

// Director is a Director repository ({#director_repository}) with its
// inventory database ({#inventory_db}) in bbolt.
type Director struct {
	mu   sync.Mutex
	opts DirectorOptions
	log  *slog.Logger
	db   *bolt.DB
	top  *topRoles
}

var ecuIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
var vinPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// OpenDirector opens the Director in opts.Dir, creating its keys and Root
// version 1 on first use. State survives a restart: Close, then
// OpenDirector again.
func OpenDirector(opts DirectorOptions) (*Director, error) {
	if opts.Dir == "" {
		return nil, errors.New("repo: director: Dir is required (the inventory database lives there)")
	}
	if opts.Clock == nil {
		return nil, errors.New("repo: director: a Clock is required")
	}
	if opts.MaxManifest <= 0 {
		opts.MaxManifest = manifest.MaxManifestSize
	}
	if opts.MaxClockSkew <= 0 {
		opts.MaxClockSkew = 5 * time.Minute
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("repo: director: %w", err)
	}
	db, err := bolt.Open(filepath.Join(opts.Dir, "director.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("repo: director: open inventory database: %w", err)
	}
	d := &Director{opts: opts, log: opts.Logger, db: db}
	if d.log == nil {
		d.log = discardLogger()
	}
	d.log = d.log.With("repo", meta.Director)
	if err := d.init(); err != nil {
		db.Close()
		return nil, err
	}
	return d, nil
}

func (d *Director) keyDir() string { return filepath.Join(d.opts.Dir, "keys") }

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func (d *Director) init() error {
	return d.db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("repo: director: %w", err)
			}
		}
		rb := tx.Bucket(bRoot)
		k, v := rb.Cursor().Last()
		if k != nil {
			root, err := decode[metadata.RootType]("director root", v)
			if err != nil {
				return err
			}
			ks, err := loadKeys(d.keyDir())
			if err != nil {
				return err
			}
			d.top = &topRoles{root: root, signers: map[string][]keys.Signer{}}
			d.top.assignSigners(ks)
			d.log.Info("director opened", "root", root.Signed.Version)
			return nil
		}
		top, err := newTopRoles(d.opts.Keys, expires(d.opts.Clock, d.opts.Expiry.For(meta.Root)))
		if err != nil {
			return err
		}
		d.top = top
		var all []keys.Signer
		for _, r := range []string{meta.Root, meta.Targets, meta.Snapshot, meta.Timestamp} {
			all = append(all, top.signers[r]...)
		}
		if err := saveKeys(d.keyDir(), d.log, all...); err != nil {
			return err
		}
		d.log.Info("director created", "dir", d.opts.Dir)
		return d.putRoot(tx)
	})
}

func (d *Director) putRoot(tx *bolt.Tx) error {
	b, err := encode(d.top.root)
	if err != nil {
		return err
	}
	return tx.Bucket(bRoot).Put(u64(uint64(d.top.root.Signed.Version)), b)
}

// Close closes the inventory database.
func (d *Director) Close() error { return d.db.Close() }

// Root returns the Director's current Root metadata, signed.
func (d *Director) Root() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, _ := encode(d.top.root)
	return b
}

// Signers returns the signers of a top-level role (key compromise seam).
func (d *Director) Signers(role string) []keys.Signer {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.top.signers[role])
}

// RotateKeys replaces the keys of a top-level role: Root N+1, signed by the
// old and (for Root) the new Root keys. Every vehicle's Targets, Snapshot
// and Timestamp are re-signed on their next request.
func (d *Director) RotateKeys(role string, signers []keys.Signer, threshold int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := saveKeys(d.keyDir(), d.log, signers...); err != nil {
		return err
	}
	if err := d.top.rotate(role, signers, threshold, expires(d.opts.Clock, d.opts.Expiry.For(meta.Root))); err != nil {
		return err
	}
	d.log.Info("keys rotated", "role", role, "root_version", d.top.root.Signed.Version, "threshold", threshold)
	return d.db.Update(func(tx *bolt.Tx) error {
		if err := d.putRoot(tx); err != nil {
			return err
		}
		return tx.Bucket(bVehicles).ForEach(func(vin, _ []byte) error {
			return d.markDirty(tx, string(vin))
		})
	})
}

func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("repo: director: stored %s: %w", key, err)
	}
	return true, nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("repo: director: %w", err)
	}
	return b.Put(key, raw)
}

// ErrUnknownVehicle: the VIN is not in the inventory.
var ErrUnknownVehicle = errors.New("repo: director: unknown vehicle")

func (d *Director) vehicle(tx *bolt.Tx, vin string) (*Vehicle, error) {
	var v Vehicle
	ok, err := getJSON(tx.Bucket(bVehicles), []byte(vin), &v)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownVehicle, vin)
	}
	return &v, nil
}

// AddVehicle records a vehicle and its ECUs. Exactly one ECU must be the
// Primary; ECU identifiers are unique across the inventory.
func (d *Director) AddVehicle(vin string, ecus ...ECU) error {
	if !vinPattern.MatchString(vin) {
		return fmt.Errorf("repo: director: bad VIN %q (letters, digits, _ and -, up to 64)", vin)
	}
	prim := 0
	v := Vehicle{VIN: vin}
	seen := map[string]bool{}
	for _, e := range ecus {
		if !ecuIDPattern.MatchString(e.ID) {
			return fmt.Errorf("repo: director: vehicle %s: bad ECU identifier %q", vin, e.ID)
		}
		if seen[e.ID] {
			return fmt.Errorf("repo: director: vehicle %s: ECU %s listed twice", vin, e.ID)
		}
		seen[e.ID] = true
		if e.Key == nil {
			return fmt.Errorf("repo: director: vehicle %s: ECU %s has no key", vin, e.ID)
		}
		id, err := keys.ID(e.Key)
		if err != nil {
			return fmt.Errorf("repo: director: vehicle %s: ECU %s: %w", vin, e.ID, err)
		}
		if _, err := manifest.Method(e.Key); err != nil {
			return fmt.Errorf("repo: director: vehicle %s: ECU %s: %w", vin, e.ID, err)
		}
		e.KeyID = id
		if len(e.EncryptionKey) > 0 {
			if _, err := imagecrypt.ParsePublic(e.EncryptionKey); err != nil {
				return fmt.Errorf("repo: director: vehicle %s: ECU %s: %w", vin, e.ID, err)
			}
		}
		if e.Primary {
			prim++
		}
		v.ECUs = append(v.ECUs, e)
	}
	if prim != 1 {
		return fmt.Errorf("repo: director: vehicle %s: %d Primary ECUs, want exactly 1", vin, prim)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bVehicles).Get([]byte(vin)) != nil {
			return fmt.Errorf("repo: director: vehicle %s already exists", vin)
		}
		for _, e := range v.ECUs {
			if other := tx.Bucket(bECUs).Get([]byte(e.ID)); other != nil {
				return fmt.Errorf("repo: director: ECU %s already belongs to vehicle %s", e.ID, other)
			}
			if err := tx.Bucket(bECUs).Put([]byte(e.ID), []byte(vin)); err != nil {
				return err
			}
		}
		if err := putJSON(tx.Bucket(bVehicles), []byte(vin), v); err != nil {
			return err
		}
		d.log.Info("vehicle added", "vin", vin, "ecus", len(v.ECUs))
		return d.markDirty(tx, vin)
	})
}

// Vehicle returns a vehicle of the inventory.
func (d *Director) Vehicle(vin string) (*Vehicle, error) {
	var v *Vehicle
	err := d.db.View(func(tx *bolt.Tx) error {
		var err error
		v, err = d.vehicle(tx, vin)
		return err
	})
	return v, err
}

func (d *Director) markDirty(tx *bolt.Tx, vin string) error {
	vb, err := tx.Bucket(bVMeta).CreateBucketIfNotExists([]byte(vin))
	if err != nil {
		return err
	}
	var st vehicleState
	if _, err := getJSON(vb, []byte("state"), &st); err != nil {
		return err
	}
	st.Dirty = true
	return putJSON(vb, []byte("state"), st)
}

func (d *Director) assignments(tx *bolt.Tx, vin string) ([]Assignment, error) {
	var as []Assignment
	_, err := getJSON(tx.Bucket(bAssign), []byte(vin), &as)
	return as, err
}

// Assign directs the vehicle's ECU to install the Image repository's image
// target: a bundle of one (AssignBundle).
func (d *Director) Assign(vin, ecu, target string, opts ...AssignOptions) error {
	var o AssignOptions
	for _, x := range opts {
		o.Encrypt = o.Encrypt || x.Encrypt
	}
	return d.AssignBundle(vin, []BundleItem{{ECU: ecu, Target: target, Options: o}})
}

// BundleItem is one image of a bundle: the ECU, the Image repository's
// target, and how to assign it.
type BundleItem struct {
	ECU     string
	Target  string
	Options AssignOptions
}

// AssignBundle directs ECUs of the vehicle to install images, as one
// update: either every assignment is made or none. Before it is made, the
// vehicle's resulting configuration (these images, the other assignments,
// and for ECUs without one the images the vehicle reported installed) must
// satisfy every declared dependency and conflict of its images
// ({#director_repository} step 5, director_repository.dependencies;
// docs/director-api.md, "Dependencies and conflicts").
func (d *Director) AssignBundle(vin string, bundle []BundleItem) error {
	if d.opts.Images == nil {
		return errors.New("repo: director: no Image repository configured")
	}
	type item struct {
		BundleItem
		info *metadata.TargetFiles
		c    *meta.Custom
	}
	items := make([]item, 0, len(bundle))
	seen := map[string]bool{}
	for _, bi := range bundle {
		if seen[bi.ECU] {
			return fmt.Errorf("repo: director: the bundle assigns ECU %s twice", bi.ECU)
		}
		seen[bi.ECU] = true
		if bi.Options.Encrypt && !d.opts.Profile.On(check.DirectorRepositoryEncryptImages) {
			d.log.Info("image encryption switched off by the profile: assigning in clear", "vin", vin, "ecu", bi.ECU, "target", bi.Target, "profile", d.opts.Profile.Name)
			bi.Options.Encrypt = false
		}
		info, err := d.opts.Images.Target(bi.Target)
		if err != nil {
			return fmt.Errorf("repo: director: assign %q to %s: %w", bi.Target, bi.ECU, err)
		}
		c, err := meta.GetCustom(info)
		if err != nil {
			return fmt.Errorf("repo: director: assign %q: %w", bi.Target, err)
		}
		items = append(items, item{bi, info, c})
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.db.Update(func(tx *bolt.Tx) error {
		v, err := d.vehicle(tx, vin)
		if err != nil {
			return err
		}
		as, err := d.assignments(tx, vin)
		if err != nil {
			return err
		}
		for _, it := range items {
			ecu, target, o := it.ECU, it.Target, it.Options
			e, ok := v.ECU(ecu)
			if !ok {
				return fmt.Errorf("repo: director: vehicle %s has no ECU %q", vin, ecu)
			}
			if !it.c.Uptane.HasHardware(e.HardwareID) {
				return fmt.Errorf("repo: director: image %q is for hardware %v, ECU %s is %q", target, it.c.Uptane.HardwareIDs, ecu, e.HardwareID)
			}
			a := Assignment{ECU: ecu, Target: target, Info: it.info}
			if o.Encrypt {
				if len(e.EncryptionKey) == 0 {
					return fmt.Errorf("repo: director: ECU %s has no encryption key", ecu)
				}
				pub, err := imagecrypt.ParsePublic(e.EncryptionKey)
				if err != nil {
					return err
				}
				data, err := d.opts.Images.ImageData(target)
				if err != nil {
					return fmt.Errorf("repo: director: encrypt %q: %w", target, err)
				}
				enc, ct, err := imagecrypt.Encrypt(d.opts.Rand, pub, target+"."+ecu+".enc", data)
				if err != nil {
					return err
				}
				a.Encrypted = enc
				vb, err := tx.Bucket(bVMeta).CreateBucketIfNotExists([]byte(vin))
				if err != nil {
					return err
				}
				for _, n := range meta.ImageNames(enc.Filename, enc.Hashes) {
					if err := vb.Put([]byte("t/targets/"+n), ct); err != nil {
						return err
					}
				}
			}
			as = slices.DeleteFunc(as, func(x Assignment) bool { return x.ECU == ecu })
			as = append(as, a)
		}
		slices.SortFunc(as, func(x, y Assignment) int { return strings.Compare(x.ECU, y.ECU) })
		if err := d.checkDependencies(tx, v, as, seen); err != nil {
			if d.opts.Profile.On(check.DirectorRepositoryDependencies) {
				return err
			}
			d.log.Info("dependency check switched off by the profile: assigning anyway", "vin", vin, "problem", err.Error(), "profile", d.opts.Profile.Name)
		}
		if err := putJSON(tx.Bucket(bAssign), []byte(vin), as); err != nil {
			return err
		}
		for _, it := range items {
			d.log.Info("assigned", "vin", vin, "ecu", it.ECU, "target", it.Target, "encrypted", it.Options.Encrypt)
		}
		return d.markDirty(tx, vin)
	})
}

// Unassign removes the assignment of an ECU.
func (d *Director) Unassign(vin, ecu string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.db.Update(func(tx *bolt.Tx) error {
		as, err := d.assignments(tx, vin)
		if err != nil {
			return err
		}
		as = slices.DeleteFunc(as, func(x Assignment) bool { return x.ECU == ecu })
		if err := putJSON(tx.Bucket(bAssign), []byte(vin), as); err != nil {
			return err
		}
		return d.markDirty(tx, vin)
	})
}

// Assignments returns the current assignments of a vehicle.
func (d *Director) Assignments(vin string) ([]Assignment, error) {
	var as []Assignment
	err := d.db.View(func(tx *bolt.Tx) error {
		var err error
		as, err = d.assignments(tx, vin)
		return err
	})
	return as, err
}

// VINField is the key, in the Director Targets' "custom" object, of the
// vehicle identifier: {"signed": {..., "custom": {"vin": "VIN123"}}}. It is
// always there, so Targets metadata for one vehicle (even one without
// images) cannot be replayed to another.
const VINField = "vin"

// refresh produces new Targets/Snapshot/Timestamp for a vehicle when its
// assignments changed or a role is past half its validity.
func (d *Director) refresh(tx *bolt.Tx, vin string) error {
	v, err := d.vehicle(tx, vin)
	if err != nil {
		return err
	}
	vb, err := tx.Bucket(bVMeta).CreateBucketIfNotExists([]byte(vin))
	if err != nil {
		return err
	}
	var st vehicleState
	if _, err := getJSON(vb, []byte("state"), &st); err != nil {
		return err
	}
	now := d.opts.Clock.Now()
	stale := func(exp time.Time, role string) bool {
		return now.Add(d.opts.Expiry.For(role) / 2).After(exp)
	}
	newTargets := st.Dirty || st.Targets == 0 || stale(st.TargetsExp, meta.Targets)
	newSnapshot := newTargets || stale(st.SnapshotExp, meta.Snapshot)
	newTimestamp := newSnapshot || stale(st.TimestampExp, meta.Timestamp)
	if !newTimestamp {
		return nil
	}
	if newTargets {
		as, err := d.assignments(tx, vin)
		if err != nil {
			return err
		}
		tg := metadata.Targets(expires(d.opts.Clock, d.opts.Expiry.For(meta.Targets)))
		tg.Signed.Version = st.Targets + 1
		tg.Signed.UnrecognizedFields = map[string]any{"custom": map[string]any{VINField: vin}}
		for _, a := range as {
			e, ok := v.ECU(a.ECU)
			if !ok {
				return fmt.Errorf("repo: director: vehicle %s: assignment for unknown ECU %s", vin, a.ECU)
			}
			tf := tg.Signed.Targets[a.Target]
			var c *meta.Custom
			if tf == nil {
				cp := *a.Info
				tf = &cp
				c, err = meta.GetCustom(tf)
				if err != nil {
					return err
				}
				c.ECUIdentifiers = map[string]meta.ECUTarget{}
				c.URI = ""
				tg.Signed.Targets[a.Target] = tf
			} else if c, err = meta.GetCustom(tf); err != nil {
				return err
			}
			c.ECUIdentifiers[a.ECU] = meta.ECUTarget{HardwareID: e.HardwareID, Encrypted: a.Encrypted}
			if err := meta.SetCustom(tf, c); err != nil {
				return err
			}
		}
		if _, err := signAndPut(d, vb, vin, meta.Targets, tg, tg.Signed.Version); err != nil {
			return err
		}
		st.Targets, st.TargetsExp, st.Dirty = tg.Signed.Version, tg.Signed.Expires, false
	}
	if newSnapshot {
		sn := metadata.Snapshot(expires(d.opts.Clock, d.opts.Expiry.For(meta.Snapshot)))
		sn.Signed.Version = st.Snapshot + 1
		sn.Signed.Meta = map[string]*metadata.MetaFiles{"targets.json": {Version: st.Targets}}
		if _, err := signAndPut(d, vb, vin, meta.Snapshot, sn, sn.Signed.Version); err != nil {
			return err
		}
		st.Snapshot, st.SnapshotExp = sn.Signed.Version, sn.Signed.Expires
	}
	snb := vb.Get([]byte("f/" + meta.VersionedName(st.Snapshot, meta.Snapshot)))
	ts := metadata.Timestamp(expires(d.opts.Clock, d.opts.Expiry.For(meta.Timestamp)))
	ts.Signed.Version = st.Timestamp + 1
	ts.Signed.Meta = map[string]*metadata.MetaFiles{"snapshot.json": {Version: st.Snapshot, Length: int64(len(snb)), Hashes: meta.HashesOf(snb)}}
	b, err := signAndPut(d, vb, vin, meta.Timestamp, ts, ts.Signed.Version)
	if err != nil {
		return err
	}
	if err := vb.Put([]byte("f/timestamp.json"), b); err != nil {
		return err
	}
	st.Timestamp, st.TimestampExp = ts.Signed.Version, ts.Signed.Expires
	d.log.Info("vehicle metadata signed", "vin", vin, "targets", st.Targets, "snapshot", st.Snapshot, "timestamp", st.Timestamp)
	return putJSON(vb, []byte("state"), st)
}

// signAndPut signs a vehicle's metadata for role with the Director's
// online keys and stores it under its versioned name; it returns the bytes.
func signAndPut[T metadata.Roles](d *Director, vb *bolt.Bucket, vin, role string, md *metadata.Metadata[T], version int64) ([]byte, error) {
	if err := meta.Sign(md, d.top.signers[role]...); err != nil {
		return nil, fmt.Errorf("repo: director: sign %s of %s: %w", role, vin, err)
	}
	b, err := encode(md)
	if err != nil {
		return nil, err
	}
	if err := vb.Put([]byte("f/"+meta.VersionedName(version, role)), b); err != nil {
		return nil, err
	}
	return b, nil
}

// Refresh signs new metadata for a vehicle if its assignments changed or
// its metadata is past half its validity (serving timestamp.json does this
// on demand).
func (d *Director) Refresh(vin string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.db.Update(func(tx *bolt.Tx) error { return d.refresh(tx, vin) })
}

// ErrNoFile: the Director has no such file.
var ErrNoFile = errors.New("repo: director: no such file")

// File returns a file the Director serves for a vehicle: "N.root.json",
// "root.json", "N.targets.json", "N.snapshot.json", "timestamp.json" or an
// encrypted image "targets/HASH.NAME". Asking for timestamp.json first
// signs fresh metadata when needed (on demand).
func (d *Director) File(vin, name string) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []byte
	fn := func(tx *bolt.Tx) error {
		if _, err := d.vehicle(tx, vin); err != nil {
			return err
		}
		if name == "root.json" {
			name = meta.VersionedName(d.top.root.Signed.Version, meta.Root)
		}
		var v int64
		if _, err := fmt.Sscanf(name, "%d.root.json", &v); err == nil && name == meta.VersionedName(v, meta.Root) {
			out = slices.Clone(tx.Bucket(bRoot).Get(u64(uint64(v))))
		} else if vb := tx.Bucket(bVMeta).Bucket([]byte(vin)); vb != nil {
			key := "f/" + name
			if len(name) > 8 && name[:8] == "targets/" {
				key = "t/" + name
			}
			out = slices.Clone(vb.Get([]byte(key)))
		}
		if out == nil {
			return fmt.Errorf("%w %q for vehicle %s", ErrNoFile, name, vin)
		}
		return nil
	}
	if name == "timestamp.json" {
		return out, d.db.Update(func(tx *bolt.Tx) error {
			if err := d.refresh(tx, vin); err != nil {
				return err
			}
			return fn(tx)
		})
	}
	return out, d.db.View(fn)
}

// Version returns the current version of a role's metadata for a vehicle
// (Root: the Director's Root).
func (d *Director) Version(vin, role string) (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if role == meta.Root {
		return d.top.root.Signed.Version, nil
	}
	var st vehicleState
	err := d.db.View(func(tx *bolt.Tx) error {
		vb := tx.Bucket(bVMeta).Bucket([]byte(vin))
		if vb == nil {
			return fmt.Errorf("%w %q", ErrUnknownVehicle, vin)
		}
		_, err := getJSON(vb, []byte("state"), &st)
		return err
	})
	switch role {
	case meta.Targets:
		return st.Targets, err
	case meta.Snapshot:
		return st.Snapshot, err
	case meta.Timestamp:
		return st.Timestamp, err
	}
	return 0, fmt.Errorf("repo: director: no role %q", role)
}
