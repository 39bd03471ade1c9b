package rigs_test

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/rigs"
)

var _ = Describe("rig files", func() {
	It("loads the shipped virtual rig: a Primary and four Secondaries, two full and two partial, on two buses", func() {
		r, err := rigs.Load("virtual.yaml")
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Clock).To(Equal(rigs.Simulated))
		Expect(r.Primary().ID).To(Equal("TCU-0001"))
		profiles := map[string]int{}
		buses := map[string]bool{}
		for _, s := range r.Secondaries() {
			profiles[s.Profile]++
			buses[s.Bus] = true
		}
		Expect(profiles).To(Equal(map[string]int{"full": 2, "partial": 2}))
		Expect(buses).To(HaveLen(2))
		Expect(r.IsTimed(r.Bus("powertrain"))).To(BeTrue())
		Expect(r.ECU("ECM-0001").ISOTP.Request).To(Equal(uint32(0x7E0)))
		Expect(r.ECU("BRK-0001").ISOTP.Request).To(Equal(uint32(0x7E1)))
		Expect(r.Bus("body").DataBitrate).To(Equal(2_000_000))
	})

	It("loads the vcan and bench rigs on wall-clock time", func() {
		for _, f := range []string{"vcan.yaml", "bench-example.yaml"} {
			r, err := rigs.Load(f)
			Expect(err).NotTo(HaveOccurred(), f)
			Expect(r.Clock).To(Equal(rigs.WallClock))
			Expect(r.Buses[0].Kind).To(Equal(rigs.SocketCAN))
		}
	})

	DescribeTable("names file, line and field of a broken rig",
		func(edit func(string) string, want string) {
			data, err := readFile("virtual.yaml")
			Expect(err).NotTo(HaveOccurred())
			_, err = rigs.Parse("broken.yaml", []byte(edit(data)))
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(MatchRegexp(want))
		},
		Entry("unknown profile", func(s string) string { return strings.Replace(s, "profile: partial", "profile: fulll", 1) },
			`^broken\.yaml:\d+:\d+: ecus\[2\]\.profile: "fulll" is not one of full, partial$`),
		Entry("unknown field", func(s string) string { return strings.Replace(s, "bitrate: 500000 ", "bitrat: 500000 ", 1) },
			`^broken\.yaml:10:5: buses\[0\]\.bitrat: unknown field`),
		Entry("bus that does not exist", func(s string) string { return strings.Replace(s, "bus: powertrain", "bus: chassis", 1) },
			`ecus\[1\]\.bus: no bus named "chassis"`),
		Entry("bad hex id", func(s string) string { return strings.Replace(s, "request: 0x7E0", "request: 0xZZ", 1) },
			`:\d+:\d+: ecus\[3\]\.isotp\.request: "0xZZ" is not a non-negative integer`),
		Entry("id reused on a bus", func(s string) string { return strings.Replace(s, "request: 0x7E1", "request: 0x7E0", 1) },
			`ecus\[4\]\.isotp\.request: CAN id 0x7e0 on bus "body" is already used by BCM-0001`),
		Entry("FD ISO-TP on a classic bus", func(s string) string {
			return strings.Replace(s, "profile: partial\n    bus: powertrain", "profile: partial\n    bus: powertrain\n    isotp: {fd: true}", 1)
		}, `ecus\[2\]\.isotp\.fd: bus "powertrain" is not a CAN FD bus`),
		Entry("the kernel's ISO-TP on a virtual bus", func(s string) string {
			return strings.Replace(s, "profile: partial\n    bus: powertrain", "profile: partial\n    bus: powertrain\n    isotp: {stack: kernel}", 1)
		}, `^broken\.yaml:\d+:\d+: ecus\[2\]\.isotp\.stack: the kernel's can-isotp needs a SocketCAN bus; BRK-0001 is on bus "powertrain" \(virtual\): use stack: uptane-hil there$`),
		Entry("an unknown ISO-TP stack", func(s string) string {
			return strings.Replace(s, "profile: partial\n    bus: powertrain", "profile: partial\n    bus: powertrain\n    isotp: {stack: linux}", 1)
		}, `ecus\[2\]\.isotp\.stack: "linux" is not one of uptane-hil, kernel$`),
		Entry("two Primaries", func(s string) string { return strings.Replace(s, "role: secondary", "role: primary", 1) },
			`ecus\[1\]\.(bus|buses)`),
		Entry("not YAML", func(s string) string { return s + "\n  - : [" }, `^broken\.yaml:\d+(:\d+)?: not valid YAML`),
		Entry("a string where a list belongs", func(s string) string { return strings.Replace(s, "buses: [powertrain, body]", "buses: powertrain", 1) },
			`ecus\[0\]\.buses: want a list, found "powertrain"`),
		Entry("unknown ECU key type", func(s string) string {
			return strings.Replace(s, "hardware_id: ecm-v3", "hardware_id: ecm-v3\n    key_type: rsa-1024", 1)
		}, `ecus\[1\]\.key_type: "rsa-1024" is not one of ed25519, ecdsa, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, rsa, rsa-3072, rsa-4096$`),
		Entry("unknown repository key type", func(s string) string {
			return strings.Replace(s, "mode: embedded ", "key_types: {director: rsa, image: dsa}\n  mode: embedded ", 1)
		}, `backend\.key_types\.image: "dsa" is not one of ed25519, `),
		Entry("socketcan under the simulated clock", func(s string) string {
			return strings.Replace(s, "kind: virtual\n    bitrate: 500000          # classic", "kind: socketcan\n    interface: vcan0\n    bitrate: 500000          # classic", 1)
		}, `clock: a rig with socketcan buses runs on wall-clock time`),
		Entry("power without an off command", withPower("{on: 'true'}"),
			`^broken\.yaml:\d+:\d+: ecus\[1\]\.power\.off: missing: the shell command that cuts ECM-0001's power$`),
		Entry("power without an on command", withPower("{off: 'true', on: ' '}"),
			`^broken\.yaml:\d+:\d+: ecus\[1\]\.power\.on: missing: the shell command that restores ECM-0001's power$`),
		Entry("an unknown cut point", withPower("{off: 'true', on: 'true', cut_at: [transfer, flash]}"),
			`^broken\.yaml:\d+:\d+: ecus\[1\]\.power\.cut_at\[1\]: "flash" is not one of transfer, install, reset$`),
		Entry("a cut point twice", withPower("{off: 'true', on: 'true', cut_at: [reset, reset]}"),
			`ecus\[1\]\.power\.cut_at\[1\]: "reset" is listed twice$`),
		Entry("a power timeout too long", withPower("{off: 'true', on: 'true', timeout: 1h}"),
			`ecus\[1\]\.power\.timeout: 1h0m0s is outside 0..10m0s$`),
		Entry("an unknown power field", withPower("{off: 'true', on: 'true', cycle: 'true'}"),
			`ecus\[1\]\.power\.cycle: unknown field`),
		Entry("a DUT on a virtual bus", func(s string) string {
			return strings.Replace(s, "hardware_id: ecm-v3", "hardware_id: ecm-v3\n    process: external\n    dut: true", 1)
		}, `^broken\.yaml:\d+:\d+: ecus\[1\]\.dut: the device under test is reached over a SocketCAN bus; ECM-0001 is on bus "powertrain" \(virtual\)$`),
		Entry("a DUT the harness runs", func(s string) string {
			return strings.Replace(s, "hardware_id: ecm-v3", "hardware_id: ecm-v3\n    dut: true", 1)
		}, `ecus\[1\]\.dut: the device under test is a Secondary the harness does not run: give ECM-0001 process: external or physical$`),
		Entry("the Primary as DUT", func(s string) string {
			return strings.Replace(s, "hardware_id: tcu-v1", "hardware_id: tcu-v1\n    dut: true", 1)
		}, `ecus\[0\]\.dut: the device under test is a Secondary; TCU-0001 is the Primary, which the harness plays$`),
		Entry("power on the Primary", func(s string) string {
			return strings.Replace(s, "hardware_id: tcu-v1", "hardware_id: tcu-v1\n    power: {off: 'true', on: 'true'}", 1)
		}, `ecus\[0\]\.power: only a Secondary's power can be switched`),
	)

	It("marks one Secondary on a SocketCAN bus as the device under test, and refuses a second", func() {
		data, err := readFile("vcan.yaml")
		Expect(err).NotTo(HaveOccurred())
		r, err := rigs.Parse("rigs/dut.yaml", []byte(strings.Replace(data, "hardware_id: brk-v2", "hardware_id: brk-v2\n    dut: true", 1)))
		Expect(err).NotTo(HaveOccurred())
		Expect(r.DUT()).NotTo(BeNil())
		Expect(r.DUT().ID).To(Equal("BRK-0001"))
		r, err = rigs.Load("vcan.yaml")
		Expect(err).NotTo(HaveOccurred())
		Expect(r.DUT()).To(BeNil())
		two := strings.Replace(strings.Replace(data, "hardware_id: brk-v2", "hardware_id: brk-v2\n    dut: true", 1), "hardware_id: ecm-v3", "hardware_id: ecm-v3\n    dut: true", 1)
		_, err = rigs.Parse("rigs/dut.yaml", []byte(two))
		Expect(err).To(MatchError(MatchRegexp(`^rigs/dut\.yaml:\d+:\d+: ecus\[2\]\.dut: ECM-0001 is marked as the device under test already; a rig has one$`)))
	})

	It("takes a Secondary's power commands, with every cut point and a 10 s timeout by default", func() {
		data, err := readFile("virtual.yaml")
		Expect(err).NotTo(HaveOccurred())
		r, err := rigs.Parse("rigs/power.yaml", []byte(withPower("{off: 'relay 1 off', on: 'relay 1 on'}")(data)))
		Expect(err).NotTo(HaveOccurred())
		p := r.ECU("ECM-0001").Power
		Expect(p).NotTo(BeNil())
		Expect(p.Off).To(Equal("relay 1 off"))
		Expect(p.On).To(Equal("relay 1 on"))
		Expect(p.Timeout).To(Equal(rigs.DefaultPowerTimeout))
		Expect(p.CutAt).To(Equal(rigs.PowerPoints))
		Expect(r.ECU("BRK-0001").Power).To(BeNil())
		Expect(r.ECU("BRK-0001").Power.Cuts(rigs.CutReset)).To(BeFalse())

		r, err = rigs.Parse("rigs/power.yaml", []byte(withPower("{off: 'x', on: 'y', timeout: 2s, cut_at: [install]}")(data)))
		Expect(err).NotTo(HaveOccurred())
		p = r.ECU("ECM-0001").Power
		Expect(p.Timeout).To(Equal(2 * time.Second))
		Expect(p.Cuts(rigs.CutInstall)).To(BeTrue())
		Expect(p.Cuts(rigs.CutTransfer)).To(BeFalse())
	})

	It("takes key types for the embedded repositories and the ECUs", func() {
		data, err := readFile("virtual.yaml")
		Expect(err).NotTo(HaveOccurred())
		data = strings.Replace(data, "mode: embedded ", "key_types: {director: rsa, image: ecdsa-sha2-nistp384}\n  mode: embedded ", 1)
		data = strings.Replace(data, "hardware_id: ecm-v3", "hardware_id: ecm-v3\n    key_type: rsa-4096", 1)
		r, err := rigs.Parse("keys.yaml", []byte(data))
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Backend.KeyTypes).To(Equal(rigs.RepoKeyTypes{Director: "rsa", Image: "ecdsa-sha2-nistp384"}))
		Expect(r.ECU("ECM-0001").KeyType).To(Equal("rsa-4096"))
		Expect(r.ECU("BRK-0001").KeyType).To(Equal("ed25519"))
	})

	It("reports a missing file with its name", func() {
		_, err := rigs.Load("no-such-rig.yaml")
		Expect(err).To(MatchError(ContainSubstring("no-such-rig.yaml")))
	})
})

