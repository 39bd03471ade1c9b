package scenarios

// Playing a scenario against a device under test (issue 10): the
// conformant run against the DUT, reached only over its bus, on the wall
// clock, with the backend and the rest of the vehicle persisting in the
// state directory; the control run against its simulated twin.

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	gotime "time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/attacks/mitm"
	"github.com/uptane-hil/uptane-hil/ecus/link"
	"github.com/uptane-hil/uptane-hil/ecus/pouf"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/events"
	"github.com/uptane-hil/uptane-hil/uptane/akdialect"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// dutRun is the device under test during its run.
type dutRun struct {
	ecu    *rigs.ECU
	link   link.Secondary
	report []byte          // its last signed version report
	image  *manifest.Image // the image it names
}

// Forwarding is the profile of the harness's Primary in DUT runs: every
// check a Primary performs switched off, so it hands the DUT whatever the
// backend link gives it (the compromised-Primary model: a Secondary must not
// trust its Primary, {#secondary_verification}); the DUT's own checks then
// meet the attack. It keeps only what makes it fetch and forward at all
// (forwardingKeeps).
func Forwarding() check.Profile {
	var ids []check.ID
	for i := range check.All {
		id := check.ID(i + 1)
		if id.Performers().Has(check.Primary) && !slices.Contains(forwardingKeeps, id) {
			ids = append(ids, id)
		}
	}
	p := check.Without(ids...)
	p.Name = "forwarding"
	return p
}

