package vehicle_test

import (
	"fmt"
	"os"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/secondary"
	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

const victim = "ECM-0001"

// cutter counts the victim's crash points once it is armed and cuts the
// power at the n-th (n = 0: never), or at the first point match accepts.
type cutter struct {
	armed bool
	n     int
	match func(point string) bool
	seen  []string
	cut   string
	// clk, when set, gives the simulated time of the cut (at); then, when
	// set, runs just before the cut (on the victim's actor).
	clk  clock.Clock
	at   time.Time
	then func()
}

func (c *cutter) crash(ecu string) store.CrashFunc {
	if ecu != victim {
		return nil
	}
	return func(point string) {
		if !c.armed || c.cut != "" {
			return
		}
		c.seen = append(c.seen, point)
		if len(c.seen) == c.n || (c.match != nil && c.match(point)) {
			c.cut = point
			if c.clk != nil {
				c.at = c.clk.Now()
			}
			if c.then != nil {
				c.then()
			}
			panic(store.Crash{Point: point})
		}
	}
}

// runDir is a fresh state directory (backend and ECUs) for one run of a
// power-loss spec, and the function that removes it. It lies on tmpfs
// (/dev/shm) when the host has one: power loss is modelled with crash points
// (a cut unwinds the ECU; the page cache is never lost), so fsync latency
// tests nothing here and would cost these hundreds of runs minutes of wall
// time. Elsewhere it is a temporary directory on disk.
func runDir() (string, func()) {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "uptane-hil-powerloss-"); err == nil {
			return dir, func() { os.RemoveAll(dir) }
		}
	}
	return GinkgoT().TempDir(), func() {}
}

// phase names the part of an update cycle a crash point of the victim
// belongs to.
func phase(point string) string {
	switch {
	case strings.HasPrefix(point, "transfer:"):
		return "transfer" // a file arriving over the bus
	case strings.HasPrefix(point, "meta:trusted/"), strings.HasPrefix(point, "verify-"), strings.HasPrefix(point, "attack:"):
		return "verify" // metadata or image verification
	case strings.HasPrefix(point, "install:"):
		return "install" // slot write and switch
	case strings.HasPrefix(point, "boot:"), strings.HasPrefix(point, "state:"):
		return "reset" // the boot after ECUReset
	default:
		return "cycle" // nonce, time and version report state
	}
}

// wholeImage checks the victim after a power-up: its active slot holds a
// whole image, the genuine bytes of release 1 or 2. It returns the release.
func wholeImage(v *vehicle.Vehicle, cut string) uint64 {
	GinkgoHelper()
	e := v.Secondary(victim).Current()
	Expect(e).NotTo(BeNil(), "%s runs after the power-up (cut at %s)", victim, cut)
	img, data, err := e.ActiveImage()
	Expect(err).NotTo(HaveOccurred())
	Expect(meta.CheckHashes(data, img.Length, img.Hashes)).To(Succeed(), "a whole image after a cut at %s", cut)
	inst, err := v.Installed(victim)
	rc, name := inst.Release, inst.Name
	Expect(err).NotTo(HaveOccurred())
	Expect(inst.Genuine).To(BeTrue(), "the genuine bytes of %s after a cut at %s", name, cut)
	Expect(rc).To(BeElementOf(uint64(1), uint64(2)), fmt.Sprintf("after a cut at %s", cut))
	return rc
}

// powerOn powers the victim on after a cut: a reboot from its state
// directory, by direct calls or on its bus.
func powerOn(v *vehicle.Vehicle, cut string) {
	GinkgoHelper()
	s := v.Secondary(victim)
	if s.BusNode != nil {
		Expect(s.BusNode.PowerOn()).To(Succeed(), "boot after a cut at %s", cut)
		return
	}
	Expect(s.Link.(*secondary.Direct).Reset()).To(Succeed(), "boot after a cut at %s", cut)
}

