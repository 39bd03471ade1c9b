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
	"slices"
	"sync"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	bolt "go.etcd.io/bbolt"

	"github.com/uptane-hil/uptane-hil/uptane/check"
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
