package vehicle

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/uptane-hil/uptane-hil/ecus/link"
	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/secondary"
	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/events"
	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// ProcessOptions configure one ECU of a rig run as its own process
// (uptane-hil ecu) on the rig's shared bus, on wall-clock time.
type ProcessOptions struct {
	Rig *rigs.Rig
	ECU string
	// Dir is the ECU's state directory (uptane-hil ecu: OUT/ecu/ID). It is
	// provisioned on the first start and booted from on every later one.
	Dir string
	// Seed overrides the rig's seed when non-zero (keys and factory image).
	Seed seed.Seed
	// Backend is the backend's base URL: the Director at
	// Backend/director/VIN/, the Image repository at Backend/image/. ""
	// takes the rig's (BackendURLs).
	Backend string
	// Client reaches the backend (nil: NewHTTPClient).
	Client *http.Client
	// Clock is the run's clock (nil: wall-clock time).
	Clock clock.Clock
	// Buses hands over opened buses by name (the caller closes them); nil
	// opens the rig's buses the ECU is on, and Close closes them.
	Buses map[string]can.Bus
	// Crash is the ECU store's crash-point function (power-loss tests).
	Crash store.CrashFunc
	// Events receives the Primary's events (progress display).
	Events events.Sink
	// Wait bounds how long a start waits for the backend (provisioning)
	// and the Primary for each Secondary to answer on the bus (0:
	// DefaultWait).
	Wait time.Duration
	// Profile is the checks a Secondary runs with (uptane-hil ecu
	// --without: a deliberately vulnerable ECU); the zero Profile is the
	// conformant one.
	Profile check.Profile
	// Log, when set, hears what a Secondary reads of its programming
	// preconditions on its bus (uptane-hil ecu prints it): each signal the
	// first time it is seen, and each change of whether they hold.
	Log func(string)
}

func (o *ProcessOptions) defaults() (*rigs.ECU, error) {
	e := o.Rig.ECU(o.ECU)
	if e == nil {
		ids := make([]string, len(o.Rig.ECUs))
		for i := range o.Rig.ECUs {
			ids[i] = o.Rig.ECUs[i].ID
		}
		return nil, fmt.Errorf("vehicle: rig %s has no ECU %q (it has %s)", o.Rig.File, o.ECU, strings.Join(ids, ", "))
	}
	if e.Process == rigs.Physical {
		return nil, fmt.Errorf("vehicle: %s is a physical ECU in rig %s (process: physical): it runs its own firmware, not uptane-hil", e.ID, o.Rig.File)
	}
	if o.Clock == nil {
		o.Clock = clock.NewWall()
	}
	if o.Clock.Simulated() {
		return nil, errors.New("vehicle: an ECU in its own process runs on wall-clock time")
	}
	if o.Client == nil {
		o.Client = NewHTTPClient()
	}
	if o.Wait <= 0 {
		o.Wait = DefaultWait
	}
	o.Seed = SeedOf(o.Rig, o.Seed)
	return e, nil
}

func (o *ProcessOptions) openBuses(names ...string) (map[string]can.Bus, bool, error) {
	if o.Buses != nil {
		for _, n := range names {
			if o.Buses[n] == nil {
				return nil, false, fmt.Errorf("vehicle: no bus %q handed over", n)
			}
		}
		return o.Buses, false, nil
	}
	for _, n := range names {
		if b := o.Rig.Bus(n); b != nil && b.Kind != rigs.SocketCAN {
			return nil, false, o.Rig.Errorf("buses", "bus %s is %s: an ECU in its own process shares the bus with the others only on SocketCAN (kind: socketcan)", n, b.Kind)
		}
	}
	buses, err := OpenNamedBuses(o.Rig, o.Clock, o.Seed, names...)
	return buses, true, err
}

// SecondaryProcess is a Secondary running in this process on the rig's bus.
type SecondaryProcess struct {
	ECU     *rigs.ECU
	Handler *secondary.Handler
	// Provisioned is set when this start was the ECU's first (the factory).
	Provisioned bool
	// Booted is the image the ECU booted, whole (its bytes match its
	// length and hashes).
	Booted store.Image
	Dir    string
	conn   secondary.Channel
	buses  map[string]can.Bus
	own    bool
}

