package vehicle_test

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/link"
	"github.com/uptane-hil/uptane-hil/ecus/pouf"
	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/uds"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/seed"
)

// victimFrames counts the frames the victim puts on its bus after the cut.
func victimFrames(v *vehicle.Vehicle, c *cutter) *int {
	n := new(int)
	s := v.Secondary(victim)
	v.Buses[s.Rig.Bus].Tap(func(ev can.Event) {
		if ev.Sender == victim && c.cut != "" && ev.Time.After(c.at) {
			*n++
		}
	})
	return n
}

// tester speaks UDS to the victim on the Primary's channel, as a test
// bench would, to send an image file piece by piece.
type tester struct {
	u    *uds.Client
	path string
	data []byte
}

func newTester(v *vehicle.Vehicle) *tester {
	return &tester{u: v.Secondary(victim).Link.(*link.Pouf).C.UDS(),
		path: "image/" + vehicle.ImageName("ecm-v3", 2), data: make([]byte, 9001)}
}

// programming enters the programming session (through the extended one),
// which ends any open transfer.
func (t *tester) programming() {
	GinkgoHelper()
	_, _, err := t.u.StartSession(uds.ExtendedSession)
	Expect(err).NotTo(HaveOccurred())
	_, _, err = t.u.StartSession(uds.ProgrammingSession)
	Expect(err).NotTo(HaveOccurred())
}

// start announces the image with size bytes and returns the position the
// ECU continues from.
func (t *tester) start(mode uds.FileMode, size int) uint64 {
	GinkgoHelper()
	resp, err := t.u.FileTransfer(uds.FileRequest{Mode: mode, Path: t.path, Size: uint64(size), CompressedSize: uint64(size)})
	Expect(err).NotTo(HaveOccurred())
	return resp.Position
}

