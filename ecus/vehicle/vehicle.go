// Package vehicle brings up a whole vehicle from a rig: the backend
// (Director and Image repository, embedded), the buses, the Primary and the
// Secondaries, with keys and factory images derived from the run's seed.
// It runs update campaigns and exposes every seam an attack needs: the
// man-in-the-middle proxy on the repository link, the repositories' signers,
// the buses, and the ECU profiles.
package vehicle

import (
	"bytes"
	"crypto/ecdh"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/attacks/mitm"
	"github.com/uptane-hil/uptane-hil/ecus/events"
	"github.com/uptane-hil/uptane-hil/ecus/link"
	"github.com/uptane-hil/uptane-hil/ecus/pouf"
	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/secondary"
	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/ecus/uds"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/isotp"
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

// Secondary is one Secondary of the vehicle.
type Secondary struct {
	Rig     *rigs.ECU
	Config  secondary.Config
	ECU     *secondary.ECU // in-process ECUs
	Link    link.Secondary
	Handler *secondary.Handler // its UDS server's handler, over the bus
}

// Vehicle is a running vehicle and its backend.
type Vehicle struct {
	Rig      *rigs.Rig
	Clock    clock.Clock
	Seed     seed.Seed
	Dir      string
	Image    *repo.Image
	Director *repo.Director
	// Proxy is the man in the middle on the Primary's repository link.
	Proxy      *mitm.Proxy
	Backend    http.Handler
	Primary    *primary.Primary
	PrimaryCfg primary.Config
	// Buses are the rig's buses (with OverBus), by name.
	Buses       map[string]can.Bus
	Secondaries []*Secondary
	opts        Options
	nonces      io.Reader
	// ECUKeys are the ECUs' signing keys (a scenario hands one to the
	// attacker to play a compromised ECU).
	ECUKeys map[string]*keys.Private
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

// ImageBytes is the deterministic content of release rc for hardware hwid.
func (v *Vehicle) ImageBytes(hwid string, rc uint64, size int) []byte {
	b := make([]byte, size)
	io.ReadFull(v.Seed.Reader(fmt.Sprintf("image/%s/%d", hwid, rc)), b)
	copy(b, fmt.Sprintf("%s release %d\n", hwid, rc))
	return b
}

// Build brings up the vehicle. Under a simulated clock call it from inside
// the clock's Run.
func Build(o Options) (*Vehicle, error) {
	r := o.Rig
	if r.Backend.Mode != rigs.Embedded {
		return nil, fmt.Errorf("vehicle: rig %s: only the embedded backend can be brought up in-process (mode %q)", r.Name, r.Backend.Mode)
	}
	sd := o.Seed
	if sd == 0 {
		sd = seed.Seed(r.Seed)
	}
	v := &Vehicle{Rig: r, Clock: o.Clock, Seed: sd, Dir: o.Dir, opts: o, nonces: sd.Reader("nonces")}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("vehicle: %w", err)
	}
	exp := repo.Expiry{Root: r.Backend.Expiry.Root, Targets: r.Backend.Expiry.Targets, Delegated: r.Backend.Expiry.Targets,
		Snapshot: r.Backend.Expiry.Snapshot, Timestamp: r.Backend.Expiry.Timestamp}
	var err error
	ikc := repo.KeyConfig{Rand: sd.Reader("keys/image"), Thresholds: map[string]int{}, Keys: map[string]int{}}
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
			k, err := keys.Generate(keys.Ed25519, rd)
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
		Keys: repo.KeyConfig{Rand: sd.Reader("keys/director")}, Expiry: exp, Images: v.Image, Rand: sd.Reader("director/encrypt"),
		Profile: o.profile("director")})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/director/", http.StripPrefix("/director", v.Director.Handler()))
	mux.Handle("/image/", http.StripPrefix("/image", v.Image.Handler()))
	v.Backend = mux
	v.Proxy = mitm.New(repo.InProcessTransport(mux), o.Clock)

	// Factory images, release 1, for every ECU's hardware.
	hw := map[string]int{}
	for _, e := range r.ECUs {
		hw[e.HardwareID] = max(hw[e.HardwareID], e.ImageSize)
	}
	for _, h := range sortedKeys(hw) {
		if err := v.Image.AddImageTo(v.ImageRole(ImageName(h, 1), h), ImageName(h, 1), v.ImageBytes(h, 1, hw[h]), []string{h}, 1); err != nil {
			return nil, err
		}
	}
	if err := v.Image.Publish(); err != nil {
		return nil, err
	}

	// Keys and inventory.
	inv := []repo.ECU{}
	ecuKeys := map[string]*keys.Private{}
	encKeys := map[string]*ecdh.PrivateKey{}
	for _, e := range r.ECUs {
		k, err := keys.Generate(e.KeyType, sd.Reader("keys/ecu/"+e.ID))
		if err != nil {
			return nil, err
		}
		ecuKeys[e.ID] = k
		item := repo.ECU{ID: e.ID, HardwareID: e.HardwareID, Key: k.Public(), Primary: e.Role == rigs.Primary}
		if e.Encrypted {
			ek, err := imagecrypt.GenerateKey(sd.Reader("keys/ecu-enc/" + e.ID))
			if err != nil {
				return nil, err
			}
			encKeys[e.ID] = ek
			item.EncryptionKey = ek.PublicKey().Bytes()
		}
		inv = append(inv, item)
	}
	v.ECUKeys = ecuKeys
	if err := v.Director.AddVehicle(r.Vehicle.VIN, inv...); err != nil {
		return nil, err
	}
	if o.BackendOnly {
		return v, nil
	}

	if o.OverBus {
		if v.Buses, err = OpenBuses(r, o.Clock, sd); err != nil {
			return nil, err
		}
	}

	// Secondaries.
	for _, e := range r.Secondaries() {
		crash := store.CrashFunc(nil)
		if o.Crash != nil {
			crash = o.Crash(e.ID)
		}
		cfg := secondary.Config{ID: e.ID, HardwareID: e.HardwareID, Verification: e.Profile, Profile: o.profile(e.ID),
			Dir: filepath.Join(o.Dir, "ecus", e.ID), Key: ecuKeys[e.ID], EncKey: encKeys[e.ID], Clock: o.Clock, Crash: crash}
		img := v.ImageBytes(e.HardwareID, 1, e.ImageSize)
		s := &Secondary{Rig: e, Config: cfg}
		if v.inProcess(e) {
			if err := secondary.Provision(cfg, v.Director.Root(), imageRootFor(v, e), factory(e.HardwareID, 1, img), img); err != nil {
				return nil, err
			}
			if s.ECU, err = secondary.Boot(cfg); err != nil {
				return nil, err
			}
		} else if o.Clock.Simulated() && o.OverBus {
			return nil, fmt.Errorf("vehicle: %s runs outside this process (process: %s), which a simulated clock cannot wait for: run the rig on `clock: wall`, or every ECU in this process", e.ID, e.Process)
		} else if !o.OverBus && o.Links == nil {
			// Its own process (uptane-hil ecu) or a physical ECU provisions
			// and runs it; this process can only talk to it over the bus.
			return nil, fmt.Errorf("vehicle: %s runs outside this process (process: %s); it needs a bus link", e.ID, e.Process)
		}
		if o.OverBus && o.Links == nil {
			if err := v.connect(s); err != nil {
				return nil, err
			}
		} else if o.Links != nil {
			s.Link, err = o.Links(v, s)
			if err != nil {
				return nil, err
			}
		} else {
			s.Link = &link.Direct{ECU: s.ECU, Cfg: cfg, VIN: r.Vehicle.VIN}
		}
		v.Secondaries = append(v.Secondaries, s)
	}

	// The Primary.
	p := r.Primary()
	pc := primary.Config{VIN: r.Vehicle.VIN, ID: p.ID, HardwareID: p.HardwareID, Key: ecuKeys[p.ID], Clock: o.Clock,
		Client:      &http.Client{Transport: v.Proxy},
		DirectorURL: "http://backend.invalid/director/" + r.Vehicle.VIN + "/", ImageURL: "http://backend.invalid/image/",
		Dir: filepath.Join(o.Dir, "ecus", p.ID), Profile: o.profile(p.ID), Events: o.Events, Nonces: sd.Reader("nonces/primary")}
	if o.Crash != nil {
		pc.Crash = o.Crash(p.ID)
	}
	for _, s := range v.Secondaries {
		pc.Secondaries = append(pc.Secondaries, primary.SecondaryConfig{ID: s.Rig.ID, Bus: s.Rig.Bus, Link: s.Link})
	}
	pimg := v.ImageBytes(p.HardwareID, 1, p.ImageSize)
	if err := primary.Provision(pc, v.Director.Root(), v.Image.Root(), factory(p.HardwareID, 1, pimg), pimg); err != nil {
		return nil, err
	}
	if v.Primary, err = primary.Boot(pc); err != nil {
		return nil, err
	}
	v.PrimaryCfg = pc
	return v, nil
}

