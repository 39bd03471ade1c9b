package shard

import (
	"fmt"
	"strconv"
)

// Environment variables FromEnv reads, in this order; the first one that
// is set decides.
const (
	// EnvShard is "K/N": for any engine, e.g. a GitHub Actions matrix
	// (UPTANE_HIL_SHARD: ${{ matrix.shard }}/4).
	EnvShard = "UPTANE_HIL_SHARD"
	// EnvShards is the number of shards when the engine gives only the
	// index (a Kubernetes Indexed Job: set it to the Job's completions).
	EnvShards = "UPTANE_HIL_SHARDS"
	// EnvJobIndex is set by Kubernetes in every pod of an Indexed Job:
	// 0 to completions-1.
	EnvJobIndex = "JOB_COMPLETION_INDEX"
	// GitLab CI, a job with parallel: N: CI_NODE_INDEX 1 to N.
	EnvGitLabIndex = "CI_NODE_INDEX"
	EnvGitLabTotal = "CI_NODE_TOTAL"
	// Buildkite, a step with parallelism: N: 0 to N-1.
	EnvBuildkiteIndex = "BUILDKITE_PARALLEL_JOB"
	EnvBuildkiteTotal = "BUILDKITE_PARALLEL_JOB_COUNT"
	// CircleCI, a job with parallelism: N: 0 to N-1.
	EnvCircleIndex = "CIRCLE_NODE_INDEX"
	EnvCircleTotal = "CIRCLE_NODE_TOTAL"
)

// engine is one way an engine tells a process its place: an index
// variable (counted from base) and a total variable.
type engine struct {
	name         string
	index, total string
	base         int
}

var engines = []engine{
	{"Kubernetes Indexed Job", EnvJobIndex, EnvShards, 0},
	{"GitLab CI parallel", EnvGitLabIndex, EnvGitLabTotal, 1},
	{"Buildkite parallelism", EnvBuildkiteIndex, EnvBuildkiteTotal, 0},
	{"CircleCI parallelism", EnvCircleIndex, EnvCircleTotal, 0},
}

// FromEnv finds the shard of this process in the environment (getenv, e.g.
// os.Getenv). shards, when non-zero, is the number of shards given on the
// command line (--shards N); it is the count for Kubernetes and must agree
// with a CI engine's total. found is false when no engine variable is set:
// the process plays the whole suite. from names the variables used.
func FromEnv(getenv func(string) string, shards int) (s Shard, from string, found bool, err error) {
	if v := getenv(EnvShard); v != "" {
		s, err := Parse(v)
		if err != nil {
			return Shard{}, EnvShard, true, fmt.Errorf("%s: %w", EnvShard, err)
		}
		if shards != 0 && shards != s.Count {
			return Shard{}, EnvShard, true, fmt.Errorf("%s=%s, but --shards %d", EnvShard, v, shards)
		}
		return s, EnvShard, true, nil
	}
	for _, e := range engines {
		iv := getenv(e.index)
		if iv == "" {
			continue
		}
		from = fmt.Sprintf("%s (%s=%s", e.name, e.index, iv)
		idx, err := strconv.Atoi(iv)
		if err != nil {
			return Shard{}, from + ")", true, fmt.Errorf("%s=%q is not a whole number", e.index, iv)
		}
		count := shards
		tv := getenv(e.total)
		if tv != "" {
			n, err := strconv.Atoi(tv)
			if err != nil {
				return Shard{}, from + ")", true, fmt.Errorf("%s=%q is not a whole number", e.total, tv)
			}
			if shards != 0 && n != shards {
				return Shard{}, from + ")", true, fmt.Errorf("%s=%d, but --shards %d", e.total, n, shards)
			}
			count = n
			from += ", " + e.total + "=" + tv
		}
		from += ")"
		if count == 0 {
			return Shard{}, from, true, fmt.Errorf("%s=%s gives this pod's index but not how many shards there are: pass --shards N or set %s to the Job's completions", e.index, iv, e.total)
		}
		s = Shard{Index: idx - e.base + 1, Count: count}
		if err := s.Valid(); err != nil {
			return Shard{}, from, true, fmt.Errorf("%s: %w", from, err)
		}
		return s, from, true, nil
	}
	if shards > 1 {
		return Shard{}, "", false, fmt.Errorf("--shards %d, but no shard index in the environment (%s, %s, %s, %s or %s): give --shard K/N", shards, EnvShard, EnvJobIndex, EnvGitLabIndex, EnvBuildkiteIndex, EnvCircleIndex)
	}
	return All, "", false, nil
}
