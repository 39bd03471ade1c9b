package vehicle_test

import (
	"bytes"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/restbus"
)

// wallRig is the virtual rig on wall-clock time with every Secondary in
// "its own process": here goroutines of this process that share the
// in-process buses (the vcan specs of cmd/uptane-hil run real processes).
func wallRig() *rigs.Rig {
	GinkgoHelper()
	src, err := os.ReadFile("../../rigs/virtual.yaml")
	Expect(err).NotTo(HaveOccurred())
	s := strings.Replace(string(src), "clock: simulated", "clock: wall", 1)
	s = strings.ReplaceAll(s, "    role: secondary\n", "    role: secondary\n    process: external\n")
	r, err := rigs.Parse("../../rigs/wall-virtual.yaml", []byte(s))
	Expect(err).NotTo(HaveOccurred())
	return r
}

// servedBackend brings up r's backend in out/repo, serves it over HTTP on
// loopback, and opens r's buses for the ECU processes of a spec to share,
// with the rest of the car on them (the rig's rest-bus: ECM-0001 reads its
// programming preconditions there); each is closed when the spec ends.
func servedBackend(r *rigs.Rig, wall clock.Clock, out string) (*vehicle.Vehicle, string, map[string]can.Bus) {
	GinkgoHelper()
	be, url, buses := servedBackendQuiet(r, wall, out)
	runRestbus(r, wall, buses)
	return be, url, buses
}

// runRestbus runs the rest-bus of each bus of r that has one, as a
// harness does, until the spec ends.
func runRestbus(r *rigs.Rig, clk clock.Clock, buses map[string]can.Bus) map[string]*restbus.Restbus {
	GinkgoHelper()
	out := map[string]*restbus.Restbus{}
	for i := range r.Buses {
		cfg, ok := r.Buses[i].RestbusConfig()
		if !ok {
			continue
		}
		rb, err := restbus.New(cfg)
		Expect(err).NotTo(HaveOccurred())
		Expect(rb.Start(clk, buses[r.Buses[i].Name])).To(Succeed())
		DeferCleanup(rb.Stop)
		out[r.Buses[i].Name] = rb
	}
	return out
}

// servedBackendQuiet is servedBackend with silent buses: no rest-bus.
func servedBackendQuiet(r *rigs.Rig, wall clock.Clock, out string) (*vehicle.Vehicle, string, map[string]can.Bus) {
	GinkgoHelper()
	be, err := vehicle.NewBackend(vehicle.Options{Rig: r, Dir: filepath.Join(out, "repo"), Clock: wall})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(be.Close)
	srv := httptest.NewServer(be.Backend)
	DeferCleanup(srv.Close)
	buses, err := vehicle.OpenBuses(r, wall, be.Seed)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(vehicle.CloseBuses, buses)
	return be, srv.URL, buses
}

