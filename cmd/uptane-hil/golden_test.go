package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The golden report: what `uptane-hil run --rig rigs/virtual.yaml scenarios/`
// writes, without the times of the run, proves that a change of structure
// changes no behaviour: every verdict, detail, sequence diagram, version
// report and capture stays as it was.
//
// Regenerate it after a change that is meant to change the results (a new
// scenario, a new check, a different detail text) with
//
//	make golden
//
// (UPTANE_HIL_GOLDEN=update go test ./cmd/uptane-hil --ginkgo.focus=golden),
// and review the diff of cmd/uptane-hil/testdata/report.golden.json.
const goldenFile = "cmd/uptane-hil/testdata/report.golden.json"

// goldenEnv names the environment variable that rewrites the golden file.
const goldenEnv = "UPTANE_HIL_GOLDEN"

// timing are the report fields that differ from one run to the next.
var timing = []string{"started", "finished", "duration", "wall"}

// digested are the long result fields the golden file holds as a SHA-256
// of their JSON; reportDigested the long fields of the report.
var (
	digested       = []string{"sequence", "versionReport", "directorRecord", "busLoad"}
	reportDigested = []string{"coverage"}
)

// unstable are texts that differ from one run of the same seed to the
// next, or with edits that change no behaviour, and what the golden file
// holds instead. go-tuf's VerifyLengthHashes names the first mismatching
// hash of a map (Go randomises the order), so a file that matches neither
// hash is reported as a sha256 or a sha512 mismatch; the Standard coverage
// names the specs of a statement by file and line, and the lines drift with
// every edit of a test file.
var unstable = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`mismatch for algorithm sha(256|512)`), "mismatch for algorithm sha*"},
	{regexp.MustCompile(`(_test\.go):\d+$`), "$1"},
}

// stable replaces the unstable texts in every string of v.
func stable(v any) any {
	switch x := v.(type) {
	case string:
		for _, u := range unstable {
			x = u.re.ReplaceAllString(x, u.with)
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = stable(e)
		}
	case []any:
		for i, e := range x {
			x[i] = stable(e)
		}
	}
	return v
}

// goldenOf reduces a report.json and its captures to what must not change.
func goldenOf(dir string) map[string]any {
	GinkgoHelper()
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	Expect(err).NotTo(HaveOccurred())
	var rep map[string]any
	Expect(json.Unmarshal(b, &rep)).To(Succeed())
	rep = stable(rep).(map[string]any)
	for _, k := range timing {
		delete(rep, k)
	}
	for _, k := range reportDigested {
		if v, ok := rep[k]; ok {
			rep[k] = "sha256:" + digest(v)
		}
	}
	results, _ := rep["results"].([]any)
	random := map[string]bool{} // scenarios with randomized signatures
	for _, x := range results {
		if r := x.(map[string]any); randomizedSignatures(r) {
			random[fmt.Sprint(r["scenario"])] = true
		}
	}
	randomCaps := map[string]bool{}
	for _, x := range results {
		r := x.(map[string]any)
		for _, k := range timing {
			delete(r, k)
		}
		if random[fmt.Sprint(r["scenario"])] {
			for _, k := range digested {
				delete(r, k)
			}
			r["signatures"] = randomNote
			for _, k := range []string{"capture", "candumpLog"} {
				if p, ok := r[k].(string); ok {
					randomCaps[filepath.Base(p)] = true
				}
			}
			continue
		}
		for _, k := range digested {
			if v, ok := r[k]; ok {
				r[k] = "sha256:" + digest(v)
			}
		}
	}
	caps := map[string]any{}
	files, err := filepath.Glob(filepath.Join(dir, "captures", "*"))
	Expect(err).NotTo(HaveOccurred())
	for _, f := range files {
		if randomCaps[filepath.Base(f)] {
			caps[filepath.Base(f)] = randomNote
			continue
		}
		data, err := os.ReadFile(f)
		Expect(err).NotTo(HaveOccurred())
		sum := sha256.Sum256(data)
		caps[filepath.Base(f)] = "sha256:" + hex.EncodeToString(sum[:])
	}
	rep["captures"] = caps
	return rep
}

// randomNote stands for what a scenario with randomized signatures writes:
// RSA-PSS and ECDSA signatures take fresh randomness on every run (Go 1.26
// ignores the reader it is given), so its version reports, sequences and
// captures differ from run to run; its verdicts are compared, not those.
const randomNote = "randomized signatures (RSA-PSS or ECDSA): verdict only"

// randomizedSignatures reports whether a result's version report is signed
// by a scheme with randomized signatures (anything but ed25519).
func randomizedSignatures(r map[string]any) bool {
	vr, _ := r["versionReport"].(map[string]any)
	sigs, _ := vr["signatures"].([]any)
	for _, x := range sigs {
		if sg, ok := x.(map[string]any); ok && sg["method"] != "ed25519" {
			return true
		}
	}
	return false
}