var _ = Describe("a physical ECU's own key", func() {
	bench := func(edit func(string) string) (*rigs.Rig, error) {
		GinkgoHelper()
		data, err := readFile("bench-example.yaml")
		Expect(err).NotTo(HaveOccurred())
		return rigs.Parse("rigs/bench.yaml", []byte(edit(data)))
	}
	const key = "\n    public_key: {keytype: ed25519, scheme: ed25519, public: 3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29}"

	It("is read from public_key in TUF's key format", func() {
		r, err := bench(func(s string) string {
			return strings.Replace(s, "process: physical          # a real ECU: uptane-hil only talks to it", "process: physical"+key, 1)
		})
		Expect(err).NotTo(HaveOccurred())
		k := r.ECU("SUPPLIER-ECU-01").PublicKey.Key()
		Expect(k.Type).To(Equal("ed25519"))
		id, err := k.ID()
		Expect(err).NotTo(HaveOccurred())
		Expect(id).To(HaveLen(64))
	})

	It("is refused on an ECU uptane-hil runs, and incomplete, naming the field", func() {
		_, err := bench(func(s string) string { return strings.Replace(s, "buses: [bench]", "buses: [bench]"+key, 1) })
		Expect(err).To(MatchError(MatchRegexp(`^rigs/bench\.yaml:\d+:\d+: ecus\[0\]\.public_key: only a physical ECU brings its own key`)))
		_, err = bench(func(s string) string {
			return strings.Replace(s, "process: physical          # a real ECU: uptane-hil only talks to it", "process: physical\n    public_key: {keytype: ed25519}", 1)
		})
		Expect(err).To(MatchError(MatchRegexp(`ecus\[1\]\.public_key: needs keytype, scheme and public`)))
		_, err = bench(func(s string) string {
			return strings.Replace(s, "process: physical          # a real ECU: uptane-hil only talks to it", "process: physical\n    public_key: {keytype: rsa, scheme: rsassa-pss-sha256, public: abcd}", 1)
		})
		Expect(err).To(MatchError(MatchRegexp(`ecus\[1\]\.public_key: keys: keytype rsa: public key is not PEM`)))
	})
})
