package primary_test

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/events"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
)

// The Primary and a Secondary's programming preconditions: ECM-0001 of
// rigs/virtual.yaml is reprogrammed only with VehicleSpeed 0 and the
// ignition on, which it reads on its bus (the rest-bus of the powertrain
// DBC). Over the bus, under the simulated clock.

const ecm = "ECM-0001"

// busBench is a vehicle of rigs/virtual.yaml, every Secondary reached
// over its bus, with the events of the run kept.
type busBench struct {
	sim    *clock.Sim
	v      *vehicle.Vehicle
	events []events.Event
	// onEvent, when set, sees each event as it happens.
	onEvent func(events.Event)
}

func onBus(wait time.Duration, body func(b *busBench)) {
	GinkgoHelper()
	b := &busBench{sim: clock.NewSim(time.Time{})}
	b.sim.SetHorizon(365 * 24 * time.Hour)
	r, err := rigs.Load("../../rigs/virtual.yaml")
	Expect(err).NotTo(HaveOccurred())
	r.Primary().PreconditionsWait = wait
	Expect(b.sim.Run("spec", func() {
		b.v, err = vehicle.Build(vehicle.Options{Rig: r, Clock: b.sim, Dir: GinkgoT().TempDir(), Reach: vehicle.ByRig,
			Events: func(e events.Event) {
				b.events = append(b.events, e)
				if b.onEvent != nil {
					b.onEvent(e)
				}
			}})
		Expect(err).NotTo(HaveOccurred())
		defer b.v.Close()
		body(b)
	})).To(Succeed())
}

// speed makes the rest-bus send VehicleSpeed km/h from now on.
func (b *busBench) speed(kmh int64) {
	GinkgoHelper()
	Expect(b.v.Restbus["powertrain"].Set("ESC_WheelSpeeds", "VehicleSpeed", kmh*100)).To(Succeed())
}

// notes are the labels of the Note events about ecu.
func (b *busBench) notes(ecu string) []string {
	var out []string
	for _, e := range b.events {
		if e.Kind == events.Note && e.ECU == ecu {
			out = append(out, e.Label)
		}
	}
	return out
}

// imageBytes are the bytes of ECU's image the Primary's transfer events
// counted: the sum of the progress of each attempt.
func (b *busBench) imageProgress(ecu string) (restarts int, last int64) {
	prev := int64(-1)
	for _, e := range b.events {
		if e.Kind != events.Transfer || e.ECU != ecu || !strings.HasPrefix(e.Label, "image ") {
			continue
		}
		if e.Done < prev {
			restarts++
		}
		prev, last = e.Done, e.Done
	}
	return restarts, last
}

func (b *busBench) installedRelease(ecu string) uint64 {
	GinkgoHelper()
	inst, err := b.v.Installed(ecu)
	Expect(err).NotTo(HaveOccurred())
	Expect(inst.Genuine).To(BeTrue(), "%s runs a whole genuine image", ecu)
	return inst.Release
}

