package vehicle

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	ip "github.com/uptane-hil/uptane-hil/ecus/aktualizrip"
	"github.com/uptane-hil/uptane-hil/ecus/link"
	"github.com/uptane-hil/uptane-hil/ecus/secondary"
	"github.com/uptane-hil/uptane-hil/internal/aktualizr"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/isotp"
	"github.com/uptane-hil/uptane-hil/uptane/akdialect"
)

// AktualizrTimeout bounds each aktualizr-ip message and connect, and how long
// an aktualizr-secondary may take to listen after its start.
const AktualizrTimeout = 30 * time.Second

// akState is what a vehicle holds for its aktualizr-ip Secondaries.
type akState struct {
	mu      sync.Mutex
	procs   map[string]*aktualizr.Process // started by uptane-hil
	keys    map[string]*metadata.Key      // from getInfoResp
	servers []*ip.Server                  // our own Secondaries serving aktualizr-ip on TCP
	isotp   []*isotp.Conn                 // and on ISO-TP
	done    []chan struct{}
}

func (a *akState) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, s := range a.servers {
		s.Close()
	}
	for _, c := range a.isotp {
		c.Close()
	}
	for _, d := range a.done {
		<-d
	}
	for _, p := range a.procs {
		p.Stop()
	}
	a.servers, a.isotp, a.done, a.procs = nil, nil, nil, nil
}

// realAktualizr reports whether e is an aktualizr-secondary (started by
// uptane-hil, or physical) rather than one of ours.
func realAktualizr(e *rigs.ECU) bool {
	return e.Protocol == rigs.AktualizrIP && (e.Process == rigs.AktualizrSecondary || e.Process == rigs.Physical)
}

// AktualizrProcess returns the aktualizr-secondary uptane-hil started for
// ECU id, or nil.
func (v *Vehicle) AktualizrProcess(id string) *aktualizr.Process {
	v.ak.mu.Lock()
	defer v.ak.mu.Unlock()
	return v.ak.procs[id]
}

// aktualizrOptions are the options an aktualizr-secondary of the rig
// is started with (its state lives in DIR/ecus/ID, so a rerun on the same
// directory keeps its identity).
func (v *Vehicle) aktualizrOptions(e *rigs.ECU) (aktualizr.Options, error) {
	_, port, err := net.SplitHostPort(e.Address)
	if err != nil {
		return aktualizr.Options{}, err
	}
	var p int
	if _, err := fmt.Sscanf(port, "%d", &p); err != nil {
		return aktualizr.Options{}, err
	}
	ver := aktualizr.Full
	if e.Aktualizr.Verification == "tuf" {
		ver = aktualizr.Tuf
	}
	// Its clock follows the harness's (aktualizrClock): required on a
	// simulated clock, used on the wall clock whenever libfaketime is here.
	_, noLib := aktualizr.FakeTimeLibrary()
	if noLib != nil && v.Clock.Simulated() {
		return aktualizr.Options{}, fmt.Errorf("a simulated clock needs aktualizr-secondary's clock moved: %w", noLib)
	}
	return aktualizr.Options{Bin: e.Aktualizr.Binary, Port: p, Dir: filepath.Join(v.Dir, "ecus", e.ID), Serial: e.ID,
		HardwareID: e.HardwareID, KeyType: e.Aktualizr.KeyType, Verification: ver, FakeTime: noLib == nil}, nil
}

// aktualizrClock sets the clock of ECU id's aktualizr-secondary (started by
// uptane-hil with a fake clock) to the harness's before each message: on a
// simulated clock it stands at the simulated now; on the wall clock it runs
// as far ahead as the harness's clock has jumped. A physical one keeps its
// own clock.
func (v *Vehicle) aktualizrClock(id string) func(ip.Message) error {
	return func(ip.Message) error {
		p := v.AktualizrProcess(id)
		if p == nil || !p.Opts.FakeTime {
			return nil
		}
		if v.Clock.Simulated() {
			return p.SetTime(v.Clock.Now())
		}
		return p.SetOffset(v.Clock.Now().Sub(time.Now()).Round(time.Second))
	}
}

