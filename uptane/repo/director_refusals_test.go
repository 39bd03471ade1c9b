package repo_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/uptane/manifest"
)

var _ = Describe("Director: programming refusals in a manifest", func() {
	It("keeps them in the manifest's record, shows a given-up ECU as refused beside its installed image, and the next manifest without one clears it", func() {
		f := newFixture()
		with := func(nonce byte, counter uint64, rs ...manifest.Refusal) []byte {
			GinkgoHelper()
			sm, err := manifest.SignManifest(manifest.VehicleManifest{VIN: "VIN1", PrimaryID: "PRI-1",
				Reports:  []manifest.SignedReport{f.report("PRI-1", nonce, counter), f.report("SEC-1", nonce, counter)},
				Refusals: rs}, f.ecus["PRI-1"].sign)
			Expect(err).NotTo(HaveOccurred())
			b, err := sm.Encode()
			Expect(err).NotTo(HaveOccurred())
			return b
		}
		gaveUp := manifest.Refusal{ECUSerial: "SEC-1", Step: "send image", NRC: 0x22, Conditions: "VehicleSpeed is 50 km/h", WaitedMillis: 120000, Outcome: manifest.RefusalGaveUp}
		rec, err := f.d.ReceiveManifest("VIN1", with(1, 1, gaveUp))
		Expect(err).NotTo(HaveOccurred())
		Expect(rec.Refusals).To(Equal([]manifest.Refusal{gaveUp}))
		inst, err := f.d.Installed("VIN1")
		Expect(err).NotTo(HaveOccurred())
		Expect(inst["SEC-1"].Filename).To(Equal("old.bin"), "the ECU's own report still says what it runs")
		Expect(inst["SEC-1"].Refused).To(Equal(&gaveUp))
		Expect(inst["PRI-1"].Refused).To(BeNil())

		resumed := gaveUp
		resumed.Outcome = manifest.RefusalResumed
		_, err = f.d.ReceiveManifest("VIN1", with(2, 2, resumed))
		Expect(err).NotTo(HaveOccurred())
		inst, err = f.d.Installed("VIN1")
		Expect(err).NotTo(HaveOccurred())
		Expect(inst["SEC-1"].Refused).To(BeNil(), "a refusal the update got past is history (the record), not the ECU's state")
		recs, err := f.d.Records("VIN1")
		Expect(err).NotTo(HaveOccurred())
		Expect(recs).To(HaveLen(2))
		Expect(recs[1].Refusals[0].Outcome).To(Equal(manifest.RefusalResumed))
	})
})
