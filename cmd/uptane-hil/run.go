package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/uptane-hil/uptane-hil/internal/shard"
	"github.com/uptane-hil/uptane-hil/reports"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/scenarios"
)

func init() {
	register("run", "play attack scenarios against a rig and write reports", runSuite)
}

func runSuite(args []string) int {
	f, err := parseRunFlags("run", args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "uptane-hil run:", err)
		return 2
	}
	r, p, err := loadSuite(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "uptane-hil run:", err)
		return 2
	}
	sh, sharded, err := pickShard(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "uptane-hil run:", err)
		return 2
	}
	var costs []float64
	balance := "count"
	if f.timings != "" {
		if costs, balance, err = unitCosts(p, f.timings); err != nil {
			fmt.Fprintln(os.Stderr, "uptane-hil run:", err)
			return 2
		}
	}
	picked := shard.Pick(shard.Assign(len(p.units), costs, sh.Count), sh)
	units := make([]unit, len(picked))
	for i, k := range picked {
		units[i] = p.units[k]
	}
	procs := f.procs
	if p.dut != nil {
		// one device, scenario after scenario: its state carries over
		procs = 1
		controls := ", the control run on its simulated twin"
		if p.dutOnly {
			controls = "; --dut-only: " + controlsNotPlayed
		}
		fmt.Printf("device under test: %s of rig %s (state in %s): each scenario's conformant run is judged on it%s\n", p.dut.ECU, r.File, p.dut.State, controls)
	} else if procs > 1 && r.HasSocketCAN() {
		// every process would see every other's frames on the interface
		if f.procSet {
			fmt.Fprintf(os.Stderr, "uptane-hil run: rig %s has SocketCAN buses, which processes would share: playing in one process\n", r.File)
		}
		procs = 1
	}
	for _, d := range []string{capturesDir(f.out), runsDir(f.out)} {
		if err := os.RemoveAll(d); err != nil {
			fmt.Fprintln(os.Stderr, "uptane-hil run:", err)
			return 1
		}
	}
	if sharded {
		fmt.Printf("shard %s: %d of the suite's %d plays (scenario × profile × seed; split by %s)\n", sh, len(units), len(p.units), strings.SplitN(balance, ":", 2)[0])
	}
	started := time.Now()
	n, total := 0, len(units)
	width := len(fmt.Sprint(total))
	results, err := playAll(r, f, p, units, queueOrder(units, costs), procs, func(u unit, rs []reports.Result) {
		n++
		for _, x := range rs {
			if p.dut != nil {
				printDUTLine(width, n, total, u.control, x)
				continue
			}
			fmt.Printf("[%*d/%d] %-4s %-34s %-9s %-44s %-11s %s%s\n", width, n, total, resultWord(x), x.Scenario, x.ECU, x.Profile, x.Observed, x.Detected, seedNote(p, x.Seed))
		}
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "uptane-hil run:", err)
		return 1
	}
	rep, err := newReport(r, p, started)
	if err != nil {
		fmt.Fprintln(os.Stderr, "uptane-hil run:", err)
		return 1
	}
	if sharded {
		rep.Shard = &reports.Shard{Index: sh.Index, Count: sh.Count, Balance: balance, Units: picked}
	}
	if p.dut != nil {
		rep.DUT = dutSection(r, p.dut.ECU)
		rep.DUT.End = dutEnd(r, p)
		if p.dutOnly {
			rep.DUT.ControlsNotPlayed = controlsNotPlayed
		}
	}
	for _, rs := range results {
		rep.Add(rs...)
	}
	if err := writeReport(f.out, p, rep); err != nil {
		fmt.Fprintln(os.Stderr, "uptane-hil run:", err)
		return 1
	}
	failed := writeSummary(os.Stdout, rep.Results)
	reports.WriteUnstable(os.Stdout, rep)
	if p.dutOnly {
		fmt.Printf("the twins' controls were not played (--dut-only): no control result, none counted as passed\n")
	}
	fmt.Printf("\n%s in %s wall (%d process(es)); reports in %s: report.html, report.json, junit.xml\n", runsText(rep.Summary), time.Since(started).Round(time.Millisecond), min(procs, max(1, len(units))), f.out)
	if failed > 0 || len(rep.Unstable) > 0 {
		return 1
	}
	return 0
}

