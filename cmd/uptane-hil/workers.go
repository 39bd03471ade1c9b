package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/uptane-hil/uptane-hil/reports"
	"github.com/uptane-hil/uptane-hil/rigs"
)

// A worker is this program started as `uptane-hil worker RUN-ARGS`: it
// builds the same plan as its parent from the same arguments, then reads
// plan positions on stdin, one a line, plays each, and writes a played
// message per run on file descriptor 3 (its stdout and stderr go to
// OUT/logs/worker-N.log, so nothing a run prints can garble the results).
func init() {
	register("worker", "(internal) plays runs for `run -p N`; started by run, not by hand", runWorker)
}

// envWorker is set in a worker's environment: a program that embeds this
// command (the test binary) knows it was started as the worker.
const envWorker = "UPTANE_HIL_WORKER"

// envWorkerDieAt makes a worker exit, as if killed, when it is handed
// that plan position (for the specs of a dying worker).
const envWorkerDieAt = "UPTANE_HIL_WORKER_DIE_AT"

// played is a worker's answer for one run.
type played struct {
	Unit    int              `json:"unit"`
	Results []reports.Result `json:"results,omitempty"`
	Error   string           `json:"error,omitempty"`
}

func runWorker(args []string) int {
	f, err := parseRunFlags("worker", args)
	if err != nil {
		return 2
	}
	r, p, err := loadSuite(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "uptane-hil worker:", err)
		return 2
	}
	res := os.NewFile(3, "results")
	if res == nil {
		fmt.Fprintln(os.Stderr, "uptane-hil worker: no results pipe on fd 3 (started by hand? use uptane-hil run -p N)")
		return 2
	}
	enc := json.NewEncoder(res)
	dec := json.NewDecoder(os.Stdin)
	dieAt := -1
	if v := os.Getenv(envWorkerDieAt); v != "" {
		dieAt, _ = strconv.Atoi(v)
	}
	for {
		var i int
		if err := dec.Decode(&i); err == io.EOF {
			return 0
		} else if err != nil {
			fmt.Fprintln(os.Stderr, "uptane-hil worker: reading the next run:", err)
			return 1
		}
		if i == dieAt {
			fmt.Fprintf(os.Stderr, "uptane-hil worker: %s=%d: dying before play %d\n", envWorkerDieAt, dieAt, i)
			os.Exit(3)
		}
		msg := played{Unit: i}
		if i < 0 || i >= len(p.units) {
			msg.Error = fmt.Sprintf("play %d is outside the plan's %d plays", i, len(p.units))
		} else if rs, err := playUnit(r, f.out, p.units[i], p.dut); err != nil {
			msg.Error = err.Error()
		} else {
			msg.Results = rs
		}
		if err := enc.Encode(msg); err != nil {
			fmt.Fprintln(os.Stderr, "uptane-hil worker: sending results:", err)
			return 1
		}
	}
}

