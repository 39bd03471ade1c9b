package scenarios_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/scenarios"
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// dutRig is a wall-clock rig whose ECM-0001 and BRK-0001 run outside the
// runner (process: external) on a virtual bus (the one that is not the DUT
// the runner plays in this process): the spec serves it itself, as
// another process would, and the runner reaches it only over the bus.
func dutRig(port int) *rigs.Rig {
	GinkgoHelper()
	return wallRig("dut-spec", 7, "powertrain", "UPTHIL00000000001", port,
		"{id: TCU-0001, hardware_id: tcu-v1, role: primary, buses: [powertrain]}",
		"{id: ECM-0001, hardware_id: ecm-v3, role: secondary, profile: full, bus: powertrain, process: external}",
		"{id: BRK-0001, hardware_id: brk-v2, role: secondary, profile: partial, bus: powertrain, process: external}")
}

// wallRig parses a rig of the DUT specs: the wall clock, one virtual bus,
// the embedded backend on port, and the ECUs given as YAML flow mappings.
func wallRig(name string, seed int, bus, vin string, port int, ecus ...string) *rigs.Rig {
	GinkgoHelper()
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\nseed: %d\nclock: wall\nbuses:\n  - {name: %s, kind: virtual, bitrate: 500000}\n", name, seed, bus)
	fmt.Fprintf(&b, "backend: {mode: embedded, listen: \"127.0.0.1:%d\"}\nvehicle: {vin: %s}\necus:\n", port, vin)
	for _, e := range ecus {
		fmt.Fprintf(&b, "  - %s\n", e)
	}
	r, err := rigs.Parse(name+".yaml", []byte(b.String()))
	Expect(err).NotTo(HaveOccurred())
	return r
}

