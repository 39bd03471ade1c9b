package scenarios

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	gotime "time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/attacks/eavesdrop"
	"github.com/uptane-hil/uptane-hil/attacks/forge"
	"github.com/uptane-hil/uptane-hil/attacks/mitm"
	"github.com/uptane-hil/uptane-hil/ecus/link"
	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/capture"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/events"
	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/repo"
)

// Verdicts.
const (
	Defended    = "defended"
	Compromised = "compromised"
)

// RunOptions configure a scenario run.
type RunOptions struct {
	Rig  *rigs.Rig
	Dir  string    // each run gets a fresh directory below
	Seed seed.Seed // 0: the rig's seed
	// Links connects the Primary to Secondaries (nil: direct calls).
	Links func(v *vehicle.Vehicle, s *vehicle.Secondary) (link.Secondary, error)
	// Base replaces the conformant profile (a spec weakens it to prove the
	// suite notices a missing defence).
	Base *check.Profile
	// ConformantOnly skips the control runs.
	ConformantOnly bool
	// Direct connects the Primary to the Secondaries by direct calls
	// instead of the in-vehicle protocol on the rig's buses.
	Direct bool
	// Captures, when set, is the folder where each run's bus traffic is
	// written: <scenario>-<profile>.pcap (LINKTYPE_CAN_SOCKETCAN, every
	// bus) and .log (candump -L, one interface name per bus).
	Captures string
}

// Result is the verdict for one judged ECU under one profile.
type Result struct {
	Scenario    string
	Description string
	Attack      string
	Standard    []string
	Transport   string
	ECU         string
	Profile     string
	Control     bool
	Expected    string
	Observed    string
	Detected    string // the check that stopped the attack, "" if none
	Detail      string
	Report      json.RawMessage // the ECU's last signed version report
	Pass        bool
	Duration    gotime.Duration // simulated
	Wall        gotime.Duration
	Events      []events.Event
	// Capture and CandumpLog are the capture files of the run (relative
	// to RunOptions.Captures' parent), "" without captures.
	Capture, CandumpLog string
}

// Run plays the scenario against the conformant profile and against its
// control profile. An error means the scenario could not be played at all
// (a broken rig or step), not that a defence failed.
func (s *Scenario) Run(o RunOptions) ([]Result, error) {
	a, err := s.runProfile(o, false)
	if err != nil || o.ConformantOnly {
		return a, err
	}
	b, err := s.runProfile(o, true)
	if err != nil {
		return nil, err
	}
	return append(a, b...), nil
}

type runner struct {
	s        *Scenario
	v        *vehicle.Vehicle
	sim      *clock.Sim
	judged   []string
	detected map[string][]check.ID
	details  map[string][]string
	offs     map[string]func()
	rules    []*mitm.Rule
	proxy    *mitm.Proxy              // the man in the middle on the Primary's repository link
	held     map[string][]keys.Signer // director role → signers the attacker holds
	heldECU  map[string]*keys.Private // ECU id → ECU keys the attacker holds
	// Image repository keys the attacker holds and the images it signed
	// (keys.go); the eavesdropper and the buses it taps (eavesdrop.go).
	heldImage map[string][]keys.Signer
	forged    map[string]*metadata.TargetFiles
	tap       *eavesdrop.Tap
	tapped    []string
	replayed  []byte // the manifest the attacker replayed
	attacked  bool
	slowest   gotime.Duration
	log       events.Log
	pcapName  string
	logName   string
	bus       busState // attacks on the vehicle network (bus.go)
}

