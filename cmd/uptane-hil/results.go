package main

import (
	"os"
	"path/filepath"
	"time"

	"github.com/uptane-hil/uptane-hil/reports"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/scenarios"
	"github.com/uptane-hil/uptane-hil/sim/seed"
)

// playUnit plays one run of the plan in this process and returns its
// results in the report's form (what a worker process sends back).
func playUnit(r *rigs.Rig, out string, u unit, dut *scenarios.DUT) ([]reports.Result, error) {
	res, err := u.scen.Play(scenarios.RunOptions{Rig: r, Dir: runsDir(out), Seed: seed.Seed(u.seed), Captures: capturesDir(out), Tag: u.tag, DUT: dut}, u.control)
	if err != nil && u.tag == "" {
		return nil, err
	}
	if err != nil {
		// in a sweep, a play that breaks under one seed (a fault lost
		// the bring-up's frames) is a failure of that seed
		res = u.scen.NotPlayed(r, u.control, err)
	}
	var proves []string
	for _, id := range u.scen.StatementIDs() {
		proves = append(proves, string(id))
	}
	rs := make([]reports.Result, len(res))
	for i, x := range res {
		rs[i] = reportResult(r, u, x, proves)
	}
	return rs, nil
}

func runsDir(out string) string     { return filepath.Join(out, "runs") }
func capturesDir(out string) string { return filepath.Join(out, "captures") }

// newReport is the report of a run (or a shard of one) on rig r.
func newReport(r *rigs.Rig, p *suitePlan, started time.Time) (*reports.Report, error) {
	rig := reports.Rig{Name: r.Name, File: r.File, Transport: transportOf(r)}
	for _, b := range r.Buses {
		rig.Buses = append(rig.Buses, reports.Bus{Name: b.Name, Interface: b.Interface, Bitrate: b.Bitrate, DataBitrate: b.DataBitrate, FD: b.FD})
	}
	data, err := os.ReadFile(r.File)
	if err != nil {
		return nil, err
	}
	rig.Digest = reports.Digest(data)
	rep := reports.New(reports.Tool{Name: "uptane-hil", Version: version}, rig, p.seeds[0], started.UTC())
	if len(p.seeds) > 1 {
		rep.Seeds = p.seeds
	}
	rep.Plan = p.info
	return rep, nil
}

// writeReport finishes rep, with the Standard coverage of the plan's
// scenarios, and writes the three reports into dir.
func writeReport(dir string, p *suitePlan, rep *reports.Report) error {
	reports.SortPlanOrder(rep)
	rep.FindUnstable()
	finishDUT(rep, nil)
	rep.Coverage = reports.NewCoverage(scenarios.Trace(p.list, "."), rep.Results)
	rep.Finish(time.Now().UTC())
	return reports.WriteAll(dir, rep, reports.WithStandard(reports.StandardSections(reports.StandardText)))
}