var _ = Describe("one ECU per process (ProcessOptions, wall clock, shared buses)", func() {
	It("provisions each ECU from the backend over HTTP, updates all four, and boots from the persisted state after a restart", Label("std:send_metadata_primary#3"), func() {
		r := wallRig()
		wall := clock.NewWall()
		out := GinkgoT().TempDir()
		be, url, buses := servedBackend(r, wall, out)
		Expect(be.Publish(2)).To(Succeed())

		opts := func(id string) vehicle.ProcessOptions {
			return vehicle.ProcessOptions{Rig: r, ECU: id, Dir: filepath.Join(out, "ecu", id), Backend: url, Clock: wall, Buses: buses}
		}
		secs := map[string]*vehicle.SecondaryProcess{}
		for _, e := range r.Secondaries() {
			p, err := vehicle.StartSecondary(opts(e.ID))
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Provisioned).To(BeTrue())
			Expect(p.Booted.Name).To(Equal(vehicle.ImageName(e.HardwareID, 1)))
			secs[e.ID] = p
		}
		// keys are secrets: 0600 in the ECU's state
		st, err := os.Stat(filepath.Join(out, "ecu", "IVI-0001", "keys", "ecu-enc.key"))
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Mode().Perm()).To(Equal(os.FileMode(0o600)))

		pp, err := vehicle.StartPrimary(opts(r.Primary().ID))
		Expect(err).NotTo(HaveOccurred())
		Expect(pp.Provisioned).To(BeTrue())
		rep, verdict := pp.Cycle()
		Expect(verdict.OK).To(BeTrue(), "%+v", verdict)
		inst, err := be.Director.Installed(r.Vehicle.VIN)
		Expect(err).NotTo(HaveOccurred())
		for _, e := range r.Secondaries() {
			Expect(rep.ECUs[e.ID].Status).To(Equal(primary.Installed), "%s: %v", e.ID, rep.ECUs[e.ID].Err)
			Expect(inst[e.ID].Filename).To(Equal(vehicle.ImageName(e.HardwareID, 2)))
		}

		// A restart boots what is persisted; it never provisions again.
		Expect(secs["BRK-0001"].Close()).To(Succeed())
		p, err := vehicle.StartSecondary(opts("BRK-0001"))
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Provisioned).To(BeFalse())
		Expect(p.Booted.Name).To(Equal(vehicle.ImageName("brk-v2", 2)))
		Expect(p.Booted.ReleaseCounter).To(Equal(uint64(2)))
		secs["BRK-0001"] = p
		Expect(pp.Close()).To(Succeed())
		pp, err = vehicle.StartPrimary(opts(r.Primary().ID))
		Expect(err).NotTo(HaveOccurred())
		Expect(pp.Provisioned).To(BeFalse())
		rep, verdict = pp.Cycle()
		Expect(verdict.OK).To(BeTrue(), "%+v", verdict)
		for _, e := range r.Secondaries() {
			Expect(rep.ECUs[e.ID].Status).To(Equal(primary.UpToDate))
		}

		// A Secondary that is gone: the verdict says which one is not on
		// its assigned image.
		Expect(be.Publish(3, "ECM-0001")).To(Succeed())
		Expect(secs["ECM-0001"].Close()).To(Succeed())
		_, verdict = pp.Cycle()
		Expect(verdict.OK).To(BeFalse())
		for _, ev := range verdict.ECUs {
			Expect(ev.OnAssigned).To(Equal(ev.ECU != "ECM-0001"), "%+v", ev)
		}
		var b bytes.Buffer
		verdict.Print(&b, r)
		Expect(b.String()).To(MatchRegexp(`ECM-0001 .*ecm-v3/firmware-r3\.bin  NOT ON ITS ASSIGNED IMAGE`))
		for _, p := range secs {
			p.Close()
		}
	})

	It("refuses a state directory the rig describes differently, and an ECU on a bus other processes cannot share", func() {
		r := wallRig()
		wall := clock.NewWall()
		out := GinkgoT().TempDir()
		_, url, buses := servedBackend(r, wall, out)
		dir := filepath.Join(out, "ecu", "ECM-0001")
		p, err := vehicle.StartSecondary(vehicle.ProcessOptions{Rig: r, ECU: "ECM-0001", Dir: dir, Backend: url, Buses: buses})
		Expect(err).NotTo(HaveOccurred())
		p.Close()
		// the same directory started as another ECU
		_, err = vehicle.StartSecondary(vehicle.ProcessOptions{Rig: r, ECU: "BRK-0001", Dir: dir, Backend: url, Buses: buses})
		Expect(err).To(MatchError(And(ContainSubstring("holds ECU ECM-0001"), ContainSubstring("remove the directory"))))
		// no handed-over buses: virtual buses cannot be shared between processes
		_, err = vehicle.StartSecondary(vehicle.ProcessOptions{Rig: r, ECU: "ECM-0001", Dir: dir, Backend: url})
		Expect(err).To(MatchError(ContainSubstring("bus powertrain is virtual: an ECU in its own process shares the bus with the others only on SocketCAN")))
		_, err = vehicle.StartSecondary(vehicle.ProcessOptions{Rig: r, ECU: "NOPE", Dir: dir})
		Expect(err).To(MatchError(ContainSubstring(`has no ECU "NOPE" (it has TCU-0001, ECM-0001`)))
		// no backend: the error names the URL after the deadline
		_, err = vehicle.StartSecondary(vehicle.ProcessOptions{Rig: r, ECU: "BRK-0001", Dir: filepath.Join(out, "x"), Backend: "http://127.0.0.1:1", Buses: buses, Wait: 1})
		Expect(err).To(MatchError(ContainSubstring("http://127.0.0.1:1/director/UPTHIL00000000001/root.json: no answer")))
		Expect(filepath.Join(out, "x")).NotTo(BeAnExistingFile(), "a failed factory leaves no state to boot from")
	})

	It("BringUp names the ECU outside this process that does not answer on its bus, and how it should run", func() {
		r := wallRig()
		wall := clock.NewWall()
		_, err := vehicle.Build(vehicle.Options{Rig: r, Dir: GinkgoT().TempDir(), Clock: wall, Reach: vehicle.ByRig, Wait: 500 * time.Millisecond})
		Expect(err).To(MatchError(And(
			ContainSubstring("ECU ECM-0001 (process: external) did not answer on bus powertrain at request 0x7e0, response 0x7e8 within 500ms"),
			ContainSubstring("is `uptane-hil ecu --rig ../../rigs/wall-virtual.yaml --ecu ECM-0001` running?"))))
	})

	It("kills the process at a crash point named in "+vehicle.CrashEnv+" (parsing only: the kill itself runs in the vcan specs)", func() {
		f, err := vehicle.CrashAt("")
		Expect(err).NotTo(HaveOccurred())
		Expect(f).To(BeNil())
		for _, bad := range []string{"install:switch:after#0", "install:switch:after#x", "[#2", "#2"} {
			_, err := vehicle.CrashAt(bad)
			Expect(err).To(MatchError(ContainSubstring(vehicle.CrashEnv)), bad)
		}
		f, err = vehicle.CrashAt("install:slot-*:after#2")
		Expect(err).NotTo(HaveOccurred())
		f("install:switch:after") // no match: nothing happens
		f("meta:director/root.json:after")
	})

	It("derives the backend's URLs from the rig or --backend", func() {
		r := wallRig()
		_, _, err := vehicle.BackendURLs(r, "")
		Expect(err).To(MatchError(ContainSubstring("backend.listen")))
		d, i, err := vehicle.BackendURLs(r, "http://127.0.0.1:9/")
		Expect(err).NotTo(HaveOccurred())
		Expect(d).To(Equal("http://127.0.0.1:9/director/UPTHIL00000000001/"))
		Expect(i).To(Equal("http://127.0.0.1:9/image/"))
		_, _, err = vehicle.BackendURLs(r, "127.0.0.1:9")
		Expect(err).To(MatchError(ContainSubstring("want http://HOST:PORT")))
	})
})

