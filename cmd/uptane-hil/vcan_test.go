package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/pouf"
	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/sim/socketcan"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// The VM runs one emulated CPU for six processes: waits are generous.
const (
	upWithin    = 3 * time.Minute  // a process comes up (and the factory)
	cycleWithin = 10 * time.Minute // one update cycle of the Primary
	stopWithin  = time.Minute      // SIGTERM to exit
)

// vehicleRun is the backend and the four Secondaries of rigs/vcan.yaml, each
// in its own process.
type vehicleRun struct {
	file    string // the rig the Secondaries' processes read
	primary string // the rig the Primary's process reads ("": file)
	rig     *rigs.Rig
	out     string
	backend string
	repo    *proc
	ecus    map[string]*proc
}

// startVehicle starts `repo --release 2` and then every Secondary with
// `ecu`; env gives a Secondary extra environment variables.
func startVehicle(env map[string][]string) *vehicleRun {
	GinkgoHelper()
	return startVehicleOn("rigs/vcan.yaml", env)
}

// startVehicleOn is startVehicle on rig file (a variant of rigs/vcan.yaml).
func startVehicleOn(file string, env map[string][]string) *vehicleRun {
	GinkgoHelper()
	r, err := rigs.Load(file)
	Expect(err).NotTo(HaveOccurred())
	v := &vehicleRun{file: file, rig: r, out: GinkgoT().TempDir(), ecus: map[string]*proc{}}
	v.repo = startCLI("repo", nil, "repo", "--rig", file, "--out", v.out, "--listen", "127.0.0.1:0", "--release", "2")
	v.backend = v.repo.waitFor(`Director (http://127\.0\.0\.1:\d+)/director/`, upWithin)[1]
	for _, e := range r.Secondaries() {
		v.start(e.ID, env[e.ID])
	}
	for _, e := range r.Secondaries() {
		v.ecus[e.ID].waitFor(regexp.QuoteMeta(e.ID)+`: serving UDS on ISO-TP on bus `, upWithin)
	}
	return v
}

// start starts one ECU process (again).
func (v *vehicleRun) start(id string, env []string) *proc {
	p := startCLI(id, env, "ecu", "--rig", v.file, "--ecu", id, "--out", v.out, "--backend", v.backend, "--wait", "5m")
	v.ecus[id] = p
	return p
}

// primaryCycle runs the Primary as its own process for one update cycle
// and returns its exit code and output.
func (v *vehicleRun) primaryCycle() (int, string) {
	file := v.primary
	if file == "" {
		file = v.file
	}
	p := startCLI("primary", nil, "ecu", "--rig", file, "--ecu", v.rig.Primary().ID, "--out", v.out,
		"--backend", v.backend, "--cycles", "1", "--wait", "5m")
	code := p.wait(cycleWithin)
	return code, p.Output()
}

// installed is what the Director recorded from the manifests (GET
// /director/VIN/installed on the repo process).
func (v *vehicleRun) installed() map[string]manifest.Image {
	GinkgoHelper()
	resp, err := http.Get(v.backend + "/director/" + v.rig.Vehicle.VIN + "/installed")
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	Expect(resp.StatusCode).To(Equal(200))
	var inst map[string]manifest.Image
	b, _ := io.ReadAll(resp.Body)
	Expect(json.Unmarshal(b, &inst)).To(Succeed(), string(b))
	return inst
}

// stopAll sends SIGTERM to every ECU and the repo: each exits 0.
func (v *vehicleRun) stopAll() {
	GinkgoHelper()
	for id, p := range v.ecus {
		Expect(p.term(stopWithin)).To(Equal(0), "%s on SIGTERM:\n%s", id, p.Output())
		Expect(p.Output()).To(ContainSubstring(id + ": stopped (terminated)"))
	}
	Expect(v.repo.term(stopWithin)).To(Equal(0), "repo on SIGTERM:\n%s", v.repo.Output())
}

