package scenarios_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/scenarios"
)

var _ = Describe("the simulated twin of a DUT rig", func() {
	It("runs every link on our ISO-TP on virtual buses, also those the rig gives the kernel's can-isotp, and leaves the rig as it was", func() {
		r, err := rigs.Load("../rigs/vcan.yaml")
		Expect(err).NotTo(HaveOccurred())
		r.ECU("ECM-0001").ISOTP.Stack = rigs.StackKernel
		r.ECU("BCM-0001").ISOTP.Stack = rigs.StackKernel
		t := scenarios.TwinRig(r)
		for _, e := range t.Secondaries() {
			Expect(e.ISOTP.Stack).To(Equal(rigs.StackOwn), e.ID)
			Expect(t.Bus(e.Bus).Kind).To(Equal(rigs.Virtual), e.ID)
		}
		Expect(r.ECU("ECM-0001").ISOTP.Stack).To(Equal(rigs.StackKernel), "the DUT run's rig keeps its stack")
		Expect(r.Bus("powertrain").Kind).To(Equal(rigs.SocketCAN))
	})
})
