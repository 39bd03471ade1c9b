package vehicle_test

import (
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
)

var _ = Describe("the Director's inventory", func() {
	It("holds a physical ECU's own key (the rig's public_key) and the seed's keys for the others", Label("std:build_time#5"), func() {
		own, err := keys.Generate(keys.Ed25519, seed.Seed(99).Reader("a supplier's ECU"))
		Expect(err).NotTo(HaveOccurred())
		pub := own.Public()
		src, err := os.ReadFile("../../rigs/bench-example.yaml")
		Expect(err).NotTo(HaveOccurred())
		s := strings.Replace(string(src), "process: physical          # a real ECU: uptane-hil only talks to it",
			"process: physical\n    public_key: {keytype: "+pub.Type+", scheme: "+pub.Scheme+", public: "+pub.Value.PublicKey+"}", 1)
		r, err := rigs.Parse("bench.yaml", []byte(s))
		Expect(err).NotTo(HaveOccurred())
		v, err := vehicle.NewBackend(vehicle.Options{Rig: r, Dir: filepath.Join(GinkgoT().TempDir(), "repo"), Clock: clock.NewWall()})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(v.Close)
		inv, err := v.Director.Vehicle(r.Vehicle.VIN)
		Expect(err).NotTo(HaveOccurred())
		got := map[string]string{}
		for _, e := range inv.ECUs {
			got[e.ID] = e.KeyID
		}
		Expect(got).To(HaveKeyWithValue("SUPPLIER-ECU-01", own.KeyID()))
		Expect(got).To(HaveKeyWithValue("TCU-BENCH", v.ECUKeys["TCU-BENCH"].KeyID()))
		Expect(got["SUPPLIER-ECU-01"]).NotTo(Equal(v.ECUKeys["SUPPLIER-ECU-01"].KeyID()))
	})
})
