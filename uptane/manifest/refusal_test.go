package manifest_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
)

var _ = Describe("programming refusals in the vehicle manifest", func() {
	refused := manifest.Refusal{ECUSerial: "SEC-1", Step: "send image", NRC: 0x22,
		Conditions: "conditions not met: VehicleSpeed is 50 km/h (want VehicleSpeed <= 0)", WaitedMillis: 20000, Outcome: manifest.RefusalGaveUp}

	resign := func(m manifest.VehicleManifest) []byte {
		GinkgoHelper()
		_, pri, _ := build(keys.Ed25519)
		sm, err := manifest.SignManifest(m, pri)
		Expect(err).NotTo(HaveOccurred())
		data, err := sm.Encode()
		Expect(err).NotTo(HaveOccurred())
		return data
	}

	It("are signed with the manifest and round-trip; a manifest without any omits the field", func() {
		sm, pri, _ := build(keys.Ed25519)
		plain, _ := sm.Encode()
		Expect(string(plain)).NotTo(ContainSubstring("programming_refusals"))
		m := sm.Signed
		m.Refusals = []manifest.Refusal{refused}
		got, err := manifest.ParseManifest(resign(m), 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Verify(pri.Public())).To(Succeed())
		Expect(got.Signed.Refusals).To(Equal([]manifest.Refusal{refused}))
	})

	DescribeTable("are parsed strictly",
		func(edit func(*manifest.Refusal), want string) {
			sm, _, _ := build(keys.Ed25519)
			m := sm.Signed
			r := refused
			edit(&r)
			m.Refusals = []manifest.Refusal{r}
			_, err := manifest.ParseManifest(resign(m), 0)
			Expect(err).To(MatchError(ContainSubstring(want)))
		},
		Entry("no ECU", func(r *manifest.Refusal) { r.ECUSerial = "" }, "programming_refusals[0]: field ecu_serial is empty"),
		Entry("no step", func(r *manifest.Refusal) { r.Step = "" }, "field step is empty"),
		Entry("an unknown outcome", func(r *manifest.Refusal) { r.Outcome = "maybe" }, `outcome "maybe" is not resumed or gave-up`),
		Entry("a negative wait", func(r *manifest.Refusal) { r.WaitedMillis = -1 }, "waited_ms -1 is negative"),
	)
})
