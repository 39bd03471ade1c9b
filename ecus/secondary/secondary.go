// Package secondary is a Secondary ECU: it receives time, metadata and an
// image from its Primary, verifies them with full or partial verification
// ({#verify_metadata} … {#create_version_report}), installs into the
// inactive A/B slot only after verification, and signs version reports.
// Its state (trusted metadata, slots, counters, nonce, detected attacks) is
// persisted atomically by ecus/store, so a power cut at any point leaves an
// ECU that boots a whole image and can update again.
//
// ECU is transport-independent. Handler serves it over the in-vehicle
// protocol (UDS, docs/pouf.md); Node runs it on a CAN bus with a power
// supply, so a power cut there looks as on a real bus (docs/pouf.md,
// "Power loss").
package secondary

import (
	"crypto/ecdh"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/imagecrypt"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/verify"
)

// Verification modes.
const (
	Full    = "full"
	Partial = "partial"
)

// Limits on what a Primary can make a Secondary hold.
const (
	DefaultMaxImage    = 64 << 20
	MaxMetadataFiles   = 64
	MaxMetadataFile    = 1 << 20
	MaxMetadataInCycle = 8 << 20
)

// Config describes one Secondary.
type Config struct {
	ID         string
	HardwareID string
	// VIN is the vehicle the ECU is built into (set at the factory):
	// Director Targets for any other vehicle are refused
	// (targets_images_meta.vehicle_id).
	VIN          string
	Verification string        // Full or Partial
	Profile      check.Profile // checks switched off (control profiles)
	Dir          string        // state directory
	Key          *keys.Private // ECU signing key (version reports)
	EncKey       *ecdh.PrivateKey
	Clock        clock.Clock
	Crash        store.CrashFunc
	Limits       verify.Limits
	MaxImage     int64
	Filenames    []string // image filename patterns valid for this ECU
	// TimeKey is the time server's public key, given at the factory: the
	// ECU takes its time only from attestations it signed (verify.VerifyTime).
	TimeKey *metadata.Key
	// Nonces is the ECU's source of fresh nonces for time attestations
	// (crypto/rand on a real ECU; seeded under the simulated clock).
	Nonces io.Reader
}

// TimeNonceSize is the size of the nonce an ECU makes for each time
// attestation.
const TimeNonceSize = 16

// ECU is a running Secondary.
type ECU struct {
	cfg      Config
	mu       sync.Mutex
	st       *store.Store
	director *verify.Repo
	image    *verify.Repo // nil on partial-verification ECUs without Image metadata
	incoming verify.FileSet
	inBytes  int
	target   *verify.ECUTarget
	imgName  string
	imgData  []byte
	plain    []byte
	lastErr  error
}

// Provision is the factory: it gives a new ECU its trusted metadata
// ({#build_time}): the Director's Root, and the Image repository's Root for
// full verification, and beyond them the latest metadata in md — a full
// ECU the Timestamp, Snapshot and Targets of both repositories, a partial
// one the Director's Targets ("targets.json") — verified against the roots
// at the time of manufacture (verify.Provision); and its first image. An
// empty md leaves Roots only (a control profile without
// build_time.metadata).
func Provision(cfg Config, directorRoot, imageRoot []byte, md verify.FileSet, factory store.Image, data []byte) error {
	st, err := store.Open(cfg.Dir, cfg.ID, cfg.Crash)
	if err != nil {
		return err
	}
	// the time of manufacture is the first securely known time, in the
	// whole seconds the in-vehicle protocol carries (docs/pouf.md), so the
	// Primary's first time, sent in the same second, is not "before" it
	t := cfg.Clock.Now().Truncate(time.Second)
	o := verify.Options{Profile: cfg.Profile, Limits: cfg.Limits, Time: t, VIN: cfg.VIN}
	d, err := verify.NewRepo(meta.Director, directorRoot)
	if err != nil {
		return fmt.Errorf("secondary %s: provision Director root: %w", cfg.ID, err)
	}
	if len(md.Director) > 0 {
		if err := verify.Provision(o, d, verify.MapFetcher(md.Director), cfg.Verification == Partial); err != nil {
			return fmt.Errorf("secondary %s: %w", cfg.ID, err)
		}
	}
	if err := st.PutTrusted(meta.Director, d); err != nil {
		return err
	}
	if cfg.Verification == Full {
		if imageRoot == nil {
			return fmt.Errorf("secondary %s: a full-verification ECU needs the Image repository's Root", cfg.ID)
		}
		im, err := verify.NewRepo(meta.Image, imageRoot)
		if err != nil {
			return fmt.Errorf("secondary %s: provision Image root: %w", cfg.ID, err)
		}
		if len(md.Image) > 0 {
			if err := verify.Provision(o, im, verify.MapFetcher(md.Image), false); err != nil {
				return fmt.Errorf("secondary %s: %w", cfg.ID, err)
			}
		}
		if err := st.PutTrusted(meta.Image, im); err != nil {
			return err
		}
	}
	if err := st.Install(factory, data); err != nil {
		return err
	}
	n, err := newTimeNonce(cfg)
	if err != nil {
		return err
	}
	return st.Update("provision-time", func(s *store.State) error { s.LatestTime, s.TimeNonce = t, n; return nil })
}

