// Package vehicle brings up a whole vehicle from a rig: the backend
// (Director and Image repository, embedded), the buses, the Primary and the
// Secondaries, with keys and factory images derived from the run's seed.
// It runs update campaigns and exposes every seam an attack needs: the
// Primary's repository link (Options.Transport), the repositories' signers,
// the buses, and the ECU profiles.
package vehicle

import (
	"crypto/ecdh"
	"crypto/rand"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"io"
	"net/http"
	"path/filepath"
	"time"

	"github.com/uptane-hil/uptane-hil/ecus/link"
	"github.com/uptane-hil/uptane-hil/ecus/pouf"
	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/secondary"
	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/events"
	"github.com/uptane-hil/uptane-hil/sim/restbus"
	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/uptane/akdialect"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/repo"
)

// Options configure a bring-up.
type Options struct {
	Rig   *rigs.Rig
	Dir   string // state of the backend and every ECU; a fresh directory per run
	Clock clock.Clock
	// Seed overrides the rig's seed when non-zero.
	Seed seed.Seed
	// Profiles give ECUs (by identifier) and the Director ("director") a
	// control profile; the rest are conformant. "*" applies to every one
	// without an entry.
	Profiles map[string]check.Profile
	Events   events.Sink
	// Reach says how the Primary reaches each Secondary, and so where it
	// runs: Direct, Bus, External, Custom (reach.go). Nil: DirectByRig.
	// ByRig follows the rig over its buses; Everywhere(r) runs every ECU
	// in this process.
	Reach func(e *rigs.ECU) Reach
	// Crash gives an ECU a crash-point function (power-loss specs).
	Crash func(ecu string) store.CrashFunc
	// Buses hands BringUp buses opened already (OpenBuses), by name; the
	// caller closes them. Nil: BringUp opens the rig's buses when a
	// Secondary is reached over one, and Close closes them.
	Buses map[string]can.Bus
	// Wait bounds how long BringUp waits for each ECU outside this process
	// to answer on its bus (0: DefaultWait).
	Wait time.Duration
	// ImageRoles sets how many keys a top-level role of the Image
	// repository has and how many must sign (default: one key, threshold
	// 1), e.g. {"targets": {Keys: 2, Threshold: 2}}.
	ImageRoles map[string]RoleKeys
	// Delegations are supplier roles the Image repository's top-level
	// Targets delegates to, in this order. Each supplier's keys derive from
	// the seed; an image whose name and hardware a delegation covers is
	// signed by that supplier (the first that covers it), every other image
	// by the top-level Targets role.
	Delegations []Delegation
	// Transport wraps the Primary's link to the backend (the seam of the
	// attacks on it: a scenario puts the man in the middle here). Nil: the
	// Primary reaches the backend directly.
	Transport func(backend http.RoundTripper) http.RoundTripper
	// Compatibility declares the dependencies and conflicts of the image
	// of hardware hwid, release rc, when Publish adds it (nil: none).
	Compatibility func(hwid string, rc uint64) *meta.Compatibility
	// AktualizrForward, when set, makes the Primary's link to each real
	// aktualizr-secondary send what the Primary forwards, in aktualizr's
	// dialect, each signature made again only by the key (from this
	// keyring) that made the original (link.AktualizrIP.Forward): a
	// device-under-test run, where the Primary must not shield the ECU.
	AktualizrForward akdialect.Keyring
}

// Secondary is one Secondary of the vehicle.
type Secondary struct {
	Rig     *rigs.ECU
	Reach   Reach // how the Primary reaches it
	Config  secondary.Config
	ECU     *secondary.ECU // in-process ECUs
	Link    link.Secondary
	BusNode *secondary.Node // an in-process ECU on its bus: UDS server and power supply (PowerOff, PowerOn)
	Client  *pouf.Client    // the Primary's client to it, over the bus
	// Identity is what an ECU outside this process said about itself on
	// its bus at bring-up (WaitForECU), nil for the others.
	Identity *pouf.Identity
}

// Vehicle is a running vehicle and its backend.
type Vehicle struct {
	Rig      *rigs.Rig
	Clock    clock.Clock
	Seed     seed.Seed
	Dir      string
	Image    *repo.Image
	Director *repo.Director
	// Time is the backend's time server (served at /time/).
	Time *repo.TimeServer
	// Transport is the Primary's repository link (Options.Transport
	// wrapped around the in-process backend).
	Transport  http.RoundTripper
	Backend    http.Handler
	Primary    *primary.Primary
	PrimaryCfg primary.Config
	// Buses are the rig's buses (when a Secondary is reached over one), by
	// name.
	Buses map[string]can.Bus
	// Restbus is the rest-bus of each bus that has one (restbus.go).
	Restbus     map[string]*restbus.Restbus
	Secondaries []*Secondary
	opts        Options
	nonces      io.Reader
	// ECUKeys are the ECUs' signing keys (a scenario hands one to the
	// attacker to play a compromised ECU).
	ECUKeys  map[string]*keys.Private
	encKeys  map[string]*ecdh.PrivateKey
	ownBuses bool
	ak       akState // aktualizr-ip Secondaries (aktualizr.go)
}

func (o Options) profile(ecu string) check.Profile {
	if p, ok := o.Profiles[ecu]; ok {
		return p
	}
	if p, ok := o.Profiles["*"]; ok {
		return p
	}
	return check.Conformant
}

