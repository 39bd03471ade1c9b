package vehicle_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/restbus"
)

var _ = Describe("the rest-bus of the virtual rig", func() {
	It("runs on both buses beside the update, from the DBC's simulated nodes", func() {
		within(func(sim *clock.Sim) {
			v := build(sim, vehicle.Options{Reach: vehicle.ByRig})
			Expect(v.Restbus).To(HaveKey("powertrain"))
			Expect(v.Restbus).To(HaveKey("body"))
			senders := map[string]int{}
			v.Buses["powertrain"].Tap(func(e can.Event) { senders[e.Sender]++ })
			sim.Sleep(time.Second)
			Expect(senders).To(HaveKeyWithValue(restbus.NodePrefix+"ESC", 100+50+1), "10 ms, 20 ms and 1 s messages")
			Expect(senders).To(HaveKey(restbus.NodePrefix + "GW"))
			Expect(senders).NotTo(HaveKey(restbus.NodePrefix + "ECM"))
		})
	})

	It("refuses programming while the car drives (NRC 0x22), the Primary gives up after the rig's wait, and the next cycle installs once it is parked", func() {
		within(func(sim *clock.Sim) {
			r, err := rigs.Load("../../rigs/virtual.yaml")
			Expect(err).NotTo(HaveOccurred())
			Expect(r.ECU("ECM-0001").Conditions()).To(HaveLen(2), "rigs/virtual.yaml: VehicleSpeed <= 0, IgnitionState = ON")
			r.Primary().PreconditionsWait = 5 * time.Second
			v, err := vehicle.Build(vehicle.Options{Rig: r, Clock: sim, Dir: GinkgoT().TempDir(), Reach: vehicle.ByRig})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(v.Close)
			pt := v.Restbus["powertrain"]
			Expect(pt.Set("ESC_WheelSpeeds", "VehicleSpeed", 5000)).To(Succeed()) // 50 km/h
			sim.Sleep(100 * time.Millisecond)

			rep, err := v.Campaign(2)
			Expect(err).NotTo(HaveOccurred())
			ecm := rep.ECUs["ECM-0001"]
			Expect(ecm.Status).NotTo(Equal(primary.Installed))
			Expect(ecm.Err).To(MatchError(ContainSubstring("conditionsNotCorrect")))
			Expect(rep.ECUs["BRK-0001"].Status).To(Equal(primary.Installed), "a Secondary without preconditions updates")
			inst, err := v.Installed("ECM-0001")
			Expect(err).NotTo(HaveOccurred())
			Expect(inst.Release).To(Equal(uint64(1)))
			Expect(inst.Genuine).To(BeTrue(), "the active slot keeps a whole image")

			Expect(pt.Set("ESC_WheelSpeeds", "VehicleSpeed", 0)).To(Succeed()) // parked
			sim.Sleep(100 * time.Millisecond)
			rep = v.Cycle()
			Expect(rep.ECUs["ECM-0001"].Status).To(Equal(primary.Installed), "%v", rep.ECUs["ECM-0001"].Err)
			inst, err = v.Installed("ECM-0001")
			Expect(err).NotTo(HaveOccurred())
			Expect(inst.Release).To(Equal(uint64(2)))
		})
	})
})
