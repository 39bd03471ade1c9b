package rigs_test

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/can"
)

var _ = Describe("bus faults of a rig", func() {
	It("loads rigs/noisy.yaml: the virtual rig with a drop rule on the Primary's powertrain frames", func() {
		r, err := rigs.Load("noisy.yaml")
		Expect(err).NotTo(HaveOccurred())
		Expect(r.HasFaults()).To(BeTrue())
		Expect(r.Bus("powertrain").Faults).To(Equal([]rigs.Fault{{Kind: can.FaultDrop, Probability: 0.004, Nodes: []string{"TCU-0001"}}}))
		v, err := rigs.Load("virtual.yaml")
		Expect(err).NotTo(HaveOccurred())
		Expect(v.HasFaults()).To(BeFalse())
	})

	It("reads every field", func() {
		data, err := readFile("virtual.yaml")
		Expect(err).NotTo(HaveOccurred())
		data = strings.Replace(data, "    bitrate: 500000          # classic CAN, 500 kbit/s\n",
			"    bitrate: 500000\n    faults:\n      - {kind: bus-off, probability: 0.5, nodes: [BRK-0001], from: 1s, until: 2s, count: 3, recovery: 100ms}\n      - {kind: corrupt, flips: 2}\n      - {kind: delay, delay: 5ms}\n", 1)
		r, err := rigs.Parse("rigs/f.yaml", []byte(data))
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Bus("powertrain").Faults).To(Equal([]rigs.Fault{
			{Kind: can.FaultBusOff, Probability: 0.5, Nodes: []string{"BRK-0001"}, From: time.Second, Until: 2 * time.Second, Count: 3, Recovery: 100 * time.Millisecond},
			{Kind: can.FaultCorrupt, Flips: 2},
			{Kind: can.FaultDelay, Delay: 5 * time.Millisecond},
		}))
	})

	DescribeTable("names the field of a broken fault",
		func(fault, want string) {
			data, err := readFile("virtual.yaml")
			Expect(err).NotTo(HaveOccurred())
			data = strings.Replace(data, "    bitrate: 500000          # classic CAN, 500 kbit/s\n", "    bitrate: 500000\n    faults:\n      - "+fault+"\n", 1)
			_, err = rigs.Parse("rigs/f.yaml", []byte(data))
			Expect(err).To(MatchError(MatchRegexp(want)))
		},
		Entry("unknown kind", "{kind: melt}", `buses\[0\]\.faults\[0\]\.kind: "melt" is not one of drop`),
		Entry("probability above 1", "{kind: drop, probability: 1.5}", `faults\[0\]\.probability: 1.5 is not in \[0, 1\]`),
		Entry("delay without a delay", "{kind: delay}", `faults\[0\]\.delay: missing`),
		Entry("bus-off that never recovers", "{kind: bus-off}", `faults\[0\]\.recovery: missing`),
		Entry("empty window", "{kind: drop, from: 2s, until: 1s}", `faults\[0\]\.until: empty or negative window`),
		Entry("unknown node", "{kind: drop, nodes: [XYZ-1]}", `faults\[0\]\.nodes: no ECU "XYZ-1"`),
		Entry("misspelt field", "{kind: drop, probabilty: 0.1}", `probabilty: unknown field`),
	)
})
