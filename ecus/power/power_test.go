package power_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/power"
	"github.com/uptane-hil/uptane-hil/rigs"
)

// ecu returns a rig ECU with the given power commands, loaded through a rig
// file so that the defaults are the rig's.
func ecu(off, on, extra string) *rigs.ECU {
	GinkgoHelper()
	q := func(s string) string { return strconv.Quote(s) }
	data := `name: power
description: a rig for the power specs
seed: 1
clock: simulated
buses: [{name: pt, kind: virtual, bitrate: 500000}]
backend: {mode: embedded}
vehicle: {vin: UPTHIL00000000001}
ecus:
  - {id: TCU-0001, hardware_id: tcu-v1, role: primary, buses: [pt]}
  - id: ECM-0001
    hardware_id: ecm-v3
    role: secondary
    bus: pt
    power: {off: ` + q(off) + `, on: ` + q(on) + extra + `}
`
	r, err := rigs.Parse("power.yaml", []byte(data))
	Expect(err).NotTo(HaveOccurred())
	return r.ECU("ECM-0001")
}

var _ = Describe("power control", func() {
	It("runs the off and on commands with the ECU's identifier in the environment", func() {
		dir := GinkgoT().TempDir()
		log := filepath.Join(dir, "log")
		c, err := power.New(ecu("echo off $UPTANE_HIL_ECU >> "+log, "echo on $UPTANE_HIL_ECU >> "+log, ""))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Off(context.Background())).To(Succeed())
		Expect(c.On(context.Background())).To(Succeed())
		b, err := os.ReadFile(log)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(b)).To(Equal("off ECM-0001\non ECM-0001\n"))
		Expect(c.Cuts(rigs.CutTransfer)).To(BeTrue())
	})

	It("reports a failing command naming the ECU, the switch, the command, its status and output", func() {
		c, err := power.New(ecu("echo relay 1 not found >&2; exit 3", "true", ""))
		Expect(err).NotTo(HaveOccurred())
		err = c.Off(context.Background())
		Expect(err).To(MatchError(`power: ECU ECM-0001: power off ("echo relay 1 not found >&2; exit 3"): exit status 3: relay 1 not found`))
		var pe *power.Error
		Expect(errors.As(err, &pe)).To(BeTrue())
		Expect(pe.TimedOut).To(BeFalse())
		Expect(c.On(context.Background())).To(Succeed())
	})

	It("kills a command that overruns its timeout, with whatever it started", func() {
		dir := GinkgoT().TempDir()
		pidFile := filepath.Join(dir, "pid")
		// the child writes its pid and then hangs; the shell waits for it
		c, err := power.New(ecu("true", "sleep 300 & echo $! > "+pidFile+"; wait", ", timeout: 300ms"))
		Expect(err).NotTo(HaveOccurred())
		err = c.On(context.Background())
		Expect(err).To(MatchError(ContainSubstring(`power: ECU ECM-0001: power on ("sleep 300 & echo`)))
		Expect(err).To(MatchError(ContainSubstring("still running after 300ms (killed)")))
		var pe *power.Error
		Expect(errors.As(err, &pe)).To(BeTrue())
		Expect(pe.TimedOut).To(BeTrue())
		b, err := os.ReadFile(pidFile)
		Expect(err).NotTo(HaveOccurred())
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		Expect(err).NotTo(HaveOccurred())
		// the sleep was killed with the group: it is gone once reaped by init,
		// so poll for it (it is no child of ours to wait for)
		Eventually(func() error { return syscall.Kill(pid, 0) }).WithTimeout(10 * time.Second).Should(MatchError(syscall.ESRCH))
	})

	It("stops a command when the caller's context is cancelled", func() {
		c, err := power.New(ecu("sleep 300", "true", ""))
		Expect(err).NotTo(HaveOccurred())
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err = c.Off(ctx)
		Expect(err).To(MatchError(ContainSubstring("power: ECU ECM-0001: power off")))
		Expect(errors.Is(err, context.Canceled)).To(BeTrue())
	})

	It("refuses an ECU without power commands", func() {
		_, err := power.New(&rigs.ECU{ID: "BRK-0001"})
		Expect(err).To(MatchError("power: ECU BRK-0001: the rig gives it no power: commands"))
		Expect(errors.Is(err, power.ErrNoPower)).To(BeTrue())
	})
})
