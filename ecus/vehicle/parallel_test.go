package vehicle_test

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/events"
)

// parallelRun is one campaign of release 2 on a fresh vehicle of the
// virtual rig, every ECU over its bus.
type parallelRun struct {
	rep *primary.CycleReport
	// steps is the span of steps 5 to 7 (from the first "send time" to the
	// final manifest's "send manifest"); bus the span of each bus's events
	// within it (events of the ECUs on that bus).
	steps [2]time.Time
	bus   map[string][2]time.Time
	// frames is a digest of every frame on every bus, with its time.
	frames [32]byte
}

func campaignOnBuses() parallelRun {
	GinkgoHelper()
	var out parallelRun
	within(func(sim *clock.Sim) {
		var log []events.Event
		v := build(sim, vehicle.Options{Reach: vehicle.ByRig, Events: func(e events.Event) { log = append(log, e) }})
		h := sha256.New()
		for _, name := range slices.Sorted(maps.Keys(v.Buses)) {
			v.Buses[name].Tap(func(e can.Event) {
				fmt.Fprintf(h, "%s %s %s %s\n", name, e.Time.Format(time.RFC3339Nano), e.Sender, e.Frame)
			})
		}
		busOf := map[string]string{}
		for _, s := range v.Secondaries {
			busOf[s.Rig.ID] = s.Rig.Bus
		}
		var err error
		out.rep, err = v.Campaign(2)
		Expect(err).NotTo(HaveOccurred())
		h.Sum(out.frames[:0])
		out.bus = map[string][2]time.Time{}
		in := false
		for _, e := range log {
			switch {
			case e.Kind == events.Phase && e.Label == "send time" && !in:
				in, out.steps[0] = true, e.Time
			case e.Kind == events.Phase && e.Label == "send manifest" && in:
				out.steps[1] = e.Time
				return
			}
			if b := busOf[e.ECU]; in && b != "" {
				s, ok := out.bus[b]
				if !ok {
					s[0] = e.Time
				}
				s[1] = e.Time
				out.bus[b] = s
			}
		}
	})
	return out
}

var _ = Describe("a campaign on every bus at once (updateSecondaries)", func() {
	It("updates the Secondaries of the two buses concurrently: steps 5 to 7 take as long as the busiest bus, not the sum, and replay frame for frame", func() {
		r := campaignOnBuses()
		for id, o := range r.rep.ECUs {
			Expect(o.Status).To(Equal(primary.Installed), "%s: %v", id, o.Err)
		}
		Expect(r.bus).To(HaveLen(2))
		pt, body := r.bus["powertrain"], r.bus["body"]
		steps := r.steps[1].Sub(r.steps[0])
		dPT, dBody := pt[1].Sub(pt[0]), body[1].Sub(body[0])
		GinkgoWriter.Printf("steps 5-7: %s; powertrain %s, body %s\n", steps, dPT, dBody)
		Expect(body[0].Before(pt[1]) && pt[0].Before(body[1])).To(BeTrue(), "the two buses' updates overlap in time")
		Expect(steps).To(BeNumerically("<=", max(dPT, dBody)*105/100), "steps 5 to 7 take the busiest bus's time")
		Expect(steps).To(BeNumerically("<", (dPT+dBody)*90/100), "not the sum of the buses")
		Expect(campaignOnBuses().frames).To(Equal(r.frames), "the same seed gives the same frames at the same times")
	})
})
