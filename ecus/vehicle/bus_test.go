package vehicle_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
)

var _ = Describe("update campaign over the bus (UDS on ISO-TP on the timed virtual buses)", func() {
	It("installs release 2 on all four Secondaries, classic and CAN FD, full and partial, encrypted too", Label("std:primary_steps#1", "std:send_images_primary#1"), func() {
		within(func(sim *clock.Sim) {
			v := build(sim, vehicle.Options{Reach: vehicle.ByRig})
			frames := map[string]int{}
			fd := 0
			for name, b := range v.Buses {
				name := name
				b.Tap(func(e can.Event) {
					frames[name]++
					if e.Frame.FD {
						fd++
					}
				})
			}
			start := sim.Now()
			rep, err := v.Campaign(2)
			Expect(err).NotTo(HaveOccurred())
			Expect(rep.Err).NotTo(HaveOccurred())
			for _, s := range v.Secondaries {
				o := rep.ECUs[s.Rig.ID]
				Expect(o.Status).To(Equal(primary.Installed), "%s: %v", s.Rig.ID, o.Err)
				inst, err := v.Installed(s.Rig.ID)
				rc, name := inst.Release, inst.Name
				Expect(err).NotTo(HaveOccurred())
				Expect(rc).To(Equal(uint64(2)))
				Expect(name).To(Equal(vehicle.ImageName(s.Rig.HardwareID, 2)))
			}
			inst, err := v.Director.Installed(v.Rig.Vehicle.VIN)
			Expect(err).NotTo(HaveOccurred())
			Expect(inst["IVI-0001"].Filename).To(Equal(vehicle.ImageName("ivi-v5", 2)))
			// the traffic really went over both buses and took bus time
			Expect(frames["powertrain"]).To(BeNumerically(">", 1000))
			Expect(frames["body"]).To(BeNumerically(">", 100))
			Expect(fd).To(BeNumerically(">", 100), "the body bus carries CAN FD frames")
			Expect(sim.Since(start)).To(BeNumerically(">", time.Second), "16 KiB images at 500 kbit/s take simulated seconds")
		})
	})
})
