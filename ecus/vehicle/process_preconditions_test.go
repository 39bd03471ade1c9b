package vehicle_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/link"
	"github.com/uptane-hil/uptane-hil/ecus/pouf"
	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/uds"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/restbus"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// awakeWallRig is wallRig with a network that never sleeps (as
// rigs/vcan-restbus.yaml): each ECU in "its own process".
func awakeWallRig() *rigs.Rig {
	GinkgoHelper()
	src, err := os.ReadFile("../../rigs/virtual.yaml")
	Expect(err).NotTo(HaveOccurred())
	s := strings.Replace(string(src), "clock: simulated", "clock: wall", 1)
	s = strings.ReplaceAll(s, "sleep_after: 2s", "sleep_after: 0s")
	// a stale timeout a loaded host does not reach between two frames (as
	// rigs/vcan-restbus.yaml has it)
	s = strings.Replace(s, `{signal: VehicleSpeed, max: 0}, {signal: IgnitionState, equals: "ON"}`,
		`{signal: VehicleSpeed, max: 0, timeout: 2s}, {signal: IgnitionState, equals: "ON", timeout: 2s}`, 1)
	s = strings.ReplaceAll(s, "    role: secondary\n", "    role: secondary\n    process: external\n")
	r, err := rigs.Parse("../../rigs/wall-virtual.yaml", []byte(s))
	Expect(err).NotTo(HaveOccurred())
	return r
}

