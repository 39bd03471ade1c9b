package vehicle_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

var _ = Describe("verify_time: the attested time of a Secondary never goes backwards (verify_time.monotonic)", Label("std:verify_time#1"), func() {
	const victim = "BRK-0001"
	for _, p := range []check.Profile{check.Conformant, check.Without(check.VerifyTimeMonotonic)} {
		It("under "+p.Name+": a time before the latest attested time (a freeze: old metadata would not look expired)", func() {
			within(func(sim *clock.Sim) {
				v := build(sim, vehicle.Options{Profiles: map[string]check.Profile{victim: p}})
				rep := v.Cycle()
				Expect(rep.Err).NotTo(HaveOccurred())
				e := v.Secondary(victim).Current()
				latest := e.State().LatestTime
				Expect(latest).NotTo(BeZero())
				err := e.SetTime(latest.Add(-48 * time.Hour))
				if p.On(check.VerifyTimeMonotonic) {
					Expect(check.Is(err, check.VerifyTimeMonotonic)).To(BeTrue(), "%v", err)
					Expect(e.State().LatestTime).To(Equal(latest), "the latest attested time stays")
					attacks := e.State().Attacks
					Expect(attacks).NotTo(BeEmpty())
					Expect(attacks[len(attacks)-1].Check).To(Equal(check.VerifyTimeMonotonic), "kept for the next version report")
				} else {
					Expect(err).NotTo(HaveOccurred())
					Expect(e.State().LatestTime).To(Equal(latest.Add(-48*time.Hour)), "the control goes back in time")
				}
				// the same time, and a later one, are taken
				Expect(e.SetTime(latest)).To(Succeed())
				Expect(e.SetTime(latest.Add(time.Hour))).To(Succeed())
				Expect(e.State().LatestTime).To(Equal(latest.Add(time.Hour)))
			})
		})
	}
})