// capture writes every bus of the run to one pcap and one candump log.
func (r *runner) capture(dir, profile string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	base := r.s.Name + "-" + strings.NewReplacer(":", "-", "+", "_", "/", "_").Replace(profile)
	pf, err := os.Create(filepath.Join(dir, base+".pcap"))
	if err != nil {
		return nil, err
	}
	lf, err := os.Create(filepath.Join(dir, base+".log"))
	if err != nil {
		pf.Close()
		return nil, err
	}
	pw, err := capture.NewPcapWriter(pf)
	if err != nil {
		pf.Close()
		lf.Close()
		return nil, err
	}
	var stops []func()
	for _, name := range sortedBusNames(r.v.Buses) {
		lw := capture.NewLogWriter(lf, name)
		stops = append(stops, r.v.Buses[name].Tap(func(ev can.Event) {
			pw.WriteEvent(ev)
			lw.WriteEvent(ev)
		}))
	}
	r.pcapName = filepath.Join(filepath.Base(dir), base+".pcap")
	r.logName = filepath.Join(filepath.Base(dir), base+".log")
	return func() {
		for _, s := range stops {
			s()
		}
		pf.Close()
		lf.Close()
	}, nil
}

func sortedBusNames(m map[string]can.Bus) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (s *Scenario) runProfile(o RunOptions, control bool) ([]Result, error) {
	profile := check.Conformant
	profiles := map[string]check.Profile{}
	if o.Base != nil && !control {
		profile = *o.Base
		profiles["*"] = profile
	}
	if control {
		profile = s.Profile()
		profiles["*"] = profile
	}
	sim := clock.NewSim(gotime.Time{})
	sim.SetHorizon(10 * 365 * 24 * gotime.Hour)
	wall := gotime.Now()
	var results []Result
	var stepErr error
	r := &runner{s: s, sim: sim, held: map[string][]keys.Signer{}, heldECU: map[string]*keys.Private{}, detected: map[string][]check.ID{}, details: map[string][]string{}, offs: map[string]func(){},
		heldImage: map[string][]keys.Signer{}, forged: map[string]*metadata.TargetFiles{}}
	err := sim.Run(s.Name+"/"+profile.Name, func() {
		dir := filepath.Join(o.Dir, s.Name, strings.NewReplacer(":", "-", "+", "_").Replace(profile.Name))
		rig, err := s.Setup.KeyTypes.rig(s, o.Rig)
		if err != nil {
			stepErr = err
			return
		}
		vo := vehicle.Options{Rig: rig, Dir: dir, Clock: sim, Seed: o.Seed, Profiles: profiles,
			Events: r.log.Sink(), Links: o.Links, OverBus: !o.Direct && o.Links == nil, AllInProcess: true,
			Transport: func(backend http.RoundTripper) http.RoundTripper {
				r.proxy = mitm.New(backend, sim)
				return r.proxy
			}}
		s.Setup.Image.apply(&vo)
		vo.Compatibility = s.compatibility()
		v, err := vehicle.Build(vo)
		if err != nil {
			stepErr = fmt.Errorf("%s: bring-up: %w", s.File, err)
			return
		}
		defer v.Close()
		r.v = v
		if err := r.busSetup(); err != nil {
			stepErr = err
			return
		}
		if o.Captures != "" && len(v.Buses) > 0 {
			stop, err := r.capture(o.Captures, profile.Name)
			if err != nil {
				stepErr = err
				return
			}
			defer stop()
		}
		r.judged = s.ECUs
		if len(r.judged) == 0 {
			for _, sec := range v.Secondaries {
				r.judged = append(r.judged, sec.Rig.ID)
			}
		}
		for _, id := range r.judged {
			if v.Secondary(id) == nil && !r.isPrimary(id) {
				stepErr = s.Errorf("ecus", "rig %s has no Secondary or Primary %q", o.Rig.Name, id)
				return
			}
		}
		for i := range s.Steps {
			if err := r.step(i); err != nil {
				stepErr = err
				return
			}
		}
		r.busEnd()
		results = r.verdicts(profile, control)
	})
	if stepErr != nil {
		return nil, stepErr
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.File, err)
	}
	for i := range results {
		results[i].Duration = sim.Elapsed()
		results[i].Wall = gotime.Since(wall)
		results[i].Capture, results[i].CandumpLog = r.pcapName, r.logName
	}
	return results, nil
}

