package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/uptane-hil/uptane-hil/internal/shard"
)

// decodeJob decodes a manifest strictly (an unknown or misspelt field is
// an error) into the stable batch/v1 Job type.
func decodeJob(path string) *batchv1.Job {
	GinkgoHelper()
	data, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	var job batchv1.Job
	Expect(yaml.UnmarshalStrict(data, &job)).To(Succeed(), path)
	Expect(job.APIVersion).To(Equal("batch/v1"))
	Expect(job.Kind).To(Equal("Job"))
	return &job
}

var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// podEnv is the environment Kubernetes gives the container of pod index
// of an Indexed Job: the container's env and JOB_COMPLETION_INDEX; expand
// replaces $(VAR) in args as the kubelet does.
func podEnv(c corev1.Container, index int) (getenv func(string) string, expand func(string) string) {
	env := map[string]string{shard.EnvJobIndex: strconv.Itoa(index)}
	for _, e := range c.Env {
		Expect(e.ValueFrom).To(BeNil(), "env %s: a literal value", e.Name)
		env[e.Name] = e.Value
	}
	getenv = func(k string) string { return env[k] }
	expand = func(s string) string {
		return envRef.ReplaceAllStringFunc(s, func(m string) string {
			v, ok := env[envRef.FindStringSubmatch(m)[1]]
			Expect(ok).To(BeTrue(), "%s is not in the pod's environment", m)
			return v
		})
	}
	return getenv, expand
}

var _ = Describe("deploy/k8s: the Indexed Job", func() {
	BeforeEach(func() {
		wd, _ := os.Getwd()
		Expect(os.Chdir("../..")).To(Succeed())
		DeferCleanup(os.Chdir, wd)
	})

	It("decodes strictly into batch/v1 Job, Indexed, with a retry per index and a pod failure policy", func() {
		job := decodeJob("deploy/k8s/job.yaml")
		s := job.Spec
		Expect(s.CompletionMode).NotTo(BeNil())
		Expect(*s.CompletionMode).To(Equal(batchv1.IndexedCompletion))
		Expect(s.Completions).NotTo(BeNil())
		Expect(s.Parallelism).NotTo(BeNil())
		Expect(*s.Parallelism).To(BeNumerically("<=", *s.Completions))
		Expect(s.BackoffLimitPerIndex).NotTo(BeNil(), "a dead shard is retried on its own")
		Expect(s.Template.Spec.RestartPolicy).To(Equal(corev1.RestartPolicyNever), "required by podFailurePolicy")
		Expect(s.PodFailurePolicy).NotTo(BeNil())
		codes := map[int32]batchv1.PodFailurePolicyAction{}
		for _, r := range s.PodFailurePolicy.Rules {
			if r.OnExitCodes != nil {
				for _, v := range r.OnExitCodes.Values {
					codes[v] = r.Action
				}
			}
		}
		Expect(codes).To(Equal(map[int32]batchv1.PodFailurePolicyAction{1: batchv1.PodFailurePolicyActionFailIndex, 2: batchv1.PodFailurePolicyActionFailJob}),
			"exit 1 (results failed) is not retried, exit 2 (bad input) stops the Job")
		Expect(s.Template.Spec.Containers).To(HaveLen(1))
	})

	It("gives each pod its own shard: JOB_COMPLETION_INDEX i plays shard i+1 of completions, every run once, in its own folder", func() {
		job := decodeJob("deploy/k8s/job.yaml")
		n := int(*job.Spec.Completions)
		c := job.Spec.Template.Spec.Containers[0]
		Expect(c.Args[0]).To(Equal("run"))
		const plays = 60 // the suite's 30 scenarios × 2 profiles
		seen := make([]int, plays)
		outs := map[string]bool{}
		for i := 0; i < n; i++ {
			getenv, expand := podEnv(c, i)
			var args []string
			for _, a := range c.Args[1:] {
				args = append(args, expand(a))
			}
			f, err := parseRunFlags("run", args)
			Expect(err).NotTo(HaveOccurred(), "the Job's args parse as uptane-hil run's")
			Expect(f.shard).To(BeEmpty(), "the shard comes from the environment")
			Expect(strings.HasPrefix(f.rig, "/suite/")).To(BeTrue(), "rig baked into the image (Dockerfile)")
			s, from, found, err := shard.FromEnv(getenv, f.shards)
			Expect(err).NotTo(HaveOccurred())
			Expect(found).To(BeTrue())
			Expect(from).To(ContainSubstring(shard.EnvJobIndex))
			Expect(s).To(Equal(shard.Shard{Index: i + 1, Count: n}))
			Expect(outs).NotTo(HaveKey(f.out), "each pod writes its own folder")
			outs[f.out] = true
			Expect(f.out).To(Equal(fmt.Sprintf("/results/%d", i)))
			for _, u := range shard.Pick(shard.Assign(plays, nil, s.Count), s) {
				seen[u]++
			}
		}
		for u, k := range seen {
			Expect(k).To(Equal(1), "play %d", u)
		}
	})

	It("the merge Job decodes strictly and merges exactly the shard folders of the Indexed Job", func() {
		job := decodeJob("deploy/k8s/job.yaml")
		merge := decodeJob("deploy/k8s/merge-job.yaml")
		c := merge.Spec.Template.Spec.Containers[0]
		Expect(c.Args[0]).To(Equal("merge"))
		var want []string
		for i := 0; i < int(*job.Spec.Completions); i++ {
			want = append(want, fmt.Sprintf("/results/%d", i))
		}
		Expect(c.Args[len(c.Args)-len(want):]).To(Equal(want))
		Expect(merge.Spec.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName).To(Equal(job.Spec.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName))
	})
})
