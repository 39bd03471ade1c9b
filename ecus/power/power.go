// Package power switches a Secondary's power supply off and on with the
// shell commands of its rig's power: entry (a bench's USB relay or lab
// supply over SCPI, or kill and restart of an external ECU process). Each
// command runs with sh -c in its own process group, bounded by the rig's
// timeout; a command that fails or overruns is an error naming the ECU,
// the switch and the command, and a command that overruns is killed with
// everything it started.
package power

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/uptane-hil/uptane-hil/rigs"
)

// EnvECU is the environment variable that carries the ECU's identifier to
// the commands.
const EnvECU = "UPTANE_HIL_ECU"

// Switch is one direction of the supply.
type Switch string

// The two switches.
const (
	Off Switch = "off"
	On  Switch = "on"
)

// Control switches one ECU's power.
type Control struct {
	ECU     string
	off, on string
	timeout time.Duration
	cutAt   []rigs.PowerPoint
}

// ErrNoPower is the error for an ECU whose rig entry has no power:.
var ErrNoPower = errors.New("the rig gives it no power: commands")

// New returns the power control of a rig's ECU.
func New(e *rigs.ECU) (*Control, error) {
	if e.Power == nil {
		return nil, fmt.Errorf("power: ECU %s: %w", e.ID, ErrNoPower)
	}
	t := e.Power.Timeout
	if t <= 0 {
		t = rigs.DefaultPowerTimeout
	}
	return &Control{ECU: e.ID, off: e.Power.Off, on: e.Power.On, timeout: t, cutAt: e.Power.CutAt}, nil
}

// Cuts reports whether power-loss scenarios may cut the power at pt.
func (c *Control) Cuts(pt rigs.PowerPoint) bool {
	for _, p := range c.cutAt {
		if p == pt {
			return true
		}
	}
	return false
}

// Error is a power command that failed.
type Error struct {
	ECU     string
	Switch  Switch
	Command string
	// TimedOut: the command ran past the timeout and was killed.
	TimedOut bool
	Timeout  time.Duration
	Output   string // the last bytes of its stdout and stderr
	Err      error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "power: ECU %s: power %s (%q): ", e.ECU, e.Switch, e.Command)
	if e.TimedOut {
		fmt.Fprintf(&b, "still running after %s (killed)", e.Timeout)
	} else {
		b.WriteString(e.Err.Error())
	}
	if e.Output != "" {
		fmt.Fprintf(&b, ": %s", e.Output)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// maxOutput is how many bytes of a failed command's output an error keeps.
const maxOutput = 512

// Off cuts the ECU's power.
func (c *Control) Off(ctx context.Context) error { return c.run(ctx, Off, c.off) }

// On restores the ECU's power.
func (c *Control) On(ctx context.Context) error { return c.run(ctx, On, c.on) }

func (c *Control) run(ctx context.Context, sw Switch, command string) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cmd := exec.Command("sh", "-c", command)
	cmd.Env = append(os.Environ(), EnvECU+"="+c.ECU)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// its own process group, so that a timeout kills what it started too
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return &Error{ECU: c.ECU, Switch: sw, Command: command, Err: err}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	timedOut := false
	select {
	case err = <-done:
	case <-ctx.Done():
		timedOut = errors.Is(ctx.Err(), context.DeadlineExceeded)
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err = <-done
		if !timedOut {
			err = ctx.Err()
		}
	}
	if err == nil && !timedOut {
		return nil
	}
	o := strings.TrimSpace(out.String())
	if len(o) > maxOutput {
		o = "…" + o[len(o)-maxOutput:]
	}
	return &Error{ECU: c.ECU, Switch: sw, Command: command, TimedOut: timedOut, Timeout: c.timeout, Output: o, Err: err}
}
