package reports_test

import (
	"bytes"
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/reports"
	"github.com/uptane-hil/uptane-hil/reports/internal/sample"
)

// sweep is a report of scenario s on ECU-1 under seeds 1-4, conformant and
// control, where the control is defended under seeds 2 and 3.
func sweep() *reports.Report {
	r := reports.New(reports.Tool{Name: "uptane-hil", Version: "1"}, reports.Rig{Name: "noisy", File: "rigs/noisy.yaml", Transport: "virtual", Digest: "ab"}, 1, sample.Started)
	r.Seeds = []uint64{1, 2, 3, 4}
	r.Plan = reports.NewPlan([]reports.PlanScenario{{Name: "s", File: "scenarios/s.yaml", Digest: "cd"}}, r.Seeds, 8)
	for _, sd := range r.Seeds {
		for _, control := range []bool{false, true} {
			x := reports.Result{Scenario: "s", Attack: "freeze", Standard: []string{"check_timestamp"}, ECU: "ECU-1", Profile: "conformant",
				Seed: sd, Expected: reports.Defended, Observed: reports.Defended, Detected: "check_timestamp.expiry", Pass: true}
			if control {
				x.Profile, x.Control, x.Expected, x.Observed, x.Detected = "without:x", true, reports.Compromised, reports.Compromised, ""
				if sd == 2 || sd == 3 {
					x.Observed, x.Pass = reports.Defended, false
				}
			}
			r.Add(x)
		}
	}
	r.FindUnstable()
	r.Finish(sample.Started.Add(time.Minute))
	return r
}

// shardOf is the part of r with the plan positions where keep is true.
func shardOf(r *reports.Report, k, n int) *reports.Report {
	c := *r
	c.Results, c.Unstable = nil, nil
	c.Shard = &reports.Shard{Index: k, Count: n, Balance: "count"}
	for i, x := range r.Results {
		if i%n == k-1 {
			c.Results = append(c.Results, x)
			c.Shard.Units = append(c.Shard.Units, i)
		}
	}
	c.Summarize()
	return &c
}