// expectAllOn checks the Primary's summary and the Director's records:
// every Secondary on release rc.
func (v *vehicleRun) expectAllOn(out string, rc uint64) {
	GinkgoHelper()
	Expect(out).To(ContainSubstring("cycle 1: OK: every Secondary is on its assigned image"))
	inst := v.installed()
	for _, e := range v.rig.Secondaries() {
		name := vehicle.ImageName(e.HardwareID, rc)
		Expect(out).To(MatchRegexp(`%s\s+%s\s+(installed|up-to-date)\s+%s\s+=`, e.ID, e.Profile, regexp.QuoteMeta(name)))
		Expect(inst).To(HaveKey(e.ID))
		Expect(inst[e.ID].Filename).To(Equal(name), "the Director's record of %s", e.ID)
		want := vehicle.ImageBytes(vehicle.SeedOf(v.rig, 0), e.HardwareID, rc, e.ImageSize)
		Expect(meta.CheckHashes(want, inst[e.ID].Length, inst[e.ID].Hashes)).To(Succeed(), "%s reported the hashes of release %d", e.ID, rc)
	}
}

// versionReport asks a Secondary for a fresh signed version report over
// the bus, as a tester would (no Primary may be running), and checks its
// signature with the key the factory derived.
func (v *vehicleRun) versionReport(e *rigs.ECU) manifest.Image {
	GinkgoHelper()
	bus, err := socketcan.Open(v.rig.Bus(e.Bus).Interface)
	Expect(err).NotTo(HaveOccurred())
	defer bus.Close()
	c, err := vehicle.DialSecondary(bus, clock.NewWall(), "tester", e)
	Expect(err).NotTo(HaveOccurred())
	serial, err := c.UDS().ReadDID(pouf.DIDECUSerial)
	Expect(err).NotTo(HaveOccurred())
	Expect(string(serial)).To(Equal(e.ID))
	Expect(c.WriteNonce([]byte("tester-nonce-0001"))).To(Succeed())
	raw, err := c.ReadVersionReport()
	Expect(err).NotTo(HaveOccurred())
	sr, err := manifest.ParseReport(raw, manifest.MaxReportSize)
	Expect(err).NotTo(HaveOccurred())
	k, _, err := vehicle.ECUKeys(vehicle.SeedOf(v.rig, 0), e)
	Expect(err).NotTo(HaveOccurred())
	Expect(sr.Verify(k.Public())).To(Succeed())
	Expect(sr.Signed.ECUSerial).To(Equal(e.ID))
	return sr.Signed.Installed
}

// wholeRelease says which release an ECU's image is (1 or 2), from its
// version report over the bus and from its state directory: the bytes of
// its active slot must be exactly that release's image, never a mix.
func (v *vehicleRun) wholeRelease(e *rigs.ECU) uint64 {
	GinkgoHelper()
	in := v.versionReport(e)
	sd := vehicle.SeedOf(v.rig, 0)
	var rc uint64
	for _, r := range []uint64{1, 2} {
		if in.Filename == vehicle.ImageName(e.HardwareID, r) {
			rc = r
		}
	}
	Expect(rc).NotTo(BeZero(), "%s reports %q", e.ID, in.Filename)
	want := vehicle.ImageBytes(sd, e.HardwareID, rc, e.ImageSize)
	Expect(meta.CheckHashes(want, in.Length, in.Hashes)).To(Succeed(), "%s's report matches release %d", e.ID, rc)
	dir := filepath.Join(v.out, "ecu", e.ID)
	var st store.State
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	Expect(err).NotTo(HaveOccurred())
	Expect(json.Unmarshal(b, &st)).To(Succeed())
	slot, err := os.ReadFile(filepath.Join(dir, "slot-"+st.Active+".bin"))
	Expect(err).NotTo(HaveOccurred())
	Expect(slot).To(Equal(want), "%s's active slot %s holds exactly release %d", e.ID, st.Active, rc)
	return rc
}

