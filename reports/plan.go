package reports

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Plan identifies the whole suite a report's runs belong to: the scenario
// files (by content), the seeds and the number of runs. A run ("unit") is
// one scenario played under one profile and one seed; it judges each of the
// scenario's ECUs, so it gives one Result per judged ECU. Units are
// numbered in plan order: scenario by scenario (in the order given), seed
// by seed, the conformant profile before the control.
type Plan struct {
	Scenarios []PlanScenario `json:"scenarios"`
	// Units is the number of runs in the whole suite.
	Units int `json:"units"`
	// Digest is the SHA-256 (hex) over the scenarios, the seeds and the
	// units: two reports of the same suite have the same digest.
	Digest string `json:"sha256"`
}

// PlanScenario is one scenario file of the plan.
type PlanScenario struct {
	Name   string `json:"name"`
	File   string `json:"file"`
	Digest string `json:"sha256"` // of the file's content
}

// NewPlan returns the plan of scenarios played under seeds, units runs in
// all, with its digest.
func NewPlan(scen []PlanScenario, seeds []uint64, units int) *Plan {
	h := sha256.New()
	for _, s := range scen {
		fmt.Fprintf(h, "scenario %s %s\n", s.Name, s.Digest)
	}
	fmt.Fprintf(h, "seeds %v\nunits %d\n", seeds, units)
	return &Plan{Scenarios: scen, Units: units, Digest: hex.EncodeToString(h.Sum(nil))}
}

// Digest is the SHA-256 (hex) of data.
func Digest(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// Shard says which part of a plan a report holds.
type Shard struct {
	Index int `json:"index"` // 1 to Count
	Count int `json:"count"`
	// Balance is how the plan was split: "count" (round-robin) or
	// "cost:<sha256 of the timings report>" (by the wall time of each run
	// in that report). Every shard of a suite must be split the same way.
	Balance string `json:"balance"`
	// Units are the plan positions (from 0) of the runs this shard played.
	Units []int `json:"units"`
}

// UnitName names a run of the plan for people: scenario, profile and seed.
func UnitName(scenario string, control bool, seed uint64) string {
	p := "conformant"
	if control {
		p = "control"
	}
	return strings.Join([]string{scenario, p, fmt.Sprintf("seed %d", seed)}, " / ")
}
