package vehicle_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/link"
	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/secondary"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// replayReport is a link to a Secondary on which, once armed, every version
// report is the one recorded when it was armed: a genuine, validly signed
// report of the ECU, replayed.
type replayReport struct {
	*secondary.Direct
	recorded []byte
	armed    bool
}

func (l *replayReport) VersionReport() ([]byte, error) {
	if l.armed && l.recorded != nil {
		return l.recorded, nil
	}
	return l.Direct.VersionReport()
}

var _ = Describe("pouf: the Primary checks the nonce of each version report (pouf.report_nonce)", Label("std:version_report#3"), func() {
	const victim = "ECM-0001"
	for _, p := range []check.Profile{check.Conformant, check.Without(check.PoufReportNonce)} {
		It("under "+p.Name+": a Secondary's earlier signed report, replayed to hide its update", func() {
			within(func(sim *clock.Sim) {
				var l *replayReport
				v := build(sim, vehicle.Options{Profiles: map[string]check.Profile{"TCU-0001": p},
					Reach: vehicle.Everywhere(vehicle.Custom{Link: func(v *vehicle.Vehicle, s *vehicle.Secondary) (link.Secondary, error) {
						d := &secondary.Direct{ECU: s.ECU, Cfg: s.Config, VIN: v.Rig.Vehicle.VIN}
						if s.Rig.ID != victim {
							return d, nil
						}
						l = &replayReport{Direct: d}
						return l, nil
					}})})
				rep := v.Cycle()
				Expect(rep.ECUs[victim].Report).NotTo(BeEmpty())
				l.recorded = rep.ECUs[victim].Report // release 1, the nonce of that cycle
				rep, err := v.Campaign(2, victim)
				Expect(err).NotTo(HaveOccurred())
				Expect(rep.ECUs[victim].Status).To(Equal(primary.Installed))
				l.armed = true
				sim.Sleep(time.Minute)
				rep = v.Cycle()
				o := rep.ECUs[victim]
				if p.On(check.PoufReportNonce) {
					Expect(o.Status).To(Equal(primary.Failed))
					Expect(check.Is(o.Err, check.PoufReportNonce)).To(BeTrue(), "%v", o.Err)
					attacks := v.Primary.State().Attacks
					Expect(attacks).NotTo(BeEmpty())
					Expect(attacks[len(attacks)-1].Check).To(Equal(check.PoufReportNonce), "the Primary's own report tells the Director")
				} else {
					Expect(o.Err).NotTo(HaveOccurred(), "the control takes the replayed report")
					Expect(o.Report).To(Equal(l.recorded))
				}
			})
		})
	}
})
