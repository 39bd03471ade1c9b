package scenarios_test

import (
	"fmt"
	"net"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/scenarios"
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// dutRig is a wall-clock rig whose ECM-0001 runs outside the runner
// (process: external) on a virtual bus: the spec serves it itself, as
// another process would, and the runner reaches it only over the bus.
func dutRig(port int) *rigs.Rig {
	GinkgoHelper()
	r, err := rigs.Parse("dut-spec.yaml", []byte(fmt.Sprintf(`
name: dut-spec
seed: 7
clock: wall
buses:
  - {name: powertrain, kind: virtual, bitrate: 500000}
backend: {mode: embedded, listen: "127.0.0.1:%d"}
vehicle: {vin: UPTHIL00000000001}
ecus:
  - {id: TCU-0001, hardware_id: tcu-v1, role: primary, buses: [powertrain]}
  - {id: ECM-0001, hardware_id: ecm-v3, role: secondary, profile: full, bus: powertrain, process: external}
  - {id: BRK-0001, hardware_id: brk-v2, role: secondary, profile: partial, bus: powertrain}
`, port)))
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
}

// newBench starts ECM-0001 as a Secondary of its own (vehicle.StartSecondary,
// what `uptane-hil ecu` runs) with the given profile; it provisions itself
// from the backend the first DUT run serves on backend.listen.
func newBench(p check.Profile) *bench {
	GinkgoHelper()
	b := &bench{rig: dutRig(freePort()), state: GinkgoT().TempDir(), runs: GinkgoT().TempDir()}
	var err error
	b.buses, err = vehicle.OpenBuses(b.rig, clock.NewWall(), 7)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(vehicle.CloseBuses, b.buses)
	started := make(chan *vehicle.SecondaryProcess, 1)
	failed := make(chan error, 1)
	go func() {
		defer GinkgoRecover()
		sp, err := vehicle.StartSecondary(vehicle.ProcessOptions{Rig: b.rig, ECU: "ECM-0001", Dir: filepath.Join(GinkgoT().TempDir(), "ecm"),
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
	return b
}

func (b *bench) play(files ...string) []scenarios.Result {
	GinkgoHelper()
	var out []scenarios.Result
	for _, f := range files {
		s, err := scenarios.Load(f)
		Expect(err).NotTo(HaveOccurred())
		rs, err := s.Run(scenarios.RunOptions{Rig: b.rig, Dir: b.runs, DUT: &scenarios.DUT{ECU: "ECM-0001", State: b.state, Buses: b.buses}})
		Expect(err).NotTo(HaveOccurred(), f)
		out = append(out, rs...)
	}
	return out
}

var _ = Describe("a DUT run", Label("dut"), func() {
	It("judges a conformant DUT defended through a forwarding Primary, and the twin's control compromised", func() {
		b := newBench(check.Conformant)
		rs := b.play("arbitrary-software-image.yaml", "freeze-director-timestamp.yaml", "rollback-first-update.yaml")
		for _, r := range rs {
			GinkgoWriter.Printf("%s %s %s %s %v %s\n", r.Scenario, r.Target, r.Observed, r.Detected, r.Pass, r.Detail)
		}
		Expect(rs).To(HaveLen(6))
		Expect(rs[0].Target).To(Equal(scenarios.OnDUT))
		Expect(rs[0].Observed).To(Equal(scenarios.Defended))
		Expect(rs[0].Pass).To(BeTrue(), rs[0].Detail)
		Expect(rs[0].Identity).NotTo(BeNil())
		Expect(rs[0].Identity.ECU).To(Equal("ECM-0001"))
		Expect(rs[1].Target).To(Equal(scenarios.Twin))
		Expect(rs[1].Observed).To(Equal(scenarios.Compromised))
		Expect(rs[1].Pass).To(BeTrue())
		Expect(rs[2].Pass).To(BeTrue(), rs[2].Detail)
		Expect(rs[3].Pass).To(BeTrue(), rs[3].Detail)
		Expect(rs[4].Observed).To(Equal(scenarios.NotApplicable))
		Expect(rs[4].Detail).To(ContainSubstring("needs a factory-fresh ECU"))
		Expect(rs[5].Target).To(Equal(scenarios.Twin))
	})
})
