package scenarios_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/scenarios"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/events"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// supply is the spec's power supply of a DUT it serves itself: the rig's
// power: commands write "off" or "on" to a FIFO and wait for the spec's
// acknowledgement on another. Off cuts the ECU at its next crash point
// (its store writes nothing more, its handler dies as at a cut) and
// closes its channel; on boots it again from its state directory.
type supply struct {
	ctl, ack string
	mu       sync.Mutex
	sp       *vehicle.SecondaryProcess
	powered  atomic.Bool
	start    func() (*vehicle.SecondaryProcess, error)
	switches []string
}

func newSupply(dir string) *supply {
	GinkgoHelper()
	s := &supply{ctl: filepath.Join(dir, "ctl"), ack: filepath.Join(dir, "ack")}
	Expect(syscall.Mkfifo(s.ctl, 0o600)).To(Succeed())
	Expect(syscall.Mkfifo(s.ack, 0o600)).To(Succeed())
	return s
}

// commands are the rig's power: entry.
func (s *supply) commands() string {
	return fmt.Sprintf(`{off: "echo off > %s && cat %s", on: "echo on > %s && cat %s"}`, s.ctl, s.ack, s.ctl, s.ack)
}

func (s *supply) crash(point string) {
	if !s.powered.Load() {
		panic(store.Crash{Point: point})
	}
}

// serve answers the commands until "quit".
func (s *supply) serve() {
	defer GinkgoRecover()
	for {
		f, err := os.Open(s.ctl) // blocks until a command writes
		Expect(err).NotTo(HaveOccurred())
		line, _ := bufio.NewReader(f).ReadString('\n')
		f.Close()
		cmd := strings.TrimSpace(line)
		if cmd == "quit" {
			return
		}
		s.mu.Lock()
		s.switches = append(s.switches, cmd)
		switch cmd {
		case "off":
			s.powered.Store(false)
			if s.sp != nil {
				s.sp.Close()
				s.sp = nil
			}
		case "on":
			s.powered.Store(true)
			sp, err := s.start()
			Expect(err).NotTo(HaveOccurred())
			s.sp = sp
		}
		s.mu.Unlock()
		a, err := os.OpenFile(s.ack, os.O_WRONLY, 0)
		Expect(err).NotTo(HaveOccurred())
		fmt.Fprintln(a, "ok")
		a.Close()
	}
}

func (s *supply) stop() {
	if f, err := os.OpenFile(s.ctl, os.O_WRONLY, 0); err == nil {
		fmt.Fprintln(f, "quit")
		f.Close()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sp != nil {
		s.sp.Close()
	}
}

// powerBench is ECM-0001 as a DUT with the spec's supply, served on the
// rig's wall-clock bus; without power the rig has no power: entry and the
// DUT is never started (no DUT run serves the backend it provisions from).
func powerBench(power bool) (*bench, *supply, string) {
	GinkgoHelper()
	port := freePort()
	sup := newSupply(GinkgoT().TempDir())
	pw := ""
	if power {
		pw = ", power: " + sup.commands()
	}
	r := wallRig("dut-power", 7, "powertrain", "UPTHIL00000000001", port,
		"{id: TCU-0001, hardware_id: tcu-v1, role: primary, buses: [powertrain]}",
		"{id: ECM-0001, hardware_id: ecm-v3, role: secondary, profile: full, bus: powertrain, process: external"+pw+"}")
	b := &bench{rig: r, state: GinkgoT().TempDir(), runs: GinkgoT().TempDir(), dut: "ECM-0001"}
	var err error
	b.buses, err = vehicle.OpenBuses(r, clock.NewWall(), 7)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(vehicle.CloseBuses, b.buses)
	dir := filepath.Join(GinkgoT().TempDir(), "ecm")
	sup.start = func() (*vehicle.SecondaryProcess, error) {
		return vehicle.StartSecondary(vehicle.ProcessOptions{Rig: r, ECU: "ECM-0001", Dir: dir, Buses: b.buses, Clock: clock.NewWall(),
			Profile: check.Conformant, Crash: sup.crash})
	}
	sup.powered.Store(true)
	go sup.serve()
	DeferCleanup(sup.stop)
	if !power {
		return b, sup, dir // no DUT run will serve the backend it provisions from
	}
	// the first start provisions itself from the backend the first run
	// serves: in the background, as the supply's first "on"
	go func() {
		defer GinkgoRecover()
		sp, err := sup.start()
		Expect(err).NotTo(HaveOccurred())
		sup.mu.Lock()
		sup.sp = sp
		sup.mu.Unlock()
	}()
	return b, sup, dir
}

var _ = Describe("power cuts on a device under test", Label("dut"), func() {
	It("switches the DUT off with the rig's power: commands at the seeded point and on again; it boots a whole image and installs in the next cycle", func() {
		b, sup, dir := powerBench(true)
		rs := b.play("power-loss-transfer.yaml", "power-loss-install.yaml", "power-loss-reset.yaml")
		Expect(rs).To(HaveLen(6))
		for i := 0; i < len(rs); i += 2 {
			dut, twin := rs[i], rs[i+1]
			Expect(dut.Target).To(Equal(scenarios.OnDUT))
			Expect(dut.Pass).To(BeTrue(), "%s on the DUT: %s", dut.Scenario, dut.Detail)
			Expect(dut.Observed).To(Equal(scenarios.Defended))
			Expect(dut.Detected).To(Equal(check.InstallImageAtomic.String()))
			Expect(twin.Target).To(Equal(scenarios.Twin))
			Expect(twin.Observed).To(Equal(scenarios.Compromised), "%s twin: %s", twin.Scenario, twin.Detail)
			var cut bool
			GinkgoWriter.Printf("%s on the DUT: %s wall\n", dut.Scenario, dut.Wall)
			for _, e := range dut.Events {
				if e.Kind != events.Transfer {
					GinkgoWriter.Printf("  %s %v %s %s %s\n", e.Time.Format("15:04:05.000"), e.Kind, e.ECU, e.Label, e.Err)
				}
				cut = cut || strings.HasPrefix(e.Label, "power cut: the DUT ECM-0001 lost its power at ")
			}
			Expect(cut).To(BeTrue(), "%s: the cut landed", dut.Scenario)
		}
		sup.mu.Lock()
		Expect(sup.switches).To(Equal([]string{"off", "on", "off", "on", "off", "on"}))
		sup.mu.Unlock()
		// what the DUT holds: a whole image, the last release assigned
		st, err := store.Open(dir, "ECM-0001", nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(st.ActiveWhole()).To(BeTrue())
	})

	It("is not applicable without a power: supply, and the twin's control still runs", func() {
		b, sup, _ := powerBench(false)
		rs := b.play("power-loss-install.yaml")
		Expect(rs).To(HaveLen(2))
		Expect(rs[0].Observed).To(Equal(scenarios.NotApplicable))
		Expect(rs[0].Detail).To(Equal("the rig gives ECU ECM-0001 no power: supply"))
		Expect(rs[1].Target).To(Equal(scenarios.Twin))
		Expect(rs[1].Observed).To(Equal(scenarios.Compromised))
		sup.mu.Lock()
		Expect(sup.switches).To(BeEmpty())
		sup.mu.Unlock()
	})
})
