package rigs_test

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/rigs"
)

var _ = Describe("a bus's rest-bus", func() {
	It("loads the virtual rig's DBC files and simulates the named nodes", func() {
		r, err := rigs.Load("virtual.yaml")
		Expect(err).NotTo(HaveOccurred())
		cfg, ok := r.Bus("powertrain").RestbusConfig()
		Expect(ok).To(BeTrue())
		Expect(cfg.Nodes).To(Equal([]string{"ESC", "GW", "PDM", "TCM"}))
		Expect(cfg.SleepAfter).To(Equal(2 * time.Second))
		Expect(cfg.Reserved).To(ContainElement(HaveField("ID", uint32(0x7E9))))
		Expect(r.Bus("powertrain").DB().Messages).NotTo(BeEmpty())
	})

	It("simulates by default every DBC node that is not an ECU of the rig (dbc_node, or the ID up to '-')", func() {
		r, err := rigs.Load("virtual.yaml")
		Expect(err).NotTo(HaveOccurred())
		body, ok := r.Bus("body").RestbusConfig()
		Expect(ok).To(BeTrue())
		Expect(body.Nodes).To(Equal([]string{"GW", "CLU", "DCM", "SCM", "HVAC", "ADAS", "LGT"}), "TCU, BCM and IVI are the rig's")
		Expect(body.FD).To(BeTrue())
	})

	It("gives each precondition a stale timeout: its own, or 5 cycle times of its message (at least 500 ms)", func() {
		r, err := rigs.Load("virtual.yaml")
		Expect(err).NotTo(HaveOccurred())
		conds := r.ECU("ECM-0001").Conditions()
		Expect(conds).To(HaveLen(2))
		for _, c := range conds {
			Expect(c.Timeout).To(Equal(max(5*c.Message.Cycle, 500*time.Millisecond)), c.Signal.Name)
		}
		r, err = rigs.Load("vcan-restbus.yaml")
		Expect(err).NotTo(HaveOccurred())
		for _, c := range r.ECU("ECM-0001").Conditions() {
			Expect(c.Timeout).To(Equal(2*time.Second), "its own: %s", c.Signal.Name)
		}
	})

	It("gives a precondition marked e2e the end-to-end check of its message: the bus's alive counter and checksum", func() {
		data, err := readFile("virtual.yaml")
		Expect(err).NotTo(HaveOccurred())
		data = strings.Replace(data, "{signal: VehicleSpeed, max: 0}", "{signal: VehicleSpeed, max: 0, e2e: true}", 1)
		r, err := rigs.Parse("e2e.yaml", []byte(data))
		Expect(err).NotTo(HaveOccurred())
		conds := r.ECU("ECM-0001").Conditions()
		Expect(conds[0].E2E).NotTo(BeNil())
		Expect(conds[0].E2E.String()).To(Equal("end-to-end check (alive counter ESC_WheelSpeeds_Alive, crc8-j1850 ESC_WheelSpeeds_CRC)"))
		Expect(conds[1].E2E).To(BeNil(), "only where asked")
		// a message the bus gives no counter: nothing to check
		data = strings.Replace(data, `{signal: IgnitionState, equals: "ON"}`, `{signal: IgnitionState, equals: "ON", e2e: true}`, 1)
		data = strings.Replace(data, "        - {message: GW_IgnitionStatus, signal: GW_Ignition_Alive}\n", "", 1)
		_, err = rigs.Parse("e2e.yaml", []byte(data))
		Expect(err).To(MatchError(MatchRegexp(`ecus\[1\]\.preconditions\[1\]\.e2e: bus powertrain declares no alive counter of GW_IgnitionStatus \(restbus: counters:\)`)))
	})

	It("finds the project's DBC files built in when none sits beside the rig file", func() {
		data, err := readFile("virtual.yaml")
		Expect(err).NotTo(HaveOccurred())
		r, err := rigs.Parse("/nonexistent/elsewhere.yaml", []byte(data))
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Bus("powertrain").DB().File).To(Equal("dbc/powertrain.dbc (built in)"))
		Expect(r.Bus("body").DB().Messages).To(HaveLen(14))
	})

	DescribeTable("refuses a broken rest-bus, naming the field and the DBC's file and line",
		func(edit func(string) string, want string) {
			data, err := readFile("virtual.yaml")
			Expect(err).NotTo(HaveOccurred())
			_, err = rigs.Parse("broken.yaml", []byte(edit(data)))
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(MatchRegexp(want))
		},
		Entry("missing DBC file", func(s string) string { return strings.Replace(s, "dbc/powertrain.dbc", "dbc/nope.dbc", 1) },
			`buses\[0\]\.restbus\.dbc: dbc: open dbc/nope\.dbc: no such file`),
		Entry("node not in the DBC", func(s string) string { return strings.Replace(s, "nodes: [ESC, GW, PDM, TCM]", "nodes: [ESC, XYZ]", 1) },
			`buses\[0\]\.restbus: restbus: dbc/powertrain\.dbc declares no node "XYZ"`),
		Entry("node that is an ECU of the rig", func(s string) string { return strings.Replace(s, "nodes: [ESC, GW, PDM, TCM]", "nodes: [ESC, ECM]", 1) },
			`buses\[0\]\.restbus\.nodes\[1\]: ECM is ECU ECM-0001 of the rig`),
		Entry("DBC message on an ISO-TP identifier", func(s string) string {
			return strings.Replace(s, "  - id: ECM-0001             # engine control: full verification\n", "  - id: ECM-0001\n    isotp: {request: 0x118, response: 0x7E8}\n", 1)
		}, `restbus: dbc/powertrain\.dbc:\d+: message PDM_BatteryStatus \(sent by PDM\) has identifier 0x118, the ISO-TP request identifier of ECM-0001`),
		Entry("precondition on a signal the DBC does not have", func(s string) string {
			return strings.Replace(s, "{signal: VehicleSpeed, max: 0}", "{signal: Speed, max: 0}", 1)
		}, `ecus\[1\]\.preconditions\[0\]\.signal: dbc dbc/powertrain\.dbc: no signal "Speed"`),
		Entry("precondition value that is not one of the signal's", func(s string) string {
			return strings.Replace(s, `{signal: IgnitionState, equals: "ON"}`, "{signal: GW_IgnitionStatus.IgnitionState, equals: RUN}", 1)
		}, `ecus\[1\]\.preconditions\[1\]\.equals: signal IgnitionState: "RUN" is neither a number nor one of its values`),
		Entry("negative precondition timeout", func(s string) string {
			return strings.Replace(s, "{signal: VehicleSpeed, max: 0}", "{signal: VehicleSpeed, max: 0, timeout: -1s}", 1)
		}, `ecus\[1\]\.preconditions\[0\]\.timeout: -1s is negative`),
		Entry("preconditions_wait on a Secondary", func(s string) string {
			return strings.Replace(s, "    preconditions: [", "    preconditions_wait: 30s\n    preconditions: [", 1)
		}, `ecus\[1\]\.preconditions_wait: only the Primary waits for a Secondary's preconditions`),
		Entry("negative preconditions_wait", func(s string) string {
			return strings.Replace(s, "    role: primary\n", "    role: primary\n    preconditions_wait: -1s\n", 1)
		}, `ecus\[0\]\.preconditions_wait: -1s is negative`),
		Entry("unknown checksum algorithm", func(s string) string { return strings.Replace(s, "algorithm: xor", "algorithm: sum", 1) },
			`unknown algorithm "sum"`),
	)
})
