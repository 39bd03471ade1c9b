package vehicle_test

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/link"
	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

const victim = "ECM-0001"

// cutter counts the victim's crash points once it is armed and cuts the
// power at the n-th (n = 0: never).
type cutter struct {
	armed bool
	n     int
	seen  []string
	cut   string
}

func (c *cutter) crash(ecu string) store.CrashFunc {
	if ecu != victim {
		return nil
	}
	return func(point string) {
		if !c.armed {
			return
		}
		c.seen = append(c.seen, point)
		if len(c.seen) == c.n {
			c.cut = point
			panic(store.Crash{Point: point})
		}
	}
}

var _ = Describe("power loss on a Secondary during an update", func() {
	It("boots a whole image and updates again after a power cut at any of 100 seeded points of a campaign", func() {
		// Probe: how many crash points does the victim pass in a campaign?
		var total int
		within(func(sim *clock.Sim) {
			c := &cutter{}
			v := build(sim, vehicle.Options{Crash: c.crash})
			c.armed = true
			rep, err := v.Campaign(2)
			Expect(err).NotTo(HaveOccurred())
			Expect(rep.ECUs[victim].Status).To(Equal(primary.Installed))
			total = len(c.seen)
		})
		Expect(total).To(BeNumerically(">=", 10))
		rnd := seed.Seed(42).Rand("power-loss")
		old, installedNew := 0, 0
		for i := 0; i < 100; i++ {
			n := 1 + rnd.IntN(total)
			within(func(sim *clock.Sim) {
				c := &cutter{n: n}
				v := build(sim, vehicle.Options{Crash: c.crash})
				c.armed = true
				_, err := v.Campaign(2)
				Expect(err).NotTo(HaveOccurred())
				Expect(c.cut).NotTo(BeEmpty(), "point %d of %d did not cut the power", n, total)
				d := v.Secondary(victim).Link.(*link.Direct)
				// Power cycle: the ECU boots from its directory.
				c.armed = false
				Expect(d.Reset()).To(Succeed(), "boot after a cut at %s", c.cut)
				img, data, err := d.ECU.ActiveImage()
				Expect(err).NotTo(HaveOccurred())
				Expect(meta.CheckHashes(data, img.Length, img.Hashes)).To(Succeed(), "a whole image after a cut at %s", c.cut)
				rc, name, err := v.InstalledRelease(victim)
				Expect(err).NotTo(HaveOccurred())
				Expect(name).NotTo(ContainSubstring("unknown bytes"))
				Expect(rc).To(BeElementOf(uint64(1), uint64(2)), fmt.Sprintf("after a cut at %s", c.cut))
				if rc == 1 {
					old++
				} else {
					installedNew++
				}
				// A later campaign succeeds.
				rep, err := v.Campaign(3)
				Expect(err).NotTo(HaveOccurred())
				Expect(rep.ECUs[victim].Status).To(Equal(primary.Installed), "campaign after a cut at %s: %v", c.cut, rep.ECUs[victim].Err)
				rc, _, _ = v.InstalledRelease(victim)
				Expect(rc).To(Equal(uint64(3)))
			})
		}
		Expect(old).To(BeNumerically(">", 0), "some cuts came before the switch of slots")
		Expect(installedNew).To(BeNumerically(">", 0), "some cuts came after the switch of slots")
	})
})

var _ = Describe("power loss mid-install, then the same campaign", func() {
	It("the next cycle installs the assigned image although the Director signed nothing new (no new updates: the verified update resumes)", func() {
		for _, point := range []string{"install:slot-a:before", "install:slot-a:after", "install:switch:before"} {
			within(func(sim *clock.Sim) {
				armed, cut := false, ""
				v := build(sim, vehicle.Options{Crash: func(ecu string) store.CrashFunc {
					if ecu != victim {
						return nil
					}
					return func(p string) {
						if armed && p == point {
							cut = p
							panic(store.Crash{Point: p})
						}
					}
				}})
				armed = true
				rep, err := v.Campaign(2)
				Expect(err).NotTo(HaveOccurred())
				Expect(cut).To(Equal(point))
				Expect(rep.ECUs[victim].Status).NotTo(Equal(primary.Installed))
				armed = false
				d := v.Secondary(victim).Link.(*link.Direct)
				Expect(d.Reset()).To(Succeed())
				rc, _, err := v.InstalledRelease(victim)
				Expect(err).NotTo(HaveOccurred())
				Expect(rc).To(Equal(uint64(1)), "cut at %s: the old image", point)
				// the same assignment, no new Director metadata
				rep = v.Cycle()
				Expect(rep.Err).NotTo(HaveOccurred())
				Expect(rep.Stopped).To(Equal("no new updates"))
				Expect(rep.ECUs[victim].Status).To(Equal(primary.Installed), "after a cut at %s: %v", point, rep.ECUs[victim].Err)
				rc, _, _ = v.InstalledRelease(victim)
				Expect(rc).To(Equal(uint64(2)))
				Expect(vehicle.Judge(rep, v.Primary.Director()).OK).To(BeTrue())
				inst, err := v.Director.Installed(v.Rig.Vehicle.VIN)
				Expect(err).NotTo(HaveOccurred())
				Expect(inst[victim].Filename).To(Equal(vehicle.ImageName("ecm-v3", 2)))
			})
		}
	})
})
