package main

import (
	"fmt"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/reports"
)

var _ = Describe("run at scale: worker processes, shards, merge", Ordered, func() {
	var base string // the subset played unsharded in one process

	BeforeAll(func() {
		wd, _ := os.Getwd()
		Expect(os.Chdir("../..")).To(Succeed())
		DeferCleanup(os.Chdir, wd)
		asCLI()
		base = GinkgoT().TempDir()
		Expect(runInProcess(append([]string{"run", "-p", "1", "--out", base}, subset...)...)).To(Equal(0))
	})

	It("-p 2 plays in two worker processes with the same verdicts, reports and captures as -p 1", func() {
		dir := GinkgoT().TempDir()
		code, out := captureStdout(func() int {
			return dispatch(append([]string{"run", "-p", "2", "--out", dir}, subset...), os.Stderr, os.Stderr)
		})
		Expect(code).To(Equal(0), out)
		Expect(out).To(ContainSubstring("(2 process(es))"))
		Expect(out).To(MatchRegexp(`\[ ?1/14\] PASS `), "live progress: one line per run as it finishes")
		for _, w := range []string{"worker-1.log", "worker-2.log"} {
			Expect(filepath.Join(dir, "logs", w)).To(BeAnExistingFile(), "two separate worker processes")
		}
		sameReports(base, dir)
	})

	It("a worker that dies fails the run, naming the worker, the play and its log; no report is written", func() {
		dir := GinkgoT().TempDir()
		Expect(os.Setenv(envWorkerDieAt, "3")).To(Succeed())
		DeferCleanup(os.Unsetenv, envWorkerDieAt)
		code, errOut := captureStderr(func() int {
			c, _ := captureStdout(func() int {
				return dispatch(append([]string{"run", "-p", "2", "--out", dir}, subset...), os.Stderr, os.Stderr)
			})
			return c
		})
		Expect(code).To(Equal(1))
		Expect(errOut).To(MatchRegexp(`worker \d \(pid \d+\) while playing partial-bundle / control / seed 1: the worker exited`))
		Expect(errOut).To(ContainSubstring("dying before play 3"), "the end of the worker's log")
		Expect(filepath.Join(dir, "report.json")).NotTo(BeAnExistingFile())
	})

	for _, n := range []int{1, 2, 3, 7} {
		It(fmt.Sprintf("%d shard(s) played as separate processes and merged give the unsharded report", n), func() {
			root := GinkgoT().TempDir()
			var dirs []string
			for k := 1; k <= n; k++ {
				d := filepath.Join(root, fmt.Sprintf("shard-%d", k))
				code, out := uptaneHil(append([]string{"run", "--shard", fmt.Sprintf("%d/%d", k, n), "-p", "1", "--out", d}, subset...)...)
				Expect(code).To(Equal(0), out)
				Expect(out).To(ContainSubstring(fmt.Sprintf("shard %d/%d: ", k, n)))
				dirs = append(dirs, d)
			}
			// shards are given in any order
			dirs[0], dirs[len(dirs)-1] = dirs[len(dirs)-1], dirs[0]
			merged := filepath.Join(root, "merged")
			code, out := uptaneHil(append([]string{"merge", "--out", merged}, dirs...)...)
			Expect(code).To(Equal(0), out)
			Expect(out).To(ContainSubstring(fmt.Sprintf("merged %d shards", n)))
			sameReports(base, merged)
		})
	}

	It("shards balanced by cost (--timings) play every play once and merge into the unsharded report", func() {
		root := GinkgoT().TempDir()
		var dirs []string
		for k := 1; k <= 3; k++ {
			d := filepath.Join(root, fmt.Sprintf("shard-%d", k))
			code, out := uptaneHil(append([]string{"run", "--shard", fmt.Sprintf("%d/3", k), "--timings", filepath.Join(base, "report.json"), "-p", "1", "--out", d}, subset...)...)
			Expect(code).To(Equal(0), out)
			Expect(out).To(ContainSubstring("split by cost"))
			dirs = append(dirs, d)
		}
		merged := filepath.Join(root, "merged")
		code, out := uptaneHil(append([]string{"merge", "--out", merged}, dirs...)...)
		Expect(code).To(Equal(0), out)
		sameReports(base, merged)
		// a shard split by count does not belong with them
		byCount := filepath.Join(root, "count-3")
		code, out = uptaneHil(append([]string{"run", "--shard", "3/3", "-p", "1", "--out", byCount}, subset...)...)
		Expect(code).To(Equal(0), out)
		code, out = uptaneHil(append([]string{"merge", "--out", filepath.Join(root, "no")}, dirs[0], dirs[1], byCount)...)
		Expect(code).To(Equal(2), out)
		Expect(out).To(ContainSubstring("splits (--timings) differ"))
	})

	Describe("merge refuses a set that is not one whole suite", Ordered, func() {
		var root, s1, s2 string

		BeforeAll(func() {
			root = GinkgoT().TempDir()
			s1, s2 = filepath.Join(root, "1"), filepath.Join(root, "2")
			two := subset[:2]
			for k, d := range []string{s1, s2} {
				code, out := uptaneHil(append([]string{"run", "--shard", fmt.Sprintf("%d/2", k+1), "-p", "1", "--out", d}, two...)...)
				Expect(code).To(Equal(0), out)
			}
			code, out := uptaneHil("merge", "--out", filepath.Join(root, "ok"), s1, s2)
			Expect(code).To(Equal(0), out)
		})

		refused := func(want string, dirs ...string) {
			GinkgoHelper()
			code, out := uptaneHil(append([]string{"merge", "--out", filepath.Join(root, "no")}, dirs...)...)
			Expect(code).To(Equal(2), out)
			Expect(out).To(ContainSubstring(want))
			Expect(filepath.Join(root, "no", "report.json")).NotTo(BeAnExistingFile())
		}
		// variant is shard 2 played again with other arguments.
		variant := func(args ...string) string {
			GinkgoHelper()
			d := filepath.Join(GinkgoT().TempDir(), "variant")
			code, out := uptaneHil(append([]string{"run", "-p", "1", "--out", d}, args...)...)
			Expect(code).To(Equal(0), out)
			return d
		}

		It("a shard missing", func() {
			refused("shard 2/2 (Kubernetes JOB_COMPLETION_INDEX=1) missing", s1)
		})
		It("a shard given twice", func() {
			dup := filepath.Join(root, "dup")
			copyDir(s2, dup)
			refused("shard 2/2 given twice", s1, s2, dup)
		})
		It("a folder that is not a shard", func() {
			refused("is not a shard's report", s1, base)
		})
		It("shards of different tool versions", func() {
			d := filepath.Join(GinkgoT().TempDir(), "v")
			copyDir(s2, d)
			editReport(d, func(m map[string]any) { m["tool"].(map[string]any)["version"] = "9.9.9" })
			refused("tool versions differ", s1, d)
		})
		It("shards of different rigs", func() {
			rig := filepath.Join(GinkgoT().TempDir(), "rig.yaml")
			src, err := os.ReadFile("rigs/virtual.yaml")
			Expect(err).NotTo(HaveOccurred())
			Expect(os.WriteFile(rig, append(src, []byte("# another rig\n")...), 0o644)).To(Succeed())
			refused("rigs differ", s1, variant(append([]string{"--rig", rig, "--shard", "2/2"}, subset[:2]...)...))
		})
		It("shards of different scenario sets", func() {
			refused("scenario sets differ", s1, variant("--shard", "2/2", subset[0], subset[2]))
		})
		It("shards of different seeds", func() {
			refused("seeds differ", s1, variant(append([]string{"--seed", "7", "--shard", "2/2"}, subset[:2]...)...))
		})
		It("shards of different shard counts", func() {
			refused("shard counts differ", s1, variant(append([]string{"--shard", "2/3"}, subset[:2]...)...))
		})
	})

	It("a seed sweep shows a verdict that differs between seeds with the seed that replays it, and --seed replays it", func() {
		dir := GinkgoT().TempDir()
		scen := "scenarios/freeze-director-timestamp.yaml"
		// rigs/noisy.yaml loses 0.4 % of the Primary's frames on the
		// powertrain bus; the freeze's control needs the Secondary to
		// install the image, which a lost frame can stop.
		code, out := captureStdout(func() int {
			return dispatch([]string{"run", "--rig", "rigs/noisy.yaml", "--seeds", "1-8", "--out", dir, scen}, os.Stderr, os.Stderr)
		})
		Expect(code).To(Equal(1), out)
		Expect(out).To(ContainSubstring("verdict that differs between seeds"))
		f, err := os.Open(filepath.Join(dir, "report.json"))
		Expect(err).NotTo(HaveOccurred())
		defer f.Close()
		rep, err := reports.ReadJSON(f)
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Seeds).To(Equal([]uint64{1, 2, 3, 4, 5, 6, 7, 8}))
		Expect(rep.Results).To(HaveLen(8 * 4))
		Expect(rep.Unstable).NotTo(BeEmpty())
		Expect(rep.Summary.Unstable).To(Equal(len(rep.Unstable)))
		u := rep.Unstable[0]
		Expect(u.Scenario).To(Equal("freeze-director-timestamp"))
		Expect(u.Control).To(BeTrue(), "the control depends on the faults")
		var bad reports.SeedVerdicts
		for _, v := range u.Verdicts {
			if !v.Pass {
				bad = v
			}
		}
		Expect(bad.Seeds).NotTo(BeEmpty())
		Expect(out).To(ContainSubstring(bad.Replay))
		Expect(bad.Replay).To(Equal(fmt.Sprintf("uptane-hil run --rig rigs/noisy.yaml --seed %d %s", bad.Seeds[0], scen)))

		// the replay gives that verdict again, with the same capture
		again := GinkgoT().TempDir()
		code, out = captureStdout(func() int {
			return dispatch([]string{"run", "--rig", "rigs/noisy.yaml", "--seed", fmt.Sprint(bad.Seeds[0]), "--out", again, scen}, os.Stderr, os.Stderr)
		})
		Expect(code).To(Equal(1), out)
		f2, err := os.Open(filepath.Join(again, "report.json"))
		Expect(err).NotTo(HaveOccurred())
		defer f2.Close()
		rep2, err := reports.ReadJSON(f2)
		Expect(err).NotTo(HaveOccurred())
		var replayed *reports.Result
		for i, x := range rep2.Results {
			if x.ECU == u.ECU && x.Profile == u.Profile {
				replayed = &rep2.Results[i]
			}
		}
		Expect(replayed).NotTo(BeNil())
		Expect(replayed.Observed).To(Equal(bad.Observed))
		Expect(replayed.Pass).To(BeFalse())
		for _, x := range rep.Results {
			if x.Seed == bad.Seeds[0] && x.Profile == u.Profile && x.ECU == u.ECU {
				swept, err := os.ReadFile(filepath.Join(dir, x.Capture))
				Expect(err).NotTo(HaveOccurred())
				Expect(os.ReadFile(filepath.Join(again, replayed.Capture))).To(Equal(swept), "the replay's bus traffic is the sweep's")
			}
		}
	})
})
