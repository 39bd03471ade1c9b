package main

import (
	"flag"
	"fmt"
	"path/filepath"
	"runtime"
)

// runFlags are the arguments of `uptane-hil run` (and of its worker
// processes, which are given the same ones).
type runFlags struct {
	rig, out         string
	seed             uint64
	seeds            string
	shard            string
	shards           int
	timings          string
	procs            int
	paths            []string
	dut, state       string // --dut ECU-ID and --state DIR: a device under test (dut.go)
	dutOnly          bool   // --dut-only: the DUT's runs alone, no twin controls
	fs               *flag.FlagSet
	seedSet, procSet bool
}

func parseRunFlags(name string, args []string) (*runFlags, error) {
	f := &runFlags{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&f.rig, "rig", "rigs/virtual.yaml", "rig file")
	fs.StringVar(&f.out, "out", "out", "output directory for reports and captures")
	fs.Uint64Var(&f.seed, "seed", 0, "seed of the run (0: the rig's seed); replays one run of a sweep exactly")
	fs.StringVar(&f.seeds, "seeds", "", "a seed sweep: every run under each of these seeds, e.g. 1-100 or 1,5,9-12")
	fs.StringVar(&f.shard, "shard", "", "play only shard K of N (K/N, K from 1); default: from the environment (docs/scale.md)")
	fs.IntVar(&f.shards, "shards", 0, "number of shards when the environment gives only the index (a Kubernetes Indexed Job's completions)")
	fs.StringVar(&f.timings, "timings", "", "a previous report.json: split shards by the wall time of each run (default: by count)")
	fs.IntVar(&f.procs, "p", runtime.NumCPU(), "worker processes on this machine")
	fs.StringVar(&f.dut, "dut", "", "play the suite against this ECU of the rig as the device under test (default: the rig's ECU with dut: true)")
	fs.StringVar(&f.state, "state", filepath.Join("out", "vehicle"), "with a device under test: the backend's and the planning's state directory (the one `uptane-hil provision` and `uptane-hil vehicle` use)")
	fs.BoolVar(&f.dutOnly, "dut-only", false, "with a device under test: play its runs only, not the twins' controls (the report says they were not played)")
	fs.Usage = func() { runUsage(fs) }
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "seed":
			f.seedSet = true
		case "p":
			f.procSet = true
		}
	})
	f.paths = fs.Args()
	if len(f.paths) == 0 {
		f.paths = []string{"scenarios"}
	}
	if f.seedSet && f.seeds != "" {
		return nil, fmt.Errorf("give --seed (one seed) or --seeds (a sweep), not both")
	}
	if f.procs < 1 {
		return nil, fmt.Errorf("-p %d: at least one process", f.procs)
	}
	if f.shards < 0 {
		return nil, fmt.Errorf("--shards %d: not a number of shards", f.shards)
	}
	return f, nil
}

func runUsage(fs *flag.FlagSet) {
	fmt.Fprintf(fs.Output(), `usage: uptane-hil run [--rig FILE] [--out DIR] [--seed N | --seeds LIST] [-p N]
                      [--shard K/N | --shards N] [--timings REPORT]
                      [--dut ECU-ID [--state DIR] [--dut-only]] [SCENARIO FILE OR FOLDER ...]

Plays each scenario (default: the scenarios/ folder) against the rig, twice
per judged ECU: with the conformant profile, where the attack must be
defended, and with the control profile that lacks exactly the scenario's
defence, where the attack must succeed. Prints a line per run and a summary
table, and writes OUT/report.html (one self-contained file for auditors),
OUT/report.json (schema uptane-hil/report/v1, docs/report-schema.md) and
OUT/junit.xml, and OUT/captures/<scenario>-<profile>.pcap and .log (every
bus of the run). Exit status 0 only if every result passes.

Runs are simulated: every ECU of the rig runs under the simulated clock,
so each run depends only on the rig, the scenario and the seed. -p N plays
them in N worker processes (this program again; default: the number of
cores) with the same verdicts, reports and captures as -p 1.

Seeds: --seeds 1-100 plays every run under each seed; the rig's bus faults
(buses[].faults) hit different frames under each. A run whose verdict
differs between seeds is listed with the seeds that replay each verdict
(uptane-hil run --seed S FILE replays one).

Shards: --shard K/N plays a deterministic K-th of N of the runs (split by
count, or by cost with --timings); without --shard the shard comes from
the environment (Kubernetes JOB_COMPLETION_INDEX with --shards or
UPTANE_HIL_SHARDS, GitLab CI_NODE_INDEX/CI_NODE_TOTAL, Buildkite
BUILDKITE_PARALLEL_JOB/_COUNT, CircleCI CIRCLE_NODE_INDEX/_TOTAL,
UPTANE_HIL_SHARD=K/N). uptane-hil merge makes one report of all shards.
See docs/scale.md.

On rigs/virtual.yaml the buses are in-process; on rigs/vcan.yaml every
frame crosses the kernel's SocketCAN (vcan0, vcan1) while simulated time
stands still. Rigs with physical ECUs are refused, but for the device
under test.

A device under test (--dut ECU-ID, or dut: true on the ECU in the rig): a
Secondary outside this process (process: external or physical) on a
SocketCAN bus. Each scenario's conformant run is played against it on the
wall clock, through a Primary that forwards what the backend link gives it
and from attacker nodes on its bus; the control run against its simulated
twin. The backend, the other ECUs and the harness's clock persist in
--state, so the suite can be played again on the same ECU. Scenarios that
cannot judge the ECU are listed "not applicable" with the reason (counted
apart). Exit status 1 if the ECU is compromised by an applicable scenario
or a twin's control is not compromised. See docs/bench.md, section 8.

--dut-only plays the device's runs alone, without the twins' controls: a
second pass of the suite on the same device (its state carried over) in a
fraction of the time. The controls show that each scenario can detect a
missing defence, which does not depend on the device; the report says they
were not played (dut.controlsNotPlayed) and counts no control as passed.

`)
	fs.PrintDefaults()
}
