package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/rigs"
)

// powerScript is the DUT's power supply on vcan: "off" SIGKILLs the
// `uptane-hil ecu` process named by the pid file (no deferred function, no
// buffered write runs: the power is gone), "on" starts it again in the
// background (it boots from its state directory) and writes the new pid.
// kill is a builtin of the VM's busybox sh.
const powerScript = `#!/bin/sh
set -e
case "$1" in
off) kill -9 "$(cat %[1]s)" ;;
on) %[2]s=1 %[3]s ecu --rig %[4]s --ecu ECM-0001 --out %[5]s --backend %[6]s --wait 5m >>%[7]s 2>&1 </dev/null &
    echo $! > %[1]s ;;
*) echo "usage: $0 off|on" >&2; exit 2 ;;
esac
`

var _ = Describe("power cuts on a DUT on vcan", Label("vcan"), func() {
	BeforeEach(func() {
		wd, _ := os.Getwd()
		Expect(os.Chdir("../..")).To(Succeed())
		DeferCleanup(os.Chdir, wd)
	})

	It("SIGKILLs and restarts an `uptane-hil ecu` DUT through the rig's power: commands at the seeded points: a whole image after every cut, and the next cycle installs", Label("std:metadata_verification#5"), func() {
		exe, err := os.Executable()
		Expect(err).NotTo(HaveOccurred())
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		listen := ln.Addr().String()
		ln.Close()
		dir := GinkgoT().TempDir()
		pidFile, logFile, ecuOut, script := filepath.Join(dir, "dut.pid"), filepath.Join(dir, "dut.log"), filepath.Join(dir, "ecu"), filepath.Join(dir, "power.sh")
		rig := rigWith("127.0.0.1:8470", listen,
			"    process: external\n  - id: BRK-0001", fmt.Sprintf("    process: external\n    power: {off: 'sh %s off', on: 'sh %s on', timeout: 1m}\n  - id: BRK-0001", script, script))
		Expect(os.WriteFile(script, []byte(fmt.Sprintf(powerScript, pidFile, cliEnv, exe, rig, ecuOut, "http://"+listen, logFile)), 0o700)).To(Succeed())
		r, err := rigs.Load(rig)
		Expect(err).NotTo(HaveOccurred())
		ecm := r.ECU("ECM-0001")
		Expect(ecm.Power).NotTo(BeNil())

		// Power on: the DUT provisions itself from the backend the first
		// run serves.
		Expect(exec.Command("sh", script, "on").Run()).To(Succeed())
		DeferCleanup(func() {
			if pid, err := readPid(pidFile); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		})

		state := GinkgoT().TempDir()
		for _, f := range []string{"scenarios/power-loss-transfer.yaml", "scenarios/power-loss-install.yaml", "scenarios/power-loss-reset.yaml"} {
			before, err := readPid(pidFile)
			Expect(err).NotTo(HaveOccurred())
			out := GinkgoT().TempDir()
			code, o := uptaneHil("run", "--rig", rig, "--dut", "ECM-0001", "--state", state, "--out", out, "-p", "1", f)
			log, _ := os.ReadFile(logFile)
			Expect(code).To(Equal(0), "%s:\n%s\nthe DUT's log:\n%s", f, o, log)
			Expect(o).To(MatchRegexp(`PASS\s+power-loss-\w+\s+ECM-0001\s+dut\s+defended\s+install_image\.atomic`), f)
			Expect(o).To(MatchRegexp(`PASS\s+power-loss-\w+\s+ECM-0001\s+twin\s+compromised`), f)

			// the off command killed the process, the on command started
			// another, which boots a whole image: the one its state names,
			// the genuine bytes of a release
			after, err := readPid(pidFile)
			Expect(err).NotTo(HaveOccurred())
			Expect(after).NotTo(Equal(before), "%s: the power was cut (a new ECU process)", f)
			rc := wholeImage(filepath.Join(ecuOut, "ecu", "ECM-0001"), r, ecm)
			AddReportEntry("power cut", fmt.Sprintf("%s: the DUT (pid %d, then %d) ends on release %d", f, before, after, rc))
		}
	})
})

func readPid(file string) (int, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// wholeImage reads an ECU process's state directory: its active slot holds
// exactly the genuine bytes of the release its state names. It returns
// that release.
func wholeImage(dir string, r *rigs.Rig, e *rigs.ECU) uint64 {
	GinkgoHelper()
	var st store.State
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	Expect(err).NotTo(HaveOccurred())
	Expect(json.Unmarshal(b, &st)).To(Succeed(), "a whole state file")
	img := st.Installed()
	Expect(img).NotTo(BeNil())
	slot, err := os.ReadFile(filepath.Join(dir, "slot-"+st.Active+".bin"))
	Expect(err).NotTo(HaveOccurred())
	want := vehicle.ImageBytes(vehicle.SeedOf(r, 0), e.HardwareID, img.ReleaseCounter, len(slot))
	Expect(img.Name).To(Equal(vehicle.ImageName(e.HardwareID, img.ReleaseCounter)))
	Expect(slot).To(Equal(want), "the active slot %s holds exactly release %d", st.Active, img.ReleaseCounter)
	return img.ReleaseCounter
}
