// Package vehicle brings up a whole vehicle from a rig: the backend
// (Director and Image repository, embedded), the buses, the Primary and the
// Secondaries, with keys and factory images derived from the run's seed.
// It runs update campaigns and exposes every seam an attack needs: the
// Primary's repository link (Options.Transport), the repositories' signers,
// the buses, and the ECU profiles.
package vehicle

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/ecus/link"
	"github.com/uptane-hil/uptane-hil/ecus/pouf"
	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/secondary"
	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/ecus/uds"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/events"
	"github.com/uptane-hil/uptane-hil/sim/isotp"
	"github.com/uptane-hil/uptane-hil/sim/restbus"
	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/sim/socketcan"
	"github.com/uptane-hil/uptane-hil/sim/vbus"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/imagecrypt"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
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
	// Keys holds every ECU's signing key after Build (an attacker can be
	// handed one).
	// Links connects the Primary to a Secondary; nil uses Direct calls.
	// The bus path (pouf over UDS on ISO-TP) plugs in here.
	Links func(v *Vehicle, s *Secondary) (link.Secondary, error)
	// Crash gives an ECU a crash-point function (power-loss specs).
	Crash func(ecu string) store.CrashFunc
	// OverBus carries the Primary ↔ Secondary traffic over the in-vehicle
	// protocol (UDS on ISO-TP on the rig's buses) instead of direct calls.
	OverBus bool
	// BackendOnly stops after the backend is up: repositories with the
	// factory images, and the vehicle in the Director's inventory (the
	// ECUs' keys are derived from the seed as usual).
	BackendOnly bool
	// AllInProcess runs every ECU in this process, whatever the rig's
	// `process` says (the scenario runner owns every ECU's state).
	AllInProcess bool
	// Buses hands BringUp buses opened already (OpenBuses), by name; the
	// caller closes them. Nil: BringUp opens the rig's buses (with OverBus)
	// and Close closes them.
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
}

// RoleKeys is the keys and threshold of a repository role.
type RoleKeys struct {
	Keys      int // keys made (default: Threshold)
	Threshold int // signatures needed (default 1)
}

// Delegation is a supplier role of the Image repository
// ({#delegations_meta}).
type Delegation struct {
	Name        string
	Paths       []string // image path patterns, e.g. "brk-v2/*"
	HardwareIDs []string // hardware identifiers it is scoped to (none: any)
	Terminating bool
	RoleKeys
}

// DefaultWait is how long a bring-up waits for an ECU in another process
// (or a physical one) to answer on the bus, and for the backend to answer.
const DefaultWait = 60 * time.Second

// Secondary is one Secondary of the vehicle.
type Secondary struct {
	Rig     *rigs.ECU
	Config  secondary.Config
	ECU     *secondary.ECU // in-process ECUs
	Link    link.Secondary
	BusNode *secondary.Node // an in-process ECU on its bus: UDS server and power supply (PowerOff, PowerOn)
	Client  *pouf.Client    // the Primary's client to it, over the bus
}