func (r *runner) step(i int) error {
	st := r.s.Steps[i]
	f := fmt.Sprintf("steps[%d]", i)
	v := r.v
	switch {
	case st.Campaign != nil:
		ecus := st.Campaign.ECUs
		if len(ecus) == 0 {
			ecus = r.judged
		}
		if err := v.Publish(st.Campaign.Release, ecus...); err != nil {
			if _, ok := check.As(err); !ok {
				return r.s.Errorf(f+".campaign", "%v", err)
			}
			// the Director refused the campaign (a dependency or conflict):
			// a defence of the backend for each ECU of the bundle
			r.note("the Director refuses the campaign: " + err.Error())
			for _, ecu := range ecus {
				r.addChecks(ecu, err)
				r.details[ecu] = append(r.details[ecu], err.Error())
			}
		}
		if !st.Campaign.AssignOnly {
			r.observe(v.Cycle())
		}
	case st.Cycle != nil:
		r.observe(v.Cycle())
	case st.Advance > 0:
		r.sim.Jump(st.Advance)
		r.note("time travel: +" + st.Advance.String())
	case st.AttackOff != "":
		if off := r.offs[st.AttackOff]; off != nil {
			off()
		}
		delete(r.offs, st.AttackOff)
		r.note("attack off: " + st.AttackOff)
	case st.Attack != nil:
		off, err := r.attack(f+".attack", st.Attack)
		if err != nil {
			return err
		}
		r.offs[st.Attack.Name] = off
		r.attacked = true
		r.v.PrimaryCfg.Events(events.Event{Time: r.sim.Now(), Kind: events.Attack, From: events.Attacker, Label: "attack on: " + st.Attack.Name})
	case st.Rotate != nil:
		if err := r.rotate(st.Rotate); err != nil {
			return r.s.Errorf(f+".rotate", "%v", err)
		}
	case st.Publish != nil:
		publish := r.publish
		if st.Publish.Repo == "image" {
			publish = r.publishImage
		}
		if err := publish(st.Publish); err != nil {
			return r.s.Errorf(f+".publish", "%v", err)
		}
		r.attacked = true
	default:
		return r.s.Errorf(f, "this step is not supported by the runner yet")
	}
	return nil
}