func digest(v any) string {
	b, _ := json.Marshal(v) // maps marshal in key order: canonical
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// resultKey names one result of a report.
func resultKey(r map[string]any) string {
	return fmt.Sprintf("%v/%v/%v", r["scenario"], r["ecu"], r["profile"])
}

// goldenDiff says, field by field, how got differs from want (nil: not at all).
func goldenDiff(want, got map[string]any) []string {
	var out []string
	index := func(rep map[string]any) map[string]map[string]any {
		m := map[string]map[string]any{}
		rs, _ := rep["results"].([]any)
		for _, x := range rs {
			r := x.(map[string]any)
			m[resultKey(r)] = r
		}
		return m
	}
	wr, gr := index(want), index(got)
	keys := map[string]bool{}
	for k := range wr {
		keys[k] = true
	}
	for k := range gr {
		keys[k] = true
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range keys {
			if !yield(k) {
				return
			}
		}
	}) {
		w, g := wr[k], gr[k]
		switch {
		case w == nil:
			out = append(out, "new result "+k)
		case g == nil:
			out = append(out, "missing result "+k)
		default:
			for _, f := range unionKeys(w, g) {
				if digest(w[f]) != digest(g[f]) {
					out = append(out, fmt.Sprintf("%s: %s: was %s, now %s", k, f, short(w[f]), short(g[f])))
				}
			}
		}
	}
	for _, f := range unionKeys(want, got) {
		if f != "results" && digest(want[f]) != digest(got[f]) {
			out = append(out, fmt.Sprintf("report %s: was %s, now %s", f, short(want[f]), short(got[f])))
		}
	}
	wantRes, _ := want["results"].([]any)
	gotRes, _ := got["results"].([]any)
	if len(out) == 0 && digest(wantRes) != digest(gotRes) {
		out = append(out, "the results are the same but in another order")
	}
	return out
}

func unionKeys(a, b map[string]any) []string {
	var ks []string
	for k := range a {
		ks = append(ks, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			ks = append(ks, k)
		}
	}
	slices.Sort(ks)
	return ks
}

func short(v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

var _ = Describe("the golden report", Label("golden"), func() {
	BeforeEach(func() {
		wd, err := os.Getwd()
		Expect(err).NotTo(HaveOccurred())
		Expect(os.Chdir("../..")).To(Succeed())
		DeferCleanup(os.Chdir, wd)
	})

	It("run --rig rigs/virtual.yaml scenarios/ writes the golden report.json and captures, timings aside", func() {
		dir := GinkgoT().TempDir()
		code, out := captureStdout(func() int {
			return dispatch([]string{"run", "--rig", "rigs/virtual.yaml", "--out", dir, "scenarios"}, io.Discard, io.Discard)
		})
		Expect(code).To(Equal(0), out)
		got := goldenOf(dir)
		if os.Getenv(goldenEnv) == "update" {
			b, err := json.MarshalIndent(got, "", " ")
			Expect(err).NotTo(HaveOccurred())
			Expect(os.MkdirAll(filepath.Dir(goldenFile), 0o755)).To(Succeed())
			Expect(os.WriteFile(goldenFile, append(b, '\n'), 0o644)).To(Succeed())
			AddReportEntry("golden report rewritten", goldenFile)
			return
		}
		b, err := os.ReadFile(goldenFile)
		Expect(err).NotTo(HaveOccurred(), "no golden report: write it with %s=update (make golden)", goldenEnv)
		var want map[string]any
		Expect(json.Unmarshal(b, &want)).To(Succeed())
		diff := goldenDiff(want, got)
		Expect(diff).To(BeEmpty(), "the suite's results changed:\n%s\n\nIf the change is meant, rewrite %s with %s=update (make golden) and review its diff.",
			strings.Join(diff, "\n"), goldenFile, goldenEnv)
	})

	It("tells which result and field changed", func() {
		want := map[string]any{"schema": "v1", "results": []any{
			map[string]any{"scenario": "s", "ecu": "E", "profile": "conformant", "observed": "defended"},
			map[string]any{"scenario": "s", "ecu": "F", "profile": "conformant", "observed": "defended"},
		}}
		got := map[string]any{"schema": "v1", "results": []any{
			map[string]any{"scenario": "s", "ecu": "E", "profile": "conformant", "observed": "compromised"},
			map[string]any{"scenario": "t", "ecu": "E", "profile": "conformant", "observed": "defended"},
		}}
		Expect(goldenDiff(want, got)).To(Equal([]string{
			`s/E/conformant: observed: was "defended", now "compromised"`,
			`missing result s/F/conformant`,
			`new result t/E/conformant`,
		}))
		Expect(goldenDiff(want, want)).To(BeEmpty())
	})
})
