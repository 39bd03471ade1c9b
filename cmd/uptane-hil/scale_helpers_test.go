package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// subset is a quick part of the suite: scenarios of each transport
// (backend link, keys, bus) with one and several judged ECUs.
var subset = []string{
	"scenarios/freeze-director-timestamp.yaml",
	"scenarios/partial-bundle.yaml",
	"scenarios/bus-forged-image.yaml",
	"scenarios/drop-request-director.yaml",
	"scenarios/key-compromise-director-timestamp.yaml",
	"scenarios/eavesdrop-encrypted-image.yaml",
	"scenarios/bus-spoofed-version-report.yaml",
}

// asCLI makes the test binary the uptane-hil command for the processes
// started from it (run -p N starts workers with os.Executable).
func asCLI() {
	GinkgoHelper()
	Expect(os.Setenv(cliEnv, "1")).To(Succeed())
	DeferCleanup(os.Unsetenv, cliEnv)
}

// uptaneHil runs the test binary as `uptane-hil ARGS` in its own process
// and returns its exit status and output.
func uptaneHil(args ...string) (int, string) {
	GinkgoHelper()
	exe, err := os.Executable()
	Expect(err).NotTo(HaveOccurred())
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), cliEnv+"=1")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	Expect(err).NotTo(HaveOccurred(), string(out))
	return 0, string(out)
}

// runInProcess runs `uptane-hil ARGS` in this process, its output
// discarded unless it fails.
func runInProcess(args ...string) int {
	GinkgoHelper()
	code, out := captureStdout(func() int { return dispatch(args, os.Stderr, os.Stderr) })
	if code != 0 {
		GinkgoWriter.Println(out)
	}
	return code
}

// withoutTimings is a report.json with what depends on the wall clock
// removed: started, finished and each result's wall time.
func withoutTimings(dir string) map[string]any {
	GinkgoHelper()
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	Expect(err).NotTo(HaveOccurred())
	var m map[string]any
	Expect(json.Unmarshal(b, &m)).To(Succeed())
	Expect(m).To(HaveKey("started"))
	delete(m, "started")
	delete(m, "finished")
	for _, x := range m["results"].([]any) {
		Expect(x).To(HaveKey("wall"))
		delete(x.(map[string]any), "wall")
	}
	return m
}

var (
	junitTimes = regexp.MustCompile(`(time|timestamp)="[^"]*"`)
	htmlWall   = regexp.MustCompile(`(<td class="n">[^<]*</td>\s*<td class="n">)[^<]*(</td>)`)
	htmlDates  = regexp.MustCompile(`<dd>\d{4}-\d\d-\d\d[T ][^<]*`)
	htmlElaps  = regexp.MustCompile(`\([^()<]* wall\)`)
)

// sameReports expects the reports and captures in dirs a and b to be the
// same but for the wall clock.
func sameReports(a, b string) {
	GinkgoHelper()
	Expect(withoutTimings(b)).To(Equal(withoutTimings(a)), "report.json of %s and %s", a, b)
	norm := func(dir, name string, res ...*regexp.Regexp) string {
		data, err := os.ReadFile(filepath.Join(dir, name))
		Expect(err).NotTo(HaveOccurred())
		s := string(data)
		for _, re := range res {
			s = re.ReplaceAllString(s, "${1}-${2}")
		}
		return s
	}
	Expect(norm(b, "junit.xml", junitTimes)).To(Equal(norm(a, "junit.xml", junitTimes)))
	Expect(norm(b, "report.html", htmlWall, htmlDates, htmlElaps)).To(Equal(norm(a, "report.html", htmlWall, htmlDates, htmlElaps)))
	ca, cb := captures(a), captures(b)
	Expect(len(ca)).To(BeNumerically(">", 0))
	Expect(sortedKeys(cb)).To(Equal(sortedKeys(ca)))
	for name, data := range ca {
		Expect(cb[name]).To(Equal(data), "captures/%s differs", name)
	}
}

func captures(dir string) map[string][]byte {
	GinkgoHelper()
	files, err := filepath.Glob(filepath.Join(dir, "captures", "*"))
	Expect(err).NotTo(HaveOccurred())
	m := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		Expect(err).NotTo(HaveOccurred())
		m[filepath.Base(f)] = b
	}
	return m
}

func sortedKeys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// editReport rewrites dir/report.json through edit.
func editReport(dir string, edit func(m map[string]any)) {
	GinkgoHelper()
	p := filepath.Join(dir, "report.json")
	b, err := os.ReadFile(p)
	Expect(err).NotTo(HaveOccurred())
	var m map[string]any
	Expect(json.Unmarshal(b, &m)).To(Succeed())
	edit(m)
	b, err = json.Marshal(m)
	Expect(err).NotTo(HaveOccurred())
	Expect(os.WriteFile(p, b, 0o644)).To(Succeed())
}

// copyDir copies a shard's folder (report.json and captures).
func copyDir(src, dst string) {
	GinkgoHelper()
	Expect(filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if fi.IsDir() && (rel == "runs" || rel == "logs") {
			return filepath.SkipDir
		}
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})).To(Succeed())
}