// sendManifest sends the Director a replayed or forged vehicle manifest,
// straight to its HTTP interface (the attacker needs no vehicle for that).
func (r *runner) sendManifest(m *ManifestAttack) error {
	vin := r.v.Rig.Vehicle.VIN
	posted := r.proxy.Posted("/director/" + vin + "/manifest")
	if len(posted) == 0 {
		return fmt.Errorf("the attacker has recorded no vehicle manifest yet")
	}
	var body []byte
	switch m.Action {
	case "replay":
		if m.Index >= len(posted) {
			return fmt.Errorf("the attacker recorded %d manifests", len(posted))
		}
		body = posted[m.Index]
		r.replayed = body
	case "forge":
		p := r.v.Rig.Primary()
		pk := r.heldECU[p.ID]
		if pk == nil {
			return fmt.Errorf("forging a manifest needs the Primary's key (compromise: {repo: ecu, role: %s})", p.ID)
		}
		sm, err := manifest.ParseManifest(posted[len(posted)-1], manifest.MaxManifestSize)
		if err != nil {
			return err
		}
		// Every report needs a fresh nonce; the attacker can sign them only
		// with the Primary key it holds.
		nonces := r.v.Seed.Reader("attacker/nonces")
		for i := range sm.Signed.Reports {
			rep := &sm.Signed.Reports[i]
			if rep.Signed.ECUSerial == m.ECU {
				fake := r.v.ImageBytes("malicious", 0, 64)
				rep.Signed.Installed = manifest.Image{Filename: "malicious.bin", Length: int64(len(fake)), Hashes: meta.HashesOf(fake)}
			}
			rep.Signed.Counter += 1000
			nonce := make([]byte, 16)
			nonces.Read(nonce)
			rep.Signed.Nonce = nonce
			rep.Signed.LatestTime = r.sim.Now()
			rep.Signatures = nil
			if err := rep.Sign(pk); err != nil {
				return err
			}
		}
		sm.Signatures = nil
		if err := sm.Sign(pk); err != nil {
			return err
		}
		if body, err = sm.Encode(); err != nil {
			return err
		}
	}
	r.v.PrimaryCfg.Events(events.Event{Time: r.sim.Now(), Kind: events.Attack, From: events.Attacker, To: events.Director, Label: m.Action + " vehicle manifest"})
	c := &http.Client{Transport: repo.InProcessTransport(r.v.Backend)}
	resp, err := c.Post("http://backend.invalid/director/"+vin+"/manifest", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp.Body.Close()
	recs, err := r.v.Director.Records(vin)
	if err != nil {
		return err
	}
	if n := len(recs); n > 0 && !recs[n-1].Accepted && recs[n-1].Check != 0 {
		for _, ecu := range r.judged {
			r.addID(ecu, recs[n-1].Check)
			r.details[ecu] = append(r.details[ecu], "Director: "+recs[n-1].Error)
		}
	}
	return nil
}

// directorRecord is the installed image the Director recorded for ecu
// from the vehicle's manifests.
func (r *runner) directorRecord(ecu string) (repo.InstalledImage, bool) {
	inst, err := r.v.Director.Installed(r.v.Rig.Vehicle.VIN)
	if err != nil {
		return repo.InstalledImage{}, false
	}
	got, ok := inst[ecu]
	return got, ok
}

// directorAccepted reports whether the Director now believes what the
// attacker told it about ecu.
func (r *runner) directorAccepted(ecu, how string) bool {
	got, ok := r.directorRecord(ecu)
	if !ok {
		return false
	}
	if how == "forged" {
		return got.Filename == "malicious.bin"
	}
	if how == "spoofed" {
		return r.directorMisled(ecu)
	}
	sm, err := manifest.ParseManifest(r.replayed, manifest.MaxManifestSize)
	if err != nil {
		return false
	}
	old, ok := sm.Signed.Report(ecu)
	if !ok {
		return false
	}
	// The report names the old image, and not the genuine one installed.
	inst, _ := r.v.Installed(ecu)
	return got.Filename == old.Signed.Installed.Filename && (got.Filename != inst.Name || !inst.Genuine)
}

// rotate replaces a role's keys with new ones (Root N+1 revokes the old).
func (r *runner) rotate(rot *Rotate) error {
	k, err := keys.Generate(keyType(r.v.Rig, rot.Repo), r.v.Seed.Reader(fmt.Sprintf("keys/rotated/%s/%s/%d", rot.Repo, rot.Role, r.sim.Now().UnixNano())))
	if err != nil {
		return err
	}
	r.note("OEM rotates the " + rot.Repo + " " + rot.Role + " key")
	if rot.Repo == "director" {
		return r.v.Director.RotateKeys(rot.Role, []keys.Signer{k}, 1)
	}
	if err := r.v.Image.RotateKeys(rot.Role, []keys.Signer{k}, 1); err != nil {
		return err
	}
	return r.v.Image.Publish()
}

// publish serves metadata the attacker signed with the keys it holds.
func (r *runner) publish(p *Publish) error {
	vin := r.v.Rig.Vehicle.VIN
	cur := func(role string) ([]byte, error) {
		if role == meta.Timestamp {
			return r.v.Director.File(vin, "timestamp.json")
		}
		n, err := r.v.Director.Version(vin, role)
		if err != nil {
			return nil, err
		}
		return r.v.Director.File(vin, meta.VersionedName(n, role))
	}
	rp := &forge.Repo{Signers: r.held}
	var err error
	if rp.Timestamp, err = cur(meta.Timestamp); err != nil {
		return err
	}
	if rp.Snapshot, err = cur(meta.Snapshot); err != nil {
		return err
	}
	if rp.Targets, err = cur(meta.Targets); err != nil {
		return err
	}
	var files forge.Files
	if p.Rollback {
		old := r.recordedMatching("/director/"+vin+"/", ".snapshot.json")
		if old == nil {
			return fmt.Errorf("the attacker has recorded no Director snapshot yet")
		}
		files, err = forge.TimestampRollback(rp, old)
	} else if p.RollbackTargets {
		files, err = r.rollbackTargets(rp)
	} else if name, ok := strings.CutPrefix(p.Image, "target:"); ok {
		img, err2 := r.imageTarget(name)
		if err2 != nil {
			return err2
		}
		files, err = forge.DirectorAssign(rp, p.ECU, r.v.Rig.ECU(p.ECU).HardwareID, name, img)
	} else {
		files, err = forge.DirectorImage(rp, p.ECU, r.v.ImageBytes("malicious", 0, r.v.Rig.ECU(p.ECU).ImageSize))
	}
	if err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		path := "/director/" + vin + "/" + n
		if strings.HasPrefix(n, "targets/") {
			path = "/image/" + n
		}
		rule := &mitm.Rule{Name: "publish " + n, Path: regexp.MustCompile("^" + regexp.QuoteMeta(path) + "$"), Action: mitm.Substitute{Body: files[n]}}
		r.rules = append(r.rules, rule)
		r.proxy.Add(rule)
	}
	r.v.PrimaryCfg.Events(events.Event{Time: r.sim.Now(), Kind: events.Attack, From: events.Attacker, Label: fmt.Sprintf("attacker publishes %d forged files", len(files))})
	return nil
}

