package vehicle_test

import (
	"errors"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// primaryCut cuts the Primary's power at the n-th crash point of the
// install of its own image (n = 0: never), counting them in seen.
type primaryCut struct {
	armed bool
	n     int
	seen  []string
	cut   string
}

func (c *primaryCut) crash(ecu string) store.CrashFunc {
	if ecu != pri {
		return nil
	}
	return func(point string) {
		if !c.armed || c.cut != "" || !strings.HasPrefix(point, "install:") {
			return
		}
		c.seen = append(c.seen, point)
		if len(c.seen) == c.n {
			c.cut = point
			panic(store.Crash{Point: point})
		}
	}
}

// cycleUntilCut runs a campaign of release 2 for the Primary, which loses
// power at a crash point: the panic unwinds it as a power cut would.
func cycleUntilCut(v *vehicle.Vehicle) (cut error) {
	defer func() {
		if r := recover(); r != nil {
			c, ok := r.(store.Crash)
			if !ok {
				panic(r)
			}
			cut = c
		}
	}()
	_, err := v.Campaign(2, pri)
	Expect(err).NotTo(HaveOccurred())
	return nil
}

var _ = Describe("power loss on the Primary while it installs its own image", Label("std:install_steps#2"), func() {
	It("boots a whole image (the old or the new) after a cut at every crash point of the install, and the next cycle installs the new one", func() {
		var total int
		within(func(sim *clock.Sim) {
			c := &primaryCut{}
			v := build(sim, vehicle.Options{Crash: c.crash})
			c.armed = true
			rep, err := v.Campaign(2, pri)
			Expect(err).NotTo(HaveOccurred())
			Expect(rep.Primary.Status).To(Equal(primary.Installed))
			total = len(c.seen)
		})
		Expect(total).To(BeNumerically(">=", 3), "slot write and switch")
		old, installedNew := 0, 0
		for n := 1; n <= total; n++ {
			within(func(sim *clock.Sim) {
				c := &primaryCut{n: n}
				v := build(sim, vehicle.Options{Crash: c.crash})
				c.armed = true
				err := cycleUntilCut(v)
				var crash store.Crash
				Expect(errors.As(err, &crash)).To(BeTrue(), "install point %d of %d cut the power", n, total)
				c.armed = false
				// power-on: the Primary boots from its state directory
				p, err := primary.Boot(v.PrimaryCfg)
				Expect(err).NotTo(HaveOccurred(), "boot after a cut at %s", c.cut)
				v.Primary = p
				img, data, err := p.ActiveImage()
				Expect(err).NotTo(HaveOccurred())
				Expect(meta.CheckHashes(data, img.Length, img.Hashes)).To(Succeed(), "a whole image after a cut at %s", c.cut)
				Expect(img.ReleaseCounter).To(BeElementOf(uint64(1), uint64(2)), "after a cut at %s", c.cut)
				if img.ReleaseCounter == 1 {
					old++
				} else {
					installedNew++
				}
				// the same assignment, no new Director metadata: the
				// verified update resumes (or finds the image installed)
				rep := v.Cycle()
				Expect(rep.Err).NotTo(HaveOccurred())
				Expect(rep.Primary.Err).NotTo(HaveOccurred())
				inst, err := v.Installed(pri)
				Expect(err).NotTo(HaveOccurred())
				Expect(inst.Release).To(Equal(uint64(2)), "after a cut at %s", c.cut)
				Expect(inst.Genuine).To(BeTrue())
			})
		}
		Expect(old).To(BeNumerically(">", 0), "some cuts came before the switch of slots")
		Expect(installedNew).To(BeNumerically(">", 0), "some cuts came after the switch of slots")
	})
})
