package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// proc is the uptane-hil command run as its own process: this test binary
// re-executed with cliEnv set (TestMain).
type proc struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  strings.Builder // stdout and stderr, as they come
	cond *sync.Cond
	done chan struct{}
	err  error
}

// startCLI starts `uptane-hil args...` with extra environment variables.
func startCLI(name string, env []string, args ...string) *proc {
	GinkgoHelper()
	exe, err := os.Executable()
	Expect(err).NotTo(HaveOccurred())
	p := &proc{name: name, done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	p.cmd = exec.Command(exe, args...)
	p.cmd.Env = append(append(os.Environ(), cliEnv+"=1"), env...)
	pr, pw := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	Expect(p.cmd.Start()).To(Succeed(), "start %s", name)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.cond.Broadcast()
			p.mu.Unlock()
			GinkgoWriter.Printf("[%s] %s\n", name, sc.Text())
		}
	}()
	go func() {
		p.err = p.cmd.Wait()
		pw.Close()
		p.mu.Lock()
		close(p.done)
		p.cond.Broadcast()
		p.mu.Unlock()
	}()
	DeferCleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// Output is everything the process wrote so far.
func (p *proc) Output() string { p.mu.Lock(); defer p.mu.Unlock(); return p.out.String() }

// waitFor waits until the output matches re and returns the submatches.
func (p *proc) waitFor(re string, timeout time.Duration) []string {
	GinkgoHelper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(timeout)
	t := time.AfterFunc(timeout, func() { p.mu.Lock(); p.cond.Broadcast(); p.mu.Unlock() })
	defer t.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if m := rx.FindStringSubmatch(p.out.String()); m != nil {
			return m
		}
		exited := false
		select {
		case <-p.done:
			exited = true
		default:
		}
		if exited || time.Now().After(deadline) {
			Fail(fmt.Sprintf("%s: no output matching %q within %s (exited: %v); output:\n%s", p.name, re, timeout, exited, p.out.String()))
		}
		p.cond.Wait()
	}
}

// wait waits for the process to exit and returns its exit code (-1 when a
// signal ended it).
func (p *proc) wait(timeout time.Duration) int {
	GinkgoHelper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		Fail(fmt.Sprintf("%s did not exit within %s; output:\n%s", p.name, timeout, p.Output()))
	}
	return p.cmd.ProcessState.ExitCode()
}

// signalled reports the signal that ended the process, or 0.
func (p *proc) signalled() syscall.Signal {
	<-p.done
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal()
	}
	return 0
}

// term sends SIGTERM and returns the exit code.
func (p *proc) term(timeout time.Duration) int {
	GinkgoHelper()
	Expect(p.cmd.Process.Signal(syscall.SIGTERM)).To(Succeed())
	return p.wait(timeout)
}