// Build brings up the vehicle: NewBackend, then BringUp. Under a simulated
// clock call it from inside the clock's Run.
func Build(o Options) (*Vehicle, error) {
	v, err := NewBackend(o)
	if err != nil {
		return nil, err
	}
	if err := v.BringUp(); err != nil {
		v.Close()
		return nil, err
	}
	return v, nil
}

// BringUp brings up the buses (unless Options.Buses hands them over), the
// Secondaries this process runs, the links to the others (waiting until
// each answers on its bus), and the Primary. A state directory that
// already holds an ECU (a wall-clock rig run again) is booted, never
// provisioned over.
func (v *Vehicle) BringUp() error {
	o, r, sd := v.opts, v.Rig, v.Seed
	var err error
	reach := o.Reach
	if reach == nil {
		reach = DirectByRig
	}
	onBus := false
	for _, e := range r.Secondaries() {
		onBus = onBus || reach(e).OnBus()
	}
	if onBus {
		v.Buses = o.Buses
		if v.Buses == nil {
			if v.Buses, err = OpenBuses(r, o.Clock, sd); err != nil {
				return err
			}
			v.ownBuses = true
		}
		if err := v.startRestbus(); err != nil {
			return err
		}
	}

	// Secondaries.
	for _, e := range r.Secondaries() {
		crash := store.CrashFunc(nil)
		if o.Crash != nil {
			crash = o.Crash(e.ID)
		}
		cfg := secondary.Config{ID: e.ID, HardwareID: e.HardwareID, VIN: r.Vehicle.VIN, Verification: e.Profile, Profile: o.profile(e.ID),
			Dir: filepath.Join(o.Dir, "ecus", e.ID), Key: v.ECUKeys[e.ID], EncKey: v.encKeys[e.ID], Clock: o.Clock, Crash: crash,
			TimeKey: v.Time.PublicKey(), Nonces: sd.Reader("nonces/time/" + e.ID)}
		if !o.Clock.Simulated() {
			cfg.Nonces = rand.Reader
		}
		s := &Secondary{Rig: e, Config: cfg, Reach: reach(e)}
		if err := s.Reach.Attach(v, s); err != nil {
			return err
		}
		v.Secondaries = append(v.Secondaries, s)
	}
	// The ECUs in other processes, or physical ones: each must answer on
	// its bus before the Primary pins its identity.
	for _, s := range v.Secondaries {
		if s.ECU != nil || s.Client == nil {
			continue
		}
		id, err := WaitForECU(s.Client, r, s.Rig, o.Wait)
		if err != nil {
			return err
		}
		if err := v.checkIdentity(s.Rig, id); err != nil {
			return err
		}
		s.Identity = &id
	}

	// The Primary.
	p := r.Primary()
	pc := primary.Config{VIN: r.Vehicle.VIN, ID: p.ID, HardwareID: p.HardwareID, Key: v.ECUKeys[p.ID], Clock: o.Clock,
		Client:      &http.Client{Transport: v.Transport},
		DirectorURL: "http://backend.invalid/director/" + r.Vehicle.VIN + "/", ImageURL: "http://backend.invalid/image/",
		TimeURL: "http://backend.invalid/time/", TimeKey: v.Time.PublicKey(),
		Dir: filepath.Join(o.Dir, "ecus", p.ID), Profile: o.profile(p.ID), Events: o.Events, Nonces: sd.Reader("nonces/primary"),
		ConditionsWait: p.PreconditionsWait}
	if !o.Clock.Simulated() {
		// Wall-clock runs do not replay, and a reopened Director remembers
		// every nonce it has seen: fresh ones from the system.
		pc.Nonces = rand.Reader
	}
	if o.Crash != nil {
		pc.Crash = o.Crash(p.ID)
	}
	for _, s := range v.Secondaries {
		pc.Secondaries = append(pc.Secondaries, primary.SecondaryConfig{ID: s.Rig.ID, Bus: s.Rig.Bus, Link: s.Link})
	}
	fi, pimg := Factory(sd, p)
	_, err = provisionOnce(pc.Dir, func(tmp string) error {
		md, err := factoryFiles(pc.Profile, false, v.directorFile, v.imageFile)
		if err != nil {
			return err
		}
		c := pc
		c.Dir = tmp
		return primary.Provision(c, v.Director.Root(), v.Image.Root(), md, fi, pimg)
	})
	if err != nil {
		return err
	}
	if v.Primary, err = primary.Boot(pc); err != nil {
		return err
	}
	v.PrimaryCfg = pc
	return nil
}

// Secondary returns the Secondary with identifier id.
func (v *Vehicle) Secondary(id string) *Secondary {
	for _, s := range v.Secondaries {
		if s.Rig.ID == id {
			return s
		}
	}
	return nil
}

// Current returns the running in-process ECU (a reset or a power-on
// replaces it), or nil.
func (s *Secondary) Current() *secondary.ECU {
	if s.BusNode != nil {
		return s.BusNode.ECU() // nil while it has no power
	}
	if d, ok := s.Link.(*secondary.Direct); ok {
		return d.ECU
	}
	return s.ECU
}

// Close releases the backend's database and closes the buses it opened.
func (v *Vehicle) Close() error {
	v.stopRestbus()
	v.ak.close()
	if v.ownBuses {
		CloseBuses(v.Buses)
		v.ownBuses = false
	}
	if v.Director != nil {
		return v.Director.Close()
	}
	return nil
}