// recordedMatching returns the oldest recorded body whose path has prefix
// and suffix.
func (r *runner) recordedMatching(prefix, suffix string) []byte {
	var best []byte
	bestV := int64(-1)
	for v := int64(1); v < 1000; v++ {
		p := fmt.Sprintf("%s%d%s", prefix, v, suffix)
		if rec := r.proxy.Recorded(p); len(rec) > 0 {
			if bestV < 0 {
				best, bestV = rec[0], v
			}
			break
		}
	}
	return best
}

func (r *runner) note(label string) {
	if r.v.PrimaryCfg.Events != nil {
		r.v.PrimaryCfg.Events(events.Event{Time: r.sim.Now(), Kind: events.Note, Label: label})
	}
}

func (r *runner) attack(f string, a *AttackStep) (func(), error) {
	switch {
	case a.Bus != nil:
		return r.busAttack(f+".bus", a)
	case a.Manifest != nil:
		if err := r.sendManifest(a.Manifest); err != nil {
			return nil, r.s.Errorf(f+".manifest", "%v", err)
		}
		return func() {}, nil
	case a.Eavesdrop != nil:
		return r.eavesdrop(f, a.Eavesdrop)
	case a.Compromise != nil && a.Compromise.Repo == "image":
		return func() {}, r.compromiseImage(f, a.Compromise)
	case a.Compromise != nil && a.Compromise.Repo == "ecu":
		k := r.v.ECUKeys[a.Compromise.Role]
		if k == nil {
			return nil, r.s.Errorf(f+".compromise.role", "no ECU %q in the rig", a.Compromise.Role)
		}
		r.heldECU[a.Compromise.Role] = k
		return func() {}, nil
	case a.Compromise != nil:
		c := a.Compromise
		roles := []string{c.Role}
		if c.Role == "online" {
			roles = []string{meta.Targets, meta.Snapshot, meta.Timestamp}
		}
		for _, role := range roles {
			var sg []keys.Signer
			if c.Repo == "director" {
				sg = r.v.Director.Signers(role)
			} else {
				sg = r.v.Image.Signers(role)
			}
			if len(sg) == 0 {
				return nil, r.s.Errorf(f+".compromise.role", "the %s repository has no %s keys", c.Repo, role)
			}
			if c.Key >= len(sg) {
				return nil, r.s.Errorf(f+".compromise.key", "the %s role has %d keys", role, len(sg))
			}
			r.held[role] = append(r.held[role], sg[c.Key])
		}
		return func() {}, nil
	case a.MITM != nil:
		m := a.MITM
		prefix := "^/image/"
		if m.Repo == "director" {
			prefix = "^/director/" + regexp.QuoteMeta(r.v.Rig.Vehicle.VIN) + "/"
		}
		re, err := regexp.Compile(prefix + "(?:" + m.File + ")")
		if err != nil {
			return nil, r.s.Errorf(f+".mitm.file", "%v", err)
		}
		var act mitm.Action
		switch m.Action {
		case "replay":
			act = mitm.Replay{Index: m.Index}
		case "truncate":
			act = mitm.Truncate{N: int(m.Bytes)}
		case "slow":
			act = mitm.Slow{Chunk: m.Chunk, Interval: m.Interval}
		case "drop":
			act = mitm.Drop{}
		case "endless":
			act = mitm.Endless{Prefix: []byte("{"), Length: m.Bytes}
		case "status":
			act = mitm.Status{Code: m.Status}
		case "substitute":
			if file, ok := strings.CutPrefix(m.With, "recorded:"); ok {
				body := r.recorded(m.Repo, file)
				if body == nil {
					return nil, r.s.Errorf(f+".mitm.with", "the attacker has not seen %s of the %s repository yet", file, m.Repo)
				}
				act = mitm.Substitute{Body: body}
				break
			}
			edit, err := r.substitute(f+".mitm.with", m.With)
			if err != nil {
				return nil, err
			}
			act = mitm.Substitute{Edit: edit}
		}
		rule := &mitm.Rule{Name: a.Name, Path: re, Action: act}
		r.rules = append(r.rules, rule)
		return r.proxy.Add(rule), nil
	}
	return nil, r.s.Errorf(f, "this attack is not supported by the runner yet")
}

