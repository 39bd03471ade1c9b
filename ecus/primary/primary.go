// Package primary is the Primary ECU. Its UpdateCycle performs the
// Standard's seven steps ({#construct_manifest_primary} …
// {#send_images_primary}): build and send the vehicle version manifest,
// load the time, download and fully verify metadata from both repositories,
// download and hash-check images, then hand each Secondary the time, the
// minimal metadata set and its image over the in-vehicle protocol, collect
// fresh signed version reports, and send the manifest again.
package primary

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/ecus/link"
	"github.com/uptane-hil/uptane-hil/ecus/pouf"
	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/ecus/uds"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/events"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/verify"
)

// SecondaryConfig names one Secondary and how to reach it.
type SecondaryConfig struct {
	ID   string
	Bus  string
	Link link.Secondary
}

// Config describes the Primary.
type Config struct {
	VIN         string
	ID          string
	HardwareID  string
	Key         *keys.Private
	Clock       clock.Clock
	Client      *http.Client
	DirectorURL string // base of this vehicle's Director files, e.g. http://backend/director/VIN/
	ImageURL    string // base of the Image repository, e.g. http://backend/image/
	// TimeURL is the base of the time server (http://backend/time/) and
	// TimeKey its public key, given at the factory: the Primary's time, and
	// every Secondary's, is the time server's attestation over their nonces
	// (docs/pouf.md, "Time"), never the Primary's own clock.
	TimeURL     string
	TimeKey     *metadata.Key
	Dir         string
	Profile     check.Profile
	Limits      verify.Limits
	Secondaries []SecondaryConfig
	Events      events.Sink
	Nonces      io.Reader // randomness for nonces (sim/seed for replayable runs)
	// Timeout bounds each repository request, whole (on Clock; 0: 30 s):
	// a request with no answer by then fails in_vehicle.request_timeout.
	Timeout time.Duration
	// MinRate is the slowest download speed accepted, in bytes per second
	// of Clock time (0: 1024 B/s); a download slower than that once Grace
	// has passed fails in_vehicle.download_speed.
	MinRate int64
	// Grace is how long a download runs before its speed is judged (on
	// Clock; 0: 5 s).
	Grace time.Duration
	// ConditionsWait bounds how long, in one cycle, the Primary waits for a
	// Secondary that refuses to be programmed with NRC 0x22
	// conditionsNotCorrect (its preconditions on the vehicle's state:
	// speed 0, ignition on) before it leaves that ECU's update to the next
	// cycle (0: DefaultConditionsWait, 2 min); ConditionsPoll is how often
	// it asks again meanwhile (0: 1 s). Both on Clock.
	ConditionsWait, ConditionsPoll time.Duration
	Crash                          store.CrashFunc
}

// Primary is a running Primary ECU.
type Primary struct {
	cfg      Config
	st       *store.Store
	director *verify.Repo
	image    *verify.Repo
	pinned   map[string]pouf.Identity
	df, imf  *Fetcher
	tf       *Fetcher // the time server
	mu       sync.Mutex
	emitMu   sync.Mutex // the buses' actors emit at once (updateSecondaries)
}

const pinnedState = "secondaries.json"

// Provision is the factory ({#build_time}): trusted roots of both
// repositories and, beyond them, the latest Timestamp, Snapshot and Targets
// of each in md (verified against the roots at the time of manufacture; an
// empty md leaves Roots only), the Primary's own image, the time of
// manufacture, and the identity (keys) of each Secondary, read over the
// in-vehicle link and pinned.
func Provision(cfg Config, directorRoot, imageRoot []byte, md verify.FileSet, factory store.Image, data []byte) error {
	st, err := store.Open(cfg.Dir, cfg.ID, cfg.Crash)
	if err != nil {
		return err
	}
	o := verify.Options{Profile: cfg.Profile, Limits: cfg.Limits, Time: cfg.Clock.Now(), VIN: cfg.VIN}
	for _, rr := range []struct {
		repo  string
		root  []byte
		files map[string][]byte
	}{{meta.Director, directorRoot, md.Director}, {meta.Image, imageRoot, md.Image}} {
		r, err := verify.NewRepo(rr.repo, rr.root)
		if err != nil {
			return fmt.Errorf("primary %s: provision %s root: %w", cfg.ID, rr.repo, err)
		}
		if len(rr.files) > 0 {
			if err := verify.Provision(o, r, verify.MapFetcher(rr.files), false); err != nil {
				return fmt.Errorf("primary %s: %w", cfg.ID, err)
			}
		}
		if err := st.PutTrusted(rr.repo, r); err != nil {
			return err
		}
	}
	pinned := map[string]pouf.Identity{}
	for _, s := range cfg.Secondaries {
		id, err := s.Link.Identity()
		if err != nil {
			return fmt.Errorf("primary %s: provision: read identity of %s: %w", cfg.ID, s.ID, err)
		}
		if id.ID != s.ID {
			return fmt.Errorf("primary %s: provision: ECU at %s's address says it is %q", cfg.ID, s.ID, id.ID)
		}
		pinned[s.ID] = id
	}
	b, err := json.Marshal(pinned)
	if err != nil {
		return err
	}
	if err := st.PutMeta(pinnedState, b); err != nil {
		return err
	}
	if err := st.Install(factory, data); err != nil {
		return err
	}
	// the time of manufacture is the first securely known time
	t := cfg.Clock.Now().Truncate(time.Second)
	return st.Update("provision-time", func(s *store.State) error { s.LatestTime = t; return nil })
}

