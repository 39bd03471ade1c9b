package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/seed"
)

// child is one ECU that uptane-hil vehicle runs as its own process.
type child struct {
	ecu  string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error // from Wait, once done is closed
}

// children are the ECU processes of one vehicle run.
type children struct {
	procs   []*child
	stopped bool
}

// spawnECUs starts each ECU as this program's "ecu" subcommand, with its
// output in DIR/logs/ID.log. The children get SIGTERM when this process
// dies (Pdeathsig), so none outlives a killed vehicle run.
func spawnECUs(r *rigs.Rig, ecus []*rigs.ECU, f vehicleFlags, dir string, sd seed.Seed, backend string) (*children, error) {
	c := &children{}
	if len(ecus) == 0 {
		return c, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return c, fmt.Errorf("start the ECU processes: %w", err)
	}
	rigFile, err := filepath.Abs(r.File)
	if err != nil {
		return c, err
	}
	out, err := filepath.Abs(dir)
	if err != nil {
		return c, err
	}
	logs := filepath.Join(out, "logs")
	if err := os.MkdirAll(logs, 0o700); err != nil {
		return c, err
	}
	for _, e := range ecus {
		ch := &child{ecu: e.ID, log: filepath.Join(logs, e.ID+".log"), done: make(chan struct{})}
		lf, err := os.OpenFile(ch.log, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return c, err
		}
		ch.cmd = exec.Command(exe, "ecu", "--rig", rigFile, "--ecu", e.ID, "--out", out, "--seed", strconv.FormatUint(uint64(sd), 10),
			"--backend", backend, "--wait", f.wait.String())
		ch.cmd.Stdout, ch.cmd.Stderr = lf, lf
		ch.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
		err = ch.cmd.Start()
		lf.Close()
		if err != nil {
			return c, fmt.Errorf("start %s: %w", e.ID, err)
		}
		go func() { ch.err = ch.cmd.Wait(); close(ch.done) }()
		c.procs = append(c.procs, ch)
		fmt.Printf("started %s as its own process (pid %d), log %s\n", e.ID, ch.cmd.Process.Pid, ch.log)
	}
	return c, nil
}

// tail is the end of a child's log.
func (ch *child) tail() string {
	b, _ := os.ReadFile(ch.log)
	lines := strings.Split(strings.TrimRight(string(bytes.TrimSpace(b)), "\n"), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return "    " + strings.Join(lines, "\n    ")
}

// explain adds to err what became of children that have exited.
func (c *children) explain(err error) error {
	for _, ch := range c.procs {
		select {
		case <-ch.done:
			err = fmt.Errorf("%w\n  %s exited: %v; the end of %s:\n%s", err, ch.ecu, ch.err, ch.log, ch.tail())
		default:
		}
	}
	return err
}

// stop ends every child with SIGTERM (SIGKILL after 20 s) and reports a
// child that exited before, or not cleanly. It runs once; later calls
// return nil.
func (c *children) stop() error {
	if c.stopped {
		return nil
	}
	c.stopped = true
	var errs []error
	early := map[*child]bool{}
	for _, ch := range c.procs {
		select {
		case <-ch.done:
			early[ch] = true
			errs = append(errs, fmt.Errorf("%s exited before it was stopped: %v; the end of %s:\n%s", ch.ecu, ch.err, ch.log, ch.tail()))
		default:
			ch.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, ch := range c.procs {
		if early[ch] {
			continue
		}
		select {
		case <-ch.done:
			if ch.err != nil {
				errs = append(errs, fmt.Errorf("%s: %v on SIGTERM; the end of %s:\n%s", ch.ecu, ch.err, ch.log, ch.tail()))
			}
		case <-time.After(20 * time.Second):
			ch.cmd.Process.Kill()
			<-ch.done
			errs = append(errs, fmt.Errorf("%s did not stop within 20 s of SIGTERM; killed", ch.ecu))
		}
	}
	return errors.Join(errs...)
}
