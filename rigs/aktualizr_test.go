package rigs_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/rigs"
)

var _ = Describe("aktualizr-ip Secondaries in a rig", func() {
	It("loads rigs/aktualizr.yaml: an aktualizr-secondary over TCP beside a UDS Secondary on CAN", func() {
		r, err := rigs.Load("aktualizr.yaml")
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Clock).To(Equal(rigs.WallClock))
		var akt *rigs.ECU
		for i := range r.ECUs {
			if r.ECUs[i].ID == "AKT-0001" {
				akt = &r.ECUs[i]
			}
		}
		Expect(akt).NotTo(BeNil())
		Expect(akt.Protocol).To(Equal(rigs.AktualizrIP))
		Expect(akt.Process).To(Equal(rigs.AktualizrSecondary))
		Expect(akt.Address).To(Equal("127.0.0.1:9061"))
		Expect(akt.Aktualizr).To(Equal(rigs.AktualizrECU{Verification: "full", KeyType: "ED25519"}))
		Expect(r.ECUs[1].Protocol).To(Equal(rigs.UDS), "the default protocol")
	})

	DescribeTable("names the field of a broken aktualizr-ip ECU",
		func(edit func(string) string, want string) {
			data, err := readFile("aktualizr.yaml")
			Expect(err).NotTo(HaveOccurred())
			_, err = rigs.Parse("rigs/broken.yaml", []byte(edit(data)))
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(MatchRegexp(want))
		},
		Entry("unknown protocol", func(s string) string { return strings.Replace(s, "protocol: aktualizr-ip", "protocol: doip", 1) },
			`ecus\[2\]\.protocol: "doip" is not one of uds, aktualizr-ip$`),
		Entry("no address", func(s string) string { return strings.Replace(s, "address: 127.0.0.1:9061", "", 1) },
			`ecus\[2\]\.address: "": an aktualizr-ip Secondary needs its TCP address, host:port$`),
		Entry("bad port", func(s string) string { return strings.Replace(s, ":9061", ":99999", 1) },
			`ecus\[2\]\.address: .*port "99999" is not 1\.\.65535$`),
		Entry("aktualizr-secondary on a bus", func(s string) string {
			return strings.Replace(s, "address: 127.0.0.1:9061", "bus: powertrain", 1)
		}, `ecus\[2\]\.process: aktualizr-ip over ISO-TP is served by our own Secondaries`),
		Entry("aktualizr-secondary under the simulated clock", func(s string) string { return strings.Replace(s, "clock: wall", "clock: simulated", 1) },
			`ecus\[2\]\.process: aktualizr-secondary judges expiry by its system clock`),
		Entry("a backend key aktualizr cannot verify", func(s string) string {
			return strings.Replace(s, "  mode: embedded", "  mode: embedded\n  key_types: {image: ecdsa-sha2-nistp256}", 1)
		}, `backend\.key_types\.image: "ecdsa-sha2-nistp256": aktualizr-secondary AKT-0001 verifies ed25519 and RSA signatures only`),
		Entry("unknown verification", func(s string) string { return strings.Replace(s, "verification: full", "verification: partial", 1) },
			`ecus\[2\]\.aktualizr\.verification: "partial" is not one of full, tuf`),
		Entry("unknown aktualizr key type", func(s string) string { return strings.Replace(s, "key_type: ED25519", "key_type: ECDSA", 1) },
			`ecus\[2\]\.aktualizr\.key_type: "ECDSA" is not one of ED25519, RSA2048, RSA3072, RSA4096`),
		Entry("aktualizr-secondary over UDS", func(s string) string { return strings.Replace(s, "    protocol: aktualizr-ip\n", "", 1) },
			`ecus\[2\]\.process: aktualizr-secondary speaks aktualizr-ip`),
		Entry("an address on a UDS ECU", func(s string) string {
			return strings.Replace(s, "    bus: powertrain\n  - id: AKT", "    bus: powertrain\n    address: 127.0.0.1:1\n  - id: AKT", 1)
		}, `ecus\[1\]\.address: only an aktualizr-ip Secondary has an address`),
	)
})
