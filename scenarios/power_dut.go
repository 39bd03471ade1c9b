package scenarios

// Power cuts on a device under test: the rig's power: commands (ecus/power)
// switch it off at the point of the Primary's session that the seed picks,
// and on again right after (a cut, not a shutdown); after the cycle the
// harness waits until it answers on its bus and judges what it says.

import (
	"context"
	"fmt"
	"strings"
	gotime "time"

	"github.com/uptane-hil/uptane-hil/ecus/power"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/events"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// maxCutDelay bounds the seeded delay between the Primary's install or
// reset request to a DUT and the cut of its power.
const maxCutDelay = 50 * gotime.Millisecond

// maxCutRetries is how many more cycles a DUT run plays when a cycle ends
// before it reached the phase of an armed cut.
const maxCutRetries = 2

// powerOnDUT says why the scenario's power cuts cannot be played on DUT e
// ("" when they can, or the scenario cuts no power).
func (s *Scenario) powerOnDUT(e *rigs.ECU) string {
	for _, pc := range s.PowerLoss() {
		if e.Power == nil {
			return fmt.Sprintf("the rig gives ECU %s no power: supply", e.ID)
		}
		if !e.Power.Cuts(pc.At) {
			at := make([]string, len(e.Power.CutAt))
			for i, p := range e.Power.CutAt {
				at[i] = string(p)
			}
			return fmt.Sprintf("the rig's power: supply of ECU %s leaves out a cut at %s (cut_at: [%s])", e.ID, pc.At, strings.Join(at, ", "))
		}
	}
	return ""
}

// powerCutDUT arms a cut of the device under test.
func (r *runner) powerCutDUT(f string, pc *PowerCut) error {
	e := r.dut.ecu
	if pc.ECU != e.ID {
		return r.s.Errorf(f+".ecu", "%s is not the device under test %s: only its power is switched", pc.ECU, e.ID)
	}
	ctl, err := power.New(e)
	if err != nil {
		return r.s.Errorf(f, "%v", err)
	}
	r.arm(f, pc, e.ImageSize, ctl)
	return nil
}

// powerEvents is the events sink of a DUT run: it passes every event on,
// and cuts an armed DUT's power at its point of the Primary's session: the
// transfer's progress passing the seeded byte offset, or the seeded delay
// after the Primary turns to the install or the reset.
func (r *runner) powerEvents(sink func(events.Event)) func(events.Event) {
	return func(e events.Event) {
		sink(e)
		r.power.mu.Lock()
		a := r.power.armed
		r.power.mu.Unlock()
		if a == nil || a.dut == nil || e.ECU != a.ecu {
			return
		}
		switch {
		case a.at == rigs.CutTransfer && e.Kind == events.Transfer && strings.HasPrefix(e.Label, "image ") && e.Done >= int64(a.offset):
			a.cut(fmt.Sprintf("transfer:%s:byte@%d", strings.TrimPrefix(e.Label, "image "), e.Done), 0)
		case a.at == rigs.CutInstall && e.Kind == events.Phase && e.Label == "install",
			a.at == rigs.CutReset && e.Kind == events.Phase && e.Label == "reset":
			a.cut(fmt.Sprintf("%s+%s", e.Label, a.delay), a.delay)
		}
	}
}

// cut runs the off command once, now or after a delay (the Primary's
// request goes out meanwhile).
func (a *armedCut) cut(point string, after gotime.Duration) {
	a.mu.Lock()
	if a.landed != "" {
		a.mu.Unlock()
		return
	}
	a.landed, a.done = point, make(chan struct{})
	a.mu.Unlock()
	off := func() {
		defer close(a.done)
		if a.offErr = a.dut.Off(context.Background()); a.offErr != nil {
			return
		}
		// a cut, not a shutdown: the supply returns at once, and the
		// Primary's retries meet the ECU as it boots
		a.offErr = a.dut.On(context.Background())
	}
	if after == 0 {
		off()
		return
	}
	gotime.AfterFunc(after, off)
}

// afterDUTCut, after the cycle a DUT's cut landed in (its power came back
// right after the cut), waits until it answers on its bus, and judges what
// it says: a signed
// version report that names a genuine release (the old or the new one). A
// power command that fails is an error of the bench, not a verdict.
func (r *runner) afterDUTCut(a *armedCut) error {
	a.mu.Lock()
	landed, done := a.landed, a.done
	a.mu.Unlock()
	// A bench's cycle can fail before the phase for reasons of its own (a
	// transfer that timed out): the cut stays armed for up to
	// maxCutRetries more cycles, each noted.
	for i := 0; landed == "" && i < maxCutRetries; i++ {
		r.note(fmt.Sprintf("the cycle did not reach the DUT %s's %s phase; another cycle with the cut armed", a.ecu, a.at))
		r.power.mu.Lock()
		r.power.armed = a
		r.power.mu.Unlock()
		r.observe(r.v.Cycle())
		r.power.mu.Lock()
		r.power.armed = nil
		r.power.mu.Unlock()
		a.mu.Lock()
		landed, done = a.landed, a.done
		a.mu.Unlock()
	}
	if landed == "" {
		seen := "nothing"
		if d := r.details[a.ecu]; len(d) > 0 {
			seen = strings.Join(d, "; ")
		}
		return r.s.Errorf(a.field, "the update cycle after it never reached the DUT %s's %s phase (was an image assigned to it? the cycle reported: %s)", a.ecu, a.at, seen)
	}
	<-done
	if a.offErr != nil {
		return r.s.Errorf(a.field, "%v", a.offErr)
	}
	r.note(fmt.Sprintf("power cut: the DUT %s lost its power at %s; power back on", a.ecu, landed))
	bad := func(format string, args ...any) {
		msg := fmt.Sprintf("after a power cut at %s: ", landed) + fmt.Sprintf(format, args...)
		r.power.brick(a.ecu, msg)
		r.details[a.ecu] = append(r.details[a.ecu], msg)
		r.note(a.ecu + " " + msg)
	}
	sec := r.v.Secondary(a.ecu)
	if _, err := vehicle.WaitForECU(sec.Client, r.v.Rig, sec.Rig, vehicle.DefaultWait); err != nil {
		bad("it does not answer on the bus within %s: %v", vehicle.DefaultWait, err)
		return nil
	}
	if err := r.readReport(r.dut, false); err != nil {
		bad("it sends no version report: %v", err)
		return nil
	}
	inst := r.fromReport(r.dut)
	if !inst.Genuine {
		bad("its version report names %s, not a genuine release of its image", r.dut.image.Filename)
		return nil
	}
	r.note(fmt.Sprintf("the DUT %s answers after the cut and reports a whole image: %s (release %d)", a.ecu, inst.Name, inst.Release))
	r.addID(a.ecu, check.InstallImageAtomic)
	return nil
}