var _ = Describe("a Secondary's programming preconditions (refuse, wait, resume)", func() {
	It("waits while the car drives and installs within the same cycle once it is parked; the manifest tells the Director the ECU refused and the update resumed", func() {
		onBus(0, func(b *busBench) {
			b.speed(50)
			b.sim.Go("driver", func() {
				b.sim.Sleep(30 * time.Second)
				b.speed(0) // parked
			})
			rep, err := b.v.Campaign(2)
			Expect(err).NotTo(HaveOccurred())
			o := rep.ECUs[ecm]
			Expect(o.Status).To(Equal(primary.Installed), "%v", o.Err)
			Expect(o.Refusal).NotTo(BeNil())
			Expect(o.Refusal.Step).To(Equal("send metadata"), "the first programming request it gets")
			Expect(o.Refusal.Conditions).To(ContainSubstring("VehicleSpeed is 50"))
			Expect(o.Refusal.Resumed).To(BeTrue())
			Expect(o.Refusal.Waited).To(BeNumerically(">=", 29*time.Second))
			Expect(o.Refusal.Waited).To(BeNumerically("<=", 31*time.Second))
			Expect(rep.ECUs["BRK-0001"].Status).To(Equal(primary.Installed))
			Expect(rep.ECUs["BRK-0001"].Refusal).To(BeNil(), "a Secondary without preconditions is not held up")
			Expect(b.installedRelease(ecm)).To(Equal(uint64(2)))
			Expect(b.notes(ecm)).To(ContainElement(ContainSubstring("refuses send metadata: NRC 0x22 conditionsNotCorrect (conditions not met: VehicleSpeed is 50")))
			Expect(b.notes(ecm)).To(ContainElement(ContainSubstring("conditions hold again")))

			recs, err := b.v.Director.Records(b.v.Rig.Vehicle.VIN)
			Expect(err).NotTo(HaveOccurred())
			last := recs[len(recs)-1]
			Expect(last.Accepted).To(BeTrue())
			Expect(last.Refusals).To(HaveLen(1))
			Expect(last.Refusals[0].ECUSerial).To(Equal(ecm))
			Expect(last.Refusals[0].NRC).To(Equal(uint8(0x22)))
			Expect(last.Refusals[0].Outcome).To(Equal(manifest.RefusalResumed))
			inst, err := b.v.Director.Installed(b.v.Rig.Vehicle.VIN)
			Expect(err).NotTo(HaveOccurred())
			Expect(inst[ecm].Refused).To(BeNil(), "it installed: nothing outstanding")
		})
	})

	It("gives up after the configured wait with an error naming the ECU and the unmet precondition; the Director's record says why the ECU did not install, and the next cycle installs", func() {
		onBus(20*time.Second, func(b *busBench) {
			b.speed(50)
			start := b.sim.Now()
			rep, err := b.v.Campaign(2)
			Expect(err).NotTo(HaveOccurred())
			Expect(b.sim.Since(start)).To(BeNumerically("<", 40*time.Second), "the wait is bounded")
			o := rep.ECUs[ecm]
			Expect(o.Status).To(Equal(primary.Failed))
			var ce *primary.ConditionsError
			Expect(o.Err).To(BeAssignableToTypeOf(ce))
			Expect(o.Err.Error()).To(And(ContainSubstring(ecm), ContainSubstring("VehicleSpeed is 50"), ContainSubstring("NRC 0x22"), ContainSubstring("20s")))
			Expect(o.Refusal.Resumed).To(BeFalse())
			Expect(b.installedRelease(ecm)).To(Equal(uint64(1)), "the active slot keeps its whole image")

			inst, err := b.v.Director.Installed(b.v.Rig.Vehicle.VIN)
			Expect(err).NotTo(HaveOccurred())
			Expect(inst[ecm].Refused).NotTo(BeNil(), "the Director's view: why the ECU runs the old image")
			Expect(inst[ecm].Refused.Outcome).To(Equal(manifest.RefusalGaveUp))
			Expect(inst[ecm].Refused.Conditions).To(ContainSubstring("VehicleSpeed is 50"))
			Expect(inst[ecm].Refused.WaitedMillis).To(Equal(int64(20000)))

			b.speed(0)
			b.sim.Sleep(100 * time.Millisecond)
			rep = b.v.Cycle()
			Expect(rep.ECUs[ecm].Status).To(Equal(primary.Installed), "%v", rep.ECUs[ecm].Err)
			Expect(rep.ECUs[ecm].Refusal).To(BeNil())
			Expect(b.installedRelease(ecm)).To(Equal(uint64(2)))
			inst, err = b.v.Director.Installed(b.v.Rig.Vehicle.VIN)
			Expect(err).NotTo(HaveOccurred())
			Expect(inst[ecm].Refused).To(BeNil(), "the next manifest clears it")
		})
	})

	It("stops a transfer the ECU aborts when the car starts driving, and resumes it where the ECU stopped once parked", func() {
		onBus(0, func(b *busBench) {
			drove := false
			b.onEvent = func(e events.Event) {
				if drove || e.Kind != events.Transfer || e.ECU != ecm || !strings.HasPrefix(e.Label, "image ") || e.Done*10 < e.Total*4 {
					return
				}
				drove = true // 40 % of the image sent: the driver sets off for 20 s
				b.speed(50)
				b.sim.Go("driver", func() {
					b.sim.Sleep(20 * time.Second)
					b.speed(0)
				})
			}
			rep, err := b.v.Campaign(2)
			Expect(err).NotTo(HaveOccurred())
			Expect(drove).To(BeTrue())
			o := rep.ECUs[ecm]
			Expect(o.Status).To(Equal(primary.Installed), "%v", o.Err)
			Expect(o.Refusal).NotTo(BeNil())
			Expect(o.Refusal.Step).To(Equal("send image"))
			Expect(o.Refusal.Resumed).To(BeTrue())
			restarts, last := b.imageProgress(ecm)
			Expect(restarts).To(Equal(0), "the transfer resumed at the ECU's position, it did not start over")
			Expect(last).To(Equal(int64(16 << 10)))
			Expect(b.installedRelease(ecm)).To(Equal(uint64(2)))
		})
	})
})