func freePort() int {
	GinkgoHelper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// bench is a DUT on the spec's bench: the rig, its wall-clock bus, the
// DUT serving on it from its own state directory, and the state directory
// of the harness.
type bench struct {
	rig   *rigs.Rig
	buses map[string]can.Bus
	state string
	runs  string
	dut   string
	wait  time.Duration // how long each scenario waits for the DUT (0: the default)
	// dutOnly plays the DUT's runs only, not the twin's controls
	// (RunOptions.ConformantOnly)
	dutOnly bool
}

// newBench starts the DUT (ECM-0001 unless named) as a Secondary of its own
// (vehicle.StartSecondary, what `uptane-hil ecu` runs) with the given
// profile; it provisions itself from the backend the first DUT run serves
// on backend.listen.
func newBench(p check.Profile, dut ...string) *bench {
	GinkgoHelper()
	b := &bench{rig: dutRig(freePort()), state: GinkgoT().TempDir(), runs: GinkgoT().TempDir(), dut: "ECM-0001"}
	if len(dut) > 0 {
		b.dut = dut[0]
	}
	b.start(p)
	return b
}

// supplierRig is rigs/bench-example.yaml on a wall-clock virtual bus: one
// external Secondary, SUPPLIER-ECU-01, which no scenario names.
func supplierRig(port int, profile string) *rigs.Rig {
	GinkgoHelper()
	return wallRig("supplier-spec", 1, "bench", "BENCH000000000001", port,
		"{id: TCU-BENCH, hardware_id: tcu-v1, role: primary, buses: [bench]}",
		"{id: SUPPLIER-ECU-01, hardware_id: supplier-hw-a, role: secondary, profile: "+profile+", bus: bench, process: external}")
}

// newSupplierBench is a bench with SUPPLIER-ECU-01 as the DUT; started
// unless p is nil (a DUT that never answers).
func newSupplierBench(profile string, p *check.Profile) *bench {
	GinkgoHelper()
	b := &bench{rig: supplierRig(freePort(), profile), state: GinkgoT().TempDir(), runs: GinkgoT().TempDir(), dut: "SUPPLIER-ECU-01"}
	if p != nil {
		b.start(*p)
		return b
	}
	var err error
	b.buses, err = vehicle.OpenBuses(b.rig, clock.NewWall(), 7)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(vehicle.CloseBuses, b.buses)
	return b
}

func (b *bench) start(p check.Profile) {
	GinkgoHelper()
	var err error
	b.buses, err = vehicle.OpenBuses(b.rig, clock.NewWall(), 7)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(vehicle.CloseBuses, b.buses)
	started := make(chan *vehicle.SecondaryProcess, 1)
	failed := make(chan error, 1)
	go func() {
		defer GinkgoRecover()
		sp, err := vehicle.StartSecondary(vehicle.ProcessOptions{Rig: b.rig, ECU: b.dut, Dir: filepath.Join(GinkgoT().TempDir(), "ecm"),
			Buses: b.buses, Clock: clock.NewWall(), Profile: p})
		if err != nil {
			failed <- err
			return
		}
		started <- sp
	}()
	DeferCleanup(func() {
		select {
		case sp := <-started:
			sp.Close()
		case err := <-failed:
			Fail(err.Error())
		default:
		}
	})
}

func (b *bench) play(files ...string) []scenarios.Result {
	GinkgoHelper()
	var out []scenarios.Result
	for _, f := range files {
		s, err := scenarios.Load(f)
		Expect(err).NotTo(HaveOccurred())
		rs, err := s.Run(scenarios.RunOptions{Rig: b.rig, Dir: b.runs, DUT: &scenarios.DUT{ECU: b.dut, State: b.state, Buses: b.buses, Wait: b.wait}, ConformantOnly: b.dutOnly})
		Expect(err).NotTo(HaveOccurred(), f)
		out = append(out, rs...)
	}
	return out
}

// dutResults splits a DUT run's results: the DUT's (OnDUT) and the twin's.
func dutResults(rs []scenarios.Result) (dut, tw []scenarios.Result) {
	for _, r := range rs {
		switch r.Target {
		case scenarios.OnDUT:
			dut = append(dut, r)
		case scenarios.Twin:
			tw = append(tw, r)
		default:
			Fail(r.Scenario + ": a DUT run's result is for the DUT or its twin")
		}
	}
	return dut, tw
}

var _ = Describe("a DUT run", Label("dut"), func() {
	suite := []string{"arbitrary-software-image.yaml", "freeze-director-timestamp.yaml", "rollback-image-release-counter.yaml", "rollback-first-update.yaml"}

	It("passes twice in a row on the same DUT, planning releases, versions and time that only go up", func() {
		b := newBench(check.Conformant)
		var all []scenarios.Result
		for run := 1; run <= 2; run++ {
			rs := b.play(suite...)
			dut, tw := dutResults(rs)
			Expect(dut).To(HaveLen(len(suite)))
			Expect(tw).To(HaveLen(len(suite)))
			for _, r := range tw {
				Expect(r.Observed).To(Equal(scenarios.Compromised), "run %d: %s: the twin's control", run, r.Scenario)
				Expect(r.Pass).To(BeTrue())
				Expect(r.Applicability).NotTo(BeEmpty())
			}
			for _, r := range dut[:3] {
				Expect(r.Observed).To(Equal(scenarios.Defended), "run %d: %s: %s", run, r.Scenario, r.Detail)
				Expect(r.Pass).To(BeTrue(), "run %d: %s: %s", run, r.Scenario, r.Detail)
				Expect(r.Identity).NotTo(BeNil())
				Expect(r.Identity.ECU).To(Equal("ECM-0001"))
				Expect(r.Identity.HardwareID).To(Equal("ecm-v3"))
				Expect(r.Identity.Profile).To(Equal("full"))
				Expect(r.Identity.KeyID).NotTo(BeEmpty())
			}
			// rollback-first-update needs a factory-fresh ECU: not
			// applicable, with the reason, and its twin still runs
			na := dut[3]
			Expect(na.Observed).To(Equal(scenarios.NotApplicable))
			Expect(na.Expected).To(Equal(scenarios.NotApplicable))
			Expect(na.Pass).To(BeFalse())
			Expect(na.Detail).To(ContainSubstring("needs a factory-fresh ECU"))
			Expect(na.Detail).To(ContainSubstring("setup.before_factory"))
			all = append(all, dut[:3]...)
		}
		// The Primary forwarded what it would have refused: the DUT's own
		// checks, over the bus, stopped the replaced image and the frozen
		// timestamp.
		Expect(all[0].Detected).To(Equal("verify_image.hashes"))
		Expect(all[0].Detail).To(ContainSubstring("pouf: ECM-0001: verify image (0xFF11) failed: verify_image.hashes"))
		Expect(all[1].Detected).To(Equal("check_timestamp.expiry"))
		Expect(all[1].Detail).To(ContainSubstring("pouf: ECM-0001: verify metadata (0xFF10) failed: check_timestamp.expiry"))
		// What the DUT reports before each scenario only goes up: its
		// installed release and its attested time (two 48 h freezes later).
		for i := 1; i < len(all); i++ {
			prev, cur := all[i-1].Identity, all[i].Identity
			Expect(cur.Release).To(BeNumerically(">=", prev.Release), "%s after %s", all[i].Scenario, all[i-1].Scenario)
			Expect(cur.Time.Before(prev.Time)).To(BeFalse(), "%s after %s", all[i].Scenario, all[i-1].Scenario)
		}
		Expect(all[5].Identity.Release).To(BeNumerically(">", all[0].Identity.Release))
		for i := 0; i+1 < len(all); i++ {
			Expect(all[i].After).NotTo(BeNil())
			Expect(all[i+1].Identity.Release).To(Equal(all[i].After.Release), "what the DUT runs after %s is what the next scenario finds", all[i].Scenario)
			Expect(all[i].After.Time.Before(all[i].Identity.Time)).To(BeFalse())
		}
		Expect(all[5].Identity.Time.Sub(all[0].Identity.Time)).To(BeNumerically(">=", 48*time.Hour))
		st, err := os.ReadFile(filepath.Join(b.state, "dut-clock.json"))
		Expect(err).NotTo(HaveOccurred())
		var cs struct{ Offset time.Duration }
		Expect(json.Unmarshal(st, &cs)).To(Succeed())
		Expect(cs.Offset).To(BeNumerically(">=", 96*time.Hour), "two freezes advanced the harness's clock 48 h each")
	})

	It("refuses a DUT that is not the rig's ECU, naming what it says and what the rig says", func() {
		b := newBench(check.Conformant)
		other := *b.rig
		other.ECUs = append([]rigs.ECU(nil), b.rig.ECUs...)
		other.ECUs[1].Profile = rigs.Partial // the rig expects a partial-verification ECM-0001
		s, err := scenarios.Load("rollback-image-release-counter.yaml")
		Expect(err).NotTo(HaveOccurred())
		_, err = s.Play(scenarios.RunOptions{Rig: &other, Dir: b.runs, DUT: &scenarios.DUT{ECU: "ECM-0001", State: b.state, Buses: b.buses}}, false)
		Expect(err).To(MatchError(ContainSubstring("ECM-0001 reports full verification on the bus; the rig says profile: partial")))
	})

	It("catches a DUT without a defence: exactly its scenario fails, naming the missing check", func() {
		b := newBench(check.Without(check.VerifyImageHashes))
		dut, tw := dutResults(b.play(suite[:2]...))
		Expect(dut[0].Scenario).To(Equal("arbitrary-software-image"))
		Expect(dut[0].Observed).To(Equal(scenarios.Compromised))
		Expect(dut[0].Pass).To(BeFalse())
		Expect(dut[0].Detail).To(ContainSubstring("the DUT did not perform verify_image.hashes (the defence of arbitrary-software-image)"))
		Expect(dut[1].Observed).To(Equal(scenarios.Defended))
		Expect(dut[1].Pass).To(BeTrue(), dut[1].Detail)
		for _, r := range tw {
			Expect(r.Pass).To(BeTrue(), r.Scenario)
		}
	})

	It("catches a partial-verification DUT without its Secondary-only version checks, and names them", func() {
		b := newBench(check.Without(check.TargetsVersion, check.VerifyImageReleaseCounter), "BRK-0001")
		dut, tw := dutResults(b.play("rollback-director-metadata.yaml", "compromised-primary-forged-metadata.yaml"))
		Expect(dut[0].Observed).To(Equal(scenarios.Compromised), dut[0].Detail)
		Expect(dut[0].Detail).To(ContainSubstring("the DUT did not perform check_targets.version or verify_image.release_counter"))
		Expect(dut[1].Observed).To(Equal(scenarios.Defended), dut[1].Detail)
		Expect(dut[1].Detected).To(Equal("check_targets.signatures"))
		for _, r := range tw {
			Expect(r.Pass).To(BeTrue(), r.Scenario)
		}
	})

	// The replayed session's requests come at their recorded pace, right
	// after the two campaigns it needs: played at once, they found the
	// DUT's request rate limit still spent, were answered busy, and the DUT
	// never judged the replayed metadata (a failure of the whole suite on
	// the partial DUT in CI). The attacker lets the bus rest first.
	It("replays a logged update session to a partial DUT that judges it by its version check, not by its rate limit, every time", func() {
		b := newBench(check.Conformant, "BRK-0001")
		b.dutOnly = true
		for i := 1; i <= 3; i++ {
			dut, _ := dutResults(b.play("bus-replay-session.yaml"))
			Expect(dut).To(HaveLen(1))
			Expect(dut[0].Observed).To(Equal(scenarios.Defended), "play %d: %s", i, dut[0].Detail)
			Expect(dut[0].Pass).To(BeTrue(), "play %d: %s", i, dut[0].Detail)
		}
	})

	It("plays the suite on a supplier's ECU no scenario names, in the place of the Secondary each judges, and catches a missing defence", func() {
		files := []string{"arbitrary-software-image.yaml", "freeze-director-timestamp.yaml", "bus-forged-image.yaml", "incompatible-image-director-breach.yaml"}
		conformant := check.Conformant
		b := newSupplierBench(rigs.Full, &conformant)
		dut, tw := dutResults(b.play(files...))
		Expect(dut).To(HaveLen(4))
		for _, r := range dut[:3] {
			Expect(r.ECU).To(Equal("SUPPLIER-ECU-01"))
			Expect(r.Observed).To(Equal(scenarios.Defended), "%s: %s", r.Scenario, r.Detail)
			Expect(r.Pass).To(BeTrue(), "%s: %s", r.Scenario, r.Detail)
			Expect(r.Identity.ECU).To(Equal("SUPPLIER-ECU-01"))
			Expect(r.Identity.HardwareID).To(Equal("supplier-hw-a"))
		}
		Expect(dut[0].Detail).To(ContainSubstring("pouf: SUPPLIER-ECU-01: verify image (0xFF11) failed: verify_image.hashes"))
		Expect(dut[2].Detected).To(Equal("verify_image.hashes"), "the attacker node on the bench bus forged the image")
		// a campaign of two ECUs: the bench has one
		Expect(dut[3].Observed).To(Equal(scenarios.NotApplicable))
		Expect(dut[3].Detail).To(ContainSubstring("which rig supplier-spec has not"))
		// the twin plays the retargeted scenarios: its control is compromised
		Expect(tw).To(HaveLen(3))
		for _, r := range tw {
			Expect(r.ECU).To(Equal("SUPPLIER-ECU-01"))
			Expect(r.Observed).To(Equal(scenarios.Compromised), r.Scenario)
			Expect(r.Pass).To(BeTrue(), r.Scenario)
		}

		vulnerable := check.Without(check.VerifyImageHashes)
		v := newSupplierBench(rigs.Full, &vulnerable)
		dut, _ = dutResults(v.play(files[0]))
		Expect(dut[0].Observed).To(Equal(scenarios.Compromised))
		Expect(dut[0].Pass).To(BeFalse())
		Expect(dut[0].Detail).To(ContainSubstring("the DUT did not perform verify_image.hashes (the defence of arbitrary-software-image)"))
	})

	It("fails only the scenario of a DUT that does not answer, and goes on with the next", func() {
		b := newSupplierBench(rigs.Full, nil)
		b.wait = 300 * time.Millisecond
		dut, _ := dutResults(b.play("arbitrary-software-image.yaml", "freeze-director-timestamp.yaml"))
		Expect(dut).To(HaveLen(2))
		for _, r := range dut {
			Expect(r.Observed).To(Equal(scenarios.DUTError), r.Scenario)
			Expect(r.Expected).To(Equal(scenarios.Defended))
			Expect(r.Pass).To(BeFalse())
			Expect(r.Detail).To(ContainSubstring("SUPPLIER-ECU-01"), r.Scenario)
			Expect(r.Applicability).To(HavePrefix("applicable"))
		}
	})
})