var _ = Describe("a wall-clock vehicle run again on its directory (vehicle --no-spawn)", func() {
	It("reopens the backend and boots the ECUs from their state: the same campaign finds every ECU on its image; another seed is refused", func() {
		r, err := rigs.Parse("../../rigs/wall.yaml", []byte(strings.Replace(string(must(os.ReadFile("../../rigs/virtual.yaml"))), "clock: simulated", "clock: wall", 1)))
		Expect(err).NotTo(HaveOccurred())
		dir := GinkgoT().TempDir()
		v, err := vehicle.Build(vehicle.Options{Rig: r, Dir: dir, Clock: clock.NewWall()})
		Expect(err).NotTo(HaveOccurred())
		rep, err := v.Campaign(2)
		Expect(err).NotTo(HaveOccurred())
		Expect(vehicle.Judge(rep, v.Primary.Director()).OK).To(BeTrue())
		Expect(v.Close()).To(Succeed())

		v, err = vehicle.Build(vehicle.Options{Rig: r, Dir: dir, Clock: clock.NewWall()})
		Expect(err).NotTo(HaveOccurred())
		for _, s := range v.Secondaries {
			inst, err := v.Installed(s.Rig.ID)
			rc := inst.Release
			Expect(err).NotTo(HaveOccurred())
			Expect(rc).To(Equal(uint64(2)), "%s booted from its state, not the factory", s.Rig.ID)
		}
		rep, err = v.Campaign(2)
		Expect(err).NotTo(HaveOccurred())
		verdict := vehicle.Judge(rep, v.Primary.Director())
		Expect(verdict.OK).To(BeTrue(), "%+v", verdict)
		for _, ev := range verdict.ECUs {
			Expect(ev.Status).To(Equal(primary.UpToDate))
		}
		Expect(v.Close()).To(Succeed())

		_, err = vehicle.Build(vehicle.Options{Rig: r, Dir: dir, Clock: clock.NewWall(), Seed: 99})
		Expect(err).To(MatchError(And(ContainSubstring("this seed derives key"), ContainSubstring("remove "+filepath.Join(dir, "backend")))))
	})
})

func must[T any](x T, err error) T {
	GinkgoHelper()
	Expect(err).NotTo(HaveOccurred())
	return x
}
