package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/rigs"
)

// captureStderr runs f with os.Stderr redirected and returns what it wrote.
func captureStderr(f func() int) (int, string) {
	GinkgoHelper()
	r, w, err := os.Pipe()
	Expect(err).NotTo(HaveOccurred())
	old := os.Stderr
	os.Stderr = w
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	code := f()
	w.Close()
	os.Stderr = old
	return code, string(<-done)
}

// rigWith writes a copy of rigs/vcan.yaml with the replacements (old, new,
// ...) and returns its path.
func rigWith(repl ...string) string {
	GinkgoHelper()
	src, err := os.ReadFile("rigs/vcan.yaml")
	Expect(err).NotTo(HaveOccurred())
	s := string(src)
	for i := 0; i+1 < len(repl); i += 2 {
		Expect(s).To(ContainSubstring(repl[i]))
		s = strings.ReplaceAll(s, repl[i], repl[i+1])
	}
	p := filepath.Join(GinkgoT().TempDir(), "rig.yaml")
	Expect(os.WriteFile(p, []byte(s), 0o644)).To(Succeed())
	return p
}

// captureStdout runs f with os.Stdout redirected and returns what it wrote.
func captureStdout(f func() int) (int, string) {
	GinkgoHelper()
	r, w, err := os.Pipe()
	Expect(err).NotTo(HaveOccurred())
	old := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	code := f()
	w.Close()
	os.Stdout = old
	return code, string(<-done)
}

