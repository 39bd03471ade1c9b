package scenarios

// Power loss (docs/scenarios.md, "Power loss"): a power_cut step cuts a
// Secondary's power at a seeded point of a phase of the next update cycle;
// after that cycle the power comes back, and the run judges what the ECU
// boots. The defence is check.InstallImageAtomic (A/B slots, atomic state):
// the control profile's ECU is single-bank and programs in place.

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	gotime "time"

	"github.com/uptane-hil/uptane-hil/ecus/power"
	"github.com/uptane-hil/uptane-hil/ecus/secondary"
	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// PowerCut cuts a Secondary's power at a seeded point of one phase of the
// next update cycle (a campaign or cycle step that follows): At is
// rigs.CutTransfer (at a seeded byte offset of the image's transfer over
// the bus), rigs.CutInstall (at a seeded byte offset of the image being
// programmed into its slot) or rigs.CutReset (in the reset that boots the
// new image, while the ECU rewrites its state). The power comes back once
// that cycle has ended.
type PowerCut struct {
	ECU string          `yaml:"ecu"`
	At  rigs.PowerPoint `yaml:"at"`
}

// PowerLoss reports whether the scenario cuts an ECU's power, and the
// points it cuts at.
func (s *Scenario) PowerLoss() []PowerCut {
	var out []PowerCut
	for _, st := range s.Steps {
		if st.PowerCut != nil {
			out = append(out, *st.PowerCut)
		}
	}
	return out
}

func (s *Scenario) validatePowerCut(f string, i int) error {
	pc := s.Steps[i].PowerCut
	if pc == nil {
		return nil
	}
	if pc.ECU == "" {
		return s.Errorf(f+".power_cut.ecu", "missing: the Secondary whose power is cut")
	}
	known := false
	names := make([]string, len(rigs.PowerPoints))
	for j, pt := range rigs.PowerPoints {
		known = known || pt == pc.At
		names[j] = string(pt)
	}
	if pc.At == "" {
		return s.Errorf(f+".power_cut.at", "missing: when to cut, one of %s", strings.Join(names, ", "))
	}
	if !known {
		return s.Errorf(f+".power_cut.at", "%q is not one of %s", pc.At, strings.Join(names, ", "))
	}
	for _, st := range s.Steps[i+1:] {
		if st.PowerCut != nil {
			break
		}
		if st.Cycle != nil || (st.Campaign != nil && !st.Campaign.AssignOnly) {
			return nil
		}
	}
	return s.Errorf(f+".power_cut", "no update cycle follows before the next power_cut: the cut lands in the next campaign or cycle step")
}

func (s *Scenario) validatePowerGoal() error {
	if s.Goal.Bricked && len(s.PowerLoss()) == 0 {
		return s.Errorf("goal.bricked", "only a scenario with a power_cut step can brick an ECU")
	}
	return nil
}

// powerState is what the runner knows of the power cuts of a run.
type powerState struct {
	mu      sync.Mutex
	armed   *armedCut
	bricked map[string][]string // ECU → what went wrong after its power came back
	// assigned: the release the last campaign assigned each ECU (the one a
	// later cycle must install)
	assigned map[string]uint64
}

// assign records the release a campaign assigned the ECUs.
func (p *powerState) assign(rc uint64, ecus []string) {
	if p.assigned == nil {
		p.assigned = map[string]uint64{}
	}
	for _, ecu := range ecus {
		p.assigned[ecu] = rc
	}
}

// brick records what went wrong with ecu after its power came back.
func (p *powerState) brick(ecu, msg string) {
	if p.bricked == nil {
		p.bricked = map[string][]string{}
	}
	p.bricked[ecu] = append(p.bricked[ecu], msg)
}

// armedCut is a power cut waiting for its point.
type armedCut struct {
	field    string // "steps[N].power_cut"
	ecu      string
	at       rigs.PowerPoint
	offset   int  // transfer, install: the seeded byte offset
	switched bool // reset: an install of the ECU switched slots this cycle
	landed   string
	// On a device under test (power_dut.go): the rig's power: commands,
	// the seeded delay of an install or reset cut after the Primary's
	// request, and the off command's outcome (done closes when it ran).
	dut    *power.Control
	delay  gotime.Duration
	mu     sync.Mutex
	done   chan struct{}
	offErr error
}

// crashFor is the crash function of an ECU of a run with power cuts
// (vehicle.Options.Crash).
func (r *runner) crashFor(ecu string) store.CrashFunc {
	if r.isPrimary(ecu) {
		return nil
	}
	return func(point string) {
		p := &r.power
		p.mu.Lock()
		a := p.armed
		hit := a != nil && a.ecu == ecu && a.landed == "" && a.hits(point)
		if hit {
			a.landed = point
		}
		p.mu.Unlock()
		if hit {
			panic(store.Crash{Point: point})
		}
	}
}

// hits says whether the cut lands at point.
func (a *armedCut) hits(point string) bool {
	switch a.at {
	case rigs.CutTransfer:
		rest, ok := strings.CutPrefix(point, "transfer:image/")
		if !ok {
			return false
		}
		if strings.HasSuffix(rest, ":exit") {
			return true // the seeded offset is in the last block
		}
		return atOrPast(rest, ":block@", a.offset)
	case rigs.CutInstall:
		rest, ok := strings.CutPrefix(point, "install:slot-")
		if !ok {
			return false
		}
		return strings.HasSuffix(rest, ":after") || atOrPast(rest, ":page@", a.offset)
	case rigs.CutReset:
		if strings.HasPrefix(point, "install:switch:after") {
			a.switched = true
		}
		return a.switched && point == "boot:torn"
	}
	return false
}

