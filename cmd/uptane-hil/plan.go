package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/uptane-hil/uptane-hil/reports"
	"github.com/uptane-hil/uptane-hil/scenarios"
)

// unit is one run of the plan: a scenario under one profile and one seed.
// It judges each of the scenario's ECUs in one vehicle, so it is never
// split further: shards and worker processes are handed whole units.
type unit struct {
	index   int // position in the plan, from 0
	scen    *scenarios.Scenario
	control bool
	seed    uint64
	tag     string // appended to its capture names in a sweep: "seed-N"
}

func (u unit) name() string { return reports.UnitName(u.scen.Name, u.control, u.seed) }

// suitePlan is every run of the suite in plan order: scenario by scenario,
// seed by seed, the conformant profile before the control (no control with
// --dut-only: dutOnly).
type suitePlan struct {
	units []unit
	seeds []uint64 // more than one: a sweep
	info  *reports.Plan
	list  []*scenarios.Scenario
	dut   *scenarios.DUT // the device under test, nil for a simulated run
	// dutOnly: the plan has no control runs (`run --dut-only`); the
	// report's dut.controlsNotPlayed says so.
	dutOnly bool
}

// buildPlan plans every scenario of list under each seed, the conformant
// run and (controls) the control run.
func buildPlan(list []*scenarios.Scenario, seeds []uint64, controls bool) (*suitePlan, error) {
	p := &suitePlan{seeds: seeds, list: list, dutOnly: !controls}
	var ps []reports.PlanScenario
	for _, s := range list {
		data, err := os.ReadFile(s.File)
		if err != nil {
			return nil, fmt.Errorf("scenario %s: %w", s.Name, err)
		}
		ps = append(ps, reports.PlanScenario{Name: s.Name, File: s.File, Digest: reports.Digest(data)})
		for _, sd := range seeds {
			tag := ""
			if len(seeds) > 1 {
				tag = fmt.Sprintf("seed-%d", sd)
			}
			for _, control := range []bool{false, true} {
				if control && !controls {
					continue
				}
				p.units = append(p.units, unit{index: len(p.units), scen: s, control: control, seed: sd, tag: tag})
			}
		}
	}
	p.info = reports.NewPlan(ps, seeds, len(p.units))
	return p, nil
}

// parseSeeds reads a seed list: "1-100", "3", "1,5,9-12". Seeds are
// positive (0 stands for "the rig's seed" elsewhere), each given once.
func parseSeeds(v string) ([]uint64, error) {
	var out []uint64
	seen := map[uint64]bool{}
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("--seeds %q: %q is not a seed or a range like 1-100", v, part)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 64); err != nil || b < a {
				return nil, fmt.Errorf("--seeds %q: %q is not a range FIRST-LAST with FIRST <= LAST", v, part)
			}
		}
		if a == 0 {
			return nil, fmt.Errorf("--seeds %q: seeds start at 1", v)
		}
		if b-a >= 1_000_000 {
			return nil, fmt.Errorf("--seeds %q: more than a million seeds", v)
		}
		for s := a; s <= b; s++ {
			if seen[s] {
				return nil, fmt.Errorf("--seeds %q: seed %d given twice", v, s)
			}
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, nil
}

// unitCosts reads the wall time of each run from a previous report (its
// results carry the run's wall time): a run it does not have costs the
// mean of the same scenario and profile under other seeds, else the mean of
// all runs it has.
func unitCosts(p *suitePlan, timings string) ([]float64, string, error) {
	data, err := os.ReadFile(timings)
	if err != nil {
		return nil, "", fmt.Errorf("--timings: %w", err)
	}
	prev, err := reports.ReadJSON(strings.NewReader(string(data)))
	if err != nil && prev == nil {
		return nil, "", fmt.Errorf("--timings %s: %w", timings, err)
	}
	type key struct {
		scen    string
		control bool
		seed    uint64
	}
	exact := map[key]float64{}
	type sp struct {
		scen    string
		control bool
	}
	sum, n := map[sp]float64{}, map[sp]int{}
	var all float64
	for _, x := range prev.Results {
		k := key{x.Scenario, x.Control, x.Seed}
		if x.Seed == 0 {
			k.seed = prev.Seed
		}
		if x.Wall > exact[k] {
			exact[k] = x.Wall
		}
	}
	for k, w := range exact {
		sum[sp{k.scen, k.control}] += w
		n[sp{k.scen, k.control}]++
		all += w
	}
	mean := 1.0
	if len(exact) > 0 {
		mean = all / float64(len(exact))
	}
	costs := make([]float64, len(p.units))
	for i, u := range p.units {
		if w, ok := exact[key{u.scen.Name, u.control, u.seed}]; ok {
			costs[i] = w
		} else if c := n[sp{u.scen.Name, u.control}]; c > 0 {
			costs[i] = sum[sp{u.scen.Name, u.control}] / float64(c)
		} else {
			costs[i] = mean
		}
	}
	return costs, "cost:" + reports.Digest(data), nil
}
