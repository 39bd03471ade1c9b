// Package shard splits a suite's runs into N deterministic shards and finds
// which shard this process plays, from a flag or from the environment of
// the engine that started it (a Kubernetes Indexed Job, a CI matrix).
//
// Shards are numbered from 1: shard K/N is the K-th of N. Every process
// that is given the same runs and the same costs computes the same
// assignment, so N machines that never talk to each other play each run
// exactly once.
package shard

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Shard is the K-th (Index, from 1) of Count shards.
type Shard struct {
	Index int
	Count int
}

// All is the whole suite: shard 1/1.
var All = Shard{Index: 1, Count: 1}

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Valid reports whether 1 <= Index <= Count.
func (s Shard) Valid() error {
	if s.Count < 1 {
		return fmt.Errorf("shard %s: the number of shards must be at least 1", s)
	}
	if s.Index < 1 || s.Index > s.Count {
		return fmt.Errorf("shard %s: the index must be between 1 and %d (shards are numbered from 1)", s, s.Count)
	}
	return nil
}

// Parse reads "K/N" (K from 1 to N).
func Parse(v string) (Shard, error) {
	k, n, ok := strings.Cut(strings.TrimSpace(v), "/")
	if !ok {
		return Shard{}, fmt.Errorf("shard %q: want K/N, e.g. 2/4 (the second of four shards)", v)
	}
	ki, err1 := strconv.Atoi(k)
	ni, err2 := strconv.Atoi(n)
	if err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("shard %q: want K/N with whole numbers, e.g. 2/4", v)
	}
	s := Shard{Index: ki, Count: ni}
	return s, s.Valid()
}

// Assign gives each of n runs (in plan order) the shard that plays it, 1 to
// count. Without costs (nil) the runs are dealt round-robin, so every shard
// gets n/count of them, give or take one. With costs (one per run, e.g. the
// wall time of the run in a previous report) they are balanced by cost:
// longest first, each to the shard with the least cost so far (ties: the
// lower index), so the slowest shard finishes as early as it can.
func Assign(n int, costs []float64, count int) []int {
	out := make([]int, n)
	if count < 1 {
		count = 1
	}
	if costs == nil {
		for i := range out {
			out[i] = i%count + 1
		}
		return out
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return costs[order[a]] > costs[order[b]] })
	load := make([]float64, count)
	for _, i := range order {
		best := 0
		for k := 1; k < count; k++ {
			if load[k] < load[best] {
				best = k
			}
		}
		load[best] += costs[i]
		out[i] = best + 1
	}
	return out
}

// Pick returns the plan positions of the runs assigned to shard s.
func Pick(assign []int, s Shard) []int {
	var out []int
	for i, k := range assign {
		if k == s.Index {
			out = append(out, i)
		}
	}
	return out
}
