package vehicle

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/uptane-hil/uptane-hil/ecus/link"
	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/secondary"
	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/internal/atomicfile"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/events"
	"github.com/uptane-hil/uptane-hil/sim/isotp"
	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
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

// NewHTTPClient is the client of an ECU in its own process to the backend:
// bounded dialing, response headers and whole requests.
func NewHTTPClient() *http.Client {
	return &http.Client{
		Timeout: 2 * time.Minute,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   4,
		},
	}
}

// BackendURLs returns the base URLs of the vehicle's Director files and of
// the Image repository: under base when given (as served by uptane-hil
// repo and vehicle: base/director/VIN/, base/image/), else the rig's:
// http://LISTEN/... of an embedded backend with backend.listen, or
// director_url/VIN/ and image_url of a remote one.
func BackendURLs(r *rigs.Rig, base string) (director, image string, err error) {
	vin := r.Vehicle.VIN
	if base == "" {
		switch {
		case r.Backend.Mode == rigs.Remote:
			d, err := url.JoinPath(r.Backend.DirectorURL, vin)
			if err != nil {
				return "", "", r.Errorf("backend.director_url", "%v", err)
			}
			return d + "/", strings.TrimSuffix(r.Backend.ImageURL, "/") + "/", nil
		case r.Backend.Listen != "":
			base = "http://" + r.Backend.Listen
		default:
			return "", "", r.Errorf("backend.listen", "the embedded backend is not served over HTTP: set backend.listen (e.g. 127.0.0.1:8470) or give the backend's URL (--backend)")
		}
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", fmt.Errorf("vehicle: backend URL %q: want http://HOST:PORT", base)
	}
	base = strings.TrimSuffix(base, "/")
	return base + "/director/" + vin + "/", base + "/image/", nil
}

// record is what the factory wrote about an ECU (DIR/ecu.json): a later
// start checks the rig still describes the same ECU.
type record struct {
	ECU          string    `json:"ecu"`
	HardwareID   string    `json:"hardwareId"`
	Role         string    `json:"role"`
	Verification string    `json:"verification"`
	VIN          string    `json:"vin"`
	KeyID        string    `json:"keyid"`
	Encrypted    bool      `json:"encrypted"`
	Seed         uint64    `json:"seed"`
	Rig          string    `json:"rig"`
	Provisioned  time.Time `json:"provisioned"`
}

const (
	recordFile = "ecu.json"
	keyFile    = "keys/ecu.key"
	encKeyFile = "keys/ecu-enc.key"
)

// provisionOnce runs the factory into a fresh temporary directory next to
// dir and renames it to dir, so a state directory exists only once it is
// complete (a kill during the factory leaves nothing to boot from, and the
// next start provisions again). It does nothing, and reports false, when
// dir exists.
func provisionOnce(dir string, factory func(tmp string) error) (bool, error) {
	if _, err := os.Stat(dir); err == nil {
		return false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("vehicle: %w", err)
	}
	parent, base := filepath.Dir(dir), filepath.Base(dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return false, fmt.Errorf("vehicle: %w", err)
	}
	old, _ := filepath.Glob(filepath.Join(parent, "."+base+".factory-*"))
	for _, o := range old {
		os.RemoveAll(o)
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".factory-")
	if err != nil {
		return false, fmt.Errorf("vehicle: %w", err)
	}
	if err := factory(tmp); err != nil {
		os.RemoveAll(tmp)
		return false, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		return false, fmt.Errorf("vehicle: %w", err)
	}
	if err := atomicfile.SyncDir(parent); err != nil {
		return false, fmt.Errorf("vehicle: %w", err)
	}
	return true, nil
}