// loadSuite loads the rig and the scenarios and builds the plan.
func loadSuite(f *runFlags) (*rigs.Rig, *suitePlan, error) {
	r, err := rigs.Load(f.rig)
	if err != nil {
		return nil, nil, err
	}
	// Scenarios run every ECU in this process on the simulated clock (on
	// SocketCAN buses too), except a device under test (dut.go): an ECU on
	// a wire is the DUT or cannot be run.
	dut, err := dutOf(f, r)
	if err != nil {
		return nil, nil, err
	}
	if f.dutOnly && dut == nil {
		return nil, nil, fmt.Errorf("--dut-only plays the device under test's runs alone: give --dut ECU-ID (or dut: true on an ECU of rig %s)", r.File)
	}
	for _, e := range r.ECUs {
		if e.Process == rigs.Physical && (dut == nil || dut.ECU != e.ID) {
			return nil, nil, fmt.Errorf("rig %s: ECU %s is physical; scenario runs need every ECU in this process (rigs/virtual.yaml, rigs/vcan.yaml) but the device under test (--dut); drive a bench with `uptane-hil vehicle`", r.File, e.ID)
		}
	}
	list, err := scenarios.LoadAll(f.paths...)
	if err != nil {
		return nil, nil, err
	}
	seeds := []uint64{f.seed}
	if f.seed == 0 {
		seeds[0] = r.Seed
	}
	if f.seeds != "" {
		if seeds, err = parseSeeds(f.seeds); err != nil {
			return nil, nil, err
		}
	}
	p, err := buildPlan(list, seeds, !f.dutOnly)
	if p != nil {
		p.dut = dut
	}
	return r, p, err
}

// pickShard is the shard this process plays: --shard, else the
// environment's, else the whole suite (sharded false: the report is not a
// shard's, there is nothing to merge).
func pickShard(f *runFlags) (s shard.Shard, sharded bool, err error) {
	if f.shard != "" {
		s, err := shard.Parse(f.shard)
		if err == nil && f.shards != 0 && f.shards != s.Count {
			err = fmt.Errorf("--shard %s, but --shards %d", f.shard, f.shards)
		}
		return s, true, err
	}
	s, from, found, err := shard.FromEnv(os.Getenv, f.shards)
	if err != nil {
		return s, false, fmt.Errorf("shard from the environment: %w", err)
	}
	if found {
		fmt.Printf("shard %s from %s\n", s, from)
	}
	return s, found, nil
}

// queueOrder is the order in which runs are handed to workers: longest
// first when their costs are known (the last to finish is then a short
// one), else plan order.
func queueOrder(units []unit, costs []float64) []int {
	q := make([]int, len(units))
	for i, u := range units {
		q[i] = u.index
	}
	if costs != nil {
		sort.SliceStable(q, func(a, b int) bool { return costs[q[a]] > costs[q[b]] })
	}
	return q
}

func seedNote(p *suitePlan, s uint64) string {
	if len(p.seeds) > 1 {
		return fmt.Sprintf("  (seed %d)", s)
	}
	return ""
}

// resultWord is PASS or FAIL, FIND for an out-of-model result whose
// finding reproduced (no defence: its report entry says why), or RSST for
// one the device under test resisted (passed; no defence either).
func resultWord(x reports.Result) string {
	if x.IsResisted() {
		return "RSST"
	}
	if x.Pass && x.Expected == reports.OutOfModel {
		return "FIND"
	}
	return passWord(x.Pass)
}

