package shard_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/internal/shard"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

var _ = Describe("shards", func() {
	It("parses K/N, counting from 1, and says what is wrong", func() {
		Expect(shard.Parse("2/4")).To(Equal(shard.Shard{Index: 2, Count: 4}))
		for _, bad := range []string{"0/4", "5/4", "1/0", "2", "a/b", "-1/3"} {
			_, err := shard.Parse(bad)
			Expect(err).To(HaveOccurred(), bad)
			Expect(err.Error()).To(ContainSubstring(bad))
		}
	})

	It("by count: every run in exactly one shard, shard sizes within one of each other", func() {
		for _, n := range []int{1, 2, 3, 7} {
			a := shard.Assign(60, nil, n)
			sizes := map[int]int{}
			for _, k := range a {
				Expect(k).To(BeNumerically(">=", 1))
				Expect(k).To(BeNumerically("<=", n))
				sizes[k]++
			}
			Expect(sizes).To(HaveLen(n))
			for _, s := range sizes {
				Expect(s).To(BeNumerically("~", 60/n, 1))
			}
			Expect(shard.Assign(60, nil, n)).To(Equal(a), "deterministic")
		}
	})

	It("by cost: the slowest shard carries no more than the fair share plus the longest run", func() {
		costs := []float64{9, 1, 1, 1, 1, 1, 1, 1, 1, 5, 5, 1, 2, 2, 2, 8}
		var total, longest float64
		for _, c := range costs {
			total += c
			longest = max(longest, c)
		}
		for _, n := range []int{2, 3, 4} {
			a := shard.Assign(len(costs), costs, n)
			load := make([]float64, n+1)
			for i, k := range a {
				load[k] += costs[i]
			}
			for k := 1; k <= n; k++ {
				Expect(load[k]).To(BeNumerically("<=", total/float64(n)+longest))
			}
			// by count, the two 9 and 8 second runs would share shard 1 of 3
			Expect(a[0]).NotTo(Equal(a[15]))
		}
	})

	It("Pick lists a shard's plan positions in plan order", func() {
		a := shard.Assign(7, nil, 3)
		Expect(shard.Pick(a, shard.Shard{Index: 1, Count: 3})).To(Equal([]int{0, 3, 6}))
		Expect(shard.Pick(a, shard.Shard{Index: 3, Count: 3})).To(Equal([]int{2, 5}))
	})

	DescribeTable("finds the shard in the environment of each engine",
		func(getenv func(string) string, shards int, want shard.Shard, from string) {
			s, src, found, err := shard.FromEnv(getenv, shards)
			Expect(err).NotTo(HaveOccurred())
			Expect(found).To(BeTrue())
			Expect(s).To(Equal(want))
			Expect(src).To(ContainSubstring(from))
		},
		Entry("Kubernetes Indexed Job, count from --shards", env("JOB_COMPLETION_INDEX", "0"), 4, shard.Shard{Index: 1, Count: 4}, "Kubernetes"),
		Entry("Kubernetes Indexed Job, count from UPTANE_HIL_SHARDS", env("JOB_COMPLETION_INDEX", "3", "UPTANE_HIL_SHARDS", "4"), 0, shard.Shard{Index: 4, Count: 4}, "JOB_COMPLETION_INDEX=3"),
		Entry("GitLab parallel (from 1)", env("CI_NODE_INDEX", "2", "CI_NODE_TOTAL", "5"), 0, shard.Shard{Index: 2, Count: 5}, "GitLab"),
		Entry("Buildkite parallelism (from 0)", env("BUILDKITE_PARALLEL_JOB", "2", "BUILDKITE_PARALLEL_JOB_COUNT", "5"), 0, shard.Shard{Index: 3, Count: 5}, "Buildkite"),
		Entry("CircleCI parallelism (from 0)", env("CIRCLE_NODE_INDEX", "0", "CIRCLE_NODE_TOTAL", "2"), 0, shard.Shard{Index: 1, Count: 2}, "CircleCI"),
		Entry("UPTANE_HIL_SHARD wins over the engine's", env("UPTANE_HIL_SHARD", "3/3", "CI_NODE_INDEX", "1", "CI_NODE_TOTAL", "2"), 0, shard.Shard{Index: 3, Count: 3}, "UPTANE_HIL_SHARD"),
	)

	It("no engine variable: the whole suite", func() {
		s, _, found, err := shard.FromEnv(env(), 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(found).To(BeFalse())
		Expect(s).To(Equal(shard.All))
	})

	DescribeTable("refuses an environment that does not say one shard",
		func(getenv func(string) string, shards int, want string) {
			_, _, _, err := shard.FromEnv(getenv, shards)
			Expect(err).To(MatchError(ContainSubstring(want)))
		},
		Entry("index without a count", env("JOB_COMPLETION_INDEX", "1"), 0, "--shards N or set UPTANE_HIL_SHARDS"),
		Entry("index past the count", env("JOB_COMPLETION_INDEX", "4", "UPTANE_HIL_SHARDS", "4"), 0, "between 1 and 4"),
		Entry("count disagrees with --shards", env("CI_NODE_INDEX", "1", "CI_NODE_TOTAL", "3"), 4, "CI_NODE_TOTAL=3, but --shards 4"),
		Entry("not a number", env("CIRCLE_NODE_INDEX", "x", "CIRCLE_NODE_TOTAL", "2"), 0, "not a whole number"),
		Entry("--shards without an index", env(), 3, "no shard index in the environment"),
	)
})