// RestartAktualizr starts ECU id's aktualizr-secondary again (after Kill or
// Stop of AktualizrProcess); it keeps its state.
func (v *Vehicle) RestartAktualizr(id string) error {
	s := v.Secondary(id)
	if s == nil || s.Rig.Process != rigs.AktualizrSecondary {
		return fmt.Errorf("vehicle: %s is not an aktualizr-secondary started by uptane-hil", id)
	}
	o, err := v.aktualizrOptions(s.Rig)
	if err != nil {
		return err
	}
	p, err := aktualizr.Start(o, AktualizrTimeout)
	if err != nil {
		return err
	}
	v.ak.mu.Lock()
	v.ak.procs[id] = p
	v.ak.mu.Unlock()
	return nil
}

// startAktualizr starts the rig's aktualizr-secondaries and asks each real
// one (started here or physical) for its identity: its key goes into the
// Director's inventory.
func (v *Vehicle) startAktualizr() error {
	v.ak.procs, v.ak.keys = map[string]*aktualizr.Process{}, map[string]*metadata.Key{}
	for i := range v.Rig.ECUs {
		e := &v.Rig.ECUs[i]
		if !realAktualizr(e) {
			continue
		}
		if e.Process == rigs.AktualizrSecondary {
			o, err := v.aktualizrOptions(e)
			if err != nil {
				return fmt.Errorf("vehicle: %s: %w", e.ID, err)
			}
			p, err := aktualizr.Start(o, AktualizrTimeout)
			if err != nil {
				return fmt.Errorf("vehicle: %s: %w", e.ID, err)
			}
			v.ak.procs[e.ID] = p
		}
		c := &ip.Client{Dial: ip.TCP(e.Address, AktualizrTimeout)}
		info, err := c.GetInfo()
		c.Close()
		if err != nil {
			return fmt.Errorf("vehicle: %s at %s: getInfo: %w", e.ID, e.Address, err)
		}
		if info.ECUSerial != e.ID || info.HardwareID != e.HardwareID {
			return fmt.Errorf("vehicle: the aktualizr-secondary at %s is %q (hardware %q); the rig says %s (hardware %q)%s",
				e.Address, info.ECUSerial, info.HardwareID, e.ID, e.HardwareID, hintFresh(e))
		}
		k, err := akdialect.KeyFromInfo(int64(info.KeyType), info.Key)
		if err != nil {
			return fmt.Errorf("vehicle: %s: %w", e.ID, err)
		}
		v.ak.keys[e.ID] = k
	}
	return nil
}

func hintFresh(e *rigs.ECU) string {
	if e.Process == rigs.AktualizrSecondary {
		return ": it keeps the identity of its first start in its state directory; remove it (or use a fresh --out) for a new one"
	}
	return ""
}