var _ = Describe("power loss on a Secondary during an update over the bus (UDS on ISO-TP)", func() {
	It("goes silent at a cut, is reported by the Primary, boots a whole image and updates again: 100 seeded cuts", Label("std:metadata_verification#5"), func() {
		// Probe: which crash points does the victim pass in a campaign?
		var points []string
		within(func(sim *clock.Sim) {
			c := &cutter{}
			v := build(sim, vehicle.Options{Reach: vehicle.ByRig, Crash: c.crash})
			c.armed = true
			rep, err := v.Campaign(2)
			Expect(err).NotTo(HaveOccurred())
			Expect(rep.ECUs[victim].Status).To(Equal(primary.Installed), "%v", rep.ECUs[victim].Err)
			points = c.seen
		})
		inPhase := map[string]int{}
		for _, p := range points {
			inPhase[phase(p)]++
		}
		Expect(inPhase["transfer"]).To(BeNumerically(">=", 10), "points %v", points)
		Expect(inPhase["install"]).To(BeNumerically(">=", 6), "points %v", points)
		Expect(inPhase["verify"]).To(BeNumerically(">", 0), "points %v", points)

		rnd := seed.Seed(42).Rand("power-loss-bus")
		hits := map[string]int{}
		old, installedNew := 0, 0
		var longest time.Duration
		start := time.Now()
		for i := 0; i < 100; i++ {
			n := 1 + rnd.IntN(len(points))
			within(func(sim *clock.Sim) {
				dir, remove := runDir()
				defer remove()
				c := &cutter{n: n, clk: sim}
				v := build(sim, vehicle.Options{Dir: dir, Reach: vehicle.ByRig, Crash: c.crash})
				after := victimFrames(v, c)
				c.armed = true
				rep, err := v.Campaign(2)
				Expect(err).NotTo(HaveOccurred())
				Expect(c.cut).To(Equal(points[n-1]), "the run replays the probe up to point %d", n)
				hits[phase(c.cut)]++

				// The ECU went silent and lost its RAM; the Primary timed
				// out, reported it and updated the others.
				node := v.Secondary(victim).BusNode
				Expect(node.Cut()).To(Equal(c.cut))
				Expect(node.ECU()).To(BeNil())
				Expect(*after).To(BeZero(), "the victim sent frames after the cut at %s", c.cut)
				o := rep.ECUs[victim]
				Expect(o.Status).NotTo(Equal(primary.Installed), "cut at %s", c.cut)
				Expect(o.Err).To(MatchError(ContainSubstring(victim)), "cut at %s", c.cut)
				for _, s := range v.Secondaries {
					if s.Rig.ID != victim {
						Expect(rep.ECUs[s.Rig.ID].Status).To(Equal(primary.Installed), "%s after %s's cut at %s: %v", s.Rig.ID, victim, c.cut, rep.ECUs[s.Rig.ID].Err)
					}
				}
				took := rep.Finished.Sub(rep.Started)
				Expect(took).To(BeNumerically("<", 5*time.Minute), "the Primary's cycle after a cut at %s", c.cut)
				longest = max(longest, took)

				// Power-up: a fresh ECU from its state directory.
				c.armed = false
				powerOn(v, c.cut)
				if wholeImage(v, c.cut) == 1 {
					old++
				} else {
					installedNew++
				}
				updatesAgain(v, c.cut, victim)
			})
		}
		var phases []string
		for p, k := range hits {
			phases = append(phases, fmt.Sprintf("%s %d", p, k))
		}
		sort.Strings(phases)
		fmt.Fprintf(GinkgoWriter, "%d crash points per campaign; cuts by phase: %s; old image %d, new image %d; longest cycle %s simulated; %s wall\n",
			len(points), strings.Join(phases, ", "), old, installedNew, longest, time.Since(start).Round(time.Millisecond))
		Expect(hits["transfer"]).To(BeNumerically(">", 0), "cuts in the transfer phase: %v", hits)
		Expect(hits["install"]).To(BeNumerically(">", 0), "cuts in the install phase: %v", hits)
		Expect(old).To(BeNumerically(">", 0), "some cuts came before the switch of slots")
		Expect(installedNew).To(BeNumerically(">", 0), "some cuts came after the switch of slots")
	})

	It("loses a partial transfer with the power: ResumeFile after the power-up answers filePosition 0, after a session change it continues", func() {
		within(func(sim *clock.Sim) {
			c := &cutter{clk: sim, match: func(p string) bool { return strings.HasSuffix(p, ":block@3000") }}
			v := build(sim, vehicle.Options{Reach: vehicle.ByRig, Crash: c.crash})
			after := victimFrames(v, c)
			t := newTester(v)
			t.programming()
			Expect(t.start(uds.ReplaceFile, 9000)).To(BeZero())
			_, err := t.u.TransferData(1, t.data[:3000])
			Expect(err).NotTo(HaveOccurred())
			// a new session ends the transfer; the ECU keeps what it got
			t.programming()
			Expect(t.start(uds.ResumeFile, 9000)).To(Equal(uint64(3000)))

			// the power goes while the next block arrives: no answer at all
			c.armed = true
			_, err = t.u.TransferData(1, t.data[3000:6000])
			var te *uds.TimeoutError
			Expect(errors.As(err, &te)).To(BeTrue(), "a timeout, not a negative response: %v", err)
			Expect(c.cut).To(Equal("transfer:" + t.path + ":block@3000"))
			Expect(v.Secondary(victim).BusNode.Cut()).To(Equal(c.cut))
			Expect(*after).To(BeZero(), "the victim sent frames after the cut")

			// power-up: the partial transfer went with the RAM
			c.armed = false
			Expect(v.Secondary(victim).BusNode.PowerOn()).To(Succeed())
			t.programming()
			Expect(t.start(uds.ResumeFile, 9000)).To(BeZero(), "nothing of the transfer survived the power cut")
		})
	})

	It("resumes a partial transfer only for the same path and size, and not after a new nonce", func() {
		within(func(sim *clock.Sim) {
			v := build(sim, vehicle.Options{Reach: vehicle.ByRig})
			t := newTester(v)
			cut := func(size int) {
				GinkgoHelper()
				t.programming()
				Expect(t.start(uds.ReplaceFile, size)).To(BeZero())
				_, err := t.u.TransferData(1, t.data[:3000])
				Expect(err).NotTo(HaveOccurred())
				t.programming() // ends the transfer
			}
			cut(9000)
			Expect(t.start(uds.ResumeFile, 9001)).To(BeZero(), "another size is another file")
			cut(9000)
			Expect(t.start(uds.ResumeFile, 9000)).To(Equal(uint64(3000)))
			cut(9000)
			Expect(t.start(uds.ReplaceFile, 9000)).To(BeZero())
			t.programming()
			Expect(t.start(uds.ResumeFile, 9000)).To(BeZero(), "ReplaceFile started the path over")
			cut(9000)
			Expect(v.Secondary(victim).Link.WriteNonce([]byte("a new cycle"))).To(Succeed())
			t.programming()
			Expect(t.start(uds.ResumeFile, 9000)).To(BeZero(), "a new nonce starts a new cycle")
		})
	})

	It("cuts the power between crash points with PowerOff: the Primary times out; PowerOn answers again, from disk", func() {
		within(func(sim *clock.Sim) {
			v := build(sim, vehicle.Options{Reach: vehicle.ByRig})
			s := v.Secondary(victim)
			Expect(s.BusNode.PowerOn()).To(MatchError(ContainSubstring("already powered")))
			s.BusNode.PowerOff()
			Expect(s.BusNode.Cut()).To(Equal("power-off"))
			Expect(s.Current()).To(BeNil())
			_, err := s.Link.Identity()
			var te *uds.TimeoutError
			Expect(errors.As(err, &te)).To(BeTrue(), "a timeout: %v", err)
			boots := func() uint64 { return s.Current().State().Boots }
			Expect(s.BusNode.PowerOn()).To(Succeed())
			Expect(s.BusNode.Cut()).To(BeEmpty())
			Expect(boots()).To(Equal(uint64(2)), "booted from its state directory again")
			id, err := s.Link.Identity()
			Expect(err).NotTo(HaveOccurred())
			Expect(id.ID).To(Equal(victim))
			updatesAgain(v, "power-off")
		})
	})

	It("does not install an image whose verified metadata went with the power: a glitch mid-image, the Primary resends, the ECU refuses", Label("std:in_vehicle#6", "std:verify_image#9"), func() {
		within(func(sim *clock.Sim) {
			var v *vehicle.Vehicle
			c := &cutter{clk: sim, match: func(p string) bool {
				return strings.HasPrefix(p, "transfer:image/") && strings.Contains(p, ":block@") && !strings.HasSuffix(p, ":block@0")
			}}
			// the power comes back 100 ms after the cut, while the Primary
			// still waits for the answer to that block
			c.then = func() {
				sim.Go("power back", func() {
					sim.Sleep(100 * time.Millisecond)
					Expect(v.Secondary(victim).BusNode.PowerOn()).To(Succeed())
				})
			}
			v = build(sim, vehicle.Options{Reach: vehicle.ByRig, Crash: c.crash})
			c.armed = true
			rep, err := v.Campaign(2)
			Expect(err).NotTo(HaveOccurred())
			Expect(c.cut).NotTo(BeEmpty())
			o := rep.ECUs[victim]
			Expect(o.Status).To(Equal(primary.Failed))
			var re *pouf.RoutineError
			Expect(errors.As(o.Err, &re)).To(BeTrue(), "%v", o.Err)
			Expect(re.Routine).To(Equal(pouf.RoutineVerifyImage))
			Expect(re.Detail).To(ContainSubstring("verify metadata first"))
			c.armed = false
			Expect(wholeImage(v, c.cut)).To(Equal(uint64(1)))
			updatesAgain(v, c.cut, victim)
		})
	})
})