func passWord(p bool) string {
	if p {
		return "PASS"
	}
	return "FAIL"
}

// writeSummary prints the runs and passes per attack and the closing
// count; a scenario that does not apply to the device under test is
// counted apart, neither passed nor failed.
func writeSummary(w io.Writer, all []reports.Result) (failed int) {
	type row struct{ runs, passed, na, findings, resisted int }
	findings, resisted := 0, 0
	byAttack := map[string]*row{}
	var order []string
	na := 0
	for _, x := range all {
		rw := byAttack[x.Attack]
		if rw == nil {
			rw = &row{}
			byAttack[x.Attack] = rw
			order = append(order, x.Attack)
		}
		rw.runs++
		switch {
		case x.IsNotApplicable():
			rw.na++
			na++
		case x.IsResisted():
			rw.resisted++
			resisted++
		case x.Pass && x.Expected == reports.OutOfModel:
			rw.findings++
			findings++
		case x.Pass:
			rw.passed++
		default:
			failed++
		}
	}
	if na == 0 {
		fmt.Fprintf(w, "\n%-22s %5s %7s\n", "attack", "runs", "passed")
		fmt.Fprintln(w, strings.Repeat("-", 36))
		for _, a := range order {
			more := ""
			if f := byAttack[a].findings; f > 0 {
				more = fmt.Sprintf("  + %d out-of-model finding(s)", f)
			}
			if n := byAttack[a].resisted; n > 0 {
				more += fmt.Sprintf("  + %d resisted (out of the model)", n)
			}
			fmt.Fprintf(w, "%-22s %5d %7d%s\n", a, byAttack[a].runs, byAttack[a].passed, more)
		}
		fmt.Fprintf(w, "%d passed, %d failed", len(all)-failed-findings-resisted, failed)
		if findings > 0 {
			fmt.Fprintf(w, ", %d out-of-model finding(s): no ECU check can stop them, not counted as defences (report.html says why)", findings)
		}
		if resisted > 0 {
			fmt.Fprintf(w, ", %d out-of-model attack(s) resisted by the device (RSST: a good outcome, no Uptane check credited; the report says what it did)", resisted)
		}
		fmt.Fprintln(w)
		return failed
	}
	fmt.Fprintf(w, "\n%-22s %5s %7s %15s\n", "attack", "runs", "passed", "not applicable")
	fmt.Fprintln(w, strings.Repeat("-", 52))
	for _, a := range order {
		fmt.Fprintf(w, "%-22s %5d %7d %15d\n", a, byAttack[a].runs, byAttack[a].passed, byAttack[a].na)
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d not applicable (neither passed nor failed: they cannot judge the device under test; the report says why)", len(all)-failed-na-findings-resisted, failed, na)
	if findings > 0 {
		fmt.Fprintf(w, ", %d out-of-model finding(s) reproduced on the device: no ECU check can stop them, not counted as defences", findings)
	}
	if resisted > 0 {
		fmt.Fprintf(w, ", %d out-of-model attack(s) resisted by the device (RSST: a good outcome, no Uptane check credited; the report says what it did)", resisted)
	}
	fmt.Fprintln(w)
	return failed
}

// transportOf says what carries a scenario run on rig r, for the report's
// header: the rig's buses, virtual or SocketCAN (with their interfaces);
// every ECU runs in this process.
func transportOf(r *rigs.Rig) string {
	var virtual, kernel []string
	for _, b := range r.Buses {
		if b.Kind == rigs.SocketCAN {
			kernel = append(kernel, b.Interface)
		} else {
			virtual = append(virtual, b.Name)
		}
	}
	var parts []string
	if len(virtual) > 0 {
		parts = append(parts, "virtual buses")
	}
	if len(kernel) > 0 {
		parts = append(parts, "SocketCAN "+strings.Join(kernel, ", "))
	}
	return strings.Join(parts, " and ") + " (UDS on ISO-TP), in-process"
}