// transferWatch counts, on a Secondary's request identifier, the
// TransferData blocks of an image download (first frames of classic
// ISO-TP: PCI 0x1L LL, then the SID) and calls kill after the k-th.
func transferWatch(bus *socketcan.Bus, e *rigs.ECU, k int, kill func()) (blocks func() int) {
	var mu sync.Mutex
	image, n := false, 0
	bus.Tap(func(ev can.Event) {
		f := ev.Frame
		if f.ID != e.ISOTP.Request || f.Extended || f.Len < 8 || f.Data[0]>>4 != 1 {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		switch f.Data[2] {
		case 0x38: // RequestFileTransfer: mode, path length (2), path
			image = string(f.Data[6:8]) == pouf.ImagePrefix[:2]
		case 0x36: // TransferData
			if image {
				n++
				if n == k {
					kill()
				}
			}
		}
	})
	return func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// withKernelISOTP writes a copy of rigs/vcan.yaml into dir whose links to
// the Secondaries ids use the kernel's can-isotp (isotp.stack: kernel).
func withKernelISOTP(dir, name string, ids ...string) string {
	GinkgoHelper()
	src, err := os.ReadFile("rigs/vcan.yaml")
	Expect(err).NotTo(HaveOccurred())
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var out []string
	cur, done := "", map[string]bool{}
	for _, line := range strings.Split(string(src), "\n") {
		if id, ok := strings.CutPrefix(line, "  - id: "); ok {
			cur = strings.TrimSpace(id)
		}
		if want[cur] && !done[cur] && strings.HasPrefix(line, "    isotp: {") {
			line = strings.TrimSuffix(line, "}") + ", stack: kernel}"
			done[cur] = true
		}
		out = append(out, line)
	}
	// ECUs without an isotp: line get one after their process: line
	text := strings.Join(out, "\n")
	for _, id := range ids {
		if done[id] {
			continue
		}
		at := strings.Index(text, "  - id: "+id+"\n")
		Expect(at).To(BeNumerically(">=", 0), id)
		p := strings.Index(text[at:], "    process: external\n")
		Expect(p).To(BeNumerically(">=", 0), id)
		cut := at + p + len("    process: external\n")
		text = text[:cut] + "    isotp: {stack: kernel}\n" + text[cut:]
	}
	file := filepath.Join(dir, name)
	Expect(os.WriteFile(file, []byte(text), 0o644)).To(Succeed())
	r, err := rigs.Load(file)
	Expect(err).NotTo(HaveOccurred())
	for _, id := range ids {
		Expect(r.ECU(id).ISOTP.Stack).To(Equal(rigs.StackKernel), id)
	}
	return file
}

var _ = Describe("every ECU in its own process on vcan", Label("vcan"), func() {
	BeforeEach(func() {
		wd, _ := os.Getwd()
		Expect(os.Chdir("../..")).To(Succeed())
		DeferCleanup(os.Chdir, wd)
	})

	It("repo, four Secondaries and the Primary as separate processes: all four install release 2, the Director records it, SIGTERM stops each cleanly", func() {
		v := startVehicle(nil)
		for _, e := range v.rig.Secondaries() {
			out := v.ecus[e.ID].Output()
			Expect(out).To(ContainSubstring(e.ID + ": provisioned in "))
			Expect(out).To(ContainSubstring(fmt.Sprintf("%s: booted %s (release 1", e.ID, vehicle.ImageName(e.HardwareID, 1))))
		}
		code, out := v.primaryCycle()
		Expect(code).To(Equal(0), out)
		Expect(out).To(ContainSubstring("TCU-0001: provisioned in "))
		for _, e := range v.rig.Secondaries() {
			Expect(out).To(MatchRegexp(`%s\s+%s\s+installed\s+`, e.ID, e.Profile))
		}
		v.expectAllOn(out, 2)
		v.stopAll()
		Expect(v.repo.Output()).To(MatchRegexp(`the Director recorded \(\d+ manifests received, \d+ accepted\)`))
		Expect(v.repo.Output()).To(MatchRegexp(`IVI-0001\s+ivi-v5/firmware-r2\.bin`))
	})

	It("the kernel's can-isotp on the links, classic and CAN FD: a kernel-stack Primary with our-stack Secondaries and our-stack Primary with kernel-stack Secondaries; the campaign installs release 2", func() {
		dir := GinkgoT().TempDir()
		// BRK-0001 (vcan0, classic) and IVI-0001 (vcan1, FD) serve on the
		// kernel's stack, the Primary reaches them on ours; the Primary
		// reaches ECM-0001 (classic) and BCM-0001 (FD) on the kernel's,
		// they serve on ours.
		secondaries := withKernelISOTP(dir, "kernel-secondaries.yaml", "BRK-0001", "IVI-0001")
		primary := withKernelISOTP(dir, "kernel-primary.yaml", "ECM-0001", "BCM-0001")
		v := startVehicleOn(secondaries, nil)
		v.primary = primary
		for id, stack := range map[string]string{"BRK-0001": "kernel", "IVI-0001": "kernel", "ECM-0001": "uptane-hil", "BCM-0001": "uptane-hil"} {
			Expect(v.ecus[id].Output()).To(MatchRegexp(`%s: serving UDS on ISO-TP on bus .* verification, %s ISO-TP\)`, id, stack))
		}
		code, out := v.primaryCycle()
		Expect(code).To(Equal(0), out)
		for _, e := range v.rig.Secondaries() {
			Expect(out).To(MatchRegexp(`%s\s+%s\s+installed\s+`, e.ID, e.Profile))
		}
		v.expectAllOn(out, 2)
		// a tester on the kernel's stack reads their version reports:
		// release 2, whole in the active slot
		for _, id := range []string{"BRK-0001", "IVI-0001"} {
			Expect(v.wholeRelease(v.rig.ECU(id))).To(Equal(uint64(2)), id)
		}
		v.stopAll()
	})

	It("power loss for real: SIGKILL of a Secondary mid-transfer and a self-kill mid-install leave whole images, and the next cycle installs release 2", Label("std:metadata_verification#5"), func() {
		// Seeded by the suite's random seed (printed; --ginkgo.seed=N
		// replays it): after which TransferData block of ECM-0001's image
		// the process is killed, and at which crash point of its store
		// BRK-0001 kills itself while installing.
		rnd := seed.Seed(GinkgoRandomSeed()).Rand("vcan/power-loss")
		k := 1 + rnd.IntN(3) // a 16 KiB image is 4 full blocks and a last short one
		points := []string{"install:slot-*:before", "install:slot-*:torn", "install:slot-*:after",
			"install:switch:before", "install:switch:torn", "install:switch:after"}
		point := points[rnd.IntN(len(points))]
		AddReportEntry("power loss", fmt.Sprintf("seed %d: ECM-0001 killed after image block %d; BRK-0001 loses power at %s", GinkgoRandomSeed(), k, point))

		r, err := rigs.Load("rigs/vcan.yaml")
		Expect(err).NotTo(HaveOccurred())
		ecm, brk := r.ECU("ECM-0001"), r.ECU("BRK-0001")
		v := startVehicle(map[string][]string{brk.ID: {vehicle.CrashEnv + "=" + point}})
		watch, err := socketcan.Open(r.Bus(ecm.Bus).Interface)
		Expect(err).NotTo(HaveOccurred())
		defer watch.Close()
		victim := v.ecus[ecm.ID]
		var killed atomic.Bool
		blocks := transferWatch(watch, ecm, k, func() {
			victim.cmd.Process.Signal(syscall.SIGKILL)
			killed.Store(true)
		})

		code, out := v.primaryCycle()
		Expect(code).To(Equal(1), "the cycle cannot leave every Secondary on its image:\n%s", out)
		Expect(killed.Load()).To(BeTrue(), "ECM-0001 was killed (%d image blocks seen)", blocks())
		Expect(victim.signalled()).To(Equal(syscall.SIGKILL))
		Expect(v.ecus[brk.ID].signalled()).To(Equal(syscall.SIGKILL), "BRK-0001 killed itself:\n%s", v.ecus[brk.ID].Output())
		Expect(v.ecus[brk.ID].Output()).To(ContainSubstring("power loss at crash point install:"))
		Expect(out).To(MatchRegexp(`ECM-0001 .*NOT ON ITS ASSIGNED IMAGE`))
		Expect(out).To(MatchRegexp(`BRK-0001 .*NOT ON ITS ASSIGNED IMAGE`))

		// Power on again: each boots from its persisted state, never the
		// factory, and holds a whole image.
		for _, e := range []*rigs.ECU{ecm, brk} {
			p := v.start(e.ID, nil)
			p.waitFor(regexp.QuoteMeta(e.ID)+`: serving UDS on ISO-TP on bus `, upWithin)
			Expect(p.Output()).NotTo(ContainSubstring("provisioned"))
		}
		Expect(v.wholeRelease(ecm)).To(Equal(uint64(1)), "killed mid-transfer: the old image")
		wantBRK := uint64(1)
		if point == "install:switch:after" {
			wantBRK = 2
		}
		Expect(v.wholeRelease(brk)).To(Equal(wantBRK), "power lost at %s", point)

		// The next cycle installs the assigned image everywhere.
		code, out = v.primaryCycle()
		Expect(code).To(Equal(0), out)
		Expect(out).To(MatchRegexp(`ECM-0001\s+full\s+installed\s+`))
		v.expectAllOn(out, 2)
		v.stopAll()
	})

	It("vehicle --rig (a copy of rigs/vcan.yaml) starts every external ECU as its own child process and exits 0", func() {
		src, err := os.ReadFile("rigs/vcan.yaml")
		Expect(err).NotTo(HaveOccurred())
		rig := filepath.Join(GinkgoT().TempDir(), "vcan-copy.yaml")
		Expect(os.WriteFile(rig, regexp.MustCompile(`127\.0\.0\.1:8470`).ReplaceAll(src, []byte("127.0.0.1:0")), 0o644)).To(Succeed())
		out := GinkgoT().TempDir()
		p := startCLI("vehicle", nil, "vehicle", "--rig", rig, "--out", out, "--wait", "5m")
		code := p.wait(cycleWithin)
		o := p.Output()
		Expect(code).To(Equal(0), o)
		Expect(o).To(ContainSubstring("OK: every ECU ended on its assigned image"))
		Expect(o).To(ContainSubstring("4 ECUs in their own processes"))
		for _, id := range []string{"ECM-0001", "BRK-0001", "BCM-0001", "IVI-0001"} {
			Expect(o).To(MatchRegexp(`started %s as its own process \(pid \d+\)`, id))
			Expect(o).To(MatchRegexp(`%s\s+\w+\s+installed\s+\S+-r2\.bin\s+=`, id))
			log, err := os.ReadFile(filepath.Join(out, "vehicle", "logs", id+".log"))
			Expect(err).NotTo(HaveOccurred())
			Expect(string(log)).To(ContainSubstring(id+": stopped (terminated)"), "the child stopped cleanly")
		}
	})

	It("vehicle --no-spawn with no ECU process running names the ECU that did not answer on the bus", func() {
		rig := rigWith("127.0.0.1:8470", "127.0.0.1:0")
		code, msg := captureStderr(func() int {
			return dispatch([]string{"vehicle", "--rig", rig, "--out", GinkgoT().TempDir(), "--no-spawn", "--wait", "2s"}, io.Discard, io.Discard)
		})
		Expect(code).To(Equal(1))
		Expect(msg).To(ContainSubstring("ECU ECM-0001 (process: external) did not answer on bus powertrain (vcan0) at request 0x7e0, response 0x7e8 within 2s"))
		Expect(msg).To(ContainSubstring("--ecu ECM-0001` running?"))
	})

	It("vehicle on a rig whose interface does not exist names the bus, the interface and the fix", func() {
		rig := rigWith("vcan1", "vcan7")
		code, msg := captureStderr(func() int {
			return dispatch([]string{"vehicle", "--rig", rig, "--out", GinkgoT().TempDir()}, io.Discard, io.Discard)
		})
		Expect(code).To(Equal(1))
		Expect(msg).To(ContainSubstring("bus body"))
		Expect(msg).To(ContainSubstring(`no interface "vcan7"`))
		Expect(msg).To(ContainSubstring("ip link set vcan7 mtu 72"))
	})
})