// substitute returns the attacker's edit of a genuine response.
func (r *runner) substitute(f, with string) (func([]byte) []byte, error) {
	switch with {
	case "malicious-image":
		return func(b []byte) []byte { return r.v.ImageBytes("malicious", 0, len(b)) }, nil
	case "unsigned":
		return func(b []byte) []byte {
			var doc map[string]json.RawMessage
			if json.Unmarshal(b, &doc) != nil {
				return b
			}
			doc["signatures"] = json.RawMessage("[]")
			out, _ := json.Marshal(doc)
			return out
		}, nil
	case "tampered":
		return func(b []byte) []byte {
			out := append([]byte(nil), b...)
			if i := strings.Index(string(out), `"expires":"`); i >= 0 {
				out[i+len(`"expires":"`)] = '9'
			}
			return out
		}, nil
	}
	return nil, r.s.Errorf(f, "%q is not one of malicious-image, unsigned, tampered, recorded:FILE", with)
}

// recorded is the first response the attacker recorded for a file.
func (r *runner) recorded(repo, file string) []byte {
	p := "/image/" + file
	if repo == "director" {
		p = "/director/" + r.v.Rig.Vehicle.VIN + "/" + file
	}
	if rec := r.proxy.Recorded(p); len(rec) > 0 {
		return rec[0]
	}
	return nil
}

// observe records what the cycle says about each judged ECU.
func (r *runner) observe(rep *primary.CycleReport) {
	if d := rep.Finished.Sub(rep.Started); r.attacked && d > r.slowest {
		r.slowest = d
	}
	for _, id := range r.judged {
		o := rep.ECUs[id]
		if r.isPrimary(id) {
			o = rep.Primary // its own image ({#download_images_primary})
		}
		if o == nil {
			continue
		}
		for _, err := range []error{rep.Err, o.Err} {
			if err == nil {
				continue
			}
			r.details[id] = append(r.details[id], err.Error())
			r.addChecks(id, err)
		}
		if o.Report != nil {
			if sr, err := manifest.ParseReport(o.Report, manifest.MaxReportSize); err == nil {
				for _, a := range sr.Signed.Attacks {
					r.addID(id, a.Check)
				}
			}
		}
	}
}

