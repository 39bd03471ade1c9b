package main

import (
	"os"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"

	"github.com/uptane-hil/uptane-hil/internal/shard"
)

// ciJob is the part of a GitLab CI job the example relies on.
type ciJob struct {
	Stage    string   `json:"stage"`
	Parallel int      `json:"parallel"`
	Needs    []string `json:"needs"`
	Script   []string `json:"script"`
}

var _ = Describe("deploy/ci: the CI matrix examples", func() {
	BeforeEach(func() {
		wd, _ := os.Getwd()
		Expect(os.Chdir("../..")).To(Succeed())
		DeferCleanup(os.Chdir, wd)
	})

	It("GitLab: N shard jobs, each its own folder from CI_NODE_INDEX, and a merge job of all of them", func() {
		data, err := os.ReadFile("deploy/ci/gitlab-ci.yml")
		Expect(err).NotTo(HaveOccurred())
		var jobs map[string]any
		Expect(yaml.Unmarshal(data, &jobs)).To(Succeed())
		decode := func(name string) ciJob {
			GinkgoHelper()
			b, err := yaml.Marshal(jobs[name])
			Expect(err).NotTo(HaveOccurred())
			var j ciJob
			Expect(yaml.Unmarshal(b, &j)).To(Succeed())
			return j
		}
		sh, mg := decode("uptane-hil-shard"), decode("uptane-hil-merge")
		Expect(sh.Parallel).To(BeNumerically(">", 1))
		Expect(mg.Needs).To(ConsistOf("uptane-hil-shard"))
		run := strings.Fields(strings.ReplaceAll(sh.Script[0], `"`, ""))
		Expect(run[:2]).To(Equal([]string{"/uptane-hil", "run"}))
		for i := 1; i <= sh.Parallel; i++ {
			env := map[string]string{shard.EnvGitLabIndex: strconv.Itoa(i), shard.EnvGitLabTotal: strconv.Itoa(sh.Parallel)}
			var args []string
			for _, a := range run[2:] {
				args = append(args, os.Expand(a, func(k string) string { return env[k] }))
			}
			f, err := parseRunFlags("run", args)
			Expect(err).NotTo(HaveOccurred())
			Expect(f.out).To(Equal("out/shard-" + strconv.Itoa(i)))
			s, _, found, err := shard.FromEnv(func(k string) string { return env[k] }, f.shards)
			Expect(err).NotTo(HaveOccurred())
			Expect(found).To(BeTrue())
			Expect(s).To(Equal(shard.Shard{Index: i, Count: sh.Parallel}))
		}
		Expect(mg.Script[len(mg.Script)-1]).To(Equal("/uptane-hil merge --out out/merged out/shard-*"))
	})

	It("GitHub Actions: the matrix sets UPTANE_HIL_SHARD for each shard, and the merge job needs them all", func() {
		data, err := os.ReadFile("deploy/ci/github-workflow.yml")
		Expect(err).NotTo(HaveOccurred())
		var wf struct {
			Jobs map[string]struct {
				Needs    any               `json:"needs"`
				Env      map[string]string `json:"env"`
				Strategy struct {
					Matrix struct {
						Shard []int `json:"shard"`
					} `json:"matrix"`
				} `json:"strategy"`
			} `json:"jobs"`
		}
		Expect(yaml.Unmarshal(data, &wf)).To(Succeed())
		sh := wf.Jobs["shard"]
		n := len(sh.Strategy.Matrix.Shard)
		Expect(n).To(BeNumerically(">", 1))
		Expect(wf.Jobs["merge"].Needs).To(Equal("shard"))
		for _, k := range sh.Strategy.Matrix.Shard {
			v := strings.ReplaceAll(sh.Env[shard.EnvShard], "${{ matrix.shard }}", strconv.Itoa(k))
			s, err := shard.Parse(v)
			Expect(err).NotTo(HaveOccurred())
			Expect(s).To(Equal(shard.Shard{Index: k, Count: n}), "the count in UPTANE_HIL_SHARD is the matrix's size")
		}
	})
})