// fetchRoot fetches the current Root of a repository from the backend,
// retrying while the backend does not answer, until the deadline.
func fetchRoot(c *http.Client, clk clock.Clock, base, what string, deadline time.Time) ([]byte, error) {
	u := base + "root.json"
	var last error
	for {
		resp, err := c.Get(u)
		if err == nil {
			b, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20+1))
			resp.Body.Close()
			switch {
			case rerr != nil:
				last = rerr
			case resp.StatusCode == http.StatusOK && len(b) <= 1<<20:
				return b, nil
			case resp.StatusCode == http.StatusOK:
				return nil, fmt.Errorf("vehicle: the %s's Root at %s is more than 1 MiB", what, u)
			case resp.StatusCode/100 == 4:
				return nil, fmt.Errorf("vehicle: the %s's Root at %s: HTTP %d: %s (is this the backend of this rig and VIN?)", what, u, resp.StatusCode, strings.TrimSpace(string(b)))
			default:
				last = fmt.Errorf("HTTP %d", resp.StatusCode)
			}
		} else {
			last = err
		}
		if !clk.Now().Before(deadline) {
			return nil, fmt.Errorf("vehicle: the %s's Root at %s: no answer until the deadline: %v (is `uptane-hil repo` or `uptane-hil vehicle` serving it?)", what, u, last)
		}
		clk.Sleep(250 * time.Millisecond)
	}
}

// factoryKeys derives the ECU's keys from the seed (as Build does, so the
// Director's inventory matches) and stores them in the state directory
// (mode 0600).
func factoryKeys(dir string, sd seed.Seed, e *rigs.ECU) (*keys.Private, *ecdh.PrivateKey, error) {
	k, ek, err := ECUKeys(sd, e)
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		return nil, nil, fmt.Errorf("vehicle: %w", err)
	}
	if err := keys.Save(filepath.Join(dir, keyFile), k); err != nil {
		return nil, nil, err
	}
	if ek != nil {
		if err := atomicfile.Write(filepath.Join(dir, encKeyFile), ek.Bytes(), 0o600); err != nil {
			return nil, nil, fmt.Errorf("vehicle: %w", err)
		}
	}
	return k, ek, nil
}

func writeRecord(dir string, o *ProcessOptions, e *rigs.ECU, k *keys.Private) error {
	rec := record{ECU: e.ID, HardwareID: e.HardwareID, Role: e.Role, Verification: e.Profile, VIN: o.Rig.Vehicle.VIN,
		KeyID: k.KeyID(), Encrypted: e.Encrypted, Seed: uint64(o.Seed), Rig: o.Rig.File, Provisioned: o.Clock.Now().UTC()}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, recordFile), b, 0o600)
}