var _ = Describe("the uptane-hil command", func() {
	BeforeEach(func() {
		wd, _ := os.Getwd()
		Expect(os.Chdir("../..")).To(Succeed())
		DeferCleanup(os.Chdir, wd)
	})

	It("lists its commands and has --help on each", func() {
		var out bytes.Buffer
		Expect(dispatch([]string{"help"}, &out, &out)).To(Equal(0))
		for _, c := range []string{"vehicle", "run", "repo", "ecu", "tuf-client", "version"} {
			Expect(out.String()).To(ContainSubstring(c))
		}
		Expect(dispatch([]string{"nope"}, &out, &out)).To(Equal(2))
	})

	It("vehicle: runs a campaign on the virtual rig and exits 0 when every ECU installed its image", func() {
		code, out := captureStdout(func() int { return dispatch([]string{"vehicle", "--out", GinkgoT().TempDir()}, io.Discard, io.Discard) })
		Expect(code).To(Equal(0), out)
		Expect(out).To(ContainSubstring("OK: every ECU ended on its assigned image"))
		Expect(out).To(MatchRegexp(`ECM-0001\s+full\s+installed\s+ecm-v3/firmware-r2\.bin`))
	})

	It("vehicle: a broken rig file is exit status 2 with file and field", func() {
		bad := filepath.Join(GinkgoT().TempDir(), "bad.yaml")
		Expect(os.WriteFile(bad, []byte("name: x\nbuses: 3\n"), 0o644)).To(Succeed())
		r, w, _ := os.Pipe()
		old := os.Stderr
		os.Stderr = w
		code := dispatch([]string{"vehicle", "--rig", bad}, io.Discard, io.Discard)
		w.Close()
		os.Stderr = old
		msg, _ := io.ReadAll(r)
		Expect(code).To(Equal(2))
		Expect(string(msg)).To(ContainSubstring("bad.yaml:2:8: buses: want a list"))
	})

	It("run: plays scenarios, writes the three reports, exits 0 when every result passes", func() {
		dir := GinkgoT().TempDir()
		code, out := captureStdout(func() int {
			return dispatch([]string{"run", "--out", dir, "scenarios/freeze-director-timestamp.yaml", "scenarios/partial-bundle.yaml"}, io.Discard, io.Discard)
		})
		Expect(code).To(Equal(0), out)
		Expect(out).To(ContainSubstring("6 passed, 0 failed"))
		for _, f := range []string{"report.html", "report.json", "junit.xml"} {
			Expect(filepath.Join(dir, f)).To(BeAnExistingFile())
		}
		var rep struct {
			Schema  string `json:"schema"`
			Summary struct{ Runs, Passed, Failed int }
		}
		b, _ := os.ReadFile(filepath.Join(dir, "report.json"))
		Expect(json.Unmarshal(b, &rep)).To(Succeed())
		Expect(rep.Schema).To(Equal("uptane-hil/report/v1"))
		Expect(rep.Summary.Runs).To(Equal(6))
		Expect(rep.Summary.Failed).To(Equal(0))
	})

	It("run: the report's header names the rig's buses: virtual ones, or the SocketCAN interfaces", func() {
		for rig, want := range map[string]string{
			"rigs/virtual.yaml": "virtual buses (UDS on ISO-TP), in-process",
			"rigs/vcan.yaml":    "SocketCAN vcan0, vcan1 (UDS on ISO-TP), in-process",
		} {
			r, err := rigs.Load(rig)
			Expect(err).NotTo(HaveOccurred())
			Expect(transportOf(r)).To(Equal(want), rig)
		}
	})

	It("run: exit status 1 when a result fails", func() {
		dir := GinkgoT().TempDir()
		broken := filepath.Join(dir, "broken.yaml")
		// a scenario whose control cannot be compromised: it claims the
		// freeze needs a check the attack never meets
		src, _ := os.ReadFile("scenarios/freeze-director-timestamp.yaml")
		src = bytes.Replace(src, []byte("defence: [check_timestamp.expiry]"), []byte("defence: [check_snapshot.expiry]"), 1)
		Expect(os.WriteFile(broken, src, 0o644)).To(Succeed())
		code, out := captureStdout(func() int { return dispatch([]string{"run", "--out", dir, broken}, io.Discard, io.Discard) })
		Expect(code).To(Equal(1), out)
		Expect(out).To(ContainSubstring("FAIL"))
	})

	It("repo: serves the Director and the Image repository on loopback", Label("std:server_requirements#1"), func() {
		// its own process on a port the kernel picks: a fixed port could be
		// another process's, and the spec would then pass against that one
		repo := startCLI("repo", nil, "repo", "--rig", "rigs/virtual.yaml", "--listen", "127.0.0.1:0", "--out", GinkgoT().TempDir())
		base := repo.waitFor(`Director (http://127\.0\.0\.1:\d+)/director/`, time.Minute)[1]
		for _, path := range []string{"/image/timestamp.json", "/director/UPTHIL00000000001/1.root.json"} {
			resp, err := http.Get(base + path)
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.StatusCode).To(Equal(200), path)
			resp.Body.Close()
		}
		Expect(repo.term(30 * time.Second)).To(Equal(0))
	})

	It("ecu, repo, vehicle: argument errors are exit status 2 with what is wrong", func() {
		for _, c := range []struct {
			args []string
			msg  string
		}{
			{[]string{"ecu"}, "--ecu is required"},
			{[]string{"ecu", "--ecu", "NOPE"}, `rig rigs/vcan.yaml has no ECU "NOPE" (it has TCU-0001, ECM-0001, BRK-0001, BCM-0001, IVI-0001)`},
			{[]string{"ecu", "--ecu", "ECM-0001", "extra"}, `unexpected argument "extra"`},
			{[]string{"ecu", "--ecu", "ECM-0001", "--cycles", "2"}, "--cycles and --interval are for the Primary (TCU-0001); ECM-0001 is a Secondary"},
			{[]string{"ecu", "--ecu", "TCU-0001", "--cycles", "-1"}, "--cycles must be 0 or more"},
			{[]string{"ecu", "--rig", "rigs/virtual.yaml", "--ecu", "ECM-0001"}, "needs a wall-clock rig with SocketCAN buses"},
			{[]string{"ecu", "--rig", "rigs/bench-example.yaml", "--ecu", "SUPPLIER-ECU-01"}, "is a physical ECU"},
			{[]string{"ecu", "--rig", "nope.yaml", "--ecu", "X"}, "nope.yaml"},
			{[]string{"repo", "--release", "1"}, "--release 1 is the factory image"},
			{[]string{"repo", "x"}, `unexpected argument "x"`},
			{[]string{"vehicle", "--release", "1"}, "--release must be 2 or more"},
			{[]string{"vehicle", "x"}, `unexpected argument "x"`},
		} {
			code, msg := captureStderr(func() int { return dispatch(c.args, io.Discard, io.Discard) })
			Expect(code).To(Equal(2), "%v: %s", c.args, msg)
			Expect(msg).To(ContainSubstring(c.msg), "%v", c.args)
		}
		GinkgoT().Setenv("UPTANE_HIL_CRASH_AT", "install:switch:after#x")
		code, msg := captureStderr(func() int { return dispatch([]string{"ecu", "--ecu", "ECM-0001"}, io.Discard, io.Discard) })
		Expect(code).To(Equal(2))
		Expect(msg).To(ContainSubstring("UPTANE_HIL_CRASH_AT"))
	})

	It("--help of every command documents its flags", func() {
		for cmd, flags := range map[string][]string{
			"ecu":     {"--rig", "--ecu", "--out", "--backend", "--seed", "--wait", "--cycles", "--interval", "UPTANE_HIL_CRASH_AT", "OUT/ecu/ID", "Exit status"},
			"repo":    {"--rig", "--listen", "--out", "--seed", "--release", "/director/VIN/installed", "Exit status"},
			"vehicle": {"--rig", "--out", "--release", "--seed", "--no-spawn", "--fresh", "--listen", "--wait", "process: external", "Exit status"},
		} {
			r, w, _ := os.Pipe()
			old := os.Stderr
			os.Stderr = w
			code := dispatch([]string{"help", cmd}, io.Discard, io.Discard)
			w.Close()
			os.Stderr = old
			help, _ := io.ReadAll(r)
			Expect(code).To(Equal(0))
			for _, f := range flags {
				Expect(string(help)).To(ContainSubstring(f), "%s --help", cmd)
			}
		}
	})

	It("vehicle and ecu on a wall-clock rig whose CAN interface is missing: exit status 1 naming the bus, the interface and the fix", func() {
		rig := rigWith("vcan0", "vcan9", "127.0.0.1:8470", "127.0.0.1:0")
		dir := GinkgoT().TempDir()
		code, msg := captureStderr(func() int { return dispatch([]string{"vehicle", "--rig", rig, "--out", dir}, io.Discard, io.Discard) })
		Expect(code).To(Equal(1), msg)
		Expect(msg).To(ContainSubstring("bus powertrain"))
		Expect(msg).To(ContainSubstring("vcan9"))
		Expect(msg).To(ContainSubstring("ip link add dev vcan9 type vcan; ip link set up vcan9"))
		Expect(filepath.Join(dir, "vehicle")).NotTo(BeAnExistingFile(), "nothing starts before the buses are open")

		code, msg = captureStderr(func() int {
			return dispatch([]string{"ecu", "--rig", rig, "--ecu", "ECM-0001", "--out", dir, "--backend", "http://127.0.0.1:1"}, io.Discard, io.Discard)
		})
		Expect(code).To(Equal(1), msg)
		Expect(msg).To(ContainSubstring("bus powertrain"))
		Expect(msg).To(ContainSubstring("ip link add dev vcan9 type vcan"))
		Expect(filepath.Join(dir, "ecu", "ECM-0001")).NotTo(BeAnExistingFile())
	})

	It("repo --release N (its own process): a campaign waits in the Director; GET /director/VIN/installed reads what it recorded; SIGTERM is exit 0", func() {
		repo := startCLI("repo", nil, "repo", "--rig", "rigs/vcan.yaml", "--listen", "127.0.0.1:0", "--out", GinkgoT().TempDir(), "--release", "3")
		base := repo.waitFor(`Director (http://127\.0\.0\.1:\d+)/director/`, time.Minute)[1]
		Expect(repo.Output()).To(ContainSubstring("assigned IVI-0001 → ivi-v5/firmware-r3.bin (encrypted for it)"))
		get := func(path string) []byte {
			GinkgoHelper()
			resp, err := http.Get(base + path)
			Expect(err).NotTo(HaveOccurred())
			defer resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(200), path)
			b, _ := io.ReadAll(resp.Body)
			return b
		}
		// the Director's Targets for the vehicle assign release 3 to every Secondary
		get("/director/UPTHIL00000000001/timestamp.json")
		targets := string(get("/director/UPTHIL00000000001/1.targets.json"))
		for _, n := range []string{"ecm-v3/firmware-r3.bin", "brk-v2/firmware-r3.bin", "bcm-v1/firmware-r3.bin", "ivi-v5/firmware-r3.bin"} {
			Expect(targets).To(ContainSubstring(n))
		}
		Expect(string(get("/director/UPTHIL00000000001/installed"))).To(Equal("{}"), "no manifest yet")
		Expect(repo.term(30 * time.Second)).To(Equal(0))
		Expect(repo.Output()).To(ContainSubstring("the Director recorded (0 manifests received, 0 accepted)"))
		Expect(repo.Output()).To(MatchRegexp(`ECM-0001\s+\(no report accepted\)`))
	})
})