// bringUpAktualizrIP connects the Primary to an aktualizr-ip Secondary: an
// aktualizr-secondary gets aktualizr's metadata dialect, signed by this
// backend; one of ours is booted here and served on its address.
func (v *Vehicle) bringUpAktualizrIP(s *Secondary) error {
	e := s.Rig
	c := &ip.Client{Dial: ip.TCP(e.Address, AktualizrTimeout)}
	if realAktualizr(e) {
		c.Before = v.aktualizrClock(e.ID)
		vin := v.Rig.Vehicle.VIN
		ver := link.AktualizrFull
		if e.Aktualizr.Verification == "tuf" {
			ver = link.AktualizrTuf
		}
		s.Link = &link.AktualizrIP{C: c, ECU: e.ID, Verification: ver, Dialect: func() (*akdialect.Set, *akdialect.Set, error) {
			is, err := akdialect.FromImage(v.Image)
			if err != nil {
				return nil, nil, err
			}
			ds, err := akdialect.FromDirector(v.Director, vin)
			return is, ds, err
		}, Forward: v.opts.AktualizrForward}
		return nil
	}
	if !runsHere(e) {
		return fmt.Errorf("vehicle: %s: an aktualizr-ip Secondary of ours runs in this process", e.ID)
	}
	if err := v.runHere(s); err != nil {
		return err
	}
	ecu := s.ECU
	var nonces io.Reader = rand.Reader
	if v.Clock.Simulated() {
		nonces = v.Seed.Reader("nonces/" + e.ID)
	}
	srv := &ip.Server{Handler: &secondary.IPServer{ECU: ecu, Nonces: nonces}, Timeout: AktualizrTimeout}
	if e.Bus != "" {
		return v.aktualizrIPOverISOTP(s, srv)
	}
	l, err := net.Listen("tcp", e.Address)
	if err != nil {
		return fmt.Errorf("vehicle: %s: serve aktualizr-ip: %w", e.ID, err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	v.ak.mu.Lock()
	v.ak.servers = append(v.ak.servers, srv)
	v.ak.done = append(v.ak.done, done)
	v.ak.mu.Unlock()
	s.Link = &link.AktualizrIP{C: c, ECU: e.ID}
	return nil
}

// aktualizrIPOverISOTP serves our Secondary's aktualizr-ip on its bus, one
// message per ISO-TP PDU at its rig identifiers, and gives the Primary a
// client on the other end of the channel.
func (v *Vehicle) aktualizrIPOverISOTP(s *Secondary, srv *ip.Server) error {
	e := s.Rig
	bus := v.Buses[e.Bus]
	if bus == nil {
		return fmt.Errorf("vehicle: %s: no bus %q (aktualizr-ip over ISO-TP needs the bus: Reach ByRig)", e.ID, e.Bus)
	}
	sc, err := isotp.New(bus, v.Clock, secondaryISOTP(e))
	if err != nil {
		return fmt.Errorf("vehicle: %s: %w", e.ID, err)
	}
	pc, err := isotp.New(bus, v.Clock, isotpOptions(e, v.Rig.Primary().ID, e.ISOTP.Request, e.ISOTP.Response))
	if err != nil {
		sc.Close()
		return fmt.Errorf("vehicle: %s: %w", e.ID, err)
	}
	v.Clock.Go("aktualizr-ip server "+e.ID, func() {
		conn := &ip.ISOTPConn{C: sc, Timeout: -1}
		for {
			err := srv.ServeConn(conn)
			var ie *isotp.Error
			if errors.As(err, &ie) && ie.Kind == isotp.KindClosed {
				return
			}
		}
	})
	v.ak.mu.Lock()
	v.ak.isotp = append(v.ak.isotp, sc, pc)
	v.ak.mu.Unlock()
	conn := &ip.ISOTPConn{C: pc, Timeout: AktualizrTimeout}
	s.Link = &link.AktualizrIP{C: &ip.Client{Dial: func() (ip.Conn, error) { return conn, nil }}, ECU: e.ID}
	return nil
}

// AktualizrManifest asks ECU id's aktualizr-secondary for its signed ECU
// manifest (manifestReq) on a connection of its own, and checks its
// signature with the key it gave at bring-up.
func (v *Vehicle) AktualizrManifest(id string) (*akdialect.Report, error) {
	s := v.Secondary(id)
	if s == nil || !realAktualizr(s.Rig) {
		return nil, fmt.Errorf("vehicle: %s is no aktualizr-secondary", id)
	}
	c := &ip.Client{Dial: ip.TCP(s.Rig.Address, AktualizrTimeout), Before: v.aktualizrClock(id)}
	defer c.Close()
	raw, err := c.Manifest()
	if err != nil {
		return nil, fmt.Errorf("vehicle: %s: manifestReq: %w", id, err)
	}
	r, err := akdialect.ParseReport(raw, 0)
	if err != nil {
		return nil, fmt.Errorf("vehicle: %s: %w", id, err)
	}
	v.ak.mu.Lock()
	k := v.ak.keys[id]
	v.ak.mu.Unlock()
	if k == nil {
		return nil, fmt.Errorf("vehicle: %s: no key from getInfo", id)
	}
	if err := r.Verify(k); err != nil {
		return nil, fmt.Errorf("vehicle: %s: its manifest: %w", id, err)
	}
	return r, nil
}

// installedAktualizr is Installed for an aktualizr-secondary, as its signed
// manifest says: the file it names, the release in that name (ImageName),
// and whether its length and SHA-256 are those of the genuine image of that
// release for the ECU's hardware.
func (v *Vehicle) installedAktualizr(s *Secondary) (Installed, error) {
	r, err := v.AktualizrManifest(s.Rig.ID)
	if err != nil {
		return Installed{}, err
	}
	in := Installed{Name: r.Installed.Filename, Empty: r.Installed.Length == 0}
	var hw string
	var rc uint64
	if n, _ := fmt.Sscanf(strings.Replace(in.Name, "/firmware-r", " ", 1), "%s %d.bin", &hw, &rc); n == 2 {
		in.Release = rc
		want := v.ImageBytes(s.Rig.HardwareID, rc, int(r.Installed.Length))
		sum := sha256.Sum256(want)
		in.Genuine = hw == s.Rig.HardwareID && bytes.Equal(r.Installed.Hashes["sha256"], sum[:])
	}
	return in, nil
}
