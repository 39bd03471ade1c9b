package scenarios

import (
	"errors"
	"fmt"
	gotime "time"

	"github.com/uptane-hil/uptane-hil/attacks/bus"
	"github.com/uptane-hil/uptane-hil/attacks/forge"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/events"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// busState is what the attacks on the vehicle network keep during a run.
type busState struct {
	recorders map[string]*bus.Recorder  // bus name → the attacker's logger
	floods    map[string]bus.FloodStats // target → what its flood saw
	reports   map[string][]byte         // target → the version report the attacker recorded
	running   []*onceFunc               // switch-offs of attacks still on
}

type onceFunc struct {
	f    func()
	done bool
}

func (o *onceFunc) call() {
	if !o.done {
		o.done = true
		o.f()
	}
}

// busSetup starts the attacker's logger on every bus a replay-session step
// replays onto: the attacker records from the start of the run.
func (r *runner) busSetup() error {
	r.bus.recorders = map[string]*bus.Recorder{}
	r.bus.floods = map[string]bus.FloodStats{}
	r.bus.reports = map[string][]byte{}
	for i, st := range r.s.Steps {
		if st.Attack == nil || st.Attack.Bus == nil || st.Attack.Bus.Action != "replay-session" {
			continue
		}
		b, _, err := r.busTarget(st.Attack.Bus)
		if err != nil {
			return r.s.Errorf(fmt.Sprintf("steps[%d].attack.bus", i), "%v", err)
		}
		if r.bus.recorders[b.Name()] == nil {
			r.bus.recorders[b.Name()] = bus.Record(b)
		}
	}
	return nil
}

// busEnd switches off the bus attacks still on (a flood then reports what
// it saw) and stops the loggers.
func (r *runner) busEnd() {
	for _, o := range r.bus.running {
		o.call()
	}
	for _, rec := range r.bus.recorders {
		rec.Stop()
	}
}

// busTarget returns the bus of a bus attack and the rig entry of its target.
func (r *runner) busTarget(b *BusAttack) (can.Bus, *rigs.ECU, error) {
	s := r.v.Secondary(b.Target)
	if s == nil {
		return nil, nil, fmt.Errorf("no Secondary %q in rig %s", b.Target, r.v.Rig.Name)
	}
	bs := r.v.Buses[b.Bus]
	if bs == nil {
		return nil, nil, fmt.Errorf("no bus %q in this run (the vehicle's traffic goes over the rig's buses only with the in-vehicle protocol)", b.Bus)
	}
	if s.Rig.Bus != b.Bus {
		return nil, nil, fmt.Errorf("%s is on bus %s, not %s", b.Target, s.Rig.Bus, b.Bus)
	}
	return bs, s.Rig, nil
}

func channel(e *rigs.ECU) bus.Channel {
	return bus.Channel{Request: e.ISOTP.Request, Response: e.ISOTP.Response, Extended: e.ISOTP.Extended, FD: e.ISOTP.FD}
}

// busAttack plays one attack on the vehicle network (docs/scenarios.md,
// "Bus attacks"). It returns the attack's switch-off.
func (r *runner) busAttack(f string, a *AttackStep) (func(), error) {
	b := a.Bus
	bs, e, err := r.busTarget(b)
	if err != nil {
		return nil, r.s.Errorf(f, "%v", err)
	}
	ch := channel(e)
	var off func()
	switch b.Action {
	case "forge-metadata":
		err = r.forgeMetadata(bs, ch, e)
	case "forge-image":
		err = r.forgeImage(bs, ch, e)
	case "trickle-image":
		err = r.trickleImage(bs, ch, e, b.Chunk, b.Interval)
	case "spoof-report":
		off, err = r.spoofReport(bs, ch, e, nil)
	case "record-report":
		err = r.recordReport(bs, ch, e)
	case "replay-report":
		rep := r.bus.reports[e.ID]
		if rep == nil {
			err = fmt.Errorf("no version report of %s recorded (a record-report step first)", e.ID)
			break
		}
		off, err = r.spoofReport(bs, ch, e, rep)
	case "replay-session":
		err = r.replaySession(bs, ch, e)
	case "flood":
		off, err = r.flood(bs, ch, e, b.Rate, b.For)
	case "replay-old-metadata":
		err = r.replayOldMetadata(bs, ch, e)
	case "write-time":
		err = r.writeTime(bs, ch, e, b.Ahead)
	case "spoof-signal":
		off, err = r.spoofSignal(b)
	default:
		err = fmt.Errorf("bus attack %q is not supported by the runner", b.Action)
	}
	if err != nil {
		return nil, r.s.Errorf(f, "%v", err)
	}
	if off == nil {
		return func() {}, nil
	}
	o := &onceFunc{f: off}
	r.bus.running = append(r.bus.running, o)
	return o.call, nil
}

func (r *runner) attackEvent(ecu, label string) {
	r.v.PrimaryCfg.Events(events.Event{Time: r.sim.Now(), Kind: events.Attack, From: events.Attacker, To: ecu, ECU: ecu, Label: label})
}

// attackerKey is the attacker's own signing key (it holds none of the
// vehicle's).
func (r *runner) attackerKey() (*keys.Private, error) {
	return keys.Generate(keys.Ed25519, r.v.Seed.Reader("attacker/key"))
}

// refused records what stopped an attack on ecu, and the attacks the ECU
// detected and keeps for its next version report.
func (r *runner) refused(ecu string, err error) {
	if err != nil {
		r.details[ecu] = append(r.details[ecu], err.Error())
		r.addChecks(ecu, err)
	}
	r.pendingDetections(ecu)
}

// pendingDetections adds the attacks the ECU recorded and has not reported
// yet: what its next version report will list.
func (r *runner) pendingDetections(ecu string) {
	if d := r.dut; d != nil && d.ecu.ID == ecu {
		// the device under test says so in a version report (over the
		// nonce it has: the attacks stay for the Primary's next report)
		if err := r.readReport(d, false); err != nil {
			r.details[ecu] = append(r.details[ecu], "its version report after the attack: "+err.Error())
		}
		return
	}
	e := r.v.Secondary(ecu).Current()
	if e == nil {
		return
	}
	for _, a := range e.State().Attacks {
		if !a.Reported {
			r.addID(ecu, check.ID(a.Check))
		}
	}
}

// forgeMetadata: a node speaking as the Primary hands the target Director
// targets re-signed with the attacker's own key, pointing at a malicious
// image, and asks it to verify and install.
func (r *runner) forgeMetadata(bs can.Bus, ch bus.Channel, e *rigs.ECU) error {
	vin := r.v.Rig.Vehicle.VIN
	n, err := r.v.Director.Version(vin, meta.Targets)
	if err != nil {
		return err
	}
	genuine, err := r.v.Director.File(vin, meta.VersionedName(n, meta.Targets))
	if err != nil {
		return err
	}
	k, err := r.attackerKey()
	if err != nil {
		return err
	}
	img := r.v.ImageBytes("malicious", 0, e.ImageSize)
	forged, err := forge.TargetsFor(genuine, e.ID, img, k)
	if err != nil {
		return err
	}
	r.attackEvent(e.ID, "forged Director targets and a malicious image over UDS")
	err = bus.AsPrimary(bs, r.sim, ch, e.ID, bus.Session{
		Nonce: r.attackerNonce(), Time: r.sim.Now(),
		Metadata: []bus.File{{Repo: meta.Director, Name: "targets.json", Data: forged}},
		Image:    bus.File{Name: vehicle.ImageName(e.HardwareID, 0), Data: img},
	})
	r.refused(e.ID, err)
	return nil
}

func (r *runner) attackerNonce() []byte {
	nonce := make([]byte, 16)
	r.v.Seed.Reader("attacker/bus-nonce").Read(nonce)
	return nonce
}

// assigned returns the image the Director assigns the ECU now.
func (r *runner) assigned(ecu string) (manifest.Image, error) {
	as, err := r.v.Director.Assignments(r.v.Rig.Vehicle.VIN)
	if err != nil {
		return manifest.Image{}, err
	}
	for _, a := range as {
		if a.ECU == ecu && a.Info != nil {
			return manifest.Image{Filename: a.Target, Length: a.Info.Length, Hashes: a.Info.Hashes}, nil
		}
	}
	return manifest.Image{}, fmt.Errorf("the Director assigns %s no image (run a campaign first)", ecu)
}

// forgeImage: a node speaking as the Primary hands the target the genuine
// metadata the repositories serve now (for its verification profile) and,
// under the name of the image the Director assigns it, a malicious image of
// the same length, and asks it to verify and install.
func (r *runner) forgeImage(bs can.Bus, ch bus.Channel, e *rigs.ECU) error {
	want, err := r.assigned(e.ID)
	if err != nil {
		return err
	}
	files, err := r.genuineMetadata(e)
	if err != nil {
		return err
	}
	img := r.v.ImageBytes("malicious", 0, int(want.Length))
	r.attackEvent(e.ID, "genuine metadata and a tampered image body over UDS")
	err = bus.AsPrimary(bs, r.sim, ch, e.ID, bus.Session{Nonce: r.attackerNonce(), Time: r.sim.Now(),
		Metadata: files, Image: bus.File{Name: want.Filename, Data: img}})
	r.refused(e.ID, err)
	return nil
}

// trickleImage: the attacker, speaking as the Primary, hands the target the
// genuine metadata and then the genuine image the Director assigns it, in
// blocks of chunk bytes every interval (each inside the ECU's session
// timeout), and asks it to verify and install: slow retrieval on the bus.
// The session's length counts as an update cycle under attack.
func (r *runner) trickleImage(bs can.Bus, ch bus.Channel, e *rigs.ECU, chunk int, interval gotime.Duration) error {
	want, err := r.assigned(e.ID)
	if err != nil {
		return err
	}
	files, err := r.genuineMetadata(e)
	if err != nil {
		return err
	}
	img, err := r.v.Image.ImageData(want.Filename)
	if err != nil {
		return err
	}
	r.attackEvent(e.ID, fmt.Sprintf("genuine metadata, then the image %d bytes every %s over UDS", chunk, interval))
	start := r.sim.Now()
	err = bus.AsPrimary(bs, r.sim, ch, e.ID, bus.Session{Nonce: r.attackerNonce(), Time: r.sim.Now(),
		Metadata: files, Image: bus.File{Name: want.Filename, Data: img}, Trickle: &bus.Trickle{Chunk: chunk, Pace: interval}})
	took := r.sim.Since(start)
	if took > r.slowest {
		r.slowest = took
	}
	r.details[e.ID] = append(r.details[e.ID], fmt.Sprintf("the trickled session with %s lasted %s", e.ID, took.Round(gotime.Second)))
	r.refused(e.ID, err)
	return nil
}

// genuineMetadata is the current top-level metadata the repositories serve
// that a Secondary of e's verification profile takes: Director targets for
// partial verification; timestamp, snapshot and targets of both
// repositories for full verification.
func (r *runner) genuineMetadata(e *rigs.ECU) ([]bus.File, error) {
	vin := r.v.Rig.Vehicle.VIN
	roles := []string{meta.Targets}
	if e.Profile == rigs.Full {
		roles = []string{meta.Timestamp, meta.Snapshot, meta.Targets}
	}
	var out []bus.File
	for _, role := range roles {
		name := "timestamp.json"
		if role != meta.Timestamp {
			n, err := r.v.Director.Version(vin, role)
			if err != nil {
				return nil, err
			}
			name = meta.VersionedName(n, role)
		}
		b, err := r.v.Director.File(vin, name)
		if err != nil {
			return nil, err
		}
		out = append(out, bus.File{Repo: meta.Director, Name: name, Data: b})
	}
	if e.Profile != rigs.Full {
		return out, nil
	}
	for _, role := range roles {
		name := "timestamp.json"
		if role != meta.Timestamp {
			name = meta.VersionedName(r.v.Image.Version(role), role)
		}
		b, ok := r.v.Image.File(name)
		if !ok {
			return nil, fmt.Errorf("the Image repository serves no %s", name)
		}
		out = append(out, bus.File{Repo: meta.Image, Name: name, Data: b})
	}
	return out, nil
}

// spoofReport: the attacker drives the target bus-off and answers on its
// response identifier in its place, with version reports signed by the
// attacker's key that carry the Primary's nonce and claim the image the
// Director assigns is installed. Its switch-off takes the node off the bus
// and lets the target recover.
//
// With replay set (replay-report), the node hands out that genuine report
// of the target, recorded earlier (record-report), instead of forging one.
func (r *runner) spoofReport(bs can.Bus, ch bus.Channel, e *rigs.ECU, replay []byte) (func(), error) {
	k, err := r.attackerKey()
	if err != nil {
		return nil, err
	}
	how := " driven bus-off"
	restore, err := bus.Silence(bs, e.ID)
	if errors.Is(err, bus.ErrNoBusOff) {
		// SocketCAN has no error signalling to abuse: the attacker
		// disconnects the ECU instead (its power supply)
		node := r.v.Secondary(e.ID).BusNode
		if node == nil {
			return nil, fmt.Errorf("%v, and %s does not run in this process to be disconnected", err, e.ID)
		}
		node.PowerOff()
		how, err = " disconnected", nil
		restore = node.PowerOn
	}
	if err != nil {
		return nil, err
	}
	sp, err := bus.NewSpoof(bs, r.sim, ch, bus.SpoofConfig{ECU: e.ID, Signer: k, Counter: 1 << 20, Replay: replay,
		Claim: func() (manifest.Image, error) { return r.assigned(e.ID) }})
	if err != nil {
		restore()
		return nil, err
	}
	r.attackEvent(e.ID, e.ID+how+"; the attacker answers in its place")
	return func() {
		sp.Close()
		restore()
		what := "forged"
		if replay != nil {
			what = "replayed"
		}
		msg := fmt.Sprintf("spoofed %s: %d %s version reports handed out", e.ID, sp.Reports(), what)
		if err := sp.Err(); err != nil {
			msg += "; " + err.Error()
		}
		r.details[e.ID] = append(r.details[e.ID], msg)
	}, nil
}

// recordReport: the attacker asks the target, on its bus, for a signed
// version report and keeps it for a later replay-report.
func (r *runner) recordReport(bs can.Bus, ch bus.Channel, e *rigs.ECU) error {
	rep, err := bus.ReadReport(bs, r.sim, ch, e.ID)
	if err != nil {
		return err
	}
	r.bus.reports[e.ID] = rep
	r.attackEvent(e.ID, fmt.Sprintf("reads a signed version report of %s (%d bytes) and keeps it", e.ID, len(rep)))
	return nil
}

// replayQuiet is how long the attacker lets the bus rest before it replays
// a logged session. A log is replayed later, not on the heels of the
// campaign just played; and replayed at once, the session's requests would
// find the ECU's rate limit (pouf.rate_limit) still spent by that campaign
// and be answered busy, so the ECU would never judge the replayed metadata
// and image, the defence the scenario is about. Our Secondaries' bucket
// refills in vehicle.RateRefill; a DUT's is its own.
const replayQuiet = 4 * vehicle.RateRefill

// replaySession: the attacker takes the first update session to the target
// from its log of the bus and replays it (canplayer) once the bus has been
// quiet for replayQuiet, then waits for the ECU to boot.
func (r *runner) replaySession(bs can.Bus, ch bus.Channel, e *rigs.ECU) error {
	recs, err := bus.UpdateSession(r.bus.recorders[bs.Name()].Log(), ch)
	if err != nil {
		return err
	}
	r.sim.Sleep(replayQuiet)
	r.attackEvent(e.ID, fmt.Sprintf("replay of a recorded update session (%d frames)", len(recs)))
	n, err := bus.Replay(bs, r.sim, "attacker (replay)", recs)
	if err != nil {
		return err
	}
	r.sim.Sleep(gotime.Second) // the ECU answers the last request and boots
	r.details[e.ID] = append(r.details[e.ID], fmt.Sprintf("replayed %d recorded frames of an earlier update session to %s", n, e.ID))
	r.pendingDetections(e.ID)
	return nil
}

// flood: a node sends TesterPresent single frames at rate per second on the
// target's request identifier for d (0: until the attack is switched off),
// and once it is switched off counts the requests that never got an answer.
func (r *runner) flood(bs can.Bus, ch bus.Channel, e *rigs.ECU, rate int, d gotime.Duration) (func(), error) {
	fl, err := bus.StartFlood(bs, r.sim, ch, "attacker (flood "+e.ID+")", bus.FloodConfig{Rate: rate, For: d})
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("request flood at %d/s", rate)
	if d > 0 {
		what += " for " + d.String()
	}
	r.attackEvent(e.ID, what)
	return func() {
		st := fl.Stop()
		r.bus.floods[e.ID] = st
		msg := fmt.Sprintf("flood of %s: %d requests, %d answered (%d busy), %d lost", e.ID, st.Sent, st.Answered, st.Busy, st.Lost)
		if st.Lost > 0 && st.Stalled > 0 {
			msg += fmt.Sprintf(" (%d sent while it answered nothing for %s or more: losses up to that many are a stall, not starvation)", st.Stalled, bus.DefaultGap)
		}
		r.details[e.ID] = append(r.details[e.ID], msg)
		r.pendingDetections(e.ID)
	}, nil
}

// starved reports whether a flood left requests to ecu unanswered while
// the ECU was answering: its processor could not keep up (bus.FloodStats
// Starved; what it lost while it answered nothing at all, a host that did
// not run it or the flood's receiver, is no starvation).
func (r *runner) starved(ecu string) bool {
	st, ok := r.bus.floods[ecu]
	return ok && st.Starved()
}

// directorMisled reports whether the Director records an installed image for
// ecu that is not the one the ECU runs.
func (r *runner) directorMisled(ecu string) bool {
	got, ok := r.directorRecord(ecu)
	if !ok {
		return false
	}
	e := r.v.Secondary(ecu).Current()
	if e == nil {
		return false
	}
	img, data, err := e.ActiveImage()
	if err != nil {
		return false
	}
	return got.Filename != img.Name || meta.CheckHashes(data, got.Length, got.Hashes) != nil
}