// StartSecondary provisions the Secondary on its first start (keys from the
// seed, factory image release 1, the Director's Root and, for full
// verification, the Image repository's Root fetched from the backend),
// boots it from its state directory, and serves the in-vehicle protocol
// (UDS on ISO-TP) on its bus at its rig ISO-TP identifiers until Close.
func StartSecondary(o ProcessOptions) (*SecondaryProcess, error) {
	e, err := o.defaults()
	if err != nil {
		return nil, err
	}
	if e.Role != rigs.Secondary {
		return nil, fmt.Errorf("vehicle: %s is the Primary; StartPrimary runs it", e.ID)
	}
	// The bus first: a missing interface is reported before anything else.
	buses, own, err := o.openBuses(e.Bus)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*SecondaryProcess, error) {
		if own {
			CloseBuses(buses)
		}
		return nil, err
	}
	cfg := secondary.Config{ID: e.ID, HardwareID: e.HardwareID, VIN: o.Rig.Vehicle.VIN, Verification: e.Profile, Profile: o.Profile, Dir: o.Dir, Clock: o.Clock, Crash: o.Crash}
	made, err := provisionOnce(o.Dir, func(tmp string) error {
		dURL, iURL, err := BackendURLs(o.Rig, o.Backend)
		if err != nil {
			return err
		}
		deadline := o.Clock.Now().Add(o.Wait)
		droot, err := fetchRoot(o.Client, o.Clock, dURL, "Director", deadline)
		if err != nil {
			return err
		}
		var iroot []byte
		if e.Profile == rigs.Full {
			if iroot, err = fetchRoot(o.Client, o.Clock, iURL, "Image repository", deadline); err != nil {
				return err
			}
		}
		k, _, err := factoryKeys(tmp, o.Seed, e)
		if err != nil {
			return err
		}
		var image func(string) ([]byte, error)
		if e.Profile == rigs.Full {
			image = httpGetter(o.Client, iURL)
		}
		md, err := factoryFiles(cfg.Profile, e.Profile == rigs.Partial, httpGetter(o.Client, dURL), image)
		if err != nil {
			return err
		}
		if err := saveTimeKey(tmp, o.Client, iURL); err != nil {
			return err
		}
		c := cfg
		c.Dir, c.Crash, c.Nonces = tmp, nil, rand.Reader
		fi, img := Factory(o.Seed, e)
		if err := secondary.Provision(c, droot, iroot, md, fi, img); err != nil {
			return err
		}
		return writeRecord(tmp, &o, e, k)
	})
	if err != nil {
		return fail(err)
	}
	if cfg.Key, cfg.EncKey, err = loadState(&o, e); err != nil {
		return fail(err)
	}
	if cfg.TimeKey, err = loadTimeKey(o.Dir); err != nil {
		return fail(err)
	}
	cfg.Nonces = rand.Reader
	ecu, err := secondary.Boot(cfg)
	if err != nil {
		return fail(err)
	}
	img, data, err := ecu.ActiveImage()
	if err != nil {
		return fail(err)
	}
	if err := meta.CheckHashes(data, img.Length, img.Hashes); err != nil {
		return fail(fmt.Errorf("vehicle: %s booted %s, which is not whole: %w", e.ID, img.Name, err))
	}
	h, conn, err := ServeSecondary(buses[e.Bus], o.Clock, e, ecu, o.Rig.Vehicle.VIN, o.Log)
	if err != nil {
		return fail(err)
	}
	return &SecondaryProcess{ECU: e, Handler: h, Provisioned: made, Booted: *img, Dir: o.Dir, conn: conn, buses: buses, own: own}, nil
}

// Close stops serving and closes the buses it opened.
func (p *SecondaryProcess) Close() error {
	p.conn.Close()
	if p.own {
		CloseBuses(p.buses)
	}
	return nil
}

// RunSecondary runs the Secondary (StartSecondary) until ctx is done.
func RunSecondary(ctx context.Context, o ProcessOptions) error {
	p, err := StartSecondary(o)
	if err != nil {
		return err
	}
	<-ctx.Done()
	return p.Close()
}

