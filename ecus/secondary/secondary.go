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
	"io"
	"sync"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
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
	DefaultMinRate     = 512 // bytes/s on the bus
	DefaultGrace       = 10 * time.Second
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
	// MinRate and Grace: a file transfer from the Primary slower than
	// MinRate bytes/s on average, judged once Grace has passed since it
	// was announced, is aborted (in_vehicle.bus_download_speed); 0 takes
	// DefaultMinRate and DefaultGrace.
	MinRate int64
	Grace   time.Duration
	// TimeKey is the time server's public key, given at the factory: the
	// ECU takes its time only from attestations it signed (verify.VerifyTime).
	TimeKey *metadata.Key
	// Nonces is the ECU's source of fresh nonces for time attestations
	// (crypto/rand on a real ECU; seeded under the simulated clock).
	Nonces io.Reader
}

// ECU is a running Secondary.
type ECU struct {
	cfg      Config
	mu       sync.Mutex
	st       *store.Store
	director *verify.Repo
	image    *verify.Repo // nil on partial-verification ECUs without Image metadata
	// staged is the metadata verified this cycle that names a new image
	// for this ECU: it becomes trusted (director, image, and on disk) only
	// when that image is installed ({#download_image} step 4,
	// download_image.previous_targets). A failed image, an aborted cycle or
	// a power cut leave the previous trusted metadata as it was.
	staged   *stagedRepos
	incoming verify.FileSet
	inBytes  int
	target   *verify.ECUTarget
	imgName  string
	imgData  []byte
	plain    []byte
	lastErr  error
}

// ID returns the ECU identifier.
func (e *ECU) ID() string { return e.cfg.ID }

// HardwareID returns the hardware identifier.
func (e *ECU) HardwareID() string { return e.cfg.HardwareID }

// Verification returns Full or Partial.
func (e *ECU) Verification() string { return e.cfg.Verification }

// Profile returns the checks the ECU runs with (Config.Profile).
func (e *ECU) Profile() check.Profile { return e.cfg.Profile }

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

// Director returns the trusted Director metadata (a copy): not what was
// verified this cycle and waits for its image (download_image.previous_targets).
func (e *ECU) Director() *verify.Repo { e.mu.Lock(); defer e.mu.Unlock(); return e.director.Clone() }

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
		// one entry per check until the next report's nonce: a check
		// that keeps firing (its rate limit, at every busy answer of a
		// flood) must not grow the report past what the bus carries in
		// one answer (uds MaxResponse), and costs no write once listed
		_, _ = e.st.AddAttack(store.AttackRecord{Check: ce.Check, Attack: ce.Attack, Detail: ce.Error(), At: e.cfg.Clock.Now()}, manifest.MaxAttacks)
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

// ErrNotVerified is returned by steps called out of order.
var ErrNotVerified = errors.New("secondary: metadata not verified this cycle")