func newTimeNonce(cfg Config) ([]byte, error) {
	if cfg.Nonces == nil {
		return nil, fmt.Errorf("secondary %s: no nonce source for time attestations", cfg.ID)
	}
	n := make([]byte, TimeNonceSize)
	if _, err := io.ReadFull(cfg.Nonces, n); err != nil {
		return nil, fmt.Errorf("secondary %s: time nonce: %w", cfg.ID, err)
	}
	return n, nil
}

// Boot starts the ECU from its state directory (power-on or after a reset).
func Boot(cfg Config) (*ECU, error) {
	if cfg.Verification != Full && cfg.Verification != Partial {
		return nil, fmt.Errorf("secondary %s: verification %q is not full or partial", cfg.ID, cfg.Verification)
	}
	if cfg.Key == nil {
		return nil, fmt.Errorf("secondary %s: no ECU key", cfg.ID)
	}
	if cfg.MaxImage <= 0 {
		cfg.MaxImage = DefaultMaxImage
	}
	st, err := store.Open(cfg.Dir, cfg.ID, cfg.Crash)
	if err != nil {
		return nil, err
	}
	e := &ECU{cfg: cfg, st: st}
	if e.director, err = loadRepo(st, meta.Director); err != nil {
		return nil, fmt.Errorf("secondary %s: %w", cfg.ID, err)
	}
	if cfg.Verification == Full {
		if e.image, err = loadRepo(st, meta.Image); err != nil {
			return nil, fmt.Errorf("secondary %s: %w", cfg.ID, err)
		}
	}
	var tn []byte
	if len(st.State().TimeNonce) == 0 && cfg.Nonces != nil {
		// state from before time attestations: make the first nonce now
		if tn, err = newTimeNonce(cfg); err != nil {
			return nil, err
		}
	}
	err = st.Update("boot", func(s *store.State) error {
		s.Boots++
		if tn != nil {
			s.TimeNonce = tn
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	e.resetCycle()
	return e, nil
}

func loadRepo(st *store.Store, repo string) (*verify.Repo, error) {
	b, err := st.Trusted(repo)
	if err != nil {
		return nil, err
	}
	return verify.LoadRepo(b)
}

func (e *ECU) resetCycle() {
	e.incoming = verify.FileSet{Director: map[string][]byte{}, Image: map[string][]byte{}}
	e.inBytes = 0
	e.target, e.imgName, e.imgData, e.plain = nil, "", nil, nil
}

// ID returns the ECU identifier.
func (e *ECU) ID() string { return e.cfg.ID }

// HardwareID returns the hardware identifier.
func (e *ECU) HardwareID() string { return e.cfg.HardwareID }

// Verification returns Full or Partial.
func (e *ECU) Verification() string { return e.cfg.Verification }

// PublicKey returns the ECU's signing key (TUF form).
func (e *ECU) PublicKey() *metadata.Key { return e.cfg.Key.Public() }

// EncryptionKey returns the ECU's X25519 public key, or nil.
func (e *ECU) EncryptionKey() []byte {
	if e.cfg.EncKey == nil {
		return nil
	}
	return e.cfg.EncKey.PublicKey().Bytes()
}

// State returns the persisted state.
func (e *ECU) State() store.State { return e.st.State() }

// Installed returns the active image.
func (e *ECU) Installed() *store.Image { s := e.st.State(); return s.Installed() }

// ActiveImage returns the image in the active slot and its bytes.
func (e *ECU) ActiveImage() (*store.Image, []byte, error) { return e.st.ReadActive() }

// LastError returns the error of the last failed step of this cycle.
func (e *ECU) LastError() error { e.mu.Lock(); defer e.mu.Unlock(); return e.lastErr }

// record keeps a failed check as a detected attack for the next version
// report, and remembers the error.
func (e *ECU) record(err error) error {
	e.lastErr = err
	if ce, ok := check.As(err); ok {
		at := e.cfg.Clock.Now()
		_ = e.st.Update("attack", func(s *store.State) error {
			if len(s.Attacks) < manifest.MaxAttacks {
				s.Attacks = append(s.Attacks, store.AttackRecord{Check: ce.Check, Attack: ce.Attack, Detail: ce.Error(), At: at})
			}
			return nil
		})
	}
	return err
}

// RecordAttack keeps a check that fired outside the ECU's own steps (in its
// diagnostic server: a request flood, an oversized transfer) as a detected
// attack for the next version report.
func (e *ECU) RecordAttack(err *check.Error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.record(err)
}

// TimeNonce is the nonce the ECU made for its next time attestation
// (DID 0xF1A8; docs/pouf.md, "Time").
func (e *ECU) TimeNonce() []byte { return e.st.State().TimeNonce }

// SetTime takes a time attestation the Primary forwards from the time server
// ({#send_time_primary}, {#verify_time}): signed by the time server's key
// over this ECU's nonce, not before the latest attested time, not beyond
// the trusted Director Root's expiry (verify.VerifyTime). An 8-byte
// unauthenticated time (the old DIDTime value) is refused. The ECU then
// makes a new nonce, so the attestation cannot be used twice.
func (e *ECU) SetTime(data []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.st.State()
	in := verify.TimeInput{Profile: e.cfg.Profile, Key: e.cfg.TimeKey, Nonce: st.TimeNonce, Latest: st.LatestTime, Director: e.director}
	t, err := verify.VerifyTime(in, data, parseRawTime)
	if err != nil {
		if ce, ok := check.As(err); ok {
			return e.record(ce.OnECU(e.cfg.ID))
		}
		return err
	}
	n, err := newTimeNonce(e.cfg)
	if err != nil {
		return err
	}
	return e.st.Update("time", func(s *store.State) error { s.LatestTime, s.TimeNonce = t, n; return nil })
}

// SetNonce starts an update cycle: it takes the Primary's fresh nonce and
// forgets the attacks already reported under the previous one.
func (e *ECU) SetNonce(n []byte) error {
	if len(n) == 0 || len(n) > manifest.MaxNonce {
		return fmt.Errorf("secondary %s: nonce of %d bytes (want 1..%d)", e.cfg.ID, len(n), manifest.MaxNonce)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.resetCycle()
	e.lastErr = nil
	return e.st.Update("nonce", func(s *store.State) error {
		s.Nonce = append([]byte(nil), n...)
		kept := s.Attacks[:0]
		for _, a := range s.Attacks {
			if !a.Reported {
				kept = append(kept, a)
			}
		}
		s.Attacks = kept
		return nil
	})
}

// PutMetadata receives one metadata file for repo ("director" or "image")
// ({#send_metadata_primary}).
func (e *ECU) PutMetadata(repo, name string, data []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var m map[string][]byte
	switch repo {
	case meta.Director:
		m = e.incoming.Director
	case meta.Image:
		if e.cfg.Verification == Partial {
			return fmt.Errorf("secondary %s: a partial-verification ECU takes no Image repository metadata", e.cfg.ID)
		}
		m = e.incoming.Image
	default:
		return fmt.Errorf("secondary %s: unknown repository %q", e.cfg.ID, repo)
	}
	if len(data) > MaxMetadataFile {
		return e.record(check.Fail(check.PoufTransferSize, repo, "", "metadata file %s is %d bytes (limit %d)", name, len(data), MaxMetadataFile).OnECU(e.cfg.ID))
	}
	if _, dup := m[name]; !dup && len(e.incoming.Director)+len(e.incoming.Image) >= MaxMetadataFiles {
		return e.record(check.Fail(check.PoufTransferSize, repo, "", "more than %d metadata files in one cycle", MaxMetadataFiles).OnECU(e.cfg.ID))
	}
	if e.inBytes+len(data) > MaxMetadataInCycle {
		return e.record(check.Fail(check.PoufTransferSize, repo, "", "more than %d bytes of metadata in one cycle", MaxMetadataInCycle).OnECU(e.cfg.ID))
	}
	e.inBytes += len(data)
	m[name] = append([]byte(nil), data...)
	return nil
}

// VerifyMetadata is {#verify_metadata}: full or partial verification of the
// metadata received this cycle against the trusted state. It returns the
// verified target for this ECU, or nil when there is nothing new for it.
func (e *ECU) VerifyMetadata() (*verify.ECUTarget, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.st.State()
	o := verify.Options{Profile: e.cfg.Profile, Limits: e.cfg.Limits, Time: st.LatestTime, VIN: e.cfg.VIN}
	var t *verify.ECUTarget
	if e.cfg.Verification == Full {
		scope := verify.Scope{ECUs: []string{e.cfg.ID}, Installed: map[string]*metadata.TargetFiles{}}
		if img := st.Installed(); img != nil {
			scope.Installed[e.cfg.ID] = &metadata.TargetFiles{Path: img.Name, Length: img.Length, Hashes: img.Hashes}
		}
		d, im := e.director.Clone(), e.image.Clone()
		res, err := verify.FullVerification(o, scope, d, im, verify.MapFetcher(e.incoming.Director), verify.MapFetcher(e.incoming.Image))
		if err != nil {
			return nil, e.record(err)
		}
		if err := e.st.PutTrusted(meta.Director, d); err != nil {
			return nil, err
		}
		if err := e.st.PutTrusted(meta.Image, im); err != nil {
			return nil, err
		}
		e.director, e.image = d, im
		t = res.Targets[e.cfg.ID]
		if t == nil && res.Stopped == verify.NoNewUpdates {
			// no new metadata: resume an update verified earlier and not
			// installed (the power went mid-install)
			t = verify.Pending(o, scope, d)[e.cfg.ID]
		}
	} else {
		d := e.director.Clone()
		_, hasRoot := e.incoming.Director[meta.VersionedName(e.director.Root().Signed.Version+1, meta.Root)]
		var err error
		t, err = verify.PartialVerification(o, d, verify.MapFetcher(e.incoming.Director), e.cfg.ID, hasRoot)
		if err != nil {
			return nil, e.record(err)
		}
		if err := e.st.PutTrusted(meta.Director, d); err != nil {
			return nil, err
		}
		e.director = d
	}
	if t != nil {
		if img := st.Installed(); img != nil && img.Name == t.Name && sameHashes(img.Hashes, t.Director.Hashes) {
			t = nil // already installed
		}
	}
	e.target = t
	return t, nil
}

func sameHashes(a, b metadata.Hashes) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if string(b[k]) != string(v) {
			return false
		}
	}
	return true
}

// Target returns the verified target of this cycle, or nil.
func (e *ECU) Target() *verify.ECUTarget { e.mu.Lock(); defer e.mu.Unlock(); return e.target }

// ImageLimit returns how many bytes the image of this cycle may have: the
// length in the verified metadata (download_image.size), or the ECU's
// maximum when the metadata has not been verified or the check is off.
func (e *ECU) ImageLimit() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.target != nil && e.cfg.Profile.On(check.DownloadImageSize) {
		if enc := e.encrypted(); enc != nil {
			return enc.Length
		}
		return e.target.Director.Length
	}
	return e.cfg.MaxImage
}

func (e *ECU) encrypted() *meta.Encrypted {
	if e.target == nil || e.target.Custom == nil {
		return nil
	}
	if et, ok := e.target.Custom.ECUIdentifiers[e.cfg.ID]; ok {
		return et.Encrypted
	}
	return nil
}

// PutImage receives the image of this cycle ({#send_images_primary},
// {#download_image}).
func (e *ECU) PutImage(name string, data []byte) error {
	limit := e.ImageLimit()
	e.mu.Lock()
	defer e.mu.Unlock()
	if int64(len(data)) > limit {
		return e.record(check.Fail(check.DownloadImageSize, meta.Director, meta.Targets, "image %s is %d bytes; at most %d expected", name, len(data), limit).OnECU(e.cfg.ID))
	}
	e.imgName, e.imgData, e.plain = name, data, nil
	return nil
}

// VerifyImage is {#verify_image}. It decrypts an image encrypted for this ECU.
func (e *ECU) VerifyImage() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.imgData == nil {
		return fmt.Errorf("secondary %s: no image received this cycle", e.cfg.ID)
	}
	if e.target == nil {
		// e.g. the ECU lost power and booted again since it verified the
		// metadata: what it verified went with the RAM, and an image is
		// only installed with the target verified this cycle.
		return fmt.Errorf("secondary %s: verify image %s: %w (verify metadata first)", e.cfg.ID, e.imgName, ErrNotVerified)
	}
	st := e.st.State()
	ecu := verify.ECU{ID: e.cfg.ID, HardwareID: e.cfg.HardwareID, Filenames: e.cfg.Filenames}
	if img := st.Installed(); img != nil {
		rc := img.ReleaseCounter
		ecu.ReleaseCounter = &rc
	}
	if e.cfg.EncKey != nil {
		ecu.Decrypt = func(enc *meta.Encrypted, ct []byte) ([]byte, error) { return imagecrypt.Decrypt(e.cfg.EncKey, enc, ct) }
	}
	plain, err := verify.VerifyImage(verify.Options{Profile: e.cfg.Profile, Limits: e.cfg.Limits, Time: st.LatestTime, VIN: e.cfg.VIN}, e.director, ecu, e.imgData)
	if err != nil {
		return e.record(err)
	}
	e.st.Crash("verify-image") // a cut before the verified image is kept
	e.plain = plain
	return nil
}