var _ = Describe("an ECU in its own process with programming preconditions (uptane-hil ecu)", func() {
	It("says in its log which precondition it checks end to end (e2e: true)", func() {
		src, err := os.ReadFile("../../rigs/virtual.yaml")
		Expect(err).NotTo(HaveOccurred())
		y := strings.Replace(string(src), "{signal: VehicleSpeed, max: 0}", "{signal: VehicleSpeed, max: 0, e2e: true}", 1)
		r, err := rigs.Parse("../../rigs/e2e-virtual.yaml", []byte(y))
		Expect(err).NotTo(HaveOccurred())
		Expect(vehicle.PreconditionsText(r, r.ECU("ECM-0001"))).To(Equal(
			"programming preconditions VehicleSpeed <= 0 (ESC_WheelSpeeds 0xa0, stale after 500ms, end-to-end check (alive counter ESC_WheelSpeeds_Alive, crc8-j1850 ESC_WheelSpeeds_CRC): " +
				"a frame that fails it is discarded, the signal invalid until 2 good frames in a row); IgnitionState = 2 (ON) (GW_IgnitionStatus 0x100, stale after 500ms), read from bus powertrain"))
	})

	It("reads them off its bus as the in-process ECU does: refuses while a signal was never seen, while the car drives, and when the signal goes stale; installs once parked; DID 0xF1A9 and its log say why", func() {
		r := awakeWallRig()
		r.Primary().PreconditionsWait = 1500 * time.Millisecond
		wall := clock.NewWall()
		out := GinkgoT().TempDir()
		be, url, buses := servedBackendQuiet(r, wall, out) // no rest-bus yet: a silent bench
		Expect(be.Publish(2)).To(Succeed())
		var mu sync.Mutex
		var log []string
		logged := func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), log...) }
		opts := func(id string) vehicle.ProcessOptions {
			return vehicle.ProcessOptions{Rig: r, ECU: id, Dir: filepath.Join(out, "ecu", id), Backend: url, Clock: wall, Buses: buses,
				Log: func(s string) { mu.Lock(); log = append(log, id+": "+s); mu.Unlock() }}
		}
		for _, e := range r.Secondaries() {
			p, err := vehicle.StartSecondary(opts(e.ID))
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(p.Close)
		}
		Expect(vehicle.PreconditionsText(r, r.ECU("ECM-0001"))).To(Equal(
			"programming preconditions VehicleSpeed <= 0 (ESC_WheelSpeeds 0xa0, stale after 2s); IgnitionState = 2 (ON) (GW_IgnitionStatus 0x100, stale after 2s), read from bus powertrain"))
		pp, err := vehicle.StartPrimary(opts(r.Primary().ID))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(pp.Close)
		var ecm *pouf.Client
		for _, s := range pp.Config.Secondaries {
			if s.ID == "ECM-0001" {
				ecm = s.Link.(*link.Pouf).C
			}
		}
		unmet := func() string {
			s, err := ecm.UnmetConditions()
			Expect(err).NotTo(HaveOccurred())
			return s
		}

		By("a silent bus: never seen is unmet, and the ECU says so")
		Expect(unmet()).To(ContainSubstring("ESC_WheelSpeeds.VehicleSpeed not seen on the bus (want VehicleSpeed <= 0)"))
		Expect(logged()).To(ContainElement(HavePrefix("ECM-0001: programming refused: conditions not met: ESC_WheelSpeeds.VehicleSpeed not seen on the bus")))
		rep, verdict := pp.Cycle()
		Expect(verdict.OK).To(BeFalse())
		o := rep.ECUs["ECM-0001"]
		Expect(o.Status).NotTo(Equal(primary.Installed))
		Expect(o.Refusal).NotTo(BeNil())
		Expect(o.Refusal.Conditions).To(ContainSubstring("not seen on the bus"))
		Expect(rep.ECUs["BRK-0001"].Status).To(Equal(primary.Installed), "a Secondary without preconditions updates")

		By("the rest of the car on the bus, driving")
		// driving from the rest-bus's first frame on (set after Start, the
		// first frames may carry the start value 0 on the wall clock)
		rbs := runRestbusFrom(r, wall, buses, func(bus string, rb *restbus.Restbus) {
			if bus == "powertrain" {
				Expect(rb.Set("ESC_WheelSpeeds", "VehicleSpeed", 5000)).To(Succeed())
			}
		})
		Eventually(unmet).Should(ContainSubstring("VehicleSpeed is 50 km/h (want VehicleSpeed <= 0)"))
		Expect(logged()).To(ContainElement("ECM-0001: ESC_WheelSpeeds.VehicleSpeed first seen on the bus: 50 km/h"))
		rep, _ = pp.Cycle()
		o = rep.ECUs["ECM-0001"]
		Expect(o.Status).NotTo(Equal(primary.Installed))
		Expect(o.Refusal.Conditions).To(ContainSubstring("VehicleSpeed is 50 km/h"))
		Expect(o.Err).To(MatchError(ContainSubstring("conditionsNotCorrect")))

		By("parked: it installs, a whole image")
		Expect(rbs["powertrain"].Set("ESC_WheelSpeeds", "VehicleSpeed", 0)).To(Succeed())
		Eventually(unmet).Should(BeEmpty())
		rep, verdict = pp.Cycle()
		Expect(rep.ECUs["ECM-0001"].Status).To(Equal(primary.Installed), "%v", rep.ECUs["ECM-0001"].Err)
		Expect(verdict.OK).To(BeTrue(), "%+v", verdict)
		Expect(logged()).To(ContainElement("ECM-0001: programming preconditions hold"))

		By("the ESC falls silent: its last value goes stale")
		rbs["powertrain"].Stop()
		Eventually(unmet, 5*time.Second).Should(ContainSubstring("ESC_WheelSpeeds.VehicleSpeed stale: no frame for"))
		Expect(logged()[len(logged())-1]).To(HavePrefix("ECM-0001: programming refused: conditions not met: ESC_WheelSpeeds.VehicleSpeed stale"))
	})

	It("a control ECU without "+check.PoufProgrammingPreconditions.String()+" does not read them: DID 0xF1A9 answers NRC 0x31 (it declares none), and it updates on a silent bus", func() {
		r := awakeWallRig()
		wall := clock.NewWall()
		out := GinkgoT().TempDir()
		be, url, buses := servedBackendQuiet(r, wall, out)
		Expect(be.Publish(2)).To(Succeed())
		opts := func(id string) vehicle.ProcessOptions {
			return vehicle.ProcessOptions{Rig: r, ECU: id, Dir: filepath.Join(out, "ecu", id), Backend: url, Clock: wall, Buses: buses}
		}
		for _, e := range r.Secondaries() {
			o := opts(e.ID)
			if e.ID == "ECM-0001" {
				o.Profile = check.Without(check.PoufProgrammingPreconditions)
			}
			p, err := vehicle.StartSecondary(o)
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(p.Close)
		}
		pp, err := vehicle.StartPrimary(opts(r.Primary().ID))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(pp.Close)
		for _, s := range pp.Config.Secondaries {
			if s.ID == "ECM-0001" {
				_, err := s.Link.(*link.Pouf).C.UnmetConditions()
				Expect(uds.IsNRC(err, uds.RequestOutOfRange)).To(BeTrue(), "NRC 0x31: it declares none: %v", err)
			}
		}
		rep, verdict := pp.Cycle()
		Expect(rep.ECUs["ECM-0001"].Refusal).To(BeNil())
		Expect(verdict.OK).To(BeTrue(), "%+v", verdict)
	})
})