// loadState reads the factory record and the keys of a provisioned ECU and
// checks that the rig still describes the same ECU.
func loadState(o *ProcessOptions, e *rigs.ECU) (*keys.Private, *ecdh.PrivateKey, error) {
	b, err := os.ReadFile(filepath.Join(o.Dir, recordFile))
	if err != nil {
		return nil, nil, fmt.Errorf("vehicle: %s: state directory %s has no %s (%v): it was not made by uptane-hil ecu; remove it to provision %s again", e.ID, o.Dir, recordFile, err, e.ID)
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, nil, fmt.Errorf("vehicle: %s: %s: %v", e.ID, filepath.Join(o.Dir, recordFile), err)
	}
	want := record{ECU: e.ID, HardwareID: e.HardwareID, Role: e.Role, Verification: e.Profile, VIN: o.Rig.Vehicle.VIN, Encrypted: e.Encrypted}
	got := record{ECU: rec.ECU, HardwareID: rec.HardwareID, Role: rec.Role, Verification: rec.Verification, VIN: rec.VIN, Encrypted: rec.Encrypted}
	if got != want {
		return nil, nil, fmt.Errorf("vehicle: %s: state directory %s holds ECU %s (hardware %s, %s, %s verification, VIN %s, encrypted %v); the rig %s says hardware %s, %s, %s verification, VIN %s, encrypted %v: remove the directory to provision it again",
			e.ID, o.Dir, rec.ECU, rec.HardwareID, rec.Role, rec.Verification, rec.VIN, rec.Encrypted,
			o.Rig.File, e.HardwareID, e.Role, e.Profile, o.Rig.Vehicle.VIN, e.Encrypted)
	}
	k, err := keys.Load(filepath.Join(o.Dir, keyFile))
	if err != nil {
		return nil, nil, fmt.Errorf("vehicle: %s: %w", e.ID, err)
	}
	var ek *ecdh.PrivateKey
	if e.Encrypted {
		p := filepath.Join(o.Dir, encKeyFile)
		st, err := os.Stat(p)
		if err != nil {
			return nil, nil, fmt.Errorf("vehicle: %s: %w", e.ID, err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			return nil, nil, fmt.Errorf("vehicle: %s: %s: mode %#o lets others read a secret key; chmod 600 it", e.ID, p, st.Mode().Perm())
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, fmt.Errorf("vehicle: %s: %w", e.ID, err)
		}
		if ek, err = ecdh.X25519().NewPrivateKey(raw); err != nil {
			return nil, nil, fmt.Errorf("vehicle: %s: %s: %v", e.ID, p, err)
		}
	}
	// An ECU keeps the keys of its factory whatever seed it is started
	// with now (rec.Seed says which one made them).
	return k, ek, nil
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
	conn   *isotp.Conn
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
	cfg := secondary.Config{ID: e.ID, HardwareID: e.HardwareID, Verification: e.Profile, Dir: o.Dir, Clock: o.Clock, Crash: o.Crash}
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
		c := cfg
		c.Dir, c.Crash = tmp, nil
		fi, img := Factory(o.Seed, e)
		if err := secondary.Provision(c, droot, iroot, fi, img); err != nil {
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
	h, conn, err := ServeSecondary(buses[e.Bus], o.Clock, e, ecu, o.Rig.Vehicle.VIN)
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
		DirectorURL: dURL, ImageURL: iURL, Dir: o.Dir, Events: o.Events, Nonces: rand.Reader, Crash: o.Crash}
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
		c := pc
		c.Dir, c.Crash, c.Key = tmp, nil, k
		fi, img := Factory(o.Seed, e)
		if err := primary.Provision(c, droot, iroot, fi, img); err != nil {
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

// CrashEnv is the environment variable that makes an ECU process lose
// power for real at a crash point of its store (power-loss tests):
// "GLOB[#N]" kills the process with SIGKILL the N-th time (default 1) it
// passes a crash point matching GLOB (path.Match, e.g. "install:switch:*"
// or "install:slot-*:after"; docs/architecture.md, "ECU state and power
// loss").
const CrashEnv = "UPTANE_HIL_CRASH_AT"

// CrashAt parses a CrashEnv value into a crash function that kills this
// process with SIGKILL: no deferred function, no buffered write, no
// cleanup runs, as when the power goes. Empty: nil.
func CrashAt(spec string) (store.CrashFunc, error) {
	if spec == "" {
		return nil, nil
	}
	glob, nth, ok := strings.Cut(spec, "#")
	n := 1
	if ok {
		var err error
		if n, err = strconv.Atoi(nth); err != nil || n < 1 {
			return nil, fmt.Errorf("vehicle: %s=%q: the count after # must be a positive number", CrashEnv, spec)
		}
	}
	if _, err := path.Match(glob, ""); err != nil || glob == "" {
		return nil, fmt.Errorf("vehicle: %s=%q: want GLOB[#N] with GLOB a crash point pattern such as install:switch:after", CrashEnv, spec)
	}
	var mu sync.Mutex
	seen := 0
	return func(point string) {
		if m, _ := path.Match(glob, point); !m {
			return
		}
		mu.Lock()
		seen++
		hit := seen == n
		mu.Unlock()
		if hit {
			fmt.Fprintf(os.Stderr, "power loss at crash point %s\n", point)
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}, nil
}