// OpenBuses opens the rig's buses: virtual ones in this process (timed
// under the simulated clock unless the rig says otherwise), SocketCAN ones
// on their interfaces (on the simulated clock, frames cross the kernel
// while simulated time stands still: see socketcan.WithClock).
func OpenBuses(r *rigs.Rig, clk clock.Clock, sd seed.Seed) (map[string]can.Bus, error) {
	buses := map[string]can.Bus{}
	closeAll := func() {
		for _, b := range buses {
			if c, ok := b.(io.Closer); ok {
				c.Close()
			}
		}
	}
	for i := range r.Buses {
		b := &r.Buses[i]
		var bus can.Bus
		switch b.Kind {
		case rigs.Virtual:
			cfg := vbus.Config{Name: b.Name, FD: b.FD, Clock: clk, Seed: sd}
			if r.IsTimed(b) {
				cfg.Bitrate, cfg.DataBitrate = b.Bitrate, b.DataBitrate
			}
			vb, err := vbus.Open(cfg)
			if err != nil {
				closeAll()
				return nil, err
			}
			bus = vb
		case rigs.SocketCAN:
			// On the simulated clock every node must be in this process
			// (clock.External); Build refuses ECUs outside it.
			sb, err := socketcan.Open(b.Interface, socketcan.WithClock(clk))
			if err != nil {
				closeAll()
				return nil, fmt.Errorf("vehicle: bus %s: %w", b.Name, err)
			}
			if b.FD && !sb.FD() {
				sb.Close()
				closeAll()
				return nil, fmt.Errorf("vehicle: bus %s: the rig says fd: true but %s is a classic CAN interface (MTU 16): `ip link set %s mtu 72`", b.Name, b.Interface, b.Interface)
			}
			bus = sb
		default:
			closeAll()
			return nil, fmt.Errorf("vehicle: bus %s: unknown kind %q", b.Name, b.Kind)
		}
		buses[b.Name] = bus
	}
	return buses, nil
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
// the given ECUs (all Secondaries when none) and the Director assign them
// (encrypted for ECUs whose rig entry says so).
func (v *Vehicle) Publish(rc uint64, ecus ...string) error {
	if len(ecus) == 0 {
		for _, s := range v.Secondaries {
			ecus = append(ecus, s.Rig.ID)
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

// connect serves the Secondary's UDS on ISO-TP on its bus and gives the
// Primary a pouf client to it.
func (v *Vehicle) connect(s *Secondary) error {
	e := s.Rig
	bus := v.Buses[e.Bus]
	if bus == nil {
		return fmt.Errorf("vehicle: %s: no bus %q", e.ID, e.Bus)
	}
	opts := func(name string, tx, rx uint32) isotp.Options {
		o := isotp.Options{Name: name, TxID: tx, RxID: rx, Extended: e.ISOTP.Extended, FD: e.ISOTP.FD, BRS: e.ISOTP.FD,
			BlockSize: uint8(e.ISOTP.BlockSize), STmin: e.ISOTP.STmin, MaxRx: 1 << 26}
		if e.ISOTP.FD {
			o.TxDL = 64
		}
		return o
	}
	if s.ECU != nil {
		srvConn, err := isotp.New(bus, v.Clock, opts(e.ID, e.ISOTP.Response, e.ISOTP.Request))
		if err != nil {
			return fmt.Errorf("vehicle: %s: %w", e.ID, err)
		}
		s.Handler = secondary.NewHandler(s.ECU, v.Rig.Vehicle.VIN)
		srv := uds.NewServer(srvConn, v.Clock, s.Handler, uds.ServerConfig{Name: e.ID, MaxFileSize: 1 << 26})
		v.Clock.Go(e.ID+" UDS server", func() { _ = srv.Serve() })
	}
	pConn, err := isotp.New(bus, v.Clock, opts(v.Rig.Primary().ID+">"+e.ID, e.ISOTP.Request, e.ISOTP.Response))
	if err != nil {
		return fmt.Errorf("vehicle: %s: %w", e.ID, err)
	}
	s.Link = &link.Pouf{C: pouf.NewClient(uds.NewClient(pConn, v.Clock, uds.ClientConfig{}), e.ID)}
	return nil
}

// Current returns the running in-process ECU (a reset replaces it), or nil.
func (s *Secondary) Current() *secondary.ECU {
	if s.Handler != nil {
		return s.Handler.ECU()
	}
	if d, ok := s.Link.(*link.Direct); ok {
		return d.ECU
	}
	return s.ECU
}

// InstalledRelease returns the release counter and name of the image an
// in-process ECU has in its active slot; the name is marked "(unknown
// bytes)" when the slot does not hold that release's genuine image.
func (v *Vehicle) InstalledRelease(id string) (uint64, string, error) {
	s := v.Secondary(id)
	if s == nil {
		return 0, "", fmt.Errorf("vehicle: no Secondary %q", id)
	}
	e := s.Current()
	if e == nil {
		return 0, "", fmt.Errorf("vehicle: %s does not run in this process", id)
	}
	img, data, err := e.ActiveImage()
	if err != nil {
		return 0, "", err
	}
	if want := v.ImageBytes(s.Rig.HardwareID, img.ReleaseCounter, len(data)); !bytes.Equal(want, data) {
		return img.ReleaseCounter, img.Name + " (unknown bytes)", nil
	}
	return img.ReleaseCounter, img.Name, nil
}

// Close releases the backend's database and closes the buses.
func (v *Vehicle) Close() error {
	for _, b := range v.Buses {
		if c, ok := b.(io.Closer); ok {
			c.Close()
		}
	}
	if v.Director != nil {
		return v.Director.Close()
	}
	return nil
}
