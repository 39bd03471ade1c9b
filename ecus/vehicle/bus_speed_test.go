package vehicle_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/uds"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

var _ = Describe("in_vehicle: a Secondary monitors the download speed on the bus (in_vehicle.bus_download_speed)", Label("std:in_vehicle#4"), func() {
	const victim = "ECM-0001"
	for _, p := range []check.Profile{check.Conformant, check.Without(check.InVehicleBusDownloadSpeed)} {
		It("under "+p.Name+": a Primary that trickles 64-byte blocks every 4 s, inside the 5 s session timeout", func() {
			within(func(sim *clock.Sim) {
				v := build(sim, vehicle.Options{Reach: vehicle.ByRig, Profiles: map[string]check.Profile{victim: p}})
				c := v.Secondary(victim).Client
				c.Chunk, c.Pace = 64, 4*time.Second
				start := sim.Now()
				rep, err := v.Campaign(2, victim)
				Expect(err).NotTo(HaveOccurred())
				took := sim.Since(start)
				e := v.Secondary(victim).Current()
				Expect(e).NotTo(BeNil())
				if p.On(check.InVehicleBusDownloadSpeed) {
					Expect(rep.ECUs[victim].Status).To(Equal(primary.Failed))
					Expect(uds.IsNRC(rep.ECUs[victim].Err, uds.GeneralProgrammingFailure)).To(BeTrue(), "the ECU refuses the next block: %v", rep.ECUs[victim].Err)
					Expect(took).To(BeNumerically("<", 2*time.Minute), "the ECU ends the transfer after its grace period")
					Expect(e.Installed().ReleaseCounter).To(Equal(uint64(1)))
					Expect(reportedChecks(rep.ECUs[victim].Report)).To(ContainElement(check.InVehicleBusDownloadSpeed))
				} else {
					Expect(rep.ECUs[victim].Status).To(Equal(primary.Installed), "%v", rep.ECUs[victim].Err)
					Expect(took).To(BeNumerically(">", 20*time.Minute), "the control lets the Primary hold the update up")
				}
			})
		})
	}
})