// Vehicle is a running vehicle and its backend.
type Vehicle struct {
	Rig      *rigs.Rig
	Clock    clock.Clock
	Seed     seed.Seed
	Dir      string
	Image    *repo.Image
	Director *repo.Director
	// Transport is the Primary's repository link (Options.Transport
	// wrapped around the in-process backend).
	Transport  http.RoundTripper
	Backend    http.Handler
	Primary    *primary.Primary
	PrimaryCfg primary.Config
	// Buses are the rig's buses (with OverBus), by name.
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

// ImageName is the target name of release rc of an ECU hardware's image.
func ImageName(hwid string, rc uint64) string { return fmt.Sprintf("%s/firmware-r%d.bin", hwid, rc) }

// ImageBytes is the deterministic content of release rc for hardware hwid
// under seed sd: the backend, an ECU's factory and a test derive the same
// bytes.
func ImageBytes(sd seed.Seed, hwid string, rc uint64, size int) []byte {
	b := make([]byte, size)
	io.ReadFull(sd.Reader(fmt.Sprintf("image/%s/%d", hwid, rc)), b)
	copy(b, fmt.Sprintf("%s release %d\n", hwid, rc))
	return b
}

// ImageBytes is the deterministic content of release rc for hardware hwid.
func (v *Vehicle) ImageBytes(hwid string, rc uint64, size int) []byte {
	return ImageBytes(v.Seed, hwid, rc, size)
}

// SeedOf is the seed of a run: s, or the rig's seed when s is zero.
func SeedOf(r *rigs.Rig, s seed.Seed) seed.Seed {
	if s == 0 {
		return seed.Seed(r.Seed)
	}
	return s
}

// ECUKeys derives an ECU's signing key and, for an ECU whose images are
// encrypted, its X25519 image key from the seed. Every bring-up (the whole
// vehicle here, one ECU in its own process, the backend alone) derives
// them alike, so the Director's inventory matches the ECUs.
func ECUKeys(sd seed.Seed, e *rigs.ECU) (*keys.Private, *ecdh.PrivateKey, error) {
	k, err := keys.Generate(e.KeyType, sd.Reader("keys/ecu/"+e.ID))
	if err != nil {
		return nil, nil, fmt.Errorf("vehicle: key of %s: %w", e.ID, err)
	}
	if !e.Encrypted {
		return k, nil, nil
	}
	ek, err := imagecrypt.GenerateKey(sd.Reader("keys/ecu-enc/" + e.ID))
	if err != nil {
		return nil, nil, fmt.Errorf("vehicle: encryption key of %s: %w", e.ID, err)
	}
	return k, ek, nil
}

// Factory is an ECU's factory image: release 1 of its hardware's image.
func Factory(sd seed.Seed, e *rigs.ECU) (store.Image, []byte) {
	img := ImageBytes(sd, e.HardwareID, 1, e.ImageSize)
	return factory(e.HardwareID, 1, img), img
}

// Build brings up the vehicle: NewBackend, then BringUp. Under a simulated
// clock call it from inside the clock's Run.
func Build(o Options) (*Vehicle, error) {
	v, err := NewBackend(o)
	if err != nil || o.BackendOnly {
		return v, err
	}
	if err := v.BringUp(); err != nil {
		v.Close()
		return nil, err
	}
	return v, nil
}

// NewBackend brings up the backend: the Image repository with release 1 of
// every ECU hardware's image, and the Director with the vehicle in its
// inventory (the ECUs' keys derived from the seed). A backend directory
// that already holds them (a wall-clock rig run again) is reopened as it
// is: its releases, assignments and metadata versions continue.
func NewBackend(o Options) (*Vehicle, error) {
	r := o.Rig
	if r.Backend.Mode != rigs.Embedded {
		return nil, fmt.Errorf("vehicle: rig %s: only the embedded backend can be brought up in-process (mode %q)", r.Name, r.Backend.Mode)
	}
	sd := SeedOf(r, o.Seed)
	v := &Vehicle{Rig: r, Clock: o.Clock, Seed: sd, Dir: o.Dir, opts: o, nonces: sd.Reader("nonces")}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("vehicle: %w", err)
	}
	exp := repo.Expiry{Root: r.Backend.Expiry.Root, Targets: r.Backend.Expiry.Targets, Delegated: r.Backend.Expiry.Targets,
		Snapshot: r.Backend.Expiry.Snapshot, Timestamp: r.Backend.Expiry.Timestamp}
	var err error
	ikc := repo.KeyConfig{Type: r.Backend.KeyTypes.Image, Rand: sd.Reader("keys/image"), Thresholds: map[string]int{}, Keys: map[string]int{}}
	for _, role := range sortedKeys(o.ImageRoles) {
		rk := o.ImageRoles[role]
		if rk.Threshold < 0 || rk.Keys < 0 || rk.Keys > 0 && rk.Threshold > rk.Keys {
			return nil, fmt.Errorf("vehicle: image %s role: threshold %d with %d keys", role, rk.Threshold, rk.Keys)
		}
		ikc.Thresholds[role], ikc.Keys[role] = rk.Threshold, rk.Keys
	}
	v.Image, err = repo.OpenImage(repo.ImageOptions{Dir: filepath.Join(o.Dir, "backend", "image"), Clock: o.Clock,
		Keys: ikc, Expiry: exp})
	if err != nil {
		return nil, err
	}
	for _, d := range o.Delegations {
		th := max(d.Threshold, 1)
		n := max(d.Keys, th)
		rd := sd.Reader("keys/image/delegated/" + d.Name)
		var sg []keys.Signer
		for i := 0; i < n; i++ {
			k, err := keys.Generate(r.Backend.KeyTypes.Image, rd)
			if err != nil {
				return nil, err
			}
			sg = append(sg, k)
		}
		if err := v.Image.Delegate(meta.Targets, repo.Delegation{Name: d.Name, Paths: d.Paths, Terminating: d.Terminating,
			HardwareIDs: d.HardwareIDs, Signers: sg, Threshold: th}); err != nil {
			return nil, fmt.Errorf("vehicle: %w", err)
		}
	}
	v.Director, err = repo.OpenDirector(repo.DirectorOptions{Dir: filepath.Join(o.Dir, "backend", "director"), Clock: o.Clock,
		Keys: repo.KeyConfig{Type: r.Backend.KeyTypes.Director, Rand: sd.Reader("keys/director")}, Expiry: exp, Images: v.Image, Rand: sd.Reader("director/encrypt"),
		Profile: o.profile("director")})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/director/", http.StripPrefix("/director", v.Director.Handler()))
	mux.Handle("/image/", http.StripPrefix("/image", v.Image.Handler()))
	v.Backend = mux
	v.Transport = repo.InProcessTransport(mux)
	if o.Transport != nil {
		v.Transport = o.Transport(v.Transport)
	}

	// Factory images, release 1, for every ECU's hardware.
	hw := map[string]int{}
	for _, e := range r.ECUs {
		hw[e.HardwareID] = max(hw[e.HardwareID], e.ImageSize)
	}
	added := false
	for _, h := range sortedKeys(hw) {
		if _, err := v.Image.Target(ImageName(h, 1)); err == nil {
			continue // a reopened backend
		}
		if err := v.Image.AddImageTo(v.ImageRole(ImageName(h, 1), h), ImageName(h, 1), v.ImageBytes(h, 1, hw[h]), []string{h}, 1); err != nil {
			v.Close()
			return nil, err
		}
		added = true
	}
	if added {
		if err := v.Image.Publish(); err != nil {
			v.Close()
			return nil, err
		}
	}

	// Keys and inventory.
	inv := []repo.ECU{}
	v.ECUKeys = map[string]*keys.Private{}
	v.encKeys = map[string]*ecdh.PrivateKey{}
	for i := range r.ECUs {
		e := &r.ECUs[i]
		k, ek, err := ECUKeys(sd, e)
		if err != nil {
			v.Close()
			return nil, err
		}
		v.ECUKeys[e.ID] = k
		item := repo.ECU{ID: e.ID, HardwareID: e.HardwareID, Key: v.InventoryKey(e), Primary: e.Role == rigs.Primary}
		if ek != nil {
			v.encKeys[e.ID] = ek
			item.EncryptionKey = ek.PublicKey().Bytes()
		}
		inv = append(inv, item)
	}
	if err := v.inventory(inv); err != nil {
		v.Close()
		return nil, err
	}
	return v, nil
}