// retryUnlessRefused is retry for a request the ECU may refuse: a refusal
// (a negative response, or a check error from an in-process ECU) is its
// answer, not a transport failure.
func retryUnlessRefused(op func() error) error {
	var err error
	for i := 0; i < 3; i++ {
		if err = op(); err == nil {
			return nil
		}
		if _, refused := uds.NRCOf(err); refused {
			return err
		}
		if _, refused := check.As(err); refused {
			return err
		}
	}
	return err
}

// Boot starts the Primary from its state directory.
func Boot(cfg Config) (*Primary, error) {
	if cfg.Key == nil || cfg.Clock == nil || cfg.Client == nil {
		return nil, fmt.Errorf("primary %s: key, clock and HTTP client are required", cfg.ID)
	}
	st, err := store.Open(cfg.Dir, cfg.ID, cfg.Crash)
	if err != nil {
		return nil, err
	}
	p := &Primary{cfg: cfg, st: st}
	for repo, dst := range map[string]**verify.Repo{meta.Director: &p.director, meta.Image: &p.image} {
		b, err := st.Trusted(repo)
		if err != nil {
			return nil, fmt.Errorf("primary %s: %w", cfg.ID, err)
		}
		if *dst, err = verify.LoadRepo(b); err != nil {
			return nil, fmt.Errorf("primary %s: %s: %w", cfg.ID, store.TrustedName(repo), err)
		}
	}
	b, err := st.GetMeta(pinnedState)
	if err != nil {
		return nil, fmt.Errorf("primary %s: %s: %w", cfg.ID, pinnedState, err)
	}
	if err := json.Unmarshal(b, &p.pinned); err != nil {
		return nil, fmt.Errorf("primary %s: %s: %v", cfg.ID, pinnedState, err)
	}
	mk := func(repo, base string) *Fetcher {
		return &Fetcher{Repo: repo, Base: base, Client: cfg.Client, Clock: cfg.Clock, Timeout: cfg.Timeout,
			MinRate: cfg.MinRate, Grace: cfg.Grace, Profile: cfg.Profile}
	}
	p.df, p.imf = mk(meta.Director, cfg.DirectorURL), mk(meta.Image, cfg.ImageURL)
	if cfg.TimeURL != "" {
		p.tf = mk("time", cfg.TimeURL)
	}
	return p, nil
}

// Outcomes of one ECU in a cycle.
const (
	Installed   = "installed"
	UpToDate    = "up-to-date"
	Failed      = "failed"
	Unreachable = "unreachable"
)

// ECUOutcome is what happened to one ECU in a cycle.
type ECUOutcome struct {
	ECU            string
	Status         string
	Target         string
	ReleaseCounter uint64
	Err            error
	// Report is the ECU's last signed version report (JSON).
	Report []byte
	// Reports are all its signed version reports of the cycle, in the
	// order read: the one of the manifest the cycle opened with, then the
	// final manifest's (the last is Report). Each lists the attacks the
	// ECU detected since the report before it.
	Reports [][]byte
	// Refusal, when set, is the ECU's refusal to be programmed this cycle
	// (NRC 0x22, its preconditions unmet) and what came of the wait.
	Refusal *Refusal
}

// CycleReport is the outcome of one update cycle.
type CycleReport struct {
	Started, Finished time.Time
	// Err is a failure of the Primary itself (metadata verification, image
	// download); Secondaries then keep their images.
	Err error
	// Stopped is set when verification stopped early (no new updates).
	Stopped string
	ECUs    map[string]*ECUOutcome
	// Primary is what happened to the Primary's own image this cycle
	// ({#download_images_primary}, {#install_image}): UpToDate when the
	// Director assigned it nothing new.
	Primary *ECUOutcome
	// ManifestErr is the Director's answer to the final manifest, if it
	// refused it.
	ManifestErr error
}

func (p *Primary) emit(e events.Event) {
	if p.cfg.Events != nil {
		if e.Time.IsZero() {
			e.Time = p.cfg.Clock.Now()
		}
		p.emitMu.Lock()
		defer p.emitMu.Unlock()
		p.cfg.Events(e)
	}
}

func (p *Primary) phase(ecu, label string) {
	p.emit(events.Event{Kind: events.Phase, From: p.cfg.ID, To: ecu, ECU: ecu, Label: label})
}

// Director returns the trusted Director metadata (a copy).
func (p *Primary) Director() *verify.Repo { return p.director.Clone() }

// State returns the Primary's persisted state.
func (p *Primary) State() store.State { return p.st.State() }

// ActiveImage returns the Primary's own image in its active slot and its
// bytes.
func (p *Primary) ActiveImage() (*store.Image, []byte, error) { return p.st.ReadActive() }

func (p *Primary) recordAttack(err error) {
	ce, ok := check.As(err)
	if !ok {
		return
	}
	at := p.cfg.Clock.Now()
	_ = p.st.Update("attack", func(s *store.State) error {
		if len(s.Attacks) < manifest.MaxAttacks {
			s.Attacks = append(s.Attacks, store.AttackRecord{Check: ce.Check, Attack: ce.Attack, Detail: ce.Error(), At: at})
		}
		return nil
	})
}

func (p *Primary) nonce() ([]byte, error) {
	n := make([]byte, 16)
	r := p.cfg.Nonces
	if r == nil {
		return nil, errors.New("primary: no nonce source")
	}
	if _, err := io.ReadFull(r, n); err != nil {
		return nil, err
	}
	return n, nil
}

// retry runs op up to three times while it fails (any failure: a transport
// error, but also a check the Secondary reports failed).
func retry(op func() error) error {
	var err error
	for i := 0; i < 3; i++ {
		if err = op(); err == nil {
			return nil
		}
	}
	return err
}