// Install is {#install_image}: the verified image goes to the inactive slot,
// then the slots switch atomically.
func (e *ECU) Install() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.plain == nil {
		return fmt.Errorf("secondary %s: no verified image to install (run verify image first)", e.cfg.ID)
	}
	name, length, hashes, rc := e.imgName, int64(len(e.plain)), meta.HashesOf(e.plain), uint64(0)
	if t := e.currentTargetLocked(); t != nil {
		name = t.Name
		if e.cfg.Profile.On(check.VerifyImageHashes) {
			// the state records what the metadata says; a control ECU
			// without the hash check records whatever it was given
			length, hashes = t.Director.Length, t.Director.Hashes
		}
		if t.Custom != nil {
			rc = t.Custom.Uptane.ReleaseCounter
		}
	}
	if err := e.st.Install(store.Image{Name: name, Length: length, Hashes: hashes, ReleaseCounter: rc}, e.plain); err != nil {
		return err
	}
	e.plain, e.imgData = nil, nil
	return nil
}

// currentTargetLocked is the target verified this cycle (VerifyImage
// refuses to run without one).
func (e *ECU) currentTargetLocked() *verify.ECUTarget { return e.target }

// VersionReport is {#create_version_report}: a signed ECU version report
// with the installed image, the attacks detected since the last nonce, the
// latest attested time, the Primary's nonce and a counter that grows with
// every report.
func (e *ECU) VersionReport() ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, err := e.st.NextReport(e.cfg.ID, func(st store.State) (time.Time, []byte) { return st.LatestTime, st.Nonce })
	if err != nil {
		return nil, err
	}
	sr, err := manifest.SignReport(r, e.cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("secondary %s: sign version report: %w", e.cfg.ID, err)
	}
	return sr.Encode()
}

// ErrNotVerified is returned by steps called out of order.
var ErrNotVerified = errors.New("secondary: metadata not verified this cycle")
