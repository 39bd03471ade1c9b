package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/uptane-hil/uptane-hil/reports"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/scenarios"
	"github.com/uptane-hil/uptane-hil/sim/seed"
)

func init() {
	register("run", "play attack scenarios against a rig and write reports", runSuite)
}

func runSuite(args []string) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	rigFile := fs.String("rig", "rigs/virtual.yaml", "rig file")
	out := fs.String("out", "out", "output directory for reports and captures")
	sd := fs.Uint64("seed", 0, "seed of the run (0: the rig's seed)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: uptane-hil run [--rig FILE] [--out DIR] [--seed N] [SCENARIO FILE OR FOLDER ...]

Plays each scenario (default: the scenarios/ folder) against the rig, twice
per judged ECU: with the conformant profile, where the attack must be
defended, and with the control profile that lacks exactly the scenario's
defence, where the attack must succeed. Prints a line per run and a summary
table, and writes OUT/report.html (one self-contained file for auditors),
OUT/report.json (schema uptane-hil/report/v1, docs/report-schema.md) and
OUT/junit.xml, and OUT/captures/<scenario>-<profile>.pcap and .log (every
bus of the run). Exit status 0 only if every result passes.

Runs are simulated: every ECU of the rig runs in this process on the
simulated clock. On rigs/virtual.yaml the buses are in-process; on
rigs/vcan.yaml every frame crosses the kernel's SocketCAN (vcan0, vcan1)
while simulated time stands still. Rigs with physical ECUs are refused.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{"scenarios"}
	}
	r, err := rigs.Load(*rigFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "uptane-hil run:", err)
		return 2
	}
	// Scenarios run every ECU in this process on the simulated clock (on
	// SocketCAN buses too); an ECU on a wire cannot be run that way.
	for _, e := range r.ECUs {
		if e.Process == rigs.Physical {
			fmt.Fprintf(os.Stderr, "uptane-hil run: rig %s: ECU %s is physical; scenario runs need every ECU in this process (rigs/virtual.yaml, rigs/vcan.yaml); drive a bench with `uptane-hil vehicle`\n", r.File, e.ID)
			return 2
		}
	}
	list, err := scenarios.LoadAll(paths...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "uptane-hil run:", err)
		return 2
	}
	work := filepath.Join(*out, "runs")
	os.RemoveAll(filepath.Join(*out, "captures"))
	if err := os.RemoveAll(work); err != nil {
		fmt.Fprintln(os.Stderr, "uptane-hil run:", err)
		return 1
	}
	started := time.Now()
	var all []scenarios.Result
	for _, s := range list {
		res, err := s.Run(scenarios.RunOptions{Rig: r, Dir: work, Seed: seed.Seed(*sd), Captures: filepath.Join(*out, "captures")})
		if err != nil {
			fmt.Fprintln(os.Stderr, "uptane-hil run:", err)
			return 1
		}
		for _, x := range res {
			fmt.Printf("%-4s %-34s %-9s %-44s %-11s %s\n", passWord(x.Pass), x.Scenario, x.ECU, x.Profile, x.Observed, x.Detected)
		}
		all = append(all, res...)
	}
	failed := writeSummary(os.Stdout, all)
	fmt.Printf("\n%d runs in %s wall; reports in %s: report.html, report.json, junit.xml\n", len(all), time.Since(started).Round(time.Millisecond), *out)
	sdv := uint64(*sd)
	if sdv == 0 {
		sdv = r.Seed
	}
	if err := writeResults(*out, r, sdv, started, all, list); err != nil {
		fmt.Fprintln(os.Stderr, "uptane-hil run:", err)
		return 1
	}
	if failed > 0 {
		return 1
	}
	return 0
}

func passWord(p bool) string {
	if p {
		return "PASS"
	}
	return "FAIL"
}

func writeSummary(w io.Writer, all []scenarios.Result) (failed int) {
	type row struct{ runs, passed int }
	byAttack := map[string]*row{}
	var order []string
	for _, x := range all {
		rw := byAttack[x.Attack]
		if rw == nil {
			rw = &row{}
			byAttack[x.Attack] = rw
			order = append(order, x.Attack)
		}
		rw.runs++
		if x.Pass {
			rw.passed++
		} else {
			failed++
		}
	}
	fmt.Fprintf(w, "\n%-22s %5s %7s\n", "attack", "runs", "passed")
	fmt.Fprintln(w, strings.Repeat("-", 36))
	for _, a := range order {
		fmt.Fprintf(w, "%-22s %5d %7d\n", a, byAttack[a].runs, byAttack[a].passed)
	}
	fmt.Fprintf(w, "%d passed, %d failed\n", len(all)-failed, failed)
	return failed
}

// writeResults writes the reports of the run, with the Standard coverage of
// the scenarios played (list).
func writeResults(dir string, r *rigs.Rig, sd uint64, started time.Time, all []scenarios.Result, list []*scenarios.Scenario) error {
	rig := reports.Rig{Name: r.Name, File: r.File, Transport: transportOf(r)}
	for _, b := range r.Buses {
		rig.Buses = append(rig.Buses, reports.Bus{Name: b.Name, Interface: b.Interface, Bitrate: b.Bitrate, DataBitrate: b.DataBitrate, FD: b.FD})
	}
	rep := reports.New(reports.Tool{Name: "uptane-hil", Version: version}, rig, sd, started.UTC())
	proves := map[string][]string{}
	for _, s := range list {
		for _, id := range s.StatementIDs() {
			proves[s.Name] = append(proves[s.Name], string(id))
		}
	}
	for _, x := range all {
		rep.Add(reports.Result{Scenario: x.Scenario, Description: x.Description, Attack: x.Attack, Standard: x.Standard,
			Transport: x.Transport, ECU: x.ECU, Profile: x.Profile, Control: x.Control, Expected: x.Expected,
			Observed: x.Observed, Detected: x.Detected, Detail: x.Detail, VersionReport: x.Report, Pass: x.Pass,
			Duration: reports.Ms(x.Duration), Wall: reports.Ms(x.Wall), Sequence: reports.SequenceFromEvents(time.Time{}, x.Events),
			Capture: x.Capture, CandumpLog: x.CandumpLog, Statements: proves[x.Scenario]})
	}
	rep.Coverage = reports.NewCoverage(scenarios.Trace(list, "."), rep.Results)
	rep.Finish(time.Now().UTC())
	return reports.WriteAll(dir, rep, reports.WithStandard(reports.StandardSections(reports.StandardText)))
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