var _ = Describe("seed sweeps and shards in the report", func() {
	It("finds the run whose verdict differs between seeds, with the seeds and the replay command", func() {
		r := sweep()
		Expect(r.Unstable).To(HaveLen(1))
		u := r.Unstable[0]
		Expect(u.Profile).To(Equal("without:x"))
		Expect(u.Verdicts).To(HaveLen(2))
		Expect(u.Verdicts[1].Seeds).To(Equal([]uint64{2, 3}))
		Expect(u.Verdicts[1].Replay).To(Equal("uptane-hil run --rig rigs/noisy.yaml --seed 2 scenarios/s.yaml"))
		Expect(r.Summary.Unstable).To(Equal(1))
		Expect(r.Validate()).To(Succeed())
	})

	It("lists it as a failed testcase in JUnit, and names each sweep testcase with its seed", func() {
		j := reports.JUnit(sweep())
		last := j.Suites[len(j.Suites)-1]
		Expect(last.Name).To(Equal("verdicts that differ between seeds"))
		Expect(last.Cases).To(HaveLen(1))
		Expect(last.Cases[0].Failure.Text).To(ContainSubstring("under seeds 2-3; replay: uptane-hil run --rig rigs/noisy.yaml --seed 2"))
		Expect(j.Suites[0].Cases[0].Name).To(Equal("ECU-1 / conformant / seed 1"))
		Expect(j.Failures).To(Equal(2 + 1))
	})

	It("writes seed lists compactly", func() {
		Expect(reports.SeedRanges([]uint64{1, 2, 3, 7, 9, 10})).To(Equal("1-3,7,9-10"))
		Expect(reports.SeedRanges([]uint64{5})).To(Equal("5"))
	})

	It("merges shards given in any order back into the whole report", func() {
		whole := sweep()
		m, err := reports.Merge([]reports.ShardReport{{Dir: "c", Report: shardOf(whole, 3, 3)}, {Dir: "a", Report: shardOf(whole, 1, 3)}, {Dir: "b", Report: shardOf(whole, 2, 3)}})
		Expect(err).NotTo(HaveOccurred())
		Expect(m.Shard).To(BeNil())
		Expect(m.Results).To(Equal(whole.Results))
		Expect(m.Unstable).To(Equal(whole.Unstable))
		Expect(m.Summary).To(Equal(whole.Summary))
	})

	DescribeTable("refuses shards that are not one suite exactly once",
		func(edit func(a, b *reports.Report) []reports.ShardReport, kind error, want string) {
			whole := sweep()
			_, err := reports.Merge(edit(shardOf(whole, 1, 2), shardOf(whole, 2, 2)))
			Expect(errors.Is(err, kind)).To(BeTrue(), "%v", err)
			Expect(err).To(MatchError(ContainSubstring(want)))
		},
		Entry("missing", func(a, b *reports.Report) []reports.ShardReport { return []reports.ShardReport{{Dir: "a", Report: a}} },
			reports.ErrIncomplete, "shard 2/2 (Kubernetes JOB_COMPLETION_INDEX=1) missing"),
		Entry("twice", func(a, b *reports.Report) []reports.ShardReport {
			return []reports.ShardReport{{Dir: "a", Report: a}, {Dir: "b", Report: b}, {Dir: "b2", Report: b}}
		}, reports.ErrIncomplete, "shard 2/2 given twice: b and b2"),
		Entry("tool", func(a, b *reports.Report) []reports.ShardReport {
			b.Tool.Version = "2"
			return []reports.ShardReport{{Dir: "a", Report: a}, {Dir: "b", Report: b}}
		}, reports.ErrMismatch, "tool versions differ: a has uptane-hil 1, b has uptane-hil 2"),
		Entry("rig", func(a, b *reports.Report) []reports.ShardReport {
			b.Rig.Digest = "ff"
			return []reports.ShardReport{{Dir: "a", Report: a}, {Dir: "b", Report: b}}
		}, reports.ErrMismatch, "rigs differ"),
		Entry("scenarios", func(a, b *reports.Report) []reports.ShardReport {
			p := *b.Plan
			p.Scenarios = []reports.PlanScenario{{Name: "s", File: "scenarios/s.yaml", Digest: "ee"}}
			b.Plan = &p
			return []reports.ShardReport{{Dir: "a", Report: a}, {Dir: "b", Report: b}}
		}, reports.ErrMismatch, "scenario s is not the same file in a"),
		Entry("seeds", func(a, b *reports.Report) []reports.ShardReport {
			b.Seeds = []uint64{1, 2, 3, 5}
			return []reports.ShardReport{{Dir: "a", Report: a}, {Dir: "b", Report: b}}
		}, reports.ErrMismatch, "seeds differ: a has seeds 1-4, b has seeds 1-3,5"),
		Entry("split", func(a, b *reports.Report) []reports.ShardReport {
			b.Shard.Balance = "cost:00"
			return []reports.ShardReport{{Dir: "a", Report: a}, {Dir: "b", Report: b}}
		}, reports.ErrMismatch, "splits (--timings) differ"),
		Entry("a play in two shards", func(a, b *reports.Report) []reports.ShardReport {
			b.Shard.Units = append(b.Shard.Units, a.Shard.Units[0])
			return []reports.ShardReport{{Dir: "a", Report: a}, {Dir: "b", Report: b}}
		}, reports.ErrIncomplete, "play 0 of the plan was played by two shards"),
	)
})

var _ = Describe("the HTML report of a seed sweep", func() {
	It("names the seeds and lists the runs whose verdict differs, with the replay command", func() {
		var b bytes.Buffer
		Expect(reports.WriteHTML(&b, sweep())).To(Succeed())
		Expect(b.String()).To(ContainSubstring("1-4 <span class=\"muted\">(a sweep of 4 seeds)</span>"))
		Expect(b.String()).To(ContainSubstring("1 run(s) with a verdict that differs between seeds"))
		Expect(b.String()).To(ContainSubstring("<code>uptane-hil run --rig rigs/noisy.yaml --seed 2 scenarios/s.yaml</code>"))
	})
})