// PrimaryProcess is the Primary running in this process on the rig's
// buses, reaching the backend over HTTP.
type PrimaryProcess struct {
	ECU         *rigs.ECU
	Primary     *primary.Primary
	Config      primary.Config
	Provisioned bool
	buses       map[string]can.Bus
	own         bool
}

// StartPrimary opens the Primary's buses, waits until every Secondary
// answers on its bus, provisions the Primary on its first start (keys from
// the seed, factory image, both repositories' Roots from the backend, the
// Secondaries' identities read over the bus and pinned) and boots it.
func StartPrimary(o ProcessOptions) (*PrimaryProcess, error) {
	e, err := o.defaults()
	if err != nil {
		return nil, err
	}
	if e.Role != rigs.Primary {
		return nil, fmt.Errorf("vehicle: %s is a Secondary; StartSecondary runs it", e.ID)
	}
	dURL, iURL, err := BackendURLs(o.Rig, o.Backend)
	if err != nil {
		return nil, err
	}
	buses, own, err := o.openBuses(e.Buses...)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*PrimaryProcess, error) {
		if own {
			CloseBuses(buses)
		}
		return nil, err
	}
	pc := primary.Config{VIN: o.Rig.Vehicle.VIN, ID: e.ID, HardwareID: e.HardwareID, Clock: o.Clock, Client: o.Client,
		DirectorURL: dURL, ImageURL: iURL, TimeURL: TimeURL(iURL), Dir: o.Dir, Events: o.Events, Nonces: rand.Reader, Crash: o.Crash,
		ConditionsWait: e.PreconditionsWait}
	for _, s := range o.Rig.Secondaries() {
		c, err := DialSecondary(buses[s.Bus], o.Clock, e.ID, s)
		if err != nil {
			return fail(err)
		}
		pc.Secondaries = append(pc.Secondaries, primary.SecondaryConfig{ID: s.ID, Bus: s.Bus, Link: &link.Pouf{C: c}})
	}
	// Every Secondary must answer before the cycle (and, on the first
	// start, before its identity is pinned); they come up in parallel.
	var wg sync.WaitGroup
	errs := make([]error, len(pc.Secondaries))
	for i, s := range o.Rig.Secondaries() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = WaitForECU(pc.Secondaries[i].Link.(*link.Pouf).C, o.Rig, s, o.Wait)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fail(err)
	}
	made, err := provisionOnce(o.Dir, func(tmp string) error {
		deadline := o.Clock.Now().Add(o.Wait)
		droot, err := fetchRoot(o.Client, o.Clock, dURL, "Director", deadline)
		if err != nil {
			return err
		}
		iroot, err := fetchRoot(o.Client, o.Clock, iURL, "Image repository", deadline)
		if err != nil {
			return err
		}
		k, _, err := factoryKeys(tmp, o.Seed, e)
		if err != nil {
			return err
		}
		md, err := factoryFiles(pc.Profile, false, httpGetter(o.Client, dURL), httpGetter(o.Client, iURL))
		if err != nil {
			return err
		}
		if err := saveTimeKey(tmp, o.Client, iURL); err != nil {
			return err
		}
		c := pc
		c.Dir, c.Crash, c.Key = tmp, nil, k
		fi, img := Factory(o.Seed, e)
		if err := primary.Provision(c, droot, iroot, md, fi, img); err != nil {
			return err
		}
		return writeRecord(tmp, &o, e, k)
	})
	if err != nil {
		return fail(err)
	}
	if pc.Key, _, err = loadState(&o, e); err != nil {
		return fail(err)
	}
	if pc.TimeKey, err = loadTimeKey(o.Dir); err != nil {
		return fail(err)
	}
	p, err := primary.Boot(pc)
	if err != nil {
		return fail(err)
	}
	return &PrimaryProcess{ECU: e, Primary: p, Config: pc, Provisioned: made, buses: buses, own: own}, nil
}

// Cycle runs one update cycle and judges where every Secondary ended.
func (p *PrimaryProcess) Cycle() (*primary.CycleReport, Verdict) {
	rep := p.Primary.UpdateCycle()
	return rep, Judge(rep, p.Primary.Director())
}

// Close closes the buses it opened.
func (p *PrimaryProcess) Close() error {
	if p.own {
		CloseBuses(p.buses)
	}
	return nil
}