// playAll plays the units (plan order) in procs worker processes, or in
// this process when procs is 1, and returns their results in the units'
// order. queue is the order in which they are handed out (longest first
// when costs are known). done is called, from one goroutine at a time, as
// each run finishes.
func playAll(r *rigs.Rig, f *runFlags, p *suitePlan, units []unit, queue []int, procs int, done func(u unit, rs []reports.Result)) ([][]reports.Result, error) {
	out := make([][]reports.Result, len(p.units))
	if procs > len(units) {
		procs = len(units)
	}
	if procs <= 1 {
		for _, u := range units {
			rs, err := playUnit(r, f.out, u, p.dut)
			if err != nil {
				return nil, err
			}
			out[u.index] = rs
			done(u, rs)
		}
		return collect(out, units), nil
	}
	next := make(chan int)
	var (
		mu       sync.Mutex
		firstErr error
		stop     = make(chan struct{})
		once     sync.Once
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		once.Do(func() { close(stop) })
	}
	var wg sync.WaitGroup
	for w := 1; w <= procs; w++ {
		wk, err := startWorker(f, w, procs)
		if err != nil {
			fail(err)
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer wk.close()
			for i := range next {
				u := p.units[i]
				msg, err := wk.play(i)
				if err != nil {
					fail(fmt.Errorf("worker %d (pid %d) while playing %s: %w%s", w, wk.cmd.Process.Pid, u.name(), err, wk.tail()))
					return
				}
				if msg.Error != "" {
					fail(errors.New(msg.Error))
					return
				}
				mu.Lock()
				out[i] = msg.Results
				done(u, msg.Results)
				mu.Unlock()
			}
		}()
	}
feed:
	for _, i := range queue {
		select {
		case next <- i:
		case <-stop:
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return collect(out, units), nil
}

func collect(out [][]reports.Result, units []unit) [][]reports.Result {
	rs := make([][]reports.Result, len(units))
	for i, u := range units {
		rs[i] = out[u.index]
	}
	return rs
}

type worker struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	dec  *json.Decoder
	log  string
	pipe *os.File
}

// startWorker starts worker n of procs. Each gets an equal part of the
// cores (GOMAXPROCS, unless set) and dies with its parent (Pdeathsig).
func startWorker(f *runFlags, n, procs int) (*worker, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("start worker processes: %w", err)
	}
	logs := filepath.Join(f.out, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return nil, err
	}
	wk := &worker{log: filepath.Join(logs, fmt.Sprintf("worker-%d.log", n))}
	lf, err := os.OpenFile(wk.log, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pw.Close()
	wk.cmd = exec.Command(exe, append([]string{"worker"}, workerArgs(f)...)...)
	wk.cmd.Stdout, wk.cmd.Stderr = lf, lf
	wk.cmd.ExtraFiles = []*os.File{pw}
	wk.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	wk.cmd.Env = append(os.Environ(), envWorker+"=1")
	if os.Getenv("GOMAXPROCS") == "" {
		wk.cmd.Env = append(wk.cmd.Env, "GOMAXPROCS="+strconv.Itoa(max(1, runtime.NumCPU()/procs)))
	}
	if wk.in, err = wk.cmd.StdinPipe(); err != nil {
		pr.Close()
		return nil, err
	}
	if err := wk.cmd.Start(); err != nil {
		pr.Close()
		return nil, fmt.Errorf("start worker %d: %w", n, err)
	}
	wk.pipe = pr
	wk.dec = json.NewDecoder(pr)
	return wk, nil
}

// workerArgs are the run's arguments for a worker: the rig, the output
// folder, the seeds and the scenario paths (it needs nothing else to build
// the same plan).
func workerArgs(f *runFlags) []string {
	a := []string{"--rig", f.rig, "--out", f.out, "-p", "1"}
	if f.seeds != "" {
		a = append(a, "--seeds", f.seeds)
	} else {
		a = append(a, "--seed", strconv.FormatUint(f.seed, 10))
	}
	return append(append(a, "--"), f.paths...)
}

func (w *worker) play(i int) (played, error) {
	var msg played
	if _, err := fmt.Fprintf(w.in, "%d\n", i); err != nil {
		return msg, fmt.Errorf("send: %w", err)
	}
	if err := w.dec.Decode(&msg); err != nil {
		if err == io.EOF {
			err = errors.New("the worker exited")
		}
		return msg, err
	}
	if msg.Unit != i {
		return msg, fmt.Errorf("answered for run %d", msg.Unit)
	}
	return msg, nil
}

// close ends the worker's input and waits for it.
func (w *worker) close() {
	w.in.Close()
	w.cmd.Wait()
	w.pipe.Close()
}

// tail is the end of the worker's log, for an error.
func (w *worker) tail() string {
	b, _ := os.ReadFile(w.log)
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	if s == "" {
		return " (log " + w.log + " is empty)"
	}
	return "\nlast lines of " + w.log + ":\n" + s
}