// isPrimary reports whether ecu is the rig's Primary (judged on its own
// image).
func (r *runner) isPrimary(ecu string) bool {
	p := r.v.Rig.Primary()
	return p != nil && p.ID == ecu
}

func (r *runner) addChecks(ecu string, err error) {
	var visit func(error)
	visit = func(e error) {
		if e == nil {
			return
		}
		if ce, ok := e.(*check.Error); ok {
			r.addID(ecu, ce.Check)
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				visit(x)
			}
		case interface{ Unwrap() error }:
			visit(u.Unwrap())
		}
	}
	visit(err)
}

func (r *runner) addID(ecu string, id check.ID) {
	for _, x := range r.detected[ecu] {
		if x == id {
			return
		}
	}
	r.detected[ecu] = append(r.detected[ecu], id)
}

func (r *runner) installedIs(ecu, want string) bool {
	inst, err := r.v.Installed(ecu)
	if err != nil {
		return false
	}
	if want == "malicious" {
		return !inst.Genuine
	}
	var n uint64
	fmt.Sscanf(want, "release:%d", &n)
	return inst.Release == n && inst.Genuine
}

func (r *runner) verdicts(p check.Profile, control bool) []Result {
	s := r.s
	var out []Result
	for _, ecu := range r.judged {
		g := s.Goal
		won := true
		if g.Installed != "" {
			won = won && r.installedIs(ecu, g.Installed)
		}
		if g.NotInstalled != "" {
			won = won && !r.installedIs(ecu, g.NotInstalled)
		}
		if g.Undetected {
			won = won && len(r.detected[ecu]) == 0
		}
		if g.DirectorAccepts != "" {
			won = won && r.directorAccepted(ecu, g.DirectorAccepts)
		}
		if g.Starved {
			won = won && r.starved(ecu)
		}
		if g.SlowerThan > 0 {
			won = won && r.slowest > g.SlowerThan
		}
		if g.LeakedOver > 0 {
			won = won && r.leaked(ecu) > g.LeakedOver
		}
		if g.ServedOver > 0 {
			var n int64
			for _, rule := range r.rules {
				n += rule.Served()
			}
			won = won && n > g.ServedOver
		}
		res := Result{Scenario: s.Name, Description: strings.TrimSpace(s.Description), Attack: s.Attack, Standard: s.Standard,
			Transport: s.Transport, ECU: ecu, Profile: p.Name, Control: control, Expected: Defended, Observed: Defended,
			Events: r.log.Events()}
		if control {
			res.Expected = Compromised
		}
		if won {
			res.Observed = Compromised
		}
		want := []check.ID{}
		if s.Detected != 0 {
			want = append(want, s.Detected)
		} else {
			want = append(want, s.Defence...)
		}
		for _, d := range r.detected[ecu] {
			for _, w := range want {
				if d == w && res.Detected == "" {
					res.Detected = d.String()
				}
			}
		}
		if res.Detected == "" && len(r.detected[ecu]) > 0 {
			res.Detected = r.detected[ecu][0].String()
		}
		res.Detail = strings.Join(r.details[ecu], "; ")
		if r.isPrimary(ecu) {
			if b, err := r.v.Primary.VersionReport(); err == nil {
				res.Report = b
			}
		} else if e := r.v.Secondary(ecu).Current(); e != nil {
			if b, err := e.VersionReport(); err == nil {
				res.Report = b
			}
		}
		res.Pass = res.Observed == res.Expected
		if res.Pass && !control && !containsID(want, res.Detected) {
			res.Pass = false
			msg := fmt.Sprintf("defended, but the expected defence %v was not reported (detected: %v)", want, r.detected[ecu])
			res.Detail = strings.TrimPrefix(res.Detail+"; "+msg, "; ")
		}
		out = append(out, res)
	}
	return out
}

func containsID(ids []check.ID, s string) bool {
	for _, id := range ids {
		if id.String() == s {
			return true
		}
	}
	return false
}

// ErrBroken marks a scenario whose control run was not compromised.
var ErrBroken = errors.New("scenario cannot fail: its control profile was not compromised")