// inventory adds the vehicle to the Director, or checks that a reopened
// Director holds it with the same ECUs and keys.
func (v *Vehicle) inventory(inv []repo.ECU) error {
	vin := v.Rig.Vehicle.VIN
	have, err := v.Director.Vehicle(vin)
	if errors.Is(err, repo.ErrUnknownVehicle) {
		return v.Director.AddVehicle(vin, inv...)
	}
	if err != nil {
		return err
	}
	fix := fmt.Sprintf("was it made from another rig or seed? remove %s to start afresh", filepath.Join(v.Dir, "backend"))
	if len(have.ECUs) != len(inv) {
		return fmt.Errorf("vehicle: the backend in %s has vehicle %s with %d ECUs, the rig %d: %s", v.Dir, vin, len(have.ECUs), len(inv), fix)
	}
	for _, e := range inv {
		h, ok := have.ECU(e.ID)
		if !ok {
			return fmt.Errorf("vehicle: the backend in %s has no ECU %s in vehicle %s: %s", v.Dir, e.ID, vin, fix)
		}
		want, _ := keys.ID(e.Key)
		if h.KeyID != want || h.HardwareID != e.HardwareID {
			return fmt.Errorf("vehicle: the backend in %s has ECU %s with key %s (hardware %s); this seed derives key %s (hardware %s): %s",
				v.Dir, e.ID, short(h.KeyID), h.HardwareID, short(want), e.HardwareID, fix)
		}
	}
	return nil
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// BringUp brings up the buses (unless Options.Buses hands them over), the
// Secondaries this process runs, the links to the others (waiting until
// each answers on its bus), and the Primary. A state directory that
// already holds an ECU (a wall-clock rig run again) is booted, never
// provisioned over.
func (v *Vehicle) BringUp() error {
	o, r, sd := v.opts, v.Rig, v.Seed
	var err error
	if o.OverBus {
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
		cfg := secondary.Config{ID: e.ID, HardwareID: e.HardwareID, Verification: e.Profile, Profile: o.profile(e.ID),
			Dir: filepath.Join(o.Dir, "ecus", e.ID), Key: v.ECUKeys[e.ID], EncKey: v.encKeys[e.ID], Clock: o.Clock, Crash: crash}
		s := &Secondary{Rig: e, Config: cfg}
		if v.inProcess(e) {
			fi, img := Factory(sd, e)
			_, err := provisionOnce(cfg.Dir, func(tmp string) error {
				c := cfg
				c.Dir = tmp
				return secondary.Provision(c, v.Director.Root(), imageRootFor(v, e), fi, img)
			})
			if err != nil {
				return err
			}
			if s.ECU, err = secondary.Boot(cfg); err != nil {
				return err
			}
		} else if o.Clock.Simulated() && o.OverBus {
			return fmt.Errorf("vehicle: %s runs outside this process (process: %s), which a simulated clock cannot wait for: run the rig on `clock: wall`, or every ECU in this process", e.ID, e.Process)
		} else if !o.OverBus && o.Links == nil {
			// Its own process (uptane-hil ecu) or a physical ECU provisions
			// and runs it; this process can only talk to it over the bus.
			return fmt.Errorf("vehicle: %s runs outside this process (process: %s); it needs a bus link", e.ID, e.Process)
		}
		if o.OverBus && o.Links == nil {
			if err := v.connect(s); err != nil {
				return err
			}
		} else if o.Links != nil {
			s.Link, err = o.Links(v, s)
			if err != nil {
				return err
			}
		} else {
			s.Link = &secondary.Direct{ECU: s.ECU, Cfg: cfg, VIN: r.Vehicle.VIN}
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
	}

	// The Primary.
	p := r.Primary()
	pc := primary.Config{VIN: r.Vehicle.VIN, ID: p.ID, HardwareID: p.HardwareID, Key: v.ECUKeys[p.ID], Clock: o.Clock,
		Client:      &http.Client{Transport: v.Transport},
		DirectorURL: "http://backend.invalid/director/" + r.Vehicle.VIN + "/", ImageURL: "http://backend.invalid/image/",
		Dir: filepath.Join(o.Dir, "ecus", p.ID), Profile: o.profile(p.ID), Events: o.Events, Nonces: sd.Reader("nonces/primary")}
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
		c := pc
		c.Dir = tmp
		return primary.Provision(c, v.Director.Root(), v.Image.Root(), fi, pimg)
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

// InventoryKey is the signing key the Director's inventory holds for ECU e:
// a physical ECU's own (the rig's public_key), else the one derived from
// the seed.
func (v *Vehicle) InventoryKey(e *rigs.ECU) *metadata.Key {
	if e.PublicKey != nil {
		return e.PublicKey.Key()
	}
	return v.ECUKeys[e.ID].Public()
}

// checkIdentity compares what an ECU outside this process says about
// itself with the rig and the Director's inventory.
func (v *Vehicle) checkIdentity(e *rigs.ECU, id pouf.Identity) error {
	if id.HardwareID != e.HardwareID {
		return fmt.Errorf("vehicle: %s reports hardware %q on the bus; the rig says %q", e.ID, id.HardwareID, e.HardwareID)
	}
	if id.VIN != v.Rig.Vehicle.VIN {
		return fmt.Errorf("vehicle: %s reports VIN %q on the bus; the rig says %q", e.ID, id.VIN, v.Rig.Vehicle.VIN)
	}
	if id.Verification != e.Profile {
		return fmt.Errorf("vehicle: %s reports %s verification on the bus; the rig says profile: %s", e.ID, id.Verification, e.Profile)
	}
	got, err := keys.ID(id.Key)
	if err != nil {
		return fmt.Errorf("vehicle: %s: its signing key: %w", e.ID, err)
	}
	want, err := keys.ID(v.InventoryKey(e))
	if err != nil {
		return fmt.Errorf("vehicle: %s: the rig's public_key: %w", e.ID, err)
	}
	if got != want {
		if e.PublicKey != nil {
			return fmt.Errorf("vehicle: %s signs with key %s, but the rig's public_key (in the Director's inventory) is key %s: copy the key the ECU reports into the rig", e.ID, short(got), short(want))
		}
		return fmt.Errorf("vehicle: %s signs with key %s, but the Director's inventory has key %s (derived from seed %d): "+
			"an ECU in its own process must be provisioned with the same seed (remove its state directory to provision it again); "+
			"a physical ECU with its own key needs public_key: in the rig", e.ID, short(got), short(want), v.Seed)
	}
	return nil
}

// OpenBuses opens the rig's buses: virtual ones in this process (timed
// under the simulated clock unless the rig says otherwise), SocketCAN ones
// on their interfaces (on the simulated clock, frames cross the kernel
// while simulated time stands still: see socketcan.WithClock).
func OpenBuses(r *rigs.Rig, clk clock.Clock, sd seed.Seed) (map[string]can.Bus, error) {
	names := make([]string, len(r.Buses))
	for i := range r.Buses {
		names[i] = r.Buses[i].Name
	}
	return OpenNamedBuses(r, clk, sd, names...)
}

// OpenNamedBuses opens the rig's buses with the given names (an ECU in its
// own process opens only the buses it is on).
func OpenNamedBuses(r *rigs.Rig, clk clock.Clock, sd seed.Seed, names ...string) (map[string]can.Bus, error) {
	buses := map[string]can.Bus{}
	for _, name := range names {
		b := r.Bus(name)
		if b == nil {
			CloseBuses(buses)
			return nil, fmt.Errorf("vehicle: rig %s has no bus %q", r.Name, name)
		}
		bus, err := OpenBus(r, b, clk, sd)
		if err != nil {
			CloseBuses(buses)
			return nil, err
		}
		buses[b.Name] = bus
	}
	return buses, nil
}

// OpenBus opens one bus of the rig.
func OpenBus(r *rigs.Rig, b *rigs.Bus, clk clock.Clock, sd seed.Seed) (can.Bus, error) {
	switch b.Kind {
	case rigs.Virtual:
		cfg := vbus.Config{Name: b.Name, FD: b.FD, Clock: clk, Seed: sd}
		if r.IsTimed(b) {
			cfg.Bitrate, cfg.DataBitrate = b.Bitrate, b.DataBitrate
		}
		return vbus.Open(cfg)
	case rigs.SocketCAN:
		// On the simulated clock every node must be in this process
		// (clock.External); Build refuses ECUs outside it.
		sb, err := socketcan.Open(b.Interface, socketcan.WithClock(clk))
		if err != nil {
			return nil, fmt.Errorf("vehicle: bus %s (%s): %w", b.Name, r.File, err)
		}
		if b.FD && !sb.FD() {
			sb.Close()
			return nil, fmt.Errorf("vehicle: bus %s: the rig says fd: true but %s is a classic CAN interface (MTU 16): `ip link set %s mtu 72`", b.Name, b.Interface, b.Interface)
		}
		return sb, nil
	}
	return nil, fmt.Errorf("vehicle: bus %s: unknown kind %q", b.Name, b.Kind)
}

// CloseBuses closes buses that can be closed.
func CloseBuses(buses map[string]can.Bus) {
	for _, b := range buses {
		if c, ok := b.(io.Closer); ok {
			c.Close()
		}
	}
}

// inProcess reports whether this process runs ECU e.
func (v *Vehicle) inProcess(e *rigs.ECU) bool {
	return v.opts.AllInProcess || e.Process == "" || e.Process == rigs.InProcess
}

// imageRootFor is the Image repository's Root a Secondary is provisioned
// with: full-verification ECUs only.
func imageRootFor(v *Vehicle, e *rigs.ECU) []byte {
	if e.Profile == rigs.Full {
		return v.Image.Root()
	}
	return nil
}

func factory(hwid string, rc uint64, img []byte) store.Image {
	return store.Image{Name: ImageName(hwid, rc), Length: int64(len(img)), Hashes: meta.HashesOf(img), ReleaseCounter: rc}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// ImageRole is the Image repository role that signs image name of hardware
// hwid: the first of Options.Delegations that covers both, else "targets".
func (v *Vehicle) ImageRole(name, hwid string) string {
	for _, d := range v.opts.Delegations {
		dr := metadata.DelegatedRole{Name: d.Name, Paths: d.Paths}
		if ok, _ := dr.IsDelegatedPath(name); !ok {
			continue
		}
		if len(d.HardwareIDs) == 0 || slices.Contains(d.HardwareIDs, hwid) {
			return d.Name
		}
	}
	return meta.Targets
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

// Publish makes the Image repository publish release rc of the images of
// the given ECUs (all the rig's Secondaries when none) and the Director
// assign them (encrypted for ECUs whose rig entry says so).
func (v *Vehicle) Publish(rc uint64, ecus ...string) error {
	if len(ecus) == 0 {
		for _, e := range v.Rig.Secondaries() {
			ecus = append(ecus, e.ID)
		}
	}
	done := map[string]bool{}
	for _, id := range ecus {
		e := v.Rig.ECU(id)
		if e == nil {
			return fmt.Errorf("vehicle: no ECU %q in rig %s", id, v.Rig.Name)
		}
		name := ImageName(e.HardwareID, rc)
		if !done[e.HardwareID] {
			if _, err := v.Image.Target(name); err != nil {
				if err := v.Image.AddImageTo(v.ImageRole(name, e.HardwareID), name, v.ImageBytes(e.HardwareID, rc, e.ImageSize), []string{e.HardwareID}, rc); err != nil {
					return err
				}
			}
			done[e.HardwareID] = true
		}
	}
	if err := v.Image.Publish(); err != nil {
		return err
	}
	for _, id := range ecus {
		e := v.Rig.ECU(id)
		if err := v.Director.Assign(v.Rig.Vehicle.VIN, id, ImageName(e.HardwareID, rc), repo.AssignOptions{Encrypt: e.Encrypted}); err != nil {
			return err
		}
	}
	return nil
}

// Cycle runs one update cycle of the Primary.
func (v *Vehicle) Cycle() *primary.CycleReport { return v.Primary.UpdateCycle() }

// Campaign publishes and assigns release rc to the ECUs and runs one cycle.
func (v *Vehicle) Campaign(rc uint64, ecus ...string) (*primary.CycleReport, error) {
	if err := v.Publish(rc, ecus...); err != nil {
		return nil, err
	}
	return v.Cycle(), nil
}

// The diagnostic server model of every Secondary on a bus (docs/pouf.md,
// "Timing"): under the simulated clock each request it processes costs
// ServiceTime of its processor (on a wall clock the host's processor takes
// what it takes); its rate limit (pouf.rate_limit) is a token bucket of
// RateBurst requests refilled at uds.DefaultRateLimit per second, so that
// under a flood it processes at most 200 requests a second, evenly spread
// (40% of its processor), and answers the rest busy; RequestQueue requests
// wait for it in its ISO-TP receive queue, beyond that they are lost.
const (
	ServiceTime  = 2 * time.Millisecond
	RateBurst    = 50
	RequestQueue = 256
)

// secondaryServer is the UDS server configuration of Secondary e under
// profile p; onCheck records a check the server fires in the ECU's state.
func secondaryServer(e *rigs.ECU, clk clock.Clock, p check.Profile, onCheck func(*check.Error)) uds.ServerConfig {
	cfg := uds.ServerConfig{Name: e.ID, MaxFileSize: 1 << 26, RateBurst: RateBurst}
	if clk.Simulated() {
		cfg.ServiceTime = ServiceTime
	}
	return secondary.ServerLimits(cfg, p, onCheck)
}

// secondaryISOTP is the ISO-TP options of the ECU's end of its channel.
func secondaryISOTP(e *rigs.ECU) isotp.Options {
	o := isotpOptions(e, e.ID, e.ISOTP.Response, e.ISOTP.Request)
	o.RxQueue = RequestQueue
	return o
}

// connect serves the Secondary's UDS on ISO-TP on its bus (when it runs
// in this process) and gives the Primary a pouf client to it.
func (v *Vehicle) connect(s *Secondary) error {
	e := s.Rig
	bus := v.Buses[e.Bus]
	if bus == nil {
		return fmt.Errorf("vehicle: %s: no bus %q", e.ID, e.Bus)
	}
	if s.ECU != nil {
		node := &secondary.Node{Config: s.Config, VIN: v.Rig.Vehicle.VIN, Bus: bus, Clock: v.Clock, ISOTP: secondaryISOTP(e)}
		node.Server = secondaryServer(e, v.Clock, v.opts.profile(e.ID), func(ce *check.Error) {
			if ecu := node.ECU(); ecu != nil {
				ecu.RecordAttack(ce)
			}
		})
		s.BusNode = node
		if err := s.BusNode.Start(s.ECU); err != nil {
			return fmt.Errorf("vehicle: %w", err)
		}
	}
	c, err := DialSecondary(bus, v.Clock, v.Rig.Primary().ID, e)
	if err != nil {
		return err
	}
	s.Client = c
	s.Link = &link.Pouf{C: c}
	return nil
}

// isotpOptions are the ISO-TP options of one end of a Secondary's channel.
func isotpOptions(e *rigs.ECU, name string, tx, rx uint32) isotp.Options {
	o := isotp.Options{Name: name, TxID: tx, RxID: rx, Extended: e.ISOTP.Extended, FD: e.ISOTP.FD, BRS: e.ISOTP.FD,
		BlockSize: uint8(e.ISOTP.BlockSize), STmin: e.ISOTP.STmin, MaxRx: 1 << 26}
	if e.ISOTP.FD {
		o.TxDL = 64
	}
	return o
}

// ServeSecondary serves the in-vehicle protocol (UDS on ISO-TP) of a booted
// Secondary on its bus at its rig ISO-TP identifiers, until the connection
// (or the bus) is closed.
func ServeSecondary(bus can.Bus, clk clock.Clock, e *rigs.ECU, ecu *secondary.ECU, vin string) (*secondary.Handler, *isotp.Conn, error) {
	conn, err := isotp.New(bus, clk, secondaryISOTP(e))
	if err != nil {
		return nil, nil, fmt.Errorf("vehicle: %s: %w", e.ID, err)
	}
	h := secondary.NewHandler(ecu, vin)
	srv := uds.NewServer(conn, clk, h, secondaryServer(e, clk, check.Conformant, func(ce *check.Error) { h.ECU().RecordAttack(ce) }))
	clk.Go(e.ID+" UDS server", func() { _ = srv.Serve() })
	return h, conn, nil
}

// WallSlack is what a Primary on a wall-clock rig adds to a Secondary's
// announced P2 and P2* for the transport: ECUs in other processes share the
// host's CPUs (in the vcan VM, six processes on one emulated CPU), so an
// answer can come later than on a bench ECU. Two seconds: one was seen to
// run out once (signing a version report) on a 2-core CI host at load 10.
const WallSlack = 2 * time.Second

// DialSecondary opens the Primary's end of a Secondary's channel on its
// bus and returns a pouf client over it.
func DialSecondary(bus can.Bus, clk clock.Clock, primaryID string, e *rigs.ECU) (*pouf.Client, error) {
	conn, err := isotp.New(bus, clk, isotpOptions(e, primaryID+">"+e.ID, e.ISOTP.Request, e.ISOTP.Response))
	if err != nil {
		return nil, fmt.Errorf("vehicle: %s: %w", e.ID, err)
	}
	cfg := uds.ClientConfig{}
	if !clk.Simulated() {
		cfg.Slack = WallSlack
	}
	return pouf.NewClient(uds.NewClient(conn, clk, cfg), e.ID), nil
}

// WaitForECU waits until the ECU answers on its bus (ReadDataByIdentifier
// of its serial number, then its whole identity), at most wait (0:
// DefaultWait). The error names the ECU, its bus and how it should run.
func WaitForECU(c *pouf.Client, r *rigs.Rig, e *rigs.ECU, wait time.Duration) (pouf.Identity, error) {
	if wait <= 0 {
		wait = DefaultWait
	}
	clk := c.UDS().Clock()
	deadline := clk.Now().Add(wait)
	var last error
	for {
		b, err := c.UDS().ReadDID(pouf.DIDECUSerial)
		if err == nil {
			if string(b) != e.ID {
				return pouf.Identity{}, fmt.Errorf("vehicle: the ECU at %s's address (request %#x) on bus %s says it is %q", e.ID, e.ISOTP.Request, e.Bus, b)
			}
			id, err := c.ReadIdentity()
			if err == nil {
				return id, nil
			}
			last = err
		} else {
			last = err
		}
		if !clk.Now().Before(deadline) {
			break
		}
		clk.Sleep(200 * time.Millisecond)
	}
	how := fmt.Sprintf("is `uptane-hil ecu --rig %s --ecu %s` running?", r.File, e.ID)
	if e.Process == rigs.Physical {
		how = "is the ECU powered and on the bus, at the rig's ISO-TP identifiers and bit rate?"
	}
	iface := ""
	if b := r.Bus(e.Bus); b != nil && b.Interface != "" {
		iface = " (" + b.Interface + ")"
	}
	return pouf.Identity{}, fmt.Errorf("vehicle: ECU %s (process: %s) did not answer on bus %s%s at request %#x, response %#x within %s: %v; %s",
		e.ID, e.Process, e.Bus, iface, e.ISOTP.Request, e.ISOTP.Response, wait, last, how)
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

// Installed is the image an ECU has in its active slot.
type Installed struct {
	Release uint64 // release counter of the image's metadata
	Name    string // image file name
	// Genuine is true when the slot holds exactly the genuine bytes of that
	// release (false: an attacker's image under that name).
	Genuine bool
}

// Installed returns the image an in-process ECU has in its active slot.
func (v *Vehicle) Installed(id string) (Installed, error) {
	s := v.Secondary(id)
	if s == nil {
		return Installed{}, fmt.Errorf("vehicle: no Secondary %q", id)
	}
	e := s.Current()
	if e == nil {
		return Installed{}, fmt.Errorf("vehicle: %s does not run in this process, or has no power", id)
	}
	img, data, err := e.ActiveImage()
	if err != nil {
		return Installed{}, err
	}
	want := v.ImageBytes(s.Rig.HardwareID, img.ReleaseCounter, len(data))
	return Installed{Release: img.ReleaseCounter, Name: img.Name, Genuine: bytes.Equal(want, data)}, nil
}

// Close releases the backend's database and closes the buses it opened.
func (v *Vehicle) Close() error {
	v.stopRestbus()
	if v.ownBuses {
		CloseBuses(v.Buses)
		v.ownBuses = false
	}
	if v.Director != nil {
		return v.Director.Close()
	}
	return nil
}