// atOrPast says whether rest ends in sep and an offset at or past off.
func atOrPast(rest, sep string, off int) bool {
	i := strings.LastIndex(rest, sep)
	if i < 0 {
		return false
	}
	n, err := strconv.Atoi(rest[i+len(sep):])
	return err == nil && n >= off
}

// powerCut arms a cut: the point is seeded by the run's seed, the same for
// the conformant and the control run.
func (r *runner) powerCut(f string, pc *PowerCut) error {
	if r.dut != nil {
		return r.powerCutDUT(f, pc)
	}
	sec := r.v.Secondary(pc.ECU)
	if sec == nil {
		return r.s.Errorf(f+".ecu", "rig %s has no Secondary %q (only a Secondary's power can be cut)", r.v.Rig.Name, pc.ECU)
	}
	if sec.BusNode == nil && !isDirect(sec.Link) {
		return r.s.Errorf(f+".ecu", "%s does not run in this process: its power is the rig's power: supply", pc.ECU)
	}
	r.arm(f, pc, sec.Rig.ImageSize, nil)
	return nil
}

// arm arms a cut of pc.ECU, whose images are size bytes, with its point
// seeded by the run's seed; ctl is the DUT's power control (nil: a
// simulated ECU, cut at its crash points).
func (r *runner) arm(f string, pc *PowerCut, size int, ctl *power.Control) {
	a := &armedCut{field: f, ecu: pc.ECU, at: pc.At, dut: ctl}
	rnd := r.v.Seed.Rand("power-cut/" + pc.ECU + "/" + string(pc.At))
	a.delay = gotime.Duration(rnd.IntN(int(maxCutDelay/gotime.Millisecond))) * gotime.Millisecond
	switch pc.At {
	case rigs.CutTransfer:
		a.offset = 1 + rnd.IntN(max(size-1, 1))
	case rigs.CutInstall:
		// a page boundary inside the image: past the first page, before
		// the last
		a.offset = 1 + rnd.IntN(max(size-store.Page, 1))
	}
	r.power.mu.Lock()
	r.power.armed = a
	r.power.mu.Unlock()
	what := map[rigs.PowerPoint]string{
		rigs.CutTransfer: fmt.Sprintf("at byte %d of the image's transfer", a.offset),
		rigs.CutInstall:  fmt.Sprintf("at byte %d of the image's programming", a.offset),
		rigs.CutReset:    "in the reset that boots the new image",
	}[pc.At]
	r.note(fmt.Sprintf("power cut armed: %s loses its power %s", pc.ECU, what))
}

func isDirect(l any) bool { _, ok := l.(*secondary.Direct); return ok }

// afterCycle brings the power back after the cycle in which an armed cut
// landed, and judges the ECU: a whole image (the one its state names, old
// or new), an answer on the bus. A cut that never landed is an error of
// the scenario.
func (r *runner) afterCycle() error {
	r.power.mu.Lock()
	a := r.power.armed
	r.power.armed = nil
	r.power.mu.Unlock()
	if a == nil {
		return nil
	}
	if a.dut != nil {
		return r.afterDUTCut(a)
	}
	if a.landed == "" {
		return r.s.Errorf(a.field, "the update cycle after it never reached %s's %s phase (was an image assigned to it?)", a.ecu, a.at)
	}
	r.note(fmt.Sprintf("power cut: %s lost its power at %s; power back on", a.ecu, a.landed))
	sec := r.v.Secondary(a.ecu)
	var err error
	if sec.BusNode != nil {
		err = sec.BusNode.PowerOn()
	} else {
		err = sec.Link.(*secondary.Direct).Reset()
	}
	bad := func(format string, args ...any) {
		msg := fmt.Sprintf("after a power cut at %s: ", a.landed) + fmt.Sprintf(format, args...)
		r.power.brick(a.ecu, msg)
		r.details[a.ecu] = append(r.details[a.ecu], msg)
		r.note(a.ecu + " " + msg)
	}
	if err != nil {
		// the state directory's path is the run's, not the ECU's
		bad("it does not boot: %s", strings.ReplaceAll(err.Error(), sec.Config.Dir, "(its state directory)"))
		return nil
	}
	e := sec.Current()
	if e == nil {
		bad("it does not boot")
		return nil
	}
	img, data, err := e.ActiveImage()
	switch {
	case err != nil:
		bad("no image to boot: %v", err)
	case meta.CheckHashes(data, img.Length, img.Hashes) != nil:
		bad("it boots a torn image: its image area is not the %s (release %d) its state names, a mix of old and new bytes", img.Name, img.ReleaseCounter)
	default:
		r.note(fmt.Sprintf("%s boots a whole image after the cut: %s (release %d)", a.ecu, img.Name, img.ReleaseCounter))
		if sec.Config.Profile.On(check.InstallImageAtomic) {
			r.addID(a.ecu, check.InstallImageAtomic)
		}
	}
	if _, err := sec.Link.Identity(); err != nil {
		bad("it does not answer on the bus: %v", err)
	}
	return nil
}

// bricked says whether a power cut bricked ecu: it booted no whole image or
// did not answer after the power came back, or it did not end on the
// release the last campaign assigned it (a later cycle did not install it).
func (r *runner) bricked(ecu string) bool {
	if len(r.power.bricked[ecu]) > 0 {
		return true
	}
	rc, ok := r.power.assigned[ecu]
	if !ok {
		return false
	}
	if !r.installedIs(ecu, fmt.Sprintf("release:%d", rc)) {
		r.details[ecu] = append(r.details[ecu], fmt.Sprintf("it did not install release %d, assigned to it, in a later cycle", rc))
		return true
	}
	return false
}