// updatesAgain runs a campaign of release 3 (for the ECUs given, all when
// none) and checks that the victim installs it.
func updatesAgain(v *vehicle.Vehicle, cut string, ecus ...string) {
	GinkgoHelper()
	rep, err := v.Campaign(3, ecus...)
	Expect(err).NotTo(HaveOccurred())
	Expect(rep.ECUs[victim].Status).To(Equal(primary.Installed), "campaign after a cut at %s: %v", cut, rep.ECUs[victim].Err)
	inst, err := v.Installed(victim)
	rc := inst.Release
	Expect(err).NotTo(HaveOccurred())
	Expect(rc).To(Equal(uint64(3)))
}

var _ = Describe("power loss on a Secondary during an update", func() {
	It("boots a whole image and updates again after a power cut at any of 100 seeded points of a campaign", Label("std:install_image#1", "std:metadata_verification#5"), func() {
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
				dir, remove := runDir()
				defer remove()
				c := &cutter{n: n}
				v := build(sim, vehicle.Options{Dir: dir, Crash: c.crash})
				c.armed = true
				_, err := v.Campaign(2)
				Expect(err).NotTo(HaveOccurred())
				Expect(c.cut).NotTo(BeEmpty(), "point %d of %d did not cut the power", n, total)
				// Power cycle: the ECU boots from its directory.
				c.armed = false
				powerOn(v, c.cut)
				if wholeImage(v, c.cut) == 1 {
					old++
				} else {
					installedNew++
				}
				// A later campaign succeeds.
				updatesAgain(v, c.cut)
			})
		}
		Expect(old).To(BeNumerically(">", 0), "some cuts came before the switch of slots")
		Expect(installedNew).To(BeNumerically(">", 0), "some cuts came after the switch of slots")
	})
})

var _ = Describe("power loss mid-install, then the same campaign", func() {
	It("the next cycle installs the assigned image although the Director signed nothing new (no new updates: the verified update resumes), by direct calls and over the bus", Label("std:send_metadata_primary#3"), func() {
		for _, overBus := range []bool{false, true} {
			for _, point := range []string{"install:slot-a:before", "install:slot-a:after", "install:switch:before"} {
				within(func(sim *clock.Sim) {
					c := &cutter{match: func(p string) bool { return p == point }}
					reach := vehicle.DirectByRig
					if overBus {
						reach = vehicle.ByRig
					}
					v := build(sim, vehicle.Options{Reach: reach, Crash: c.crash})
					c.armed = true
					rep, err := v.Campaign(2)
					Expect(err).NotTo(HaveOccurred())
					Expect(c.cut).To(Equal(point))
					Expect(rep.ECUs[victim].Status).NotTo(Equal(primary.Installed))
					c.armed = false
					powerOn(v, c.cut)
					old, err := v.Installed(victim)
					Expect(err).NotTo(HaveOccurred())
					Expect(old.Release).To(Equal(uint64(1)), "cut at %s: the old image", point)
					// the same assignment, no new Director metadata
					rep = v.Cycle()
					Expect(rep.Err).NotTo(HaveOccurred())
					Expect(rep.Stopped).To(Equal("no new updates"))
					Expect(rep.ECUs[victim].Status).To(Equal(primary.Installed), "after a cut at %s (over the bus: %v): %v", point, overBus, rep.ECUs[victim].Err)
					now, _ := v.Installed(victim)
					Expect(now.Release).To(Equal(uint64(2)))
					Expect(now.Genuine).To(BeTrue())
					Expect(vehicle.Judge(rep, v.Primary.Director()).OK).To(BeTrue())
					inst, err := v.Director.Installed(v.Rig.Vehicle.VIN)
					Expect(err).NotTo(HaveOccurred())
					Expect(inst[victim].Filename).To(Equal(vehicle.ImageName("ecm-v3", 2)))
				})
			}
		}
	})
})
