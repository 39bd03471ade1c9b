package secondary_test

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/uds"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/sim/events"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// pouf.programming_preconditions on the Secondary: what it refuses while
// the car drives, what it keeps, and what it says about it (DID 0xF1A9).

// wholeRelease expects ecu's active slot to hold the whole genuine image of
// release rc.
func wholeRelease(b *pipeBench, ecu string, rc uint64) {
	GinkgoHelper()
	inst, err := b.v.Installed(ecu)
	Expect(err).NotTo(HaveOccurred())
	Expect(inst.Genuine).To(BeTrue(), "%s's active slot holds a whole genuine image", ecu)
	Expect(inst.Release).To(Equal(rc))
}

var _ = Describe("a Secondary's programming preconditions (pouf.programming_preconditions)", func() {
	It("aborts the image transfer when the car starts driving, keeps the part it received and its active image whole, says why at DID 0xF1A9, and takes the rest on a resume once parked", func() {
		var b *pipeBench
		var during []uint64 // the active release, read while the car drove
		var said string
		resumedAt := int64(-1)
		stopped := int64(-1)
		o := vehicle.Options{Events: func(e events.Event) {
			if e.Kind != events.Transfer || e.ECU != "ECM-0001" || !strings.HasPrefix(e.Label, "image ") {
				return
			}
			switch {
			case stopped < 0 && !b.driving && e.Done*2 >= e.Total: // half the image is there
				b.driving, stopped = true, e.Done
				b.sim.Go("driver", func() {
					b.sim.Sleep(10 * time.Second)
					inst, err := b.v.Installed("ECM-0001")
					Expect(err).NotTo(HaveOccurred())
					Expect(inst.Genuine).To(BeTrue())
					during = append(during, inst.Release)
					said, err = b.clients["ECM-0001"].UnmetConditions()
					Expect(err).NotTo(HaveOccurred())
					b.driving = false
				})
			case stopped >= 0 && !b.driving && resumedAt < 0:
				resumedAt = e.Done
			}
		}}
		onPipes(o, func(pb *pipeBench) {
			b = pb
			rep, err := b.v.Campaign(2)
			Expect(err).NotTo(HaveOccurred())
			ecm := rep.ECUs["ECM-0001"]
			Expect(ecm.Status).To(Equal(primary.Installed), "%v", ecm.Err)
			Expect(ecm.Refusal).NotTo(BeNil())
			Expect(ecm.Refusal.Step).To(Equal("send image"))
			Expect(during).To(Equal([]uint64{1}), "while the car drove, the active slot held release 1, whole")
			Expect(said).To(ContainSubstring("VehicleSpeed is 50 km/h"))
			Expect(resumedAt).To(BeNumerically(">", stopped), "the transfer went on from where the ECU stopped")
			wholeRelease(b, "ECM-0001", 2)
			now, err := b.clients["ECM-0001"].UnmetConditions()
			Expect(err).NotTo(HaveOccurred())
			Expect(now).To(BeEmpty(), "parked: every precondition holds")
		})
	})

	It("refuses the install routine (it writes the inactive slot) while the car drives, and installs once parked", func() {
		var b *pipeBench
		o := vehicle.Options{Events: func(e events.Event) {
			if e.Kind == events.Phase && e.ECU == "ECM-0001" && e.Label == "verify image" && !b.driving {
				b.driving = true
				b.sim.Go("driver", func() {
					b.sim.Sleep(5 * time.Second)
					wholeRelease(b, "ECM-0001", 1)
					b.driving = false
				})
			}
		}}
		onPipes(o, func(pb *pipeBench) {
			b = pb
			rep, err := b.v.Campaign(2, "ECM-0001")
			Expect(err).NotTo(HaveOccurred())
			ecm := rep.ECUs["ECM-0001"]
			Expect(ecm.Status).To(Equal(primary.Installed), "%v", ecm.Err)
			Expect(ecm.Refusal).NotTo(BeNil())
			Expect(ecm.Refusal.Step).To(Equal("install"))
			Expect(ecm.Refusal.Waited).To(Equal(5 * time.Second))
			wholeRelease(b, "ECM-0001", 2)
		})
	})

	It("without the check (a control profile) the ECU takes the programming session and the image while the car drives, and declares no preconditions", func() {
		onPipes(vehicle.Options{Profiles: map[string]check.Profile{"ECM-0001": check.Without(check.PoufProgrammingPreconditions)}}, func(b *pipeBench) {
			b.driving = true
			rep, err := b.v.Campaign(2)
			Expect(err).NotTo(HaveOccurred())
			Expect(rep.ECUs["ECM-0001"].Status).To(Equal(primary.Installed))
			Expect(rep.ECUs["ECM-0001"].Refusal).To(BeNil())
			Expect(rep.ECUs["BRK-0001"].Refusal).NotTo(BeNil(), "a conformant Secondary in the same car waits")
			_, err = b.clients["ECM-0001"].UnmetConditions()
			Expect(uds.IsNRC(err, uds.RequestOutOfRange)).To(BeTrue(), "%v", err)
		})
	})
})