// forwardingWithout is the forwarding Primary that also lacks the checks p
// switches off (the twin's control: a Primary that kept its request
// timeout would defend a drop-request attack for the twin).
func forwardingWithout(p check.Profile) check.Profile {
	f := Forwarding()
	ids := append([]check.ID(nil), f.Disabled...)
	for _, id := range p.Disabled {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	out := check.Without(ids...)
	out.Name = f.Name
	if len(p.Disabled) > 0 {
		out.Name += "+" + p.Name
	}
	return out
}

// forwardingKeeps are the Primary's checks a forwarding Primary keeps on:
// without the Image repository's verification it would not fetch the Image
// repository's metadata a full-verification DUT needs; without its request
// timeout a dropped request would stall it forever instead of reaching the
// DUT as no new metadata.
var forwardingKeeps = []check.ID{check.FullVerificationImageRepository, check.InVehicleRequestTimeout}

// dutECU is the rig's ECU o.DUT names, which must be a Secondary.
func dutECU(o RunOptions) (*rigs.ECU, error) {
	e := o.Rig.ECU(o.DUT.ECU)
	if e == nil {
		return nil, fmt.Errorf("scenarios: rig %s has no ECU %q to play the suite against", o.Rig.File, o.DUT.ECU)
	}
	if e.Role != rigs.Secondary {
		return nil, fmt.Errorf("scenarios: rig %s: the device under test %s is the Primary; a DUT is a Secondary (the harness plays the Primary)", o.Rig.File, e.ID)
	}
	return e, nil
}

// runOnDUT plays the conformant run of the scenario against the device
// under test, in the place of the Secondary the scenario judges (OnRig):
// one OnDUT result, NotApplicable with the reason when the scenario cannot
// judge it. A step that breaks or a DUT that does not answer fails this
// scenario only (Observed DUTError, the error in Detail): the next one
// waits for the DUT again (DUT.Wait). A DUT that is not the rig's ECU
// stops the run (vehicle.ErrIdentity).
func (s *Scenario) runOnDUT(o RunOptions) ([]Result, error) {
	e, err := dutECU(o)
	if err != nil {
		return nil, err
	}
	rs, a, err := s.OnRig(o.Rig, e)
	if err != nil {
		return nil, err
	}
	if !a.Applicable {
		return []Result{s.notApplicable(e.ID, a)}, nil
	}
	wall := gotime.Now()
	results, err := rs.playOnDUT(o, e, a)
	if err != nil && !errors.Is(err, vehicle.ErrIdentity) {
		return []Result{{Scenario: s.Name, Description: strings.TrimSpace(s.Description), Attack: s.Attack, Standard: s.Standard,
			Transport: s.Transport, ECU: e.ID, Profile: check.Conformant.Name, Expected: Defended, Observed: DUTError,
			Detail: err.Error(), Target: OnDUT, Applicability: a.String(), Wall: gotime.Since(wall), Duration: gotime.Since(wall)}}, nil
	}
	return results, err
}

// DUTError is the Observed of a DUT run that broke (a step failed, the DUT
// did not answer): a failure of that scenario, the error in its Detail.
const DUTError = "error"

// playOnDUT plays the scenario, already in the DUT's place, against it.
func (s *Scenario) playOnDUT(o RunOptions, e *rigs.ECU, a Applicability) (_ []Result, err error) {
	wall := gotime.Now()
	cs, err := loadClock(o.DUT.State)
	if err != nil {
		return nil, err
	}
	clk := clock.NewWall()
	clk.Jump(cs.Offset)
	r := &runner{s: s, sim: clk, held: map[string][]keys.Signer{}, heldECU: map[string]*keys.Private{}, detected: map[string][]check.ID{},
		details: map[string][]string{}, offs: map[string]func(){}, heldImage: map[string][]keys.Signer{}, forged: map[string]*metadata.TargetFiles{},
		unsafe: map[string][]string{}, unsafeSeen: map[string]bool{}, spoofed: map[string]string{}, start: clk.Now()}
	rig := o.Rig
	primaryID := rig.Primary().ID
	seen, err := loadSeen(o.DUT.State)
	if err != nil {
		return nil, err
	}
	var watch *versionWatch
	buses, detach := sessionBuses(o.DUT.Buses)
	defer detach()
	vo := vehicle.Options{Rig: rig, Dir: o.DUT.State, Clock: clk, Seed: o.Seed, Buses: buses, Wait: o.DUT.Wait,
		Profiles: map[string]check.Profile{primaryID: Forwarding()}, Events: r.powerEvents(r.sink()),
		Reach: func(x *rigs.ECU) vehicle.Reach {
			if x.ID == e.ID {
				return vehicle.ByRig(x)
			}
			// The other Secondaries are the harness's own: reached by
			// direct calls, so the DUT's bus carries the DUT's traffic,
			// the Primary's to it and the attackers' (as on a bench with
			// the DUT alone), not the harness talking to itself (the
			// Primary updates one ECU at a time per bus, so theirs never
			// overlapped the DUT's; it only took the bus's time).
			return vehicle.Everywhere(vehicle.Direct{})(x)
		},
		Transport: func(backend http.RoundTripper) http.RoundTripper {
			r.proxy = mitm.New(backend, clk)
			watch = newVersionWatch(r.proxy)
			return watch
		}}
	v, err := vehicle.NewBackend(vo)
	if err != nil {
		return nil, fmt.Errorf("%s: the backend in %s: %w", s.File, o.DUT.State, err)
	}
	defer v.Close()
	r.v = v
	// What the link gave the Primary is what the DUT may trust, whatever
	// becomes of this scenario.
	defer func() {
		if watch != nil {
			seen.merge(watch.Seen())
		}
		if serr := saveSeen(o.DUT.State, seen); serr != nil && err == nil {
			err = serr
		}
	}()
	if err := aboveSeen(v, seen); err != nil {
		return nil, err
	}
	if stop, err := serveBackend(rig, v); err != nil {
		return nil, err
	} else {
		defer stop()
	}
	if err := v.BringUp(); err != nil {
		return nil, fmt.Errorf("%s: bring-up with the device under test %s: %w", s.File, e.ID, err)
	}
	d := &dutRun{ecu: e, link: v.Secondary(e.ID).Link}
	r.dut = d
	id, err := r.identify(d)
	if err != nil {
		return nil, fmt.Errorf("%s: the device under test %s: %w", s.File, e.ID, err)
	}
	// The harness's clock never goes back behind what it or the DUT
	// attested before.
	latest := cs.Latest
	if id.Time.After(latest) {
		latest = id.Time
	}
	if now := clk.Now(); now.Before(latest) {
		ahead := latest.Sub(now) + gotime.Second
		clk.Jump(ahead)
		cs.Offset += ahead
	}
	if _, err := v.Image.Fresh(); err != nil {
		return nil, fmt.Errorf("%s: the Image repository's metadata near its expiry: %w", s.File, err)
	}
	// Release r of the scenario is base+r-1: release 1 is what the DUT runs
	// (or the newest the backend published), later ones are new.
	base := max(id.Release, latestRelease(v), 1)
	versions := map[string]int64{}
	for _, role := range []string{meta.Root, meta.Targets, meta.Snapshot, meta.Timestamp} {
		if n, err := v.Director.Version(rig.Vehicle.VIN, role); err == nil && n > 1 {
			versions[role] = n - 1
		}
	}
	r.s = s.shifted(base-1, versions)
	v.SetCompatibility(r.s.compatibility())
	if err := r.busSetup(); err != nil {
		return nil, err
	}
	if o.Captures != "" && len(v.Buses) > 0 {
		stop, err := r.capture(o.Captures, "dut", o.Tag)
		if err != nil {
			return nil, err
		}
		defer stop()
	}
	r.judged = []string{e.ID}
	r.watchUnsafe()
	var stepErr error
	for i := range r.s.Steps {
		if st := r.s.Steps[i]; st.Advance > 0 {
			cs.Offset += st.Advance
		}
		if stepErr = r.step(i); stepErr != nil {
			break
		}
	}
	r.busEnd()
	cs.Latest = clk.Now()
	if err := saveClock(o.DUT.State, cs); err != nil {
		return nil, err
	}
	if stepErr != nil {
		return nil, stepErr
	}
	// What the DUT says at the end: its attacks and its image.
	if err := r.readReport(d, false); err != nil {
		r.details[e.ID] = append(r.details[e.ID], "the final version report: "+err.Error())
	}
	after := r.identityAfter(id, d)
	results := r.verdicts(check.Conformant, false)
	for i := range results {
		x := &results[i]
		x.Target, x.Identity, x.After, x.Applicability = OnDUT, &id, after, a.String()
		x.Wall = gotime.Since(wall)
		x.Duration = x.Wall
		x.Capture, x.CandumpLog = r.pcapName, r.logName
		x.Detail = missing(x, a, s, d)
		if x.Observed == Defended && !x.Pass && x.Expected == Defended {
			// A DUT that is not fresh may meet the attack with another of
			// its checks (a replayed version lower than the one it
			// trusts): defended all the same. Of what it reported, a check
			// of the scenario's defence it performs counts first, then any
			// verification of metadata or images (not a side effect such
			// as its rate limit answering the Primary's retries busy).
			if by := defendedBy(r.detected[e.ID], a.Checks); by != "" {
				x.Pass, x.Detected = true, by
				x.Detail = strings.TrimPrefix(x.Detail+"; defended by "+by+", not by the scenario's declared detection", "; ")
			}
		}
	}
	return results, nil
}

// missing adds to a compromised DUT's detail which checks of the defence
// it did not perform.
func missing(x *Result, a Applicability, s *Scenario, d *dutRun) string {
	if x.Observed != Compromised || a.Finding {
		return x.Detail
	}
	names := make([]string, len(a.Checks))
	for i, id := range a.Checks {
		names[i] = id.String()
	}
	msg := fmt.Sprintf("the DUT did not perform %s (the defence of %s): the attack succeeded", strings.Join(names, " or "), s.Name)
	return strings.TrimPrefix(x.Detail+"; "+msg, "; ")
}

// identityAfter is the DUT's identity with what its last version report
// says: its image, that image's release and its latest attested time.
func (r *runner) identityAfter(before Identity, d *dutRun) *Identity {
	after := before
	if d.image != nil {
		after.Installed, after.Release = d.image.Filename, r.fromReport(d).Release
	}
	if sr, err := manifest.ParseReport(d.report, manifest.MaxReportSize); err == nil {
		after.Time, after.Counter = sr.Signed.LatestTime, sr.Signed.Counter
	}
	return &after
}

// defendedBy is the check, of those the DUT reported, that defended it:
// one of the scenario's defence it performs (defence), else a
// verification of metadata or images; "" when none is.
func defendedBy(reported, defence []check.ID) string {
	for _, id := range reported {
		if slices.Contains(defence, id) {
			return id.String()
		}
	}
	for _, id := range reported {
		if verifies(id.String()) {
			return id.String()
		}
	}
	return ""
}

// verifies reports whether check name is one of a Secondary's verification
// of metadata or images (a refusal of the attacker's files, whichever
// check of them came first).
func verifies(name string) bool {
	id, err := check.ParseID(name)
	if err != nil {
		return false
	}
	c, _ := check.Lookup(id)
	return metadataSections[c.Section] || c.Section == "verify_image"
}

// identify reads what the DUT says about itself: its identity DIDs and a
// fresh signed version report.
func (r *runner) identify(d *dutRun) (Identity, error) {
	// read at bring-up, a moment ago (vehicle.WaitForECU)
	var pid pouf.Identity
	if sec := r.v.Secondary(d.ecu.ID); sec != nil && sec.Identity != nil {
		pid = *sec.Identity
	} else {
		var err error
		if pid, err = d.link.Identity(); err != nil {
			return Identity{}, err
		}
	}
	id := Identity{ECU: pid.ID, HardwareID: pid.HardwareID, VIN: pid.VIN, Profile: pid.Verification}
	if pid.Key != nil {
		id.KeyID, _ = keys.ID(pid.Key)
	}
	// a report over a fresh nonce, then another nonce: what the DUT
	// detected before this scenario is reported and forgotten
	if err := r.readReport(d, true); err != nil {
		return Identity{}, err
	}
	if err := d.link.WriteNonce(make([]byte, 16)); err != nil {
		return Identity{}, fmt.Errorf("write a nonce: %w", err)
	}
	if d.image != nil {
		id.Installed = d.image.Filename
		inst := r.fromReport(d)
		id.Release = inst.Release
	}
	if sr, err := manifest.ParseReport(d.report, manifest.MaxReportSize); err == nil {
		id.Time, id.Counter = sr.Signed.LatestTime, sr.Signed.Counter
	}
	e := d.ecu
	if id.ECU != e.ID || id.HardwareID != e.HardwareID || id.VIN != r.v.Rig.Vehicle.VIN || (id.Profile != "" && id.Profile != e.Profile) {
		return id, fmt.Errorf("it says it is ECU %q, hardware %q, VIN %q, %s verification; the rig says %s, %s, %s, %s: is the right ECU on the bench? (%w)",
			id.ECU, id.HardwareID, id.VIN, id.Profile, e.ID, e.HardwareID, r.v.Rig.Vehicle.VIN, e.Profile, vehicle.ErrIdentity)
	}
	return id, nil
}

// readReport has the DUT sign a version report and keeps it. With fresh,
// over a new nonce, and the attacks it held are forgotten (an ECU drops
// the attacks a report carried when it gets the next nonce: it reports
// them once); else over the nonce it has, and the attacks it lists since
// the last nonce count as detected in this run.
func (r *runner) readReport(d *dutRun, fresh bool) error {
	if fresh {
		nonce := make([]byte, 16)
		if _, err := rand.Read(nonce); err != nil {
			return err
		}
		if err := d.link.WriteNonce(nonce); err != nil {
			return fmt.Errorf("write a nonce: %w", err)
		}
	}
	b, err := d.link.VersionReport()
	for try := 1; err != nil && try < 3; try++ {
		// late answers to an attacker's requests (a replayed session) may
		// still be on the bus: once they are through, ask again
		r.sim.Sleep(gotime.Second)
		b, err = d.link.VersionReport()
	}
	if err != nil {
		return fmt.Errorf("read its version report: %w", err)
	}
	d.report = b
	sr, err := manifest.ParseReport(b, manifest.MaxReportSize)
	if err != nil {
		// an aktualizr-secondary signs its ECU manifest in its own form
		if ar, aerr := akdialect.ParseReport(b, manifest.MaxReportSize); aerr == nil {
			img := ar.Installed
			d.image = &img
			return nil
		}
		return fmt.Errorf("its version report: %w", err)
	}
	img := sr.Signed.Installed
	d.image = &img
	if !fresh {
		for _, a := range sr.Signed.Attacks {
			r.addID(d.ecu.ID, a.Check)
		}
	}
	return nil
}

// installed is the image an ECU runs: read in this process, or, for the
// device under test, from its last signed version report.
func (r *runner) installed(ecu string) (vehicle.Installed, error) {
	if d := r.dut; d != nil && ecu == d.ecu.ID {
		if d.image == nil {
			return vehicle.Installed{}, errors.New("scenarios: the device under test sent no version report")
		}
		return r.fromReport(d), nil
	}
	return r.v.Installed(ecu)
}

// fromReport judges the image the DUT's report names: its release counter
// as the Image repository lists it (or as its name says), genuine when its
// length and hashes are those of that release's genuine image.
func (r *runner) fromReport(d *dutRun) vehicle.Installed {
	img := d.image
	inst := vehicle.Installed{Name: img.Filename}
	if tf, err := r.v.Image.Target(img.Filename); err == nil {
		if c, err := meta.GetCustom(tf); err == nil {
			inst.Release = c.Uptane.ReleaseCounter
		}
	} else if m := imageRelease.FindStringSubmatch(img.Filename); m != nil {
		fmt.Sscanf(m[1], "%d", &inst.Release)
	}
	want := r.v.ImageBytes(d.ecu.HardwareID, inst.Release, int(img.Length))
	inst.Genuine = img.Filename == vehicle.ImageName(d.ecu.HardwareID, inst.Release) && meta.CheckHashes(want, img.Length, img.Hashes) == nil
	return inst
}

// latestRelease is the highest release counter the Image repository has
// published for any hardware of the rig.
func latestRelease(v *vehicle.Vehicle) uint64 {
	var top uint64
	for _, e := range v.Rig.ECUs {
		misses := 0
		for n := uint64(1); misses < 8; n++ {
			if _, err := v.Image.Target(vehicle.ImageName(e.HardwareID, n)); err != nil {
				misses++
				continue
			}
			misses = 0
			top = max(top, n)
		}
	}
	return top
}

// serveBackend serves the backend on the rig's backend.listen address
// while the DUT run lasts, for a DUT in its own process that provisions
// itself from it on its first start (uptane-hil ecu); nothing when the rig
// names no address.
func serveBackend(rig *rigs.Rig, v *vehicle.Vehicle) (func(), error) {
	if rig.Backend.Listen == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", rig.Backend.Listen)
	if err != nil {
		return nil, fmt.Errorf("scenarios: serve the backend on %s (backend.listen of %s) for the device under test: %w", rig.Backend.Listen, rig.File, err)
	}
	srv := &http.Server{Handler: v.Backend, ReadHeaderTimeout: 10 * gotime.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() { srv.Close() }, nil
}

// twin is the rig with the DUT's simulated twin: the same ECUs, profiles,
// bus names and ids, every bus virtual in this process (SocketCAN ones
// too, at their bit rates), on the simulated clock.
func twin(r *rigs.Rig) *rigs.Rig {
	c := *r
	c.Clock = rigs.Simulated
	c.Buses = append([]rigs.Bus(nil), r.Buses...)
	for i := range c.Buses {
		b := &c.Buses[i]
		if b.Kind == rigs.SocketCAN {
			b.Kind, b.Interface = rigs.Virtual, ""
		}
	}
	c.ECUs = append([]rigs.ECU(nil), r.ECUs...)
	for i := range c.ECUs {
		c.ECUs[i].DUT = false
		// every bus is virtual here: the twin's links run on our ISO-TP
		// (the kernel's can-isotp needs SocketCAN and the wall clock)
		c.ECUs[i].ISOTP.Stack = rigs.StackOwn
		if c.ECUs[i].Process == rigs.External || c.ECUs[i].Process == rigs.Physical {
			c.ECUs[i].Process = rigs.InProcess
		}
	}
	return &c
}

// twinEvent notes in a twin run's events what it stands for.
func twinEvent(r *runner, e *rigs.ECU) {
	if r.v.PrimaryCfg.Events != nil {
		r.v.PrimaryCfg.Events(events.Event{Time: r.sim.Now(), Kind: events.Note,
			Label: "control run on the simulated twin of " + e.ID + " (the device under test), through a forwarding Primary"})
	}
}
